"""Model families, one file each; importing this package registers every model.

    from kerasapps.models import MODELS, build_model, list_models
"""

import importlib

from kerasapps.lazy import keras
from kerasapps.models import alexnet, googlenet, lenet, resnet, rnn, vgg, zfnet  # noqa: F401  (registers every model)
from kerasapps.registry import MODELS

# The Sequential block layers, truncated BPTT's layer, masked max pooling, the faster batch norm and the
# full-map convolution subclass Keras: define and register them when Keras loads, so that a saved model
# holding them loads anywhere the package is imported.
keras.when_loaded(lambda: importlib.import_module("kerasapps.models.batch_norm"))
keras.when_loaded(lambda: importlib.import_module("kerasapps.models.blocks"))
keras.when_loaded(lambda: importlib.import_module("kerasapps.models.full_map_conv"))
keras.when_loaded(lambda: importlib.import_module("kerasapps.models.masked_pooling"))
keras.when_loaded(lambda: importlib.import_module("kerasapps.models.tbptt"))

build_model = MODELS.build
list_models = MODELS.names
