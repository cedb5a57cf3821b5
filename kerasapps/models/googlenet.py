"""GoogLeNet, Inception v1 (Szegedy et al. 2014), without the auxiliary classifiers.

Stem (7x7/2 conv, 3x3/2 pool, 1x1 and 3x3 convs, 3x3/2 pool), nine Inception
modules (3a, 3b, pool, 4a-4e, pool, 5a, 5b), global average pooling, dropout 0.4
and the classifier. An Inception module runs four branches on the same input and
concatenates them in channels: 1x1; 1x1 reduce -> 3x3; 1x1 reduce -> 5x5;
3x3 max pool (stride 1) -> 1x1 projection. The filter counts are the paper's
Table 1.

Parameters, 1000 classes: 6,998,552 with biases. The paper's Table 1 counts
kernel weights only, in K = 1024 (its conv2 row, 112K, is 64*64 + 9*64*192 =
114,688 = 112 x 1024; the classifier's 1000K is 1024*1000 = 1,000 x 1024).
Our kernel weights, 6,990,272 = 6,826K, are 0.4% above the sum of the Table's
column, 6,797.7K ("about 6.8M, 12 times fewer than AlexNet"). Rows conv2, 3a,
3b, 4b and the classifier agree within 1K; conv1 (2.7K for 7*7*3*64 = 9.2K),
4a, 4c, 4d, 4e, 5a and 5b do not follow from the Table's own filter counts,
which are the ones built here.
The auxiliary classifiers (training-time only) and the parameter-free local
response normalization are left out.

A Sequential model cannot branch, so `api="sequential"` makes each module one
`InceptionModule` layer (below) holding the four branches the Functional graph has.

Every padding is "same", so 224 -> 112 -> 56 -> 28 -> 14 -> 7 as in Table 1;
the paper's 7x7 average pool on the 7x7 map is global average pooling, which
also lets the network run on smaller images.
"""

import functools

import keras

from kerasapps.errors import check_choice
from kerasapps.models.common import APIS, assemble, chain, conv_block, float32_output, kernel_regularizer
from kerasapps.registry import register_model

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
POOL_AFTER = ("3b", "4e")

# --- builder ----------------------------------------------------------------------


def inception_layers(filters, *, batch_norm, reg, name):
    """The four branches of one Inception module, each a list of layers; `filters` is a row of Table 1."""
    f1, r3, f3, r5, f5, proj = filters

    def conv(n, k, label):
        return conv_block(n, k, name=label, padding="same", batch_norm=batch_norm, kernel_regularizer=reg)

    return [
        conv(f1, 1, f"{name}_1x1"),
        conv(r3, 1, f"{name}_3x3_reduce") + conv(f3, 3, f"{name}_3x3"),
        conv(r5, 1, f"{name}_5x5_reduce") + conv(f5, 5, f"{name}_5x5"),
        [keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")]
        + conv(proj, 1, f"{name}_pool_proj"),
    ]


def apply_inception(x, branches, concat):
    """Run each branch on `x` and concatenate the results in channels."""
    return concat([chain(x, branch) for branch in branches])


@keras.saving.register_keras_serializable(package="kerasapps")
class InceptionModule(keras.layers.Layer):
    """An Inception module as one Keras layer, so that a `keras.Sequential` model can hold GoogLeNet.

    Its four branches are the layers the Functional graph has, under the same
    names: same parameters and, given the same weights, the same outputs.

    Args:
        filters: a row of Table 1 (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
        batch_norm: batch normalization after every convolution.
        weight_decay: L2 weight decay on the conv kernels.
    """

    def __init__(self, filters, *, batch_norm=False, weight_decay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(filters)
        self.batch_norm = batch_norm
        self.weight_decay = weight_decay

    def build(self, input_shape):
        reg = kernel_regularizer(self.weight_decay)
        # Attributes, so that Keras tracks (and saves) every sublayer's weights.
        self.branches = inception_layers(self.filters, batch_norm=self.batch_norm, reg=reg, name=self.name)
        self.concat = keras.layers.Concatenate(name=f"{self.name}_concat")
        apply_inception(keras.KerasTensor(tuple(input_shape)), self.branches, self.concat)  # builds every sublayer

    def call(self, inputs):
        return apply_inception(inputs, self.branches, self.concat)

    def compute_output_shape(self, input_shape):
        f1, _, f3, _, f5, proj = self.filters
        return (*input_shape[:-1], f1 + f3 + f5 + proj)

    def get_config(self):
        return {
            **super().get_config(), "filters": self.filters, "batch_norm": self.batch_norm,
            "weight_decay": self.weight_decay,
        }  # fmt: skip


def build_googlenet(
    *,
    input_shape=(224, 224, 3),
    num_classes=1000,
    batch_norm=False,
    dropout=0.4,
    weight_decay=0.0,
    api="functional",
    name="googlenet",
):
    """Build GoogLeNet (Inception v1).

    Args:
        input_shape: (height, width, channels); 224x224 in the paper.
        num_classes: size of the softmax output.
        batch_norm: batch normalization after every convolution (Inception v2's addition).
        dropout: dropout rate before the classifier (the paper's 0.4).
        weight_decay: L2 weight decay on conv and dense kernels.
        api: "functional" (every layer in the graph) or "sequential" (each module
            one `InceptionModule` layer); the same weights either way.
        name: the Keras model name.

    Returns:
        An uncompiled `keras.Model`.
    """
    check_choice("api", api, APIS)
    reg = kernel_regularizer(weight_decay)

    def conv(n, k, label, stride=1):
        return conv_block(n, k, name=label, strides=stride, padding="same", batch_norm=batch_norm, kernel_regularizer=reg)

    def pool(label):
        return keras.layers.MaxPooling2D(3, strides=2, padding="same", name=label)

    stem = [
        *conv(64, 7, "conv1", stride=2), pool("pool1"), *conv(64, 1, "conv2_reduce"), *conv(192, 3, "conv2"),
        pool("pool2"),
    ]  # fmt: skip
    head = [keras.layers.GlobalAveragePooling2D(name="avg_pool")]
    if dropout:
        head.append(keras.layers.Dropout(dropout, name="dropout"))
    head.append(keras.layers.Dense(num_classes, activation="softmax", kernel_regularizer=reg, name="predictions"))

    if api == "sequential":
        body = []
        for key, filters in INCEPTION.items():
            body.append(InceptionModule(filters, batch_norm=batch_norm, weight_decay=weight_decay, name=f"inception{key}"))
            if key in POOL_AFTER:
                body.append(pool(f"pool_{key}"))
        return assemble([*stem, *body, *head], input_shape=input_shape, api=api, name=name)
    inputs = keras.Input(shape=input_shape)
    x = chain(inputs, stem)
    for key, filters in INCEPTION.items():
        label = f"inception{key}"
        branches = inception_layers(filters, batch_norm=batch_norm, reg=reg, name=label)
        x = apply_inception(x, branches, keras.layers.Concatenate(name=f"{label}_concat"))
        if key in POOL_AFTER:
            x = pool(f"pool_{key}")(x)
    return keras.Model(inputs, chain(x, float32_output(head)), name=name)


# --- variants ---------------------------------------------------------------------

register_model(
    "googlenet", family="googlenet",
    description="GoogLeNet / Inception v1 (2014) on 224x224 images, without auxiliary classifiers.",
    test_args={"input_shape": (32, 32, 3)},
    facts={"params": 6_998_552, "year": 2014, "published": "6.8M", "source": "Szegedy et al., Table 1 column sum (weights only)"},
)(functools.partial(build_googlenet, name="googlenet"))
