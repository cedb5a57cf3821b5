"""Bad input through the commands' main: one line on stderr, exit code 2, and nothing written."""

import gzip
import time

import keras
import numpy as np
import pytest
from PIL import Image

from kerasapps.commands.cli import run_main
from kerasapps.commands.evaluate import main as evaluate_main
from kerasapps.commands.launch import main as launch_main
from kerasapps.commands.predict import main as predict_main
from kerasapps.commands.train import main as train_main


def _fails_cleanly(main, argv, capsys, message):
    with pytest.raises(SystemExit) as exit_info:
        run_main(main, argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert message in err, err


def _train_args(*sets):
    return ["lenet", *[a for s in ("train.epochs=1", "callbacks.tensorboard=false", *sets) for a in ("--set", s)]]


@pytest.mark.parametrize("argv, message", [
    (_train_args("model.args.dropout=1.5"), "model.args.dropout is a rate in [0, 1), got 1.5."),
    (_train_args("model.args.c1_filters=0"), "model.args.c1_filters must be above 0, got 0."),
    (_train_args("model.args.num_classes=3"), "model.args.num_classes=3 contradicts the data: mnist gives num_classes=10."),
    (_train_args("data.options.max_shift=-1"), "data.options.max_shift cannot be negative, got -1."),
    ([*_train_args(), "--data-dir", "/nonexistent/data"], "The data folder /nonexistent/data does not exist"),
])  # fmt: skip
def test_train_refuses_before_it_writes_anything(argv, message, data_dir, runs_dir, capsys):
    _fails_cleanly(train_main, argv, capsys, message)
    assert not runs_dir.exists()


def test_a_named_data_folder_without_the_dataset_is_an_error_not_a_fallback(runs_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERASAPPS_OFFLINE", "1")  # where the fallback would otherwise be taken
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    monkeypatch.setenv("KERASAPPS_DATA_DIR", str(tmp_path / "data"))
    _fails_cleanly(train_main, _train_args(), capsys, f"no mnist IDX files (in mnist/ or the folder itself) under {tmp_path / 'data'}")
    (tmp_path / "data" / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not an IDX file"))
    _fails_cleanly(train_main, _train_args(), capsys, "train-images-idx3-ubyte.gz")
    assert not runs_dir.exists()


def test_a_model_file_that_safe_mode_refuses_is_one_line(small_lenet_run, tmp_path, capsys):
    """A Lambda layer holds code: Keras refuses to run it in safe mode, and so do we (never safe_mode=False)."""
    inputs = keras.Input((32, 32, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(keras.layers.Lambda(lambda x: x * 2)(inputs)))
    keras.Model(inputs, outputs).save(small_lenet_run / "model.keras")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "digit.png")
    for main, argv in ((predict_main, [str(small_lenet_run), str(tmp_path / "digit.png")]), (evaluate_main, [str(small_lenet_run)])):
        _fails_cleanly(main, argv, capsys, "safe_mode=False")
    assert not (small_lenet_run / "confusion_matrix.csv").exists()


def test_launch_checks_the_batch_before_it_starts_any_process(runs_dir, capsys):
    started = time.monotonic()
    _fails_cleanly(launch_main, ["--processes", "3", *(["train"] + _train_args())], capsys,
                   "train.batch_size=256 does not divide by the 3 processes: set it to a multiple of 3.")  # fmt: skip
    assert time.monotonic() - started < 10 and not runs_dir.exists()  # no process started, no run folder
