"""TensorFlow vs PyTorch (`kerasapps compare`): the PyTorch twins, the torch backend, a whole tiny comparison.

Needs the `[torch]` extra (PyTorch and ExecuTorch), as CI installs it.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from kerasapps.commands.cli import run_main
from kerasapps.commands.compare import main
from kerasapps.compare.run import build_twin
from kerasapps.compare.torch_twins import copy_keras_weights, parameter_count, scores, to_channels_first
from kerasapps.compare.worker import SIDES
from kerasapps.models import build_model

pytestmark = pytest.mark.slow  # trains or converts models: the full suite's tier

# model, builder arguments, a batch (channels-last images or right-padded token ids)
RNG = np.random.default_rng(0)
CASES = {
    "lenet5_modern": ({"input_shape": (32, 32, 1)}, RNG.random((8, 32, 32, 1), dtype=np.float32)),
    "lenet5_dense_c5": ({"input_shape": (28, 28, 1), "c5": "dense"}, RNG.random((8, 28, 28, 1), dtype=np.float32)),
    "lenet5_modern_bn": ({"input_shape": (32, 32, 1), "batch_norm": True}, RNG.random((8, 32, 32, 1), dtype=np.float32)),
    "lstm": (
        {"vocab_size": 100, "sequence_length": 16, "dropout": 0.4, "dense_dropout": 0.4, "embedding_dropout": 0.25},
        np.where(np.arange(16) < RNG.integers(1, 17, (8, 1)), RNG.integers(1, 100, (8, 16)), 0).astype("int32"),
    ),
    "resnet20": ({}, RNG.random((8, 32, 32, 3), dtype=np.float32)),
}
REGISTERED = {"lenet5_dense_c5": "lenet5", "lenet5_modern_bn": "lenet5_modern"}


def _keras_model(case):
    """The case's Keras model (TensorFlow backend), with batch-norm statistics away from their 0/1 start."""
    arguments, _ = CASES[case]
    model = build_model(REGISTERED.get(case, case), **arguments)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in layer.get_weights()])
    return model


def _torch_input(x):
    return torch.from_numpy(to_channels_first(x)) if x.dtype.kind == "f" else torch.from_numpy(x.astype(np.int64))


@pytest.mark.parametrize("case", list(CASES))
def test_twin_has_the_keras_parameters_and_gives_its_outputs(case):
    arguments, x = CASES[case]
    model = _keras_model(case)
    twin = build_twin(REGISTERED.get(case, case), **arguments).eval()
    assert parameter_count(twin) == model.count_params()
    copy_keras_weights(twin, model)
    with torch.no_grad():
        got = scores(twin, _torch_input(x)).numpy()
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)


def test_the_lstm_twin_drops_whole_word_vector_dimensions_as_spatial_dropout_does():
    twin = build_twin("lstm", vocab_size=100, embedding_dim=64, embedding_dropout=0.5).train()
    torch.manual_seed(0)
    vectors = twin.embedding_dropout(torch.ones(4, 64, 30)).transpose(1, 2)  # (reviews, steps, dimensions)
    dropped = vectors == 0
    assert dropped.any() and not dropped.all()
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))  # the same dimensions at every step


TORCH_BACKEND_SCRIPT = """
import json, sys, numpy as np, keras
from kerasapps.models import build_model
assert keras.backend.backend() == "torch"
out = {}
for case, (name, arguments, weights, batch) in json.loads(sys.argv[1]).items():
    model = build_model(name, **arguments)
    model.load_weights(weights)
    out[case] = {"parameters": model.count_params(), "outputs": model.predict(np.load(batch), verbose=0).tolist()}
print(json.dumps(out))
"""


