"""kerasapps: train, tune and deploy the classic networks of a deep-learning course.

Importing the package imports TensorFlow once, with its C++ start-up banner
(oneDNN, CUDA probing) sent to /dev/null so that user output stays readable.
Set KERASAPPS_DEBUG=1 to see it.
"""

import contextlib
import os
import sys

__version__ = "0.1.0"


@contextlib.contextmanager
def native_output_silenced(*fds):
    """Send what C++ code writes to file descriptors `fds` (default 2) to /dev/null meanwhile.

    TensorFlow's banner, the TFLite converter's and the LiteRT interpreter's
    messages are written straight to the descriptors, past Python's sys.stdout
    and logging, so only an fd-level redirect holds them back. KERASAPPS_DEBUG=1
    lets them through.
    """
    if os.environ.get("KERASAPPS_DEBUG"):
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


def _import_tensorflow_quietly():
    # Level 3 also hides the C++ "E0000 ... oneDNN supports DT_BOOL only on
    # AVX-512" line that masked RNNs print on every run; real failures still
    # reach the user as Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_output_silenced(2):
        import tensorflow

        # Probing for GPUs prints CUDA errors on machines without one: do it now.
        tensorflow.config.list_physical_devices()


_import_tensorflow_quietly()
