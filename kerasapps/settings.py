"""The one place that reads the environment.

Commands take their defaults from here (`--data-dir` from $KERASAPPS_DATA_DIR,
`--runs-dir` from $KERASAPPS_RUNS_DIR, `--backend` from $KERAS_BACKEND) and pass
the values down as arguments; the few switches that live below every command
(caches, the offline switch, the native-output switch, and `train.fast_layers`,
which the run's config sets) are asked for here, as timm's layers ask
`timm.layers.config`. No other module of the package reads an
environment variable (tests/test_settings.py checks it).
"""

import contextlib
import os
import pathlib
import sys

DATA_DIR_ENV = "KERASAPPS_DATA_DIR"
RUNS_DIR_ENV = "KERASAPPS_RUNS_DIR"
CONFIG_DIR_ENV = "KERASAPPS_CONFIG_DIR"
CACHE_DIR_ENV = "KERASAPPS_CACHE_DIR"
OFFLINE_ENV = "KERASAPPS_OFFLINE"
DEBUG_ENV = "KERASAPPS_DEBUG"
BACKEND_ENV = "KERAS_BACKEND"
DISTRIBUTED_ENV = "KERASAPPS_DISTRIBUTED"
# Keras's own variables for a run across processes (`keras.distribution.initialize` reads them too)
ADDRESSES_ENV = "KERAS_DISTRIBUTION_JOB_ADDRESSES"  # process 0's HOST:PORT (or every process's, comma-separated)
PROCESSES_ENV = "KERAS_DISTRIBUTION_NUM_PROCESSES"
PROCESS_ID_ENV = "KERAS_DISTRIBUTION_PROCESS_ID"


def _get(name):
    return os.environ.get(name) or None


def data_dir():
    """The local dataset folder the user named in $KERASAPPS_DATA_DIR, or None."""
    return _get(DATA_DIR_ENV)


def runs_dir():
    """The root of run folders: $KERASAPPS_RUNS_DIR, else ./saved_models."""
    return _get(RUNS_DIR_ENV) or "saved_models"


def backend():
    """The Keras backend asked for in $KERAS_BACKEND (default tensorflow)."""
    return _get(BACKEND_ENV) or "tensorflow"


def config_dir():
    """A folder of the user's experiment files ($KERASAPPS_CONFIG_DIR), or None."""
    return _get(CONFIG_DIR_ENV)


def cache_dir():
    """Folder of decoded-image caches: $KERASAPPS_CACHE_DIR, else ~/.cache/kerasapps."""
    return pathlib.Path(_get(CACHE_DIR_ENV) or pathlib.Path.home() / ".cache" / "kerasapps")


def tfds_dir():
    """TFDS's cache folder: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return _get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")


def offline():
    """True when KERASAPPS_OFFLINE asks never to try the network."""
    return (_get(OFFLINE_ENV) or "0") != "0"


def debug():
    """True when KERASAPPS_DEBUG lets TensorFlow's native start-up messages through."""
    return bool(_get(DEBUG_ENV))


def distribution():
    """The variables that ask for a run across processes (Keras's, Slurm's, ours), as a dict."""
    names = (PROCESSES_ENV, ADDRESSES_ENV, PROCESS_ID_ENV, DISTRIBUTED_ENV, "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS")
    return {name: os.environ[name] for name in names if name in os.environ}


@contextlib.contextmanager
def environment(variables):
    """Set `variables` in this process's environment meanwhile, then restore what was there
    (for libraries configured by the environment: keras-tuner's KERASTUNER_* variables)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def onednn():
    """TF_ENABLE_ONEDNN_OPTS as TensorFlow sees it ("1" unless the user set "0": `quiet_tensorflow`)."""
    return _get("TF_ENABLE_ONEDNN_OPTS") or "1"


def quiet_tensorflow():
    """Defaults for TensorFlow's own variables, set before it is imported; a user's own values win.

    Level 3 hides the C++ "oneDNN supports DT_BOOL only on AVX-512" line that masked RNNs
    print on every run (real failures still reach the user as Python exceptions).
    TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX512_VNNI, BF16
    or AMX; on AVX2 machines Conv2D otherwise falls back to Eigen and LeNet trains at
    half the speed (docs/history.md).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def import_tensorflow():
    """Import TensorFlow (and probe its devices) once, its C++ start-up chatter hidden.

    Commands call it before they import the library, which imports TensorFlow and Keras at
    the top as any Keras code does; then the banner (oneDNN, CUDA probing) never shows.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    quiet_tensorflow()
    with native_output_silenced(2):
        import tensorflow

        # Probing for GPUs prints CUDA errors on machines without one: do it now.
        tensorflow.config.list_physical_devices()
    return tensorflow


@contextlib.contextmanager
def native_output_silenced(*fds):
    """Send what C++ code writes to file descriptors `fds` (default 2) to /dev/null meanwhile.

    TensorFlow's banner and the TFLite converter's and interpreter's messages are written
    by C++ straight to the descriptors, past Python's sys.stderr, so only this holds them
    back; KERASAPPS_DEBUG=1 lets them through.
    """
    if debug():
        yield
        return
    fds = fds or (2,)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = {fd: os.dup(fd) for fd in fds}
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


# --- switches the run's config sets (timm's `set_fused_attn` habit) ----------------

_fast_layers = [True]


def fast_layers():
    """Whether models built now take the suite's faster TensorFlow layers (`train.fast_layers`)."""
    return _fast_layers[0]


@contextlib.contextmanager
def use_fast_layers(enabled):
    """Build models with `train.fast_layers` = `enabled` meanwhile (`models.common` asks `fast_layers`)."""
    before, _fast_layers[0] = _fast_layers[0], bool(enabled)
    try:
        yield
    finally:
        _fast_layers[0] = before
