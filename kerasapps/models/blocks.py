"""Block layers that let a `keras.Sequential` model hold a ResNet or GoogLeNet.

A Sequential model is a chain and cannot branch; these layers keep the branches
inside (as the keras-io examples do). Each holds the very layers the Functional
builder puts in its graph, made by the same functions and under the same names.

A subclass of `keras.layers.Layer` needs Keras itself, so this module is not
imported with `kerasapps.models`: the package imports it when Keras loads
(`keras.when_loaded`), which registers both layers before any model is loaded.
"""

from kerasapps.lazy import keras
from kerasapps.models.common import kernel_regularizer
from kerasapps.models.googlenet import apply_inception, inception_layers
from kerasapps.models.resnet import apply_block, block_layers


@keras.saving.register_keras_serializable(package="kerasapps")
class ResidualBlock(keras.layers.Layer):
    """A residual block as one Keras layer, so that a `keras.Sequential` model can hold a ResNet.

    A Sequential model is a chain and cannot branch; the branch and the shortcut
    live inside this layer instead (as the keras-io examples do). Its sublayers
    are the ones `build_resnet(api="functional")` puts in the graph, with the same
    names, so the two models have the same parameters and, given the same weights,
    the same outputs.

    Args:
        convs: list of (filters, kernel, stride), the residual branch.
        version: 1 (post-activation) or 2 (pre-activation).
        shortcut: "identity" (option A) or "projection" (option B).
        conv_bias: give the convolutions a bias.
        weight_decay: L2 weight decay on the conv kernels (see `common.kernel_regularizer`).
    """

    def __init__(self, convs, *, version=1, shortcut="identity", conv_bias=False, weight_decay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.convs = [tuple(c) for c in convs]
        self.version = version
        self.shortcut = shortcut
        self.conv_bias = conv_bias
        self.weight_decay = weight_decay

    def build(self, input_shape):
        parts = block_layers(
            tuple(input_shape[1:]), self.convs, version=self.version, shortcut=self.shortcut, bias=self.conv_bias,
            reg=kernel_regularizer(self.weight_decay), name=self.name,
        )  # fmt: skip
        self.project_preact = parts.pop("project_preact")
        # Attributes, so that Keras tracks (and saves) every sublayer's weights.
        self.preact_layers, self.shortcut_layers = parts["preact"], parts["shortcut"]
        self.branch_layers, self.add_layers, self.out_layers = parts["branch"], parts["add"], parts["out"]
        apply_block(keras.KerasTensor(tuple(input_shape)), self._parts())  # builds every sublayer

    def _parts(self):
        return {
            "preact": self.preact_layers, "shortcut": self.shortcut_layers, "project_preact": self.project_preact,
            "branch": self.branch_layers, "add": self.add_layers, "out": self.out_layers,
        }  # fmt: skip

    def call(self, inputs):
        return apply_block(inputs, self._parts())

    def compute_output_shape(self, input_shape):
        stride = self.convs[0][2]
        size = [None if s is None else -(-s // stride) for s in input_shape[1:3]]
        return (input_shape[0], *size, self.convs[-1][0])

    def get_config(self):
        return {
            **super().get_config(), "convs": self.convs, "version": self.version, "shortcut": self.shortcut,
            "conv_bias": self.conv_bias, "weight_decay": self.weight_decay,
        }  # fmt: skip


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
