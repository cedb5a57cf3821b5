import json
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from kerasapps import runs
from kerasapps.commands.cli import run_main
from kerasapps.commands.train import main as train_main
from kerasapps.config import load_config, read_yaml, save_config
from kerasapps.errors import TrainingDiverged, UserError
from kerasapps.runs import resolve_run
from kerasapps.training import run as training
from kerasapps.training.callbacks import divergence_bound
from kerasapps.training.fit import fit

SMALL = ["data.limit_train=3000", "data.limit_test=1000", "train.batch_size=32"]
# The in-process tests check what happens to a run, not how well it learns: a third of SMALL.
FAST = ["data.limit_train=1000", "data.limit_test=300", "train.batch_size=32"]


@pytest.mark.slow
def test_train_cli_end_to_end_writes_every_output(data_dir, runs_dir):
    result = subprocess.run(
        [sys.executable, "-m", "kerasapps.train", "lenet", "--set", "train.epochs=2", *[a for s in SMALL for a in ("--set", s)],
         "--set", "callbacks.time_to_accuracy=[0.5, 0.999]"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Epoch 2/2" in result.stdout and "Test accuracy:" in result.stdout
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line.startswith("Took ") and "99.9% test accuracy not reached" in last_line, last_line
    run_dir = resolve_run("lenet", runs_dir)
    assert (runs_dir / "lenet" / "latest").resolve() == run_dir
    for name in ["model.keras", "best.keras", "config.yaml", "history.csv", "metrics.json", "curves.png", "labels.txt"]:
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.8  # chance is 0.1
    assert metrics["dataset"]["name"] == "mnist" and metrics["dataset"]["source"].startswith("local:")
    assert metrics["examples"] == {"train": 2700, "validation": 300, "test": 1000}
    assert metrics["parameters"] == 62_132 and metrics["epochs"] == 2  # lenet5_modern with batch norm
    assert metrics["train_examples_per_s"] > 0 and metrics["versions"]["keras"] == keras.__version__
    assert read_yaml(run_dir / "config.yaml")["data"]["limit_train"] == 3000
    history = pd.read_csv(run_dir / "history.csv")
    assert len(history) == 2
    # Time to accuracy: the test split after each epoch, in history.csv and metrics.json.
    by_epoch = metrics["test_accuracy_by_epoch"]
    assert [e["epoch"] for e in by_epoch] == [1, 2] and 0 < by_epoch[0]["train_s"] < by_epoch[1]["train_s"]
    assert list(history["test_accuracy"]) == pytest.approx([e["test_accuracy"] for e in by_epoch])
    assert by_epoch[-1]["test_accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)  # the same weights
    first = next(e for e in by_epoch if e["test_accuracy"] >= 0.5)
    assert metrics["time_to_accuracy"] == {"0.5": {"epoch": first["epoch"], "train_s": first["train_s"]}, "0.999": None}
    assert f"50.0% test accuracy after {first['train_s']:.1f} s (epoch {first['epoch']})" in last_line
    best = int(history["val_accuracy"].idxmax()) + 1
    assert metrics["best_epoch"] == {"epoch": best, "monitor": "val_accuracy", "value": pytest.approx(history["val_accuracy"].max())}
    assert f"best epoch {best} (val_accuracy" in last_line and "saved as best.keras" in last_line
    model = keras.saving.load_model(run_dir / "model.keras")
    assert model.count_params() == 62_132


@pytest.mark.slow
def test_same_seed_same_metrics(data_dir, runs_dir):
    config = load_config("lenet", overrides=["train.epochs=1", "callbacks.tensorboard=false", *FAST])
    _, first = training.train_and_evaluate(config, data_dir=str(data_dir), runs_dir=runs_dir, verbose=0, log=lambda _: None)
    _, second = training.train_and_evaluate(config, data_dir=str(data_dir), runs_dir=runs_dir, verbose=0, log=lambda _: None)
    assert first["test_accuracy"] == second["test_accuracy"]
    assert first["test_loss"] == second["test_loss"]


class _InterruptAfter(keras.callbacks.Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_interrupted_run_resumes_and_loses_nothing(data_dir, runs_dir, monkeypatch):
    overrides = ["train.epochs=3", "callbacks.tensorboard=false", *FAST]
    config = load_config("lenet", overrides=overrides)
    finished, _ = training.train_and_evaluate(
        load_config("lenet", overrides=["train.epochs=1", *overrides[1:]]), data_dir=str(data_dir), runs_dir=runs_dir,
        verbose=0, log=lambda _: None,
    )
    run_callbacks = training.run_callbacks
    monkeypatch.setattr(training, "run_callbacks", lambda *a, **k: run_callbacks(*a, **k) + [_InterruptAfter(2)])
    with pytest.raises(KeyboardInterrupt):
        training.train_and_evaluate(config, data_dir=str(data_dir), runs_dir=runs_dir, verbose=0, log=lambda _: None)
    interrupted = runs.unfinished_run("lenet", runs_dir)
    assert interrupted is not None and not (interrupted / "model.keras").exists()
    assert resolve_run("lenet", runs_dir) == finished.resolve()  # the finished run is still the newest usable one
    assert len(pd.read_csv(interrupted / "history.csv")) == 2

    monkeypatch.setattr(training, "run_callbacks", run_callbacks)
    said = []
    run_dir, metrics = training.train_and_evaluate(config, data_dir=str(data_dir), runs_dir=runs_dir, resume=True, verbose=0, log=said.append)
    assert run_dir == interrupted and any("Resuming" in line for line in said)
    assert metrics["epochs"] == 3 and metrics["epochs_this_session"] == 1
    assert list(pd.read_csv(run_dir / "history.csv")["epoch"]) == [0, 1, 2]
    assert (finished / "model.keras").is_file()
    with pytest.raises(UserError, match="Nothing to resume"):
        training.train_and_evaluate(config, data_dir=str(data_dir), runs_dir=runs_dir, resume=True, verbose=0)


def test_resume_applies_the_settings_a_run_can_change_and_refuses_the_rest(data_dir, runs_dir, capsys):
    config = load_config("lenet", overrides=["train.epochs=1", "callbacks.tensorboard=false", *FAST])
    unfinished = runs.new_run_dir("lenet", runs_dir)  # as an interrupted run leaves it: its config only
    save_config(config, unfinished / runs.CONFIG_FILE)
    with pytest.raises(SystemExit) as exit_info:
        run_main(train_main, ["lenet", "--resume", "--set", "model.args.dropout=0.3"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--set model.args.dropout=0.3 cannot change a run being resumed" in err
    with pytest.raises(SystemExit) as exit_info:
        run_main(train_main, ["lenet", "--resume", "--set", "data.limit_test=200", "--set", "train.epochs=2"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err
    assert f"Resuming {unfinished} with its saved config, data.limit_test=200, train.epochs=2." in out
    metrics = runs.read_metrics(unfinished)
    assert metrics["examples"]["test"] == 200 and metrics["epochs"] == 2
    assert read_yaml(unfinished / runs.CONFIG_FILE)["data"]["limit_test"] == 200  # the run's record says so


def test_a_diverging_run_stops_with_exit_1_and_is_not_marked_finished(data_dir, runs_dir, capsys):
    """SGD at a rate of 1e9: the loss becomes NaN on one host and 4e22 on another; both stop the run."""
    sets = ["train.epochs=2", "optimizer.name=sgd", "optimizer.learning_rate=1e9", "schedule.name=constant",
            "schedule.warmup_epochs=0", "callbacks.tensorboard=false", *FAST]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        run_main(train_main, ["lenet", *[a for s in sets for a in ("--set", s)]])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "training diverged. Lower optimizer.learning_rate (now 1000000000.0)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    (run_dir,) = (runs_dir / "lenet").iterdir()
    assert not runs.is_finished(run_dir) and not (runs_dir / "lenet" / "latest").exists()


def _tiny_classifier(bias):
    """A softmax Dense(3) over 4 inputs with a zero kernel: every example's logits are `bias` (Keras's
    cross-entropy reads a softmax layer's logits, as in every model of ours, so the loss is unbounded)."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        3, activation="softmax", kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(bias)
    )])  # fmt: skip
    model.compile(keras.optimizers.SGD(1e-12), "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("poison, message", [
    (np.nan, "the loss became nan at epoch 1: training diverged"),  # a non-finite value in the data
    (None, "the loss reached 2e+04, past 110 at epoch 1: training diverged"),  # finite, but 20,000 nats a guess
])  # fmt: skip
def test_fit_stops_on_a_non_finite_or_exploded_loss(poison, message):
    """By construction: a NaN injected into the inputs, or logits that put 20,000 nats on the wrong class."""
    config = load_config("lenet", overrides=["train.epochs=3", "train.batch_size=4"])
    x, y = np.ones((8, 4), "float32"), np.zeros(8, "int32")
    if poison is not None:
        x[5, 2] = poison
    model = _tiny_classifier([0.0, 0.0, 0.0] if poison is not None else [-1e4, 1e4, 0.0])
    with pytest.raises(TrainingDiverged, match=message.replace("+", r"\+")):
        fit(model, config, (x, y), (x[:0], y[:0]), verbose=0)


def test_the_divergence_bound_is_a_hundred_uniform_guesses():
    assert divergence_bound(10) == pytest.approx(100 * np.log(10))  # 230 nats for MNIST's ten classes
    assert divergence_bound(1) == pytest.approx(100 * np.log(2))  # one sigmoid output: two classes


def test_evaluate_writes_a_confusion_matrix_and_a_per_class_report(data_dir, runs_dir, capsys):
    from kerasapps.commands.evaluate import main as evaluate_main

    config = load_config("lenet", overrides=["train.epochs=1", "callbacks.tensorboard=false", *FAST])
    run_dir, metrics = training.train_and_evaluate(config, data_dir=str(data_dir), runs_dir=runs_dir, verbose=0, log=lambda _: None)
    with pytest.raises(SystemExit) as exit_info:
        run_main(evaluate_main, ["lenet"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    matrix = pd.read_csv(run_dir / "confusion_matrix.csv", index_col=0)
    assert matrix.shape == (10, 10) and matrix.to_numpy().sum() == 300
    assert np.trace(matrix.to_numpy()) / 300 == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    assert (run_dir / "confusion_matrix.png").is_file()
    report = pd.read_csv(run_dir / "classification_report.csv", index_col="class")
    recall = np.diag(matrix.to_numpy()) / matrix.to_numpy().sum(axis=1)
    np.testing.assert_allclose(report.loc[[str(i) for i in range(10)], "recall"], recall)
    assert report.loc["macro avg", "support"] == 300

    half_written = runs_dir / "lenet" / "half"
    half_written.mkdir()
    for name in ("config.yaml", "model.keras"):
        (half_written / name).write_bytes((run_dir / name).read_bytes())
    for argv, message in ((["resnet9000"], "No finished run of experiment 'resnet9000'"),
                          ([str(half_written)], "is not a finished run folder: it has no metrics.json")):  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            run_main(evaluate_main, argv)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err and "Traceback" not in err


def test_offline_run_trains_on_the_fallback_and_says_so(runs_dir, tmp_path, monkeypatch, capsys):
    """In-process (test_train_cli_end_to_end_writes_every_output covers `python -m`): the same `main`."""
    monkeypatch.setenv("KERASAPPS_OFFLINE", "1")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setenv("KERASAPPS_DATA_DIR", "")
    with pytest.raises(SystemExit) as exit_info:
        run_main(train_main, ["lenet", "--set", "train.epochs=5", "--set", "callbacks.tensorboard=false"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err
    assert "training on the fallback 'digits'" in out
    metrics = json.loads((resolve_run("lenet", runs_dir) / "metrics.json").read_text())
    assert metrics["dataset"]["name"] == "digits" and metrics["dataset"]["requested"] == "mnist"
    assert metrics["test_accuracy"] > 0.5  # 10 classes; five epochs on 1,293 images
