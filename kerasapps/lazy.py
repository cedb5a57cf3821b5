"""TensorFlow and Keras, imported on first use and without their C++ start-up chatter.

    from kerasapps.lazy import keras, tf

    keras.layers.Dense(10)   # the first attribute read imports TensorFlow, quietly

Modules that only *mention* Keras (model builders, dataset loaders) can then be
imported in milliseconds, so `--help`, `--print-config` and the config checks
never pay the four seconds TensorFlow takes to load. TensorFlow's banner
(oneDNN, CUDA probing) and the TFLite converter's and interpreter's messages are
written by C++ straight to the file descriptors, past Python's sys.stderr, so
only an fd-level redirect holds them back; KERASAPPS_DEBUG=1 lets them through.
"""

import contextlib
import importlib
import os
import sys
import types

from kerasapps import settings


@contextlib.contextmanager
def native_output_silenced(*fds):
    """Send what C++ code writes to file descriptors `fds` (default 2) to /dev/null meanwhile."""
    if settings.debug():
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


def import_tensorflow():
    """Import TensorFlow (and probe its devices) once, with the start-up chatter hidden."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    settings.quiet_tensorflow()
    with native_output_silenced(2):
        import tensorflow

        # Probing for GPUs prints CUDA errors on machines without one: do it now.
        tensorflow.config.list_physical_devices()
    return tensorflow


class LazyModule(types.ModuleType):
    """A stand-in for module `name` that imports it (TensorFlow first, quietly) on first attribute read."""

    def __init__(self, name):
        super().__init__(name)
        self._module = None
        self._on_load = []

    def when_loaded(self, callback):
        """Call `callback()` once the module is imported (at once if it already is): for code that
        must subclass it or register with it at import time, such as a custom Keras layer."""
        if self._module is None:
            self._on_load.append(callback)
        else:
            callback()

    def _load(self):
        if self._module is None:
            # Under every backend: Keras imports TensorFlow anyway and the data pipelines are tf.data.
            import_tensorflow()
            with native_output_silenced(2):
                self._module = importlib.import_module(self.__name__)
            for callback in self._on_load:
                callback()
        return self._module

    def __getattr__(self, attribute):
        return getattr(self._load(), attribute)


keras = LazyModule("keras")
tf = LazyModule("tensorflow")
