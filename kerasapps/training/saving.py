"""Saved models hold Keras's own layers only, so that plain Keras opens them without this package.

A model may train with layers of ours: truncated BPTT (`model.args.tbptt_steps`) and the
block layers that let a Sequential model hold a ResNet or GoogLeNet (`train.fast_layers`
only replaces Keras's own layers' training step: those save as they are). Each computes, at
inference, what Keras's own layers compute, and holds them under the names the plain model
gives them. So a run saves `PlainKerasCopy`: the experiment's model built once more without
them (no truncation, the Functional graph of a branching network), compiled as the run's,
with the trained weights copied in layer by layer, by name. Its optimizer starts afresh.
"""

import copy

from kerasapps import runs
from kerasapps.models import MODELS
from kerasapps.training.fit import build_experiment_model, compile_model

# Builder arguments that only change how a model trains, and what they are for the saved copy.
TRAINING_ONLY = {"tbptt_steps": None}


def layers_of(model):
    """Every layer inside `model`, nested ones included (blocks, a wrapped recurrent layer)."""
    return model._flatten_layers(include_self=False)


def is_plain_keras(model):
    """True if every layer of `model` is one of Keras's own, so plain Keras can load it."""
    return all(type(layer).__module__.startswith("keras.") for layer in layers_of(model))


def copy_weights(source, target):
    """Give each layer of `target` the weights of the layer of the same name in `source`."""
    by_name = {layer.name: layer for layer in layers_of(source)}
    for layer in layers_of(target):
        if layer.weights:
            layer.set_weights(by_name[layer.name].get_weights())


class PlainKerasCopy:
    """Saves a run's model as Keras's own layers with the trained weights (module docstring).

    Args:
        config: the run's experiment config.
        dataset_info: its `DatasetInfo` (the shapes the data fixes).
    """

    def __init__(self, config, dataset_info):
        self.config, self.dataset_info = config, dataset_info
        self._copy = None

    def save(self, model, path):
        """Save `model`, or its plain copy when it holds layers of ours, to `path` atomically."""
        if not is_plain_keras(model):
            if self._copy is None:
                self._copy = self._build()
            copy_weights(model, self._copy)
            model = self._copy
        runs.save_model_atomic(model, path)

    def _build(self):
        defaults = MODELS.defaults(self.config.model.name)
        args = {key: value for key, value in TRAINING_ONLY.items() if key in defaults}
        model = self._build_with(args)
        if not is_plain_keras(model) and "api" in defaults:  # a Sequential model of blocks
            model = self._build_with({**args, "api": "functional"})
        if not is_plain_keras(model):
            raise RuntimeError(f"{self.config.model.name} has no form made of Keras's own layers to save.")
        return model

    def _build_with(self, model_args):
        plain = copy.deepcopy(self.config)
        plain.model.args = {**plain.model.args, **model_args}
        return compile_model(build_experiment_model(plain, self.dataset_info.model_kwargs), plain, steps_per_epoch=1)
