"""Every model file a run writes opens in plain Keras, in a Python that never imports kerasapps, and
predicts there what the run measured (issue 22: files that belong to the user).

Driven by the experiments themselves: a new config in kerasapps/configs is tested here as it lands,
with training-only options of ours (the Sequential ResNet's block layers, truncated BPTT, the fast
layers switched off) beside them.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from kerasapps import training
from kerasapps.config import list_experiments, load_config
from kerasapps.data import load_experiment_data
from kerasapps.training.saving import is_plain_keras

TINY = ["data.limit_train=128", "data.limit_test=100", "train.epochs=1", "train.batch_size=32",
        "callbacks.tensorboard=false", "data.validation_split=0.25"]  # fmt: skip
TINY_TEXT = ["data.options.sequence_length=24", "data.options.vocab_size=500", "model.args.embedding_dim=8",
             "model.args.units=8", "model.args.dense_units=8"]  # fmt: skip
CASES = [(name, []) for name in list_experiments()] + [
    ("resnet20", ["model.args.api=sequential"]),  # a Sequential model can branch only inside block layers of ours
    ("lstm", ["model.args.tbptt_steps=8", "train.bucket_by_length=false"]),  # truncated BPTT is a layer of ours too
    ("lenet", ["train.fast_layers=false"]),
]

# In a fresh interpreter, from an empty folder: plain Keras loads each file and scores the test inputs.
PLAIN_KERAS = """
import json, sys
import numpy as np
import keras

x, y = np.load("x.npy"), np.load("y.npy")
accuracies = {}
for name in sys.argv[1:]:
    scores = keras.saving.load_model(name).predict(x, verbose=0)
    predicted = (scores[:, 0] > 0.5) if scores.shape[-1] == 1 else scores.argmax(-1)
    accuracies[name] = float(np.mean(predicted == y.reshape(-1)))
print(json.dumps({"accuracies": accuracies, "kerasapps": sorted(m for m in sys.modules if m.split(".")[0] == "kerasapps")}))
"""


@pytest.mark.parametrize(
    "name, overrides",
    [pytest.param(n, o, marks=[] if (n, o) == ("lenet", []) else pytest.mark.slow) for n, o in CASES],
    ids=[" ".join([n, *o]) for n, o in CASES],
)
def test_run_files_open_in_plain_keras_and_predict_what_the_run_measured(name, overrides, data_dir, tmp_path):
    config = load_config(name, overrides=TINY)
    text = config.data.name == "imdb"
    config = load_config(name, overrides=[*TINY, *(TINY_TEXT if text else []), *overrides])
    run_dir, metrics = training.train_and_evaluate(
        config, data_dir=str(data_dir), runs_dir=tmp_path / "runs", verbose=0, log=lambda _: None
    )
    dataset, _, _ = load_experiment_data(config, data_dir=str(data_dir), log=lambda _: None)
    empty = tmp_path / "empty"
    empty.mkdir()
    np.save(empty / "x.npy", dataset.x_test)
    np.save(empty / "y.npy", dataset.y_test)
    files = [str(run_dir / "model.keras"), str(run_dir / "best.keras")]
    result = subprocess.run(
        [sys.executable, "-I", "-c", PLAIN_KERAS, *files], cwd=empty, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["kerasapps"] == []
    # The run scored its own model in memory, whose fast layers (on TensorFlow) add the same products
    # in another order: float32 rounding, which can move a prediction only at a tie. One example.
    assert report["accuracies"][files[0]] == pytest.approx(metrics["test_accuracy"], abs=1 / len(dataset.y_test))
    assert 0 <= report["accuracies"][files[1]] <= 1


def test_a_model_with_layers_of_ours_is_not_plain_keras():
    from kerasapps.models import build_model

    assert is_plain_keras(build_model("lenet5_modern", batch_norm=True))  # the fast layers stay Keras's classes
    assert not is_plain_keras(build_model("resnet20", api="sequential"))
    assert not is_plain_keras(build_model("lstm", sequence_length=16, tbptt_steps=4))
