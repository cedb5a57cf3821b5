"""ResNet v1 (He, Zhang, Ren, Sun 2015) and v2, built with the Functional API.

Two families from the paper:

* CIFAR (section 4.2): a 3x3 conv of 16 filters, then three stages of n basic
  blocks with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps, global average
  pooling and a 10-way softmax: 6n + 2 weighted layers (resnet20 ... resnet110).
  Shortcuts are identities, and where the shape changes (stride 2, twice the
  filters) the input is subsampled and zero-padded in channels: the paper's
  option A, used for its CIFAR results. With it `resnet20` has 0.27M and
  `resnet56` 0.85M parameters, as in Table 6 (the exact totals are in
  tests/test_cnn_models.py; they include the batch-norm moving statistics).
* ImageNet (Table 1): a 7x7/2 conv and a 3x3/2 max pool, four stages of basic
  (18, 34) or bottleneck (50) blocks, and projection shortcuts where the shape
  changes (option B). Convolutions carry a bias like keras.applications, so
  `resnet50` has its 25,636,712 parameters.

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

from kerasapps.errors import UserError, check_choice
from kerasapps.lazy import keras
from kerasapps.models.common import chain, conv_block, kernel_regularizer
from kerasapps.registry import register_model

BLOCK_TYPES = ("basic", "bottleneck")
SHORTCUTS = ("identity", "projection")
STEMS = ("cifar", "imagenet")
VERSIONS = (1, 2)
BOTTLENECK_EXPANSION = 4

# --- blocks -----------------------------------------------------------------------


def _conv(x, filters, kernel, *, stride=1, bias, reg, name):
    return keras.layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=bias, kernel_regularizer=reg, name=name
    )(x)


def _bn_relu(x, *, name, relu=True):
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _conv_bn(x, filters, kernel, *, stride=1, relu=True, bias, reg, name):
    layers = conv_block(
        filters, kernel, name=name, strides=stride, padding="same", batch_norm=True, use_bias=bias,
        activation="relu" if relu else None, kernel_regularizer=reg,
    )  # fmt: skip
    return chain(x, layers)


def _shortcut(x, preact, filters, stride, *, kind, version, bias, reg, name):
    """Identity where the shape is kept; otherwise option A ("identity") or B ("projection").

    v2 projects the pre-activated input `preact` with a bare 1x1 conv; v1 projects `x`
    with a 1x1 conv and batch norm.
    """
    channels = x.shape[-1]
    if stride == 1 and channels == filters:
        return x
    if kind == "projection":
        if version == 2:
            return _conv(preact, filters, 1, stride=stride, bias=bias, reg=reg, name=name)
        return _conv_bn(x, filters, 1, stride=stride, relu=False, bias=bias, reg=reg, name=name)
    if filters < channels:
        raise UserError(
            f"Layer {name!r}: an identity shortcut cannot take {channels} channels down to {filters}; "
            f"use shortcut='projection'."
        )
    if stride != 1:
        # A 1x1 window with stride 2 keeps every other pixel: x[:, ::2, ::2].
        x = keras.layers.MaxPooling2D(1, strides=stride, padding="same", name=f"{name}_subsample")(x)
    if filters != channels:
        # Zero channels on both sides, from built-in layers only, so that a saved
        # model loads without custom objects.
        h, w = x.shape[1], x.shape[2]
        low = (filters - channels) // 2
        x = keras.layers.Reshape((h, w, channels, 1), name=f"{name}_to5d")(x)
        x = keras.layers.ZeroPadding3D(((0, 0), (0, 0), (low, filters - channels - low)), name=f"{name}_zeropad")(x)
        x = keras.layers.Reshape((h, w, filters), name=f"{name}_to4d")(x)
    return x


def residual_block(x, convs, *, version, shortcut, bias, reg, name):
    """One residual block: `convs` is a list of (filters, kernel, stride), the block's residual branch.

    v1 (He et al. 2015): conv-BN-ReLU ..., the last conv without ReLU, add, ReLU.
    v2 (He et al. 2016, pre-activation): BN-ReLU first, then conv, BN-ReLU, conv ...,
    add, and nothing after the addition.
    """
    preact = _bn_relu(x, name=f"{name}_preact") if version == 2 else x
    out_filters, stride = convs[-1][0], convs[0][2]
    skip = _shortcut(
        x, preact, out_filters, stride, kind=shortcut, version=version, bias=bias, reg=reg, name=f"{name}_shortcut"
    )
    y = preact
    for i, (filters, kernel, conv_stride) in enumerate(convs, start=1):
        last = i == len(convs)
        label = f"{name}_conv{i}"
        if version == 1:
            y = _conv_bn(y, filters, kernel, stride=conv_stride, relu=not last, bias=bias, reg=reg, name=label)
        else:
            y = _conv(y, filters, kernel, stride=conv_stride, bias=bias, reg=reg, name=label)
            y = y if last else _bn_relu(y, name=label)
    y = keras.layers.Add(name=f"{name}_add")([skip, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y) if version == 1 else y


def basic_block(x, filters, stride, **kwargs):
    """Two 3x3 convolutions; output has `filters` channels."""
    return residual_block(x, [(filters, 3, stride), (filters, 3, 1)], **kwargs)


def bottleneck_block(x, filters, stride, **kwargs):
    """1x1 reduce, 3x3, 1x1 expand (stride on the first 1x1, as keras.applications); 4 x `filters` out."""
    out = BOTTLENECK_EXPANSION * filters
    return residual_block(x, [(filters, 1, stride), (filters, 3, 1), (out, 1, 1)], **kwargs)


# --- builder ----------------------------------------------------------------------


def build_resnet(
    *,
    stages,
    block="basic",
    stem="cifar",
    stem_filters=16,
    shortcut="identity",
    version=1,
    conv_bias=False,
    input_shape=(32, 32, 3),
    num_classes=10,
    weight_decay=0.0,
    name="resnet",
):
    """Build a ResNet v1.

    Args:
        stages: list of (filters, blocks, stride) per stage; stride applies to its first block.
        block: "basic" (two 3x3) or "bottleneck" (1x1, 3x3, 1x1 with 4x expansion).
        stem: "cifar" (3x3 conv) or "imagenet" (7x7/2 conv, then 3x3/2 max pool).
        stem_filters: filters of the stem convolution.
        shortcut: where the shape changes, "identity" (subsample and zero-pad the
            channels: option A) or "projection" (1x1 conv + batch norm: option B).
        conv_bias: give convolutions a bias (redundant before batch norm; on for
            the ImageNet variants only to match keras.applications' counts).
        input_shape: (height, width, channels).
        num_classes: size of the softmax output.
        weight_decay: L2 weight decay on conv and dense kernels (0 = none).
        name: the Keras model name.

    Returns:
        An uncompiled Functional `keras.Model`.

    Raises:
        UserError: an unknown option value, or an identity shortcut asked to reduce channels.
    """
    check_choice("block", block, BLOCK_TYPES)
    check_choice("shortcut", shortcut, SHORTCUTS)
    check_choice("stem", stem, STEMS)
    check_choice("version", version, VERSIONS)
    reg = kernel_regularizer(weight_decay)
    make_block = basic_block if block == "basic" else bottleneck_block

    inputs = keras.Input(shape=input_shape)
    kernel, stride = (3, 1) if stem == "cifar" else (7, 2)
    if version == 1:
        x = _conv_bn(inputs, stem_filters, kernel, stride=stride, bias=conv_bias, reg=reg, name="conv1")
    else:  # v2's first block normalizes and activates the stem itself
        x = _conv(inputs, stem_filters, kernel, stride=stride, bias=conv_bias, reg=reg, name="conv1")
    if stem == "imagenet":
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    for s, (filters, blocks, stride) in enumerate(stages, start=2):
        for b in range(1, blocks + 1):
            x = make_block(
                x,
                filters,
                stride if b == 1 else 1,
                version=version,
                shortcut=shortcut,
                bias=conv_bias,
                reg=reg,
                name=f"stage{s}_block{b}",
            )
    if version == 2:
        x = _bn_relu(x, name="post")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", kernel_regularizer=reg, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


# --- variants ---------------------------------------------------------------------

# He et al. Table 6 (CIFAR-10, option A): depth -> published parameters.
CIFAR_DEPTHS = {20: "0.27M", 32: "0.46M", 44: "0.66M", 56: "0.85M", 110: "1.7M"}
IMAGENET = {
    18: ("basic", [2, 2, 2, 2]),
    34: ("basic", [3, 4, 6, 3]),
    50: ("bottleneck", [3, 4, 6, 3]),
}


def _register_variants():
    """resnetN for CIFAR (6n+2, option A shortcuts) and for ImageNet (option B, biased convs)."""
    for depth in CIFAR_DEPTHS:
        n = (depth - 2) // 6
        register_model(
            f"resnet{depth}", family="resnet",
            description=f"ResNet-{depth} for CIFAR (6n+2, n={n}), option A shortcuts by default.",
        )(functools.partial(build_resnet, stages=[(16, n, 1), (32, n, 2), (64, n, 2)], name=f"resnet{depth}"))
    for depth, (block, counts) in IMAGENET.items():
        stages = [(f, c, 1 if i == 0 else 2) for i, (f, c) in enumerate(zip((64, 128, 256, 512), counts))]
        register_model(
            f"resnet{depth}", family="resnet",
            description=f"ResNet-{depth} for 224x224 ImageNet images ({block} blocks, option B shortcuts).",
            test_args={"input_shape": (32, 32, 3)},
        )(
            functools.partial(
                build_resnet, stages=stages, block=block, stem="imagenet", stem_filters=64,
                shortcut="projection", conv_bias=True, input_shape=(224, 224, 3), num_classes=1000,
                name=f"resnet{depth}",
            )
        )


_register_variants()
