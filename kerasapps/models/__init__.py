"""Model families, one file each; importing this package registers every model.

    from kerasapps.models import MODELS, build_model, list_models

Adding a model:

1. One file `models/<family>.py` with a builder that takes keyword-only arguments
   (`input_shape`, `num_classes` and the network's knobs) and returns an uncompiled
   `keras.Model` of Keras's own layers; checks that raise `UserError` on a bad value.
2. One registration per variant, with its facts: `register_model("name", family=...,
   facts={"params": ..., "year": ..., "published": ..., "source": ...})(builder)`, a
   variant being a `functools.partial` of the builder. `params` is the exact count at
   the defaults; `tests/models/test_registry.py` builds every model, checks it and
   saves it, and `kerasapps models` prints the facts. Import the file below.
3. Optional: an experiment `configs/<name>.yaml`, and a PyTorch twin in
   `compare/torch_twins.py` for `kerasapps compare`.
"""

from kerasapps.models import alexnet, googlenet, lenet, resnet, rnn, vgg, zfnet  # noqa: F401  (registers every model)
from kerasapps.registry import MODELS

build_model = MODELS.build
list_models = MODELS.names
