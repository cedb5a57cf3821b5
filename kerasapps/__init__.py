"""kerasapps: train, tune and deploy the classic networks of a deep-learning course.

Importing the package imports TensorFlow once, with its C++ start-up banner
(oneDNN, CUDA probing) sent to /dev/null so that user output stays readable.
Set KERASAPPS_DEBUG=1 to see it.
"""

import os

__version__ = "0.1.0"


def _import_tensorflow_quietly():
    # Level 3 also hides the C++ "E0000 ... oneDNN supports DT_BOOL only on
    # AVX-512" line that masked RNNs print on every run; real failures still
    # reach the user as Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get("KERASAPPS_DEBUG"):
        import tensorflow  # noqa: F401

        return
    # The banner is written by absl before Python logging exists, straight to
    # file descriptor 2, so only an fd-level redirect can hold it back.
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow

        # Probing for GPUs prints CUDA errors on machines without one: do it now.
        tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)


_import_tensorflow_quietly()
