"""ResNet v1 (He, Zhang, Ren, Sun 2015) and v2, with the Functional or the Sequential API.

Two families from the paper:

* CIFAR (section 4.2): a 3x3 conv of 16 filters, then three stages of n basic
  blocks with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps, global average
  pooling and a 10-way softmax: 6n + 2 weighted layers (resnet20 ... resnet110).
  Shortcuts are identities, and where the shape changes (stride 2, twice the
  filters) the input is subsampled and zero-padded in channels: the paper's
  option A, used for its CIFAR results. With it `resnet20` has 0.27M and
  `resnet56` 0.85M parameters, as in Table 6 (the exact totals are the variants'
  `facts`; they include the batch-norm moving statistics).
* ImageNet (Table 1): a 7x7/2 conv and a 3x3/2 max pool, four stages of basic
  (18, 34) or bottleneck (50, 152) blocks, and projection shortcuts where
  the shape changes (option B). Convolutions carry a bias like keras.applications,
  so `resnet50` has its 25,636,712 parameters and `resnet152` (the course
  notes' "ResNet(152)") its 60,419,944.

A Sequential model cannot branch, so `api="sequential"` makes each block one
`ResidualBlock` layer (below, as the keras-io examples do) holding the very layers the
Functional graph has, under the same names: same parameters and, with the same
weights, the same outputs (tests/models/test_registry.py; saving in tests/models/test_course_models.py).

Every padding is "same", so each stride-2 layer takes a size to ceil(size / 2):
224 -> 112 -> 56 -> 28 -> 14 -> 7, the sizes of the paper's Table 1 (whose
explicit paddings would give 112.5 under the strict formula).

`version=2` builds the pre-activation variant (He et al. 2016, "Identity Mappings
in Deep Residual Networks"): batch norm and ReLU before each convolution, nothing
after the addition, one BN-ReLU before the pooling.

Weight decay is an L2 term on the conv and dense kernels (`weight_decay`), which
equals the coupled weight decay of the paper's SGD (see `common.kernel_regularizer`).
"""

import functools

import keras

from kerasapps.errors import UserError, check_choice, check_positive_number
from kerasapps.models.common import (
    APIS,
    assemble,
    batch_normalization,
    chain,
    conv_block,
    float32_output,
    kernel_regularizer,
)
from kerasapps.registry import register_model

BLOCK_TYPES = ("basic", "bottleneck")
SHORTCUTS = ("identity", "projection")
STEMS = ("cifar", "imagenet")
VERSIONS = (1, 2)
BOTTLENECK_EXPANSION = 4

# --- blocks -----------------------------------------------------------------------
# A block is made as lists of layers (`block_layers`) and applied by one function
# (`apply_block`), so the Functional builder and the `ResidualBlock` layer of the
# Sequential one run the very same layers, with the same names.


def _conv(filters, kernel, *, stride=1, bias, reg, name):
    return [
        keras.layers.Conv2D(
            filters, kernel, strides=stride, padding="same", use_bias=bias, kernel_regularizer=reg, name=name
        )
    ]


def _bn_relu(*, name):
    return [batch_normalization(name=f"{name}_bn"), keras.layers.Activation("relu", name=f"{name}_relu")]


def _conv_bn(filters, kernel, *, stride=1, relu=True, bias, reg, name):
    return conv_block(
        filters, kernel, name=name, strides=stride, padding="same", batch_norm=True, use_bias=bias,
        activation="relu" if relu else None, kernel_regularizer=reg,
    )  # fmt: skip


