"""Model families; importing this package registers every model."""

from kerasapps.models import lenet, rnn  # noqa: F401
from kerasapps.models import alexnet, googlenet, resnet, vgg  # noqa: F401
