"""Model families, one file each; importing this package registers every model.

    from kerasapps.models import MODELS, build_model, list_models
"""

from kerasapps.models import alexnet, googlenet, lenet, resnet, rnn, vgg, zfnet  # noqa: F401  (registers every model)
from kerasapps.registry import MODELS

build_model = MODELS.build
list_models = MODELS.names
