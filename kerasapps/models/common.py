"""Pieces shared by the model families."""

import keras

from kerasapps.errors import UserError
from kerasapps.geometry import check_layers

APIS = ("sequential", "functional")


def assemble(layers, *, input_shape, api="sequential", name=None, input_dtype="float32"):
    """Turn a chain of layers into a model with the Sequential or the Functional API.

    The geometry of the chain is checked first, so a feature map that vanishes is
    reported by layer name before Keras builds anything. Both APIs use the very
    same layer objects, hence the same parameters. `input_dtype` is "int32" for
    token ids.

    Raises:
        UserError: `api` is not "sequential" or "functional".
        GeometryError: a layer's output size is not a positive whole number.
    """
    if api not in APIS:
        raise UserError(f"Unrecognized api={api!r}. Supported APIs are: {', '.join(APIS)}.")
    check_layers(input_shape, layers)
    if api == "sequential":
        return keras.Sequential([keras.Input(shape=input_shape, dtype=input_dtype), *layers], name=name)
    inputs = keras.Input(shape=input_shape, dtype=input_dtype)
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x, name=name)


def check_choice(name, value, choices):
    """Raise `UserError` unless `value` is one of `choices`."""
    if value not in choices:
        raise UserError(
            f"Unrecognized {name}={value!r}. Supported values are: {', '.join(map(str, choices))}."
        )


def kernel_regularizer(weight_decay):
    """L2 regularizer for conv and dense kernels that acts as SGD weight decay, or None.

    Keras's L2(l) adds l * sum(W**2) to the loss, whose gradient is 2 l W. Using
    l = weight_decay / 2 makes the gradient weight_decay * W: the coupled weight
    decay of the Caffe/Torch SGD that VGG and ResNet were trained with (it goes
    through momentum, unlike the optimizer's decoupled `weight_decay`).
    """
    if weight_decay < 0:
        raise UserError(f"weight_decay must be >= 0, got {weight_decay}.")
    return keras.regularizers.L2(weight_decay / 2) if weight_decay else None
