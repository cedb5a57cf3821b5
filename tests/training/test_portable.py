"""Every model file a run writes opens in plain Keras, in a Python that never imports kerasapps, and
predicts there what the run measured (files that belong to the user).

Driven by the experiments themselves: the first experiment of each model family in
kerasapps/configs (a new family is tested as it lands), and the options of ours that train
with layers Keras does not have (the Sequential ResNet's block layers, truncated BPTT), and
the fast layers switched off. Every run is trained in this process; one fresh interpreter
then loads all their files.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from kerasapps import training
from kerasapps.config import list_experiments, load_config
from kerasapps.data import load_experiment_data
from kerasapps.models import MODELS
from kerasapps.training.saving import is_plain_keras

TINY = ["data.limit_train=128", "data.limit_test=100", "train.epochs=1", "train.batch_size=32",
        "callbacks.tensorboard=false", "data.validation_split=0.25"]  # fmt: skip
TINY_TEXT = ["data.options.sequence_length=24", "data.options.vocab_size=500", "model.args.embedding_dim=8",
             "model.args.units=8", "model.args.dense_units=8"]  # fmt: skip


def _first_of_each_family():
    families = {}
    for name in list_experiments():
        families.setdefault(MODELS.get(load_config(name).model.name).family, name)
    return [(name, ()) for name in families.values()]


CASES = _first_of_each_family() + [
    ("resnet20", ("model.args.api=sequential",)),  # a Sequential model branches only inside block layers of ours
    ("lstm", ("model.args.tbptt_steps=8", "train.bucket_by_length=false")),  # truncated BPTT is a layer of ours
    ("lenet", ("train.fast_layers=false",)),
]

# In a fresh interpreter, from an empty folder: plain Keras loads each file and scores its test inputs.
PLAIN_KERAS = """
import json, sys
import numpy as np
import keras

accuracies, compiled = {}, {}
for inputs, labels, *files in json.loads(sys.argv[1]):
    x, y = np.load(inputs), np.load(labels)
    for name in files:
        model = keras.saving.load_model(name)
        scores = model.predict(x, verbose=0)
        predicted = (scores[:, 0] > 0.5) if scores.shape[-1] == 1 else scores.argmax(-1)
        accuracies[name] = float(np.mean(predicted == y.reshape(-1)))
        compiled[name] = model.compiled  # ready for evaluate and fine-tuning
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "kerasapps")
print(json.dumps({"accuracies": accuracies, "compiled": compiled, "kerasapps": loaded}))
"""


@pytest.fixture(scope="module")
def plain_keras(data_dir, tmp_path_factory):
    """{case: (run's test accuracy, test examples, {file: plain Keras's accuracy})}, and the kerasapps
    modules the fresh interpreter imported."""
    empty = tmp_path_factory.mktemp("empty")
    jobs, runs = [], {}
    for index, (name, overrides) in enumerate(CASES):
        text = load_config(name).data.name == "imdb"
        config = load_config(name, overrides=[*TINY, *(TINY_TEXT if text else []), *overrides])
        run_dir, metrics = training.train_and_evaluate(
            config, data_dir=str(data_dir), runs_dir=tmp_path_factory.mktemp("runs"), verbose=0, log=lambda _: None
        )
        dataset, _, _ = load_experiment_data(config, data_dir=str(data_dir), log=lambda _: None)
        inputs, labels = empty / f"x{index}.npy", empty / f"y{index}.npy"
        np.save(inputs, dataset.x_test)
        np.save(labels, dataset.y_test)
        files = [str(run_dir / "model.keras"), str(run_dir / "best.keras")]
        jobs.append([str(inputs), str(labels), *files])
        runs[(name, overrides)] = (metrics["test_accuracy"], len(dataset.y_test), files)
    result = subprocess.run(
        [sys.executable, "-I", "-c", PLAIN_KERAS, json.dumps(jobs)], cwd=empty, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    scored = {case: (accuracy, n, {f: report["accuracies"][f] for f in files}) for case, (accuracy, n, files) in runs.items()}
    assert all(report["compiled"].values()), report["compiled"]
    return scored, report["kerasapps"]


@pytest.mark.slow
def test_the_fresh_interpreter_never_imported_kerasapps(plain_keras):
    assert plain_keras[1] == []


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[" ".join([n, *o]) for n, o in CASES])
def test_run_files_open_in_plain_keras_and_predict_what_the_run_measured(plain_keras, case):
    accuracy, examples, files = plain_keras[0][case]
    model, best = files.values()
    # The run scored its own model in memory, whose fast layers (on TensorFlow) add the same products
    # in another order: float32 rounding, which can move a prediction only at a tie. One example.
    assert model == pytest.approx(accuracy, abs=1 / examples)
    assert 0 <= best <= 1


def test_a_model_with_layers_of_ours_is_not_plain_keras():
    from kerasapps.models import build_model

    assert is_plain_keras(build_model("lenet5_modern", batch_norm=True))  # the fast layers stay Keras's classes
    assert not is_plain_keras(build_model("resnet20", api="sequential"))
    assert not is_plain_keras(build_model("lstm", sequence_length=16, tbptt_steps=4))
