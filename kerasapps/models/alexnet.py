"""AlexNet (Krizhevsky, Sutskever, Hinton 2012).

Five convolutions and three dense layers on a 227x227 RGB image. The paper
says 224x224, but its first layer (96 kernels of 11x11, stride 4) only yields
its 55x55 maps from 227: (227 - 11) / 4 + 1 = 55, while 224 gives 54.25.
The sizes then run 55 -pool-> 27 -conv5x5,P2-> 27 -pool-> 13 -conv3x3 x3-> 13
-pool-> 6, and 6x6x256 = 9,216 features feed the 4096-4096-1000 head.

Parameters (biases included, 1000 classes):
    groups=1 (one-GPU form, default):   62,378,344
    groups=2 (the paper's two GPUs: conv2, conv4 and conv5 each see only the
              half of the previous maps on their own GPU):  60,965,224
The paper's "60 million parameters" is the grouped count. Local response
normalization (parameter-free) is left out; `batch_norm=True` is the modern
replacement.
"""

import functools

import keras

from kerasapps.models.common import assemble, classifier_head, conv_block, kernel_regularizer
from kerasapps.registry import register_model

# --- builder ----------------------------------------------------------------------


def build_alexnet(
    *,
    input_shape=(227, 227, 3),
    num_classes=1000,
    groups=1,
    batch_norm=False,
    dropout=0.5,
    fc_units=4096,
    weight_decay=0.0,
    api="sequential",
    name="alexnet",
):
    """Build AlexNet.

    Args:
        input_shape: (height, width, channels); 227x227 gives the paper's sizes.
        num_classes: size of the softmax output.
        groups: 1, or 2 for the paper's split of conv2, conv4, conv5 across two GPUs.
        batch_norm: batch normalization after every convolution.
        dropout: dropout rate after each hidden dense layer (the paper's 0.5).
        fc_units: width of the two hidden dense layers.
        weight_decay: L2 weight decay on conv and dense kernels (the paper used 5e-4).
        api: "sequential" or "functional".
        name: the Keras model name.

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        GeometryError: the input does not fit the 11x11/4 convolution and three pools.
    """
    reg = kernel_regularizer(weight_decay)
    layers = []

    def conv(label, filters, kernel, stride=1, padding=0, conv_groups=1):
        if padding:
            layers.append(keras.layers.ZeroPadding2D(padding, name=f"{label}_pad"))
        layers.extend(
            conv_block(
                filters, kernel, name=label, strides=stride, groups=conv_groups, batch_norm=batch_norm,
                kernel_regularizer=reg,
            )
        )  # fmt: skip

    conv("conv1", 96, 11, stride=4)
    layers.append(keras.layers.MaxPooling2D(3, strides=2, name="pool1"))
    conv("conv2", 256, 5, padding=2, conv_groups=groups)
    layers.append(keras.layers.MaxPooling2D(3, strides=2, name="pool2"))
    conv("conv3", 384, 3, padding=1)
    conv("conv4", 384, 3, padding=1, conv_groups=groups)
    conv("conv5", 256, 3, padding=1, conv_groups=groups)
    layers.append(keras.layers.MaxPooling2D(3, strides=2, name="pool5"))
    layers.append(keras.layers.Flatten(name="flatten"))
    layers += classifier_head(num_classes, units=fc_units, dropout=dropout, reg=reg)
    return assemble(layers, input_shape=input_shape, api=api, name=name)


# --- variants ---------------------------------------------------------------------

register_model(
    "alexnet", family="alexnet",
    description="AlexNet (2012) on 227x227 images; groups=2 gives the paper's two-GPU 60,965,224 parameters.",
    test_args={"input_shape": (67, 67, 3), "fc_units": 64},  # (67 - 11) / 4 + 1 = 15 -> 7 -> 3 -> 1
    facts={"params": 62_378_344, "year": 2012, "published": "60M", "source": "Krizhevsky et al. 2012 (two-GPU form: groups=2)"},
)(functools.partial(build_alexnet, name="alexnet"))
