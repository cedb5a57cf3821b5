"""ZFNet (Zeiler & Fergus 2013, "Visualizing and Understanding Convolutional Networks").

The ILSVRC 2013 winner (the course notes' table: 1st place 2013, 14.8% top-5
error, depth 8) is AlexNet retuned after looking at what its filters learn: a
7x7 first layer of stride 2 in place of 11x11 of stride 4 (AlexNet's large
stride aliased its first-layer features), and conv3-5 of 512, 1024, 512 filters
in the paper's best model; Figure 3 of the paper, built here, keeps AlexNet's
384, 384, 256 and runs on one GPU (no grouped convolutions).

Figure 3's sizes: 224 -> conv1 7x7/2 -> 110 -> pool 3x3/2 -> 55 -> conv2 5x5/2
-> 26 -> pool 3x3/2 -> 13 -> conv3-5 3x3/1 -> 13 -> pool 3x3/2 -> 6, then
6x6x256 = 9,216 features into 4096-4096-1000. No whole-number padding
gives 110 from 224 under the notes' formula ((224 - 7 + 2P) / 2 + 1 is never
whole): the paper's sizes come from Caffe's arithmetic, which pads conv1 by one
pixel and drops the last row, and rounds pooling up. Here one row and column of
zeros on the top and left of the image ((225 - 7) / 2 + 1 = 110) and "same"
pooling after conv1 and conv2 (ceil(110 / 2) = 55, ceil(26 / 2) = 13) give
exactly Figure 3's sizes.

Parameters (biases included, 1000 classes): 62,357,608. The paper prints no
total; the notes' "58M" is 7% below it (our count less the 4,097,000 of the
1000-way classifier is 58,260,608; see docs/notes-errata.md). Contrast normalization (parameter-free) is left out;
`batch_norm=True` is the modern replacement.
"""

import functools

import keras

from kerasapps.models.common import assemble, classifier_head, conv_block, kernel_regularizer
from kerasapps.registry import register_model

# --- builder ----------------------------------------------------------------------


def build_zfnet(
    *,
    input_shape=(224, 224, 3),
    num_classes=1000,
    conv_filters=(96, 256, 384, 384, 256),
    batch_norm=False,
    dropout=0.5,
    fc_units=4096,
    weight_decay=0.0,
    api="sequential",
    name="zfnet",
):
    """Build ZFNet as in Zeiler & Fergus's Figure 3.

    Args:
        input_shape: (height, width, channels); 224x224 gives the paper's sizes.
        num_classes: size of the softmax output.
        conv_filters: filters of conv1 ... conv5 (the paper's best model: 96, 256, 512, 1024, 512).
        batch_norm: batch normalization after every convolution.
        dropout: dropout rate after each hidden dense layer (the paper's 0.5).
        fc_units: width of the two hidden dense layers.
        weight_decay: L2 weight decay on conv and dense kernels.
        api: "sequential" or "functional".
        name: the Keras model name.

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        GeometryError: the input does not fit the strided convolutions and pools.
    """
    reg = kernel_regularizer(weight_decay)
    f1, f2, f3, f4, f5 = conv_filters

    def conv(label, filters, kernel, stride=1, padding="valid"):
        return conv_block(
            filters, kernel, name=label, strides=stride, padding=padding, batch_norm=batch_norm, kernel_regularizer=reg
        )

    layers = [
        keras.layers.ZeroPadding2D(((1, 0), (1, 0)), name="conv1_pad"),
        *conv("conv1", f1, 7, stride=2),
        keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1"),
        *conv("conv2", f2, 5, stride=2),
        keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool2"),
        *conv("conv3", f3, 3, padding="same"),
        *conv("conv4", f4, 3, padding="same"),
        *conv("conv5", f5, 3, padding="same"),
        keras.layers.MaxPooling2D(3, strides=2, name="pool5"),
        keras.layers.Flatten(name="flatten"),
    ]
    layers += classifier_head(num_classes, units=fc_units, dropout=dropout, reg=reg)
    return assemble(layers, input_shape=input_shape, api=api, name=name)


# --- variants ---------------------------------------------------------------------

register_model(
    "zfnet", family="zfnet",
    description="ZFNet (2013 winner) on 224x224 images, Zeiler & Fergus Figure 3: 62,357,608 parameters.",
    test_args={"input_shape": (64, 64, 3), "fc_units": 64},  # 65 -> 30 -> 15 -> 6 -> 3 -> 3 -> 1
    facts={"params": 62_357_608, "year": 2013, "published": "-", "source": "Zeiler & Fergus print no total (the notes: 58M)"},
)(functools.partial(build_zfnet, name="zfnet"))
