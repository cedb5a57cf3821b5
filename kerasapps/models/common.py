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
