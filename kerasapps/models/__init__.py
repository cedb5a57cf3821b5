"""Model families, one file each; importing this package registers every model.

    from kerasapps.models import MODELS, build_model, list_models
"""

import importlib

from kerasapps.lazy import keras
from kerasapps.models import alexnet, googlenet, lenet, resnet, rnn, vgg, zfnet  # noqa: F401  (registers every model)
from kerasapps.registry import MODELS

# The Sequential block layers and truncated BPTT's layer subclass Keras: define and register them when
# Keras loads. Saved models hold Keras's own layers in their place (`training.saving`).
keras.when_loaded(lambda: importlib.import_module("kerasapps.models.blocks"))
keras.when_loaded(lambda: importlib.import_module("kerasapps.models.tbptt"))

build_model = MODELS.build
list_models = MODELS.names
