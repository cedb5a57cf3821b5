"""Shared fixtures. Tests that need the real datasets fail (never skip) without them."""

import os
import pathlib

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
    return pathlib.Path(path)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Decoded-image caches (CIFAR-10) go to a folder of this test session, not the user's ~/.cache."""
    os.environ["KERASAPPS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


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
