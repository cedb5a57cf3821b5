"""Pieces shared by the model families: assembling a chain of layers, the conv block, weight decay."""

import keras

from kerasapps import settings
from kerasapps.errors import UserError, check_choice
from kerasapps.geometry import check_layers
from kerasapps.models.batch_norm import with_fast_training
from kerasapps.models.full_map_conv import with_full_map_product

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
    check_choice("api", api, APIS)
    check_layers(input_shape, layers)
    float32_output(layers)
    if api == "sequential":
        return keras.Sequential([keras.Input(shape=input_shape, dtype=input_dtype), *layers], name=name)
    inputs = keras.Input(shape=input_shape, dtype=input_dtype)
    return keras.Model(inputs, chain(inputs, layers), name=name)


def float32_output(layers):
    """Make the last of `layers` compute in float32 under a mixed-precision policy (a no-op otherwise).

    A softmax or sigmoid in bfloat16 keeps 3 significant digits: the loss of a
    confident prediction would be noise. Keras's mixed-precision guide keeps the
    output layer in float32; weights are float32 either way.
    """
    if keras.mixed_precision.global_policy().compute_dtype != "float32":
        layers[-1].dtype_policy = "float32"
    return layers


def chain(x, layers):
    """Apply `layers` to the tensor `x` one after the other (Functional API)."""
    for layer in layers:
        x = layer(x)
    return x


def fast_layers_apply():
    """Whether a model built now takes the faster TensorFlow layers of `models.batch_norm` and
    `models.full_map_conv` (`train.fast_layers`, TensorFlow only). They stay Keras's own layer
    classes with their training step replaced, so a saved model holds nothing of ours."""
    return settings.fast_layers() and keras.backend.backend() == "tensorflow"


def batch_normalization(*, name, momentum=0.99):
    """Keras's `BatchNormalization` layer, trained in fewer passes on TensorFlow (`models.batch_norm`)
    where `fast_layers_apply`."""
    layer = keras.layers.BatchNormalization(momentum=momentum, name=name)
    return with_fast_training(layer) if fast_layers_apply() else layer


def conv_block(
    filters, kernel, *, name, activation="relu", batch_norm=False, strides=1, padding="valid", groups=1,
    use_bias=None, kernel_regularizer=None, bn_momentum=0.99, full_map=False,
):  # fmt: skip
    """The layers of one convolution: Conv2D, BatchNormalization if `batch_norm`, then `activation`.

    Layers are named `name`, `name_bn` and `name_<activation>`. The convolution
    has no bias before batch norm (its shift would cancel it) unless `use_bias`
    says otherwise; `activation=None` leaves the activation out. `bn_momentum` is Keras's
    (the moving statistics keep that much of their value at each step). `full_map`: the
    kernel is meant to cover the whole input map (LeNet-5's C5), so the convolution is
    computed as a matrix product there (`models.full_map_conv`) where `fast_layers_apply`.
    """
    conv = keras.layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, groups=groups,
        use_bias=not batch_norm if use_bias is None else use_bias, kernel_regularizer=kernel_regularizer, name=name,
    )  # fmt: skip
    layers = [with_full_map_product(conv) if full_map and fast_layers_apply() else conv]
    if batch_norm:
        layers.append(batch_normalization(momentum=bn_momentum, name=f"{name}_bn"))
    if activation:
        layers.append(keras.layers.Activation(activation, name=f"{name}_{activation}"))
    return layers


def classifier_head(num_classes, *, units, dropout, reg, names=("fc6", "fc7")):
    """AlexNet's head, which ZFNet keeps: two ReLU dense layers of `units` (named `names`),
    each followed by dropout if `dropout`, then the softmax layer "predictions"."""
    layers = []
    for name in names:
        layers.append(keras.layers.Dense(units, activation="relu", kernel_regularizer=reg, name=name))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"{name}_dropout"))
    layers.append(keras.layers.Dense(num_classes, activation="softmax", kernel_regularizer=reg, name="predictions"))
    return layers


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