def _shortcut(input_shape, filters, stride, *, kind, version, bias, reg, name):
    """The shortcut's layers: none where the shape is kept; otherwise option A ("identity") or B ("projection").

    v2 projects the pre-activated input with a bare 1x1 conv; v1 projects the
    block's input with a 1x1 conv and batch norm (`apply_block` feeds each its own).
    """
    h, w, channels = input_shape
    if stride == 1 and channels == filters:
        return []
    if kind == "projection":
        if version == 2:
            return _conv(filters, 1, stride=stride, bias=bias, reg=reg, name=name)
        return _conv_bn(filters, 1, stride=stride, relu=False, bias=bias, reg=reg, name=name)
    if filters < channels:
        raise UserError(
            f"Layer {name!r}: an identity shortcut cannot take {channels} channels down to {filters}; "
            f"use shortcut='projection'."
        )
    layers = []
    if stride != 1:
        # A 1x1 window with stride 2 keeps every other pixel: x[:, ::2, ::2].
        layers.append(keras.layers.MaxPooling2D(1, strides=stride, padding="same", name=f"{name}_subsample"))
        h, w = -(-h // stride), -(-w // stride)
    if filters != channels:
        # Zero channels on both sides, from built-in layers only, so that a saved
        # Functional model loads without custom objects.
        low = (filters - channels) // 2
        layers += [
            keras.layers.Reshape((h, w, channels, 1), name=f"{name}_to5d"),
            keras.layers.ZeroPadding3D(((0, 0), (0, 0), (low, filters - channels - low)), name=f"{name}_zeropad"),
            keras.layers.Reshape((h, w, filters), name=f"{name}_to4d"),
        ]
    return layers


def block_layers(input_shape, convs, *, version, shortcut, bias, reg, name):
    """The layers of one residual block on inputs of `input_shape` (H, W, C), by role.

    `convs` is a list of (filters, kernel, stride), the block's residual branch.
    v1 (He et al. 2015): conv-BN-ReLU ..., the last conv without ReLU, add, ReLU.
    v2 (He et al. 2016, pre-activation): BN-ReLU first, then conv, BN-ReLU, conv ...,
    add, and nothing after the addition.

    Returns:
        A dict of layer lists: "preact", "shortcut", "branch", "add" and "out",
        and "project_preact": whether the shortcut reads the pre-activated input.
    """
    out_filters, stride = convs[-1][0], convs[0][2]
    branch = []
    for i, (filters, kernel, conv_stride) in enumerate(convs, start=1):
        last = i == len(convs)
        label = f"{name}_conv{i}"
        if version == 1:
            branch += _conv_bn(filters, kernel, stride=conv_stride, relu=not last, bias=bias, reg=reg, name=label)
        else:
            branch += _conv(filters, kernel, stride=conv_stride, bias=bias, reg=reg, name=label)
            branch += [] if last else _bn_relu(name=label)
    return {
        "preact": _bn_relu(name=f"{name}_preact") if version == 2 else [],
        "shortcut": _shortcut(
            input_shape, out_filters, stride, kind=shortcut, version=version, bias=bias, reg=reg,
            name=f"{name}_shortcut",
        ),
        "project_preact": version == 2 and shortcut == "projection",
        "branch": branch,
        "add": [keras.layers.Add(name=f"{name}_add")],
        "out": [keras.layers.Activation("relu", name=f"{name}_out")] if version == 1 else [],
    }  # fmt: skip


def apply_block(x, parts):
    """Run the layers of `block_layers` on `x`: shortcut + branch, added."""
    preact = chain(x, parts["preact"])
    skip = chain(preact if parts["project_preact"] else x, parts["shortcut"])
    y = parts["add"][0]([skip, chain(preact, parts["branch"])])
    return chain(y, parts["out"])


def residual_block(x, convs, **kwargs):
    """One residual block applied to the tensor `x` (Functional API); see `block_layers`."""
    return apply_block(x, block_layers(tuple(x.shape[1:]), convs, **kwargs))


def basic_convs(filters, stride):
    """Two 3x3 convolutions; output has `filters` channels."""
    return [(filters, 3, stride), (filters, 3, 1)]


def bottleneck_convs(filters, stride):
    """1x1 reduce, 3x3, 1x1 expand (stride on the first 1x1, as keras.applications); 4 x `filters` out."""
    return [(filters, 1, stride), (filters, 3, 1), (BOTTLENECK_EXPANSION * filters, 1, 1)]


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


# --- builder ----------------------------------------------------------------------


def build_resnet(
    *,
    stages,
    block="basic",
    stem="cifar",
    stem_filters=16,
    width=1.0,
    shortcut="identity",
    version=1,
    conv_bias=False,
    input_shape=(32, 32, 3),
    num_classes=10,
    weight_decay=0.0,
    api="functional",
    name="resnet",
):
    """Build a ResNet v1 or v2.

    Args:
        stages: list of (filters, blocks, stride) per stage; stride applies to its first block.
        block: "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1 with 4x expansion).
        stem: "cifar" (3x3 conv) or "imagenet" (7x7/2 conv, then 3x3/2 max pool).
        stem_filters: filters of the stem convolution.
        width: multiplies the stem's and every stage's filters (2.0: a network twice as wide).
        shortcut: where the shape changes, "identity" (subsample and zero-pad the
            channels: option A) or "projection" (1x1 conv + batch norm: option B).
        version: 1 (He et al. 2015) or 2 (pre-activation, He et al. 2016).
        conv_bias: give convolutions a bias (redundant before batch norm; on for
            the ImageNet variants only to match keras.applications' counts).
        input_shape: (height, width, channels).
        num_classes: size of the softmax output.
        weight_decay: L2 weight decay on conv and dense kernels (0 = none).
        api: "functional" (every layer in the graph) or "sequential" (each block
            one `ResidualBlock` layer); the same weights either way.
        name: the Keras model name.

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        UserError: an unknown option value, or an identity shortcut asked to reduce channels.
    """
    check_choice("block", block, BLOCK_TYPES)
    check_choice("shortcut", shortcut, SHORTCUTS)
    check_choice("stem", stem, STEMS)
    check_choice("version", version, VERSIONS)
    check_choice("api", api, APIS)
    check_positive_number("model.args.width", width)
    reg = kernel_regularizer(weight_decay)
    stem_filters = max(1, round(stem_filters * width))
    block_convs = basic_convs if block == "basic" else bottleneck_convs

    kernel, stride = (3, 1) if stem == "cifar" else (7, 2)
    if version == 1:
        stem_layers = _conv_bn(stem_filters, kernel, stride=stride, bias=conv_bias, reg=reg, name="conv1")
    else:  # v2's first block normalizes and activates the stem itself
        stem_layers = _conv(stem_filters, kernel, stride=stride, bias=conv_bias, reg=reg, name="conv1")
    if stem == "imagenet":
        stem_layers.append(keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1"))
    blocks = [
        (block_convs(max(1, round(filters * width)), stride if b == 1 else 1), f"stage{s}_block{b}")
        for s, (filters, count, stride) in enumerate(stages, start=2)
        for b in range(1, count + 1)
    ]
    head = _bn_relu(name="post") if version == 2 else []
    head += [
        keras.layers.GlobalAveragePooling2D(name="avg_pool"),
        keras.layers.Dense(num_classes, activation="softmax", kernel_regularizer=reg, name="predictions"),
    ]
    options = {"version": version, "shortcut": shortcut}
    if api == "sequential":
        residual = [
            ResidualBlock(convs, conv_bias=conv_bias, weight_decay=weight_decay, name=label, **options)
            for convs, label in blocks
        ]
        return assemble([*stem_layers, *residual, *head], input_shape=input_shape, api=api, name=name)
    inputs = keras.Input(shape=input_shape)
    x = chain(inputs, stem_layers)
    for convs, label in blocks:
        x = residual_block(x, convs, bias=conv_bias, reg=reg, name=label, **options)
    return keras.Model(inputs, chain(x, float32_output(head)), name=name)


# --- variants ---------------------------------------------------------------------

# depth -> (parameters, published parameters); He et al. Table 6 (CIFAR-10, option A). Counts include
# the batch-norm moving statistics.
CIFAR = {
    20: (271_098, "0.27M"), 32: (466_426, "0.46M"), 44: (661_754, "0.66M"), 56: (857_082, "0.85M"),
    110: (1_736_058, "1.7M"),
}  # fmt: skip
# depth -> (block, blocks per stage, parameters, published, source); He et al. give FLOPs, no counts.
IMAGENET = {
    18: ("basic", [2, 2, 2, 2], 11_703_912, "11.7M", "torchvision (He et al. give 1.8G FLOPs, no count)"),
    34: ("basic", [3, 4, 6, 3], 21_823_208, "21.8M", "torchvision (He et al. give 3.6G FLOPs, no count)"),
    50: ("bottleneck", [3, 4, 6, 3], 25_636_712, "25.6M", "keras.applications (He et al. give 3.8G FLOPs)"),
    152: ("bottleneck", [3, 8, 36, 3], 60_419_944, "60.4M", "keras.applications (He et al. give 11.3G FLOPs)"),
}


def _register_variants():
    """resnetN for CIFAR (6n+2, option A shortcuts) and for ImageNet (option B, biased convs)."""
    for depth, (params, published) in CIFAR.items():
        n = (depth - 2) // 6
        register_model(
            f"resnet{depth}", family="resnet",
            description=f"ResNet-{depth} for CIFAR (6n+2, n={n}), option A shortcuts by default.",
            facts={"params": params, "year": 2015, "published": published, "source": "He et al., Table 6"},
        )(functools.partial(build_resnet, stages=[(16, n, 1), (32, n, 2), (64, n, 2)], name=f"resnet{depth}"))
    for depth, (block, counts, params, published, source) in IMAGENET.items():
        stages = [(f, c, 1 if i == 0 else 2) for i, (f, c) in enumerate(zip((64, 128, 256, 512), counts))]
        register_model(
            f"resnet{depth}", family="resnet",
            description=f"ResNet-{depth} for 224x224 ImageNet images ({block} blocks, option B shortcuts).",
            test_args={"input_shape": (32, 32, 3)},
            facts={"params": params, "year": 2015, "published": published, "source": source},
        )(
            functools.partial(
                build_resnet, stages=stages, block=block, stem="imagenet", stem_filters=64,
                shortcut="projection", conv_bias=True, input_shape=(224, 224, 3), num_classes=1000,
                name=f"resnet{depth}",
            )
        )


_register_variants()