def test_keras_torch_backend_model_has_the_parameters_and_outputs_of_the_tensorflow_one(tmp_path):
    # Keras's backend is fixed per process: the torch-backend model lives in a child process.
    expected, jobs = {}, {}
    for case, (arguments, x) in CASES.items():
        model = _keras_model(case)
        model.save_weights(tmp_path / f"{case}.weights.h5")
        np.save(tmp_path / f"{case}.npy", x)
        expected[case] = (model.count_params(), model.predict(x, verbose=0))
        jobs[case] = (
            REGISTERED.get(case, case),
            arguments,
            str(tmp_path / f"{case}.weights.h5"),
            str(tmp_path / f"{case}.npy"),
        )
    done = subprocess.run(
        [sys.executable, "-c", TORCH_BACKEND_SCRIPT, json.dumps(jobs)], env={**os.environ, "KERAS_BACKEND": "torch"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    for case, (parameters, outputs) in expected.items():
        assert got[case]["parameters"] == parameters, case
        np.testing.assert_allclose(np.array(got[case]["outputs"]), outputs, atol=1e-5, err_msg=case)


def test_build_twin_refuses_a_setting_it_does_not_cover(capsys):
    from kerasapps.errors import UserError

    with pytest.raises(UserError, match="cell"):
        build_twin("lstm", cell="gru")
    with pytest.raises(UserError, match="no PyTorch twin"):
        build_twin("vgg16")
    with pytest.raises(UserError, match="tbptt_steps=None"):
        build_twin("lstm", sequence_length=16, tbptt_steps=4)


# --- a whole comparison, tiny -----------------------------------------------------


@pytest.fixture(scope="module")
def tiny(data_dir, tmp_path_factory):
    """`kerasapps compare lenet --steps 3` through the console script, as a user types it: 3 batches of digits."""
    out = tmp_path_factory.mktemp("compare")
    argv = [
        "lenet", "--steps", "3", "--set", "data.limit_train=384", "--set", "data.limit_test=128",
        "--deploy-examples", "32", "--threads", "1", "--out", str(out), "--data-dir", str(data_dir),
    ]  # fmt: skip
    script = pathlib.Path(sys.executable).with_name("kerasapps")
    result = subprocess.run([str(script), "compare", *argv], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Wrote {out / 'lenet'}/report.md" in result.stdout
    return out / "lenet"


def test_tiny_compare_writes_every_row_and_the_chart(tiny):
    for name in (
        "report.md", "report.csv", "report.png", "float32.tflite", "int8.tflite", "float32.pte", "int8.pte",
        "litert_torch_float32.tflite",
    ):  # fmt: skip
        assert (tiny / name).stat().st_size > 0, name
    report = json.loads((tiny / "report.json").read_text())
    training = {row["side"]: row for row in report["training"]}
    assert set(training) == set(SIDES) - {"notes"}
    for side, row in training.items():
        assert "error" not in row, (side, row.get("error"))
        assert row["parameters"] == 62132, side  # lenet5_modern with the lenet config's batch norm
        assert row["train_per_s"] > 0 and 0 <= row["test_accuracy"] <= 1 and row["peak_memory_mb"] > 0
    deployment = {(row["runtime"], row["variant"]): row for row in report["deployment"]}
    assert set(deployment) == {(r, v) for r in ("LiteRT", "ExecuTorch") for v in ("float32", "int8")} | {
        ("LiteRT (litert-torch)", "float32")
    }
    assert all(row["latency_ms"] > 0 and row["size_kb"] > 0 for row in deployment.values())
    assert [row["snippet"].split(",")[0] for row in report["notes"]] == [
        "LinearModel", "nn.LSTM(10", "notes' CNN", "notes' CNN",
    ]  # fmt: skip
    assert report["claims"]
    text = (tiny / "report.md").read_text()
    assert "tf-graph" in text and "ExecuTorch" in text and "What the numbers say" in text


def test_pte_runs_in_executorch_and_agrees_with_pytorch(tiny):
    report = json.loads((tiny / "report.json").read_text())
    pte = {row["variant"]: row for row in report["deployment"] if row["runtime"] == "ExecuTorch"}
    assert pte["float32"]["max_abs_diff"] < 1e-5 and pte["float32"]["agreement"] == 1.0
    assert pte["int8"]["agreement"] >= 0.9
    assert pte["float32"]["runs_on"] == "XnnpackBackend"


def test_compare_without_pytorch_names_the_install_command(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(SystemExit) as raised:
        run_main(main, ["lenet"])
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install -e ".[torch]"' in err[0]


@pytest.mark.parametrize("overrides", [
    [], ["schedule.warmup_epochs=0"], ["schedule.name=constant"], ["schedule.name=step", "schedule.warmup_epochs=0"],
])  # fmt: skip
def test_the_pytorch_schedule_is_keras_s_step_for_step(overrides):
    from kerasapps.compare.torch_side import make_optimizer
    from kerasapps.config import load_config
    from kerasapps.training.optimizers import make_learning_rate

    config = load_config("lenet", overrides=["train.epochs=3", *overrides])  # the default warms up over epoch 1
    steps_per_epoch = 7
    keras_rate = make_learning_rate(config, steps_per_epoch)
    optimizer, scheduler = make_optimizer(torch.nn.Linear(2, 2), config, steps_per_epoch)
    for step in range(3 * steps_per_epoch + 2):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(float(keras_rate(step)), rel=1e-5, abs=1e-9), step
        optimizer.step()
        scheduler.step()
