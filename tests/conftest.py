"""Shared fixtures. Tests that need the real datasets fail (never skip) without them."""

import os
import pathlib
import shutil

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir():
    """The shared datasets folder from $KERASAPPS_DATA_DIR (CI sets ../shared/data)."""
    path = os.environ.get("KERASAPPS_DATA_DIR")
    if not path or not pathlib.Path(path, "mnist").is_dir():
        pytest.fail(
            f"KERASAPPS_DATA_DIR={path!r} does not hold the shared datasets; "
            "run the tests as the README says: KERASAPPS_DATA_DIR=../shared/data python -m pytest"
        )
    return pathlib.Path(path).resolve()  # absolute: commands run from other working folders too


@pytest.fixture(autouse=True)
def _keras_backend_unchanged():
    """A command's main run in this process sets KERAS_BACKEND (`cli.select_backend`); put it back,
    so that a later test's child processes (a JAX launch) start from the environment pytest had."""
    before = os.environ.get("KERAS_BACKEND")
    yield
    if before is None:
        os.environ.pop("KERAS_BACKEND", None)
    else:
        os.environ["KERAS_BACKEND"] = before


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Decoded-image caches (CIFAR-10) go to a folder of this test session, not the user's ~/.cache."""
    os.environ["KERASAPPS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


# The small runs several files test (export, phones, visualize, export_text): each is trained
# once a session and every module gets a copy of its own, so what one module writes into its
# run folder (exports.json, confusion matrices) is not seen by another.
SMALL_LENET = [
    "data.limit_train=2000", "data.limit_test=300", "train.epochs=1", "train.batch_size=32",
    "schedule.name=constant", "schedule.warmup_epochs=0", "callbacks.tensorboard=false", "export.representative_size=50",
]  # fmt: skip
TINY_LSTM = [
    "data.limit_train=1000", "data.limit_test=200", "data.options.sequence_length=32", "data.options.truncate=end",
    "data.options.vocab_size=2000", "model.args.embedding_dim=16", "model.args.units=16",
    "model.args.dense_units=8", "train.epochs=2", "train.batch_size=32", "callbacks.tensorboard=false",
    "export.representative_size=20",
]  # fmt: skip


@pytest.fixture(scope="session")
def _trained_runs(data_dir, tmp_path_factory):
    """train(name, overrides) -> a run folder trained once this session with those settings."""
    from kerasapps.config import load_config
    from kerasapps.training import train_and_evaluate

    trained = {}

    def train(name, overrides):
        key = (name, tuple(overrides))
        if key not in trained:
            config = load_config(name, overrides=list(overrides))
            trained[key], _ = train_and_evaluate(
                config, data_dir=str(data_dir), runs_dir=tmp_path_factory.mktemp("trained"), verbose=0, log=lambda _: None
            )
        return trained[key]

    return train


def _copy_run(run_dir, tmp_path_factory):
    """A copy of `run_dir` at saved_models/<experiment>/<run-id> in a new temporary folder."""
    copy = tmp_path_factory.mktemp("runs") / run_dir.parent.name / run_dir.name
    shutil.copytree(run_dir, copy, symlinks=True)
    return copy


@pytest.fixture(scope="module")
def small_lenet_run(_trained_runs, tmp_path_factory):
    """This module's copy of a LeNet trained one epoch on 1,800 MNIST digits (`SMALL_LENET`; 300 test digits)."""
    return _copy_run(_trained_runs("lenet", SMALL_LENET), tmp_path_factory)


@pytest.fixture(scope="module")
def tiny_lstm_run(_trained_runs, tmp_path_factory):
    """This module's copy of a small LSTM trained two epochs on 900 IMDB reviews (`TINY_LSTM`; 200 test reviews)."""
    return _copy_run(_trained_runs("lstm", TINY_LSTM), tmp_path_factory)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A private saved_models/ for the test, also for subprocesses."""
    path = tmp_path / "saved_models"
    monkeypatch.setenv("KERASAPPS_RUNS_DIR", str(path))
    return path


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)


def fit_save_and_load(model, folder):
    """Train a LeNet-shaped `model` one epoch on 8 random images, save it, load it back; the loaded
    model must predict what the model does. Returns the loaded model (for its layer classes)."""
    import keras
    import numpy as np

    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((8, 32, 32, 1), dtype=np.float32)
    model.fit(x, np.arange(8) % 10, epochs=1, verbose=0)
    model.save(folder / "model.keras")
    loaded = keras.saving.load_model(folder / "model.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    return loaded
