"""VGG (Simonyan and Zisserman 2014), for ImageNet and for 32x32 CIFAR images.

One builder walks a block spec: an int is a 3x3 convolution with that many
filters ("same" padding, stride 1, so the size is kept), "M" a 2x2 max pool with
stride 2. Five pools take 224 to 7, and 32 to 1; an input too small for the
pools fails the geometry check at the pool where the map vanishes.

Heads:
    "fc"     the paper's: flatten -> 4096 -> 4096 -> classes, dropout between.
             `vgg16` with 1000 classes has 138,357,544 parameters, as in
             keras.applications.VGG16 (the paper's "138M", configuration D).
    "global" global average pooling -> classes (the small head used on
             CIFAR: after five pools a 32x32 image is a 1x1x512 map anyway).

Weight decay is an L2 term on the conv and dense kernels (`weight_decay`, see
`kerasapps.models.common.kernel_regularizer`), as in the paper's SGD.
"""

import functools

import keras

from kerasapps.errors import UserError, check_at_least, check_choice, check_positive_number
from kerasapps.models.common import assemble, conv_block, kernel_regularizer
from kerasapps.registry import register_model

# depth -> (parameters of vggN, of vggN_cifar; the paper's count of vggN and its column of Table 2)
FACTS = {
    11: (132_863_336, 9_233_866, "133M", "A"),
    13: (133_047_848, 9_418_954, "133M", "B"),
    16: (138_357_544, 14_732_490, "138M", "D"),
    19: (143_667_240, 20_046_026, "144M", "E"),
}
BLOCKS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
HEADS = ("fc", "global")

# --- builder ----------------------------------------------------------------------


def build_vgg(
    *,
    blocks,
    kernel_size=3,
    width=1.0,
    input_shape=(224, 224, 3),
    num_classes=1000,
    batch_norm=False,
    head="fc",
    fc_units=4096,
    dropout=0.5,
    weight_decay=0.0,
    api="sequential",
    name="vgg",
):
    """Build a VGG network from a block spec.

    Args:
        blocks: list of ints (conv filters) and "M" (2x2 max pool, stride 2).
        kernel_size: every convolution's kernel (the paper's 3; "same" padding keeps the size).
        width: multiplies every block's filters (0.5 halves the network's width).
        input_shape: (height, width, channels).
        num_classes: size of the softmax output.
        batch_norm: batch normalization after every convolution (convs then have no bias).
        head: "fc" (flatten, two dense layers of `fc_units`) or "global" (global
            average pooling, then the output layer).
        fc_units: width of the two hidden dense layers of the "fc" head.
        dropout: dropout rate before each dense layer after the first of the head
            ("fc": after each hidden dense layer; "global": before the output).
        weight_decay: L2 weight decay on conv and dense kernels (0 = none).
        api: "sequential" or "functional"; the same layers either way.
        name: the Keras model name.

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        UserError: an unknown option or block entry.
        GeometryError: the input is too small for the pools (names the pool).
    """
    check_choice("head", head, HEADS)
    check_at_least("model.args.kernel_size", kernel_size)
    check_positive_number("model.args.width", width)
    reg = kernel_regularizer(weight_decay)
    layers, stage, index = [], 1, 1
    for entry in blocks:
        if entry == "M":
            layers.append(keras.layers.MaxPooling2D(2, name=f"block{stage}_pool"))
            stage, index = stage + 1, 1
            continue
        if isinstance(entry, bool) or not isinstance(entry, int) or entry < 1:
            raise UserError(f"Unrecognized block entry {entry!r}: use a number of filters or 'M' (max pool).")
        layers += conv_block(
            max(1, round(entry * width)), kernel_size, name=f"block{stage}_conv{index}", padding="same",
            batch_norm=batch_norm, kernel_regularizer=reg,
        )  # fmt: skip
        index += 1
    if head == "fc":
        layers.append(keras.layers.Flatten(name="flatten"))
        for i in (1, 2):
            layers.append(keras.layers.Dense(fc_units, activation="relu", kernel_regularizer=reg, name=f"fc{i}"))
            if dropout:
                layers.append(keras.layers.Dropout(dropout, name=f"fc{i}_dropout"))
    else:
        layers.append(keras.layers.GlobalAveragePooling2D(name="avg_pool"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name="head_dropout"))
    layers.append(keras.layers.Dense(num_classes, activation="softmax", kernel_regularizer=reg, name="predictions"))
    return assemble(layers, input_shape=input_shape, api=api, name=name)


# --- variants ---------------------------------------------------------------------


def _register_variants(depth):
    """vggN (224x224, the paper's 4096-4096 head) and vggN_cifar (32x32, batch norm, global head)."""
    params, cifar_params, published, column = FACTS[depth]
    register_model(
        f"vgg{depth}", family="vgg",
        description=f"VGG-{depth} for 224x224 ImageNet images, the paper's 4096-4096 head.",
        test_args={"input_shape": (32, 32, 3), "fc_units": 64},
        facts={"params": params, "year": 2014, "published": published, "source": f"Simonyan & Zisserman, Table 2 ({column})"},
    )(functools.partial(build_vgg, blocks=BLOCKS[depth], name=f"vgg{depth}"))
    register_model(
        f"vgg{depth}_cifar", family="vgg",
        description=f"VGG-{depth} for 32x32 images: batch norm, global pooling and one dense layer.",
        facts={"params": cifar_params},
    )(
        functools.partial(
            build_vgg, blocks=BLOCKS[depth], name=f"vgg{depth}_cifar", input_shape=(32, 32, 3),
            num_classes=10, batch_norm=True, head="global", dropout=0.0,
        )
    )


for _depth in BLOCKS:
    _register_variants(_depth)
