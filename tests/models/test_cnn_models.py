"""VGG, ResNet, AlexNet and GoogLeNet: counts (each model's `facts`), geometry, both APIs, every option branch.

Forward passes of every registered model run in test_registry.py (with the
small inputs listed there).
"""

import keras
import numpy as np
import pytest

from kerasapps.commands import models as models_cli
from kerasapps.errors import GeometryError, UserError
from kerasapps.geometry import layer_table
from kerasapps.models import MODELS, build_model


def _params(name):
    """The parameter count registered beside the model (`facts`), which `kerasapps models` prints."""
    return MODELS.get(name).facts["params"]


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _shapes(model):
    return {r.name: r.output_shape for r in layer_table(model)}


def _of_type(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


# --- parameter counts ------------------------------------------------------


def test_vgg16_imagenet_head_has_keras_applications_parameters():
    model = build_model("vgg16")
    assert model.count_params() == _params("vgg16") == 138_357_544  # keras.applications.VGG16
    shapes = _shapes(model)
    assert shapes["block5_conv3"] == (14, 14, 512) and shapes["block5_pool"] == (7, 7, 512)
    assert shapes["flatten"] == (25_088,) and shapes["predictions"] == (1000,)
    keras.backend.clear_session()


def test_resnet50_has_keras_applications_parameters_and_table1_sizes():
    model = build_model("resnet50")
    assert model.count_params() == _params("resnet50") == 25_636_712  # keras.applications.ResNet50
    assert _trainable(model) == 25_583_592
    shapes = _shapes(model)
    assert shapes["conv1"] == (112, 112, 64) and shapes["pool1"] == (56, 56, 64)
    assert shapes["stage2_block3_out"] == (56, 56, 256)
    assert shapes["stage3_block4_out"] == (28, 28, 512)
    assert shapes["stage4_block6_out"] == (14, 14, 1024)
    assert shapes["stage5_block3_out"] == (7, 7, 2048)


@pytest.mark.parametrize(
    "name, trainable, published", [("resnet20", 269_722, 0.27), ("resnet56", 853_018, 0.85)]
)
def test_cifar_resnets_match_he_et_al_table6_with_option_a(name, trainable, published):
    model = build_model(name)
    assert model.count_params() == _params(name)  # includes the batch-norm moving mean and variance
    assert MODELS.get(name).facts["published"] == f"{published}M"
    assert _trainable(model) == trainable
    assert round(trainable / 1e6, 2) == published
    depth = int(name[len("resnet") :])
    weighted = _of_type(model, keras.layers.Conv2D) + _of_type(model, keras.layers.Dense)
    assert len(weighted) == depth  # 6n + 2, no projection convolutions with option A


def test_alexnet_counts_one_gpu_and_the_papers_two_gpu_form():
    model = build_model("alexnet")
    assert model.count_params() == _params("alexnet")
    shapes = _shapes(model)
    assert [shapes[k][:2] for k in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")] == [
        (55, 55), (27, 27), (27, 27), (13, 13), (13, 13), (6, 6),
    ]  # fmt: skip
    grouped = build_model("alexnet", groups=2)
    assert grouped.count_params() == 60_965_224  # the paper's "60 million"
    assert [layer.groups for layer in _of_type(grouped, keras.layers.Conv2D)] == [1, 2, 1, 2, 2]


def test_googlenet_count_and_table1_weights():
    model = build_model("googlenet")
    assert model.count_params() == _params("googlenet")
    kernels = sum(
        int(np.prod(layer.kernel.shape))
        for layer in _of_type(model, keras.layers.Conv2D) + _of_type(model, keras.layers.Dense)
    )
    assert kernels == 6_990_272
    table1_sum = 6_797.7 * 1024  # Table 1's params column, in K = 1024
    assert abs(kernels / table1_sum - 1) < 0.005
    shapes = _shapes(model)
    assert shapes["inception3a_concat"] == (28, 28, 256)
    assert shapes["inception4e_concat"] == (14, 14, 832)
    assert shapes["inception5b_concat"] == (7, 7, 1024)


# --- geometry ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, input_shape, layer",
    [
        ("vgg16_cifar", (16, 16, 3), "block5_pool"),  # 16 -> 8 -> 4 -> 2 -> 1 -> 0.5
        ("vgg11", (24, 24, 3), "block4_pool"),  # 24 -> 12 -> 6 -> 3 -> 1.5
        ("alexnet", (224, 224, 3), "conv1"),  # (224 - 11) / 4 + 1 = 54.25
    ],
)
def test_too_small_input_names_the_layer_where_the_map_vanishes(name, input_shape, layer):
    with pytest.raises(GeometryError, match=f"Layer '{layer}'"):
        build_model(name, input_shape=input_shape)


# --- VGG options ------------------------------------------------------------------


def test_vgg_sequential_and_functional_apis_agree():
    seq = build_model("vgg11_cifar", api="sequential")
    fun = build_model("vgg11_cifar", api="functional")
    assert isinstance(seq, keras.Sequential) and not isinstance(fun, keras.Sequential)
    assert [l.name for l in seq.layers] == [l.name for l in fun.layers if not isinstance(l, keras.layers.InputLayer)]
    assert seq.count_params() == fun.count_params() == _params("vgg11_cifar")
    fun.set_weights(seq.get_weights())
    batch = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(seq(batch, training=False), fun(batch, training=False), rtol=1e-5, atol=1e-6)


def test_vgg_block_spec_batch_norm_head_and_dropout_build_what_they_say():
    plain = build_model("vgg13_cifar", batch_norm=False, dropout=0.0)
    assert not _of_type(plain, keras.layers.BatchNormalization)
    assert all(conv.use_bias for conv in _of_type(plain, keras.layers.Conv2D))
    assert not _of_type(plain, keras.layers.Dropout)

    bn = build_model("vgg13_cifar", batch_norm=True, dropout=0.3)
    convs = _of_type(bn, keras.layers.Conv2D)
    assert [c.filters for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512, 512, 512]
    assert len(_of_type(bn, keras.layers.BatchNormalization)) == len(convs) == 10
    assert not any(conv.use_bias for conv in convs)
    assert [d.rate for d in _of_type(bn, keras.layers.Dropout)] == [0.3]

    global_head = build_model("vgg11_cifar", head="global")
    assert _of_type(global_head, keras.layers.GlobalAveragePooling2D)
    assert not _of_type(global_head, keras.layers.Flatten)
    assert [d.units for d in _of_type(global_head, keras.layers.Dense)] == [10]

    fc_head = build_model("vgg11_cifar", head="fc", fc_units=64, dropout=0.5)
    assert _of_type(fc_head, keras.layers.Flatten)
    assert not _of_type(fc_head, keras.layers.GlobalAveragePooling2D)
    assert [d.units for d in _of_type(fc_head, keras.layers.Dense)] == [64, 64, 10]
    assert [d.rate for d in _of_type(fc_head, keras.layers.Dropout)] == [0.5, 0.5]


def test_vgg_generic_builder_takes_any_block_spec():
    from kerasapps.models.vgg import build_vgg

    model = build_vgg(blocks=[8, "M", 16, 16, "M"], input_shape=(8, 8, 1), num_classes=3, head="global", dropout=0)
    assert [c.filters for c in _of_type(model, keras.layers.Conv2D)] == [8, 16, 16]
    assert _shapes(model)["block2_pool"] == (2, 2, 16)
    with pytest.raises(UserError, match="Unrecognized block entry 'X'"):
        build_vgg(blocks=[8, "X"], input_shape=(8, 8, 1))


# --- ResNet options ---------------------------------------------------------------


def test_identity_shortcut_is_subsample_and_zero_pad_option_a():
    model = build_model("resnet20", shortcut="identity")
    assert not [layer for layer in model.layers if "shortcut" in layer.name and isinstance(layer, keras.layers.Conv2D)]
    x_in = model.get_layer("stage3_block1_shortcut_subsample").input
    x_out = model.get_layer("stage3_block1_shortcut_to4d").output
    probe = keras.Model(x_in, x_out)
    x = np.random.default_rng(0).random((2, 32, 32, 16), dtype=np.float32)
    expected = np.pad(x[:, ::2, ::2, :], ((0, 0), (0, 0), (0, 0), (8, 8)))
    np.testing.assert_array_equal(np.asarray(probe(x)), expected)


def test_projection_shortcut_adds_a_1x1_conv_where_the_shape_changes_option_b():
    model = build_model("resnet20", shortcut="projection")
    projections = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and "shortcut" in layer.name]
    assert [(p.name, p.kernel_size, p.strides, p.filters) for p in projections] == [
        ("stage3_block1_shortcut", (1, 1), (2, 2), 32),
        ("stage4_block1_shortcut", (1, 1), (2, 2), 64),
    ]
    # 1x1 kernels 16*32 + 32*64 and four batch-norm numbers per projected channel.
    assert model.count_params() - _params("resnet20") == 16 * 32 + 32 * 64 + 4 * (32 + 64)


def test_block_types_and_stems_build_what_they_say():
    from kerasapps.models.resnet import build_resnet

    basic = build_resnet(
        stages=[(8, 1, 1), (16, 1, 2)], block="basic", stem_filters=8, input_shape=(16, 16, 3), num_classes=4
    )
    assert {c.kernel_size for c in _of_type(basic, keras.layers.Conv2D)} == {(3, 3)}
    assert _shapes(basic)["stage3_block1_out"] == (8, 8, 16)

    bottleneck = build_resnet(
        stages=[(8, 1, 1), (16, 1, 2)], block="bottleneck", stem="imagenet", stem_filters=8,
        shortcut="projection", input_shape=(32, 32, 3), num_classes=4,
    )  # fmt: skip
    shapes = _shapes(bottleneck)
    assert shapes["conv1"] == (16, 16, 8) and shapes["pool1"] == (8, 8, 8)
    assert [bottleneck.get_layer(f"stage3_block1_conv{i}").kernel_size for i in (1, 2, 3)] == [(1, 1), (3, 3), (1, 1)]
    assert shapes["stage2_block1_out"] == (8, 8, 32) and shapes["stage3_block1_out"] == (4, 4, 64)
    assert bottleneck.get_layer("stage2_block1_shortcut").strides == (1, 1)  # 8 -> 32 channels at stride 1

    with pytest.raises(UserError, match="identity shortcut cannot take 16 channels down to 8"):
        build_resnet(stages=[(8, 1, 1)], stem_filters=16, shortcut="identity")
    with pytest.raises(UserError, match="Unrecognized shortcut='C'"):
        build_model("resnet20", shortcut="C")
    with pytest.raises(UserError, match="Unrecognized block='wide'"):
        build_resnet(stages=[(8, 1, 1)], block="wide")


def test_preactivation_v2_puts_batch_norm_and_relu_before_each_conv_and_nothing_after_the_add():
    v1_names = {layer.name for layer in build_model("resnet20").layers}
    v2 = build_model("resnet20", version=2)
    names = {layer.name for layer in v2.layers}
    assert {"conv1_bn", "stage2_block1_out"} <= v1_names
    assert "conv1_bn" not in names and "post_bn" in names and "post_relu" in names
    assert not [n for n in names if n.endswith("_out")]  # no ReLU after the additions
    assert v2.get_layer("stage3_block1_conv1").input is v2.get_layer("stage3_block1_preact_relu").output
    assert v2.get_layer("stage3_block1_shortcut_subsample").input is v2.get_layer("stage2_block3_add").output
    # Batch norm moves (stem BN out, final BN in, pre-activations see the input's
    # channels) but covers 688 channels either way: 16 + 96 + 192 + 384 = 96 + 176 + 352 + 64.
    bn_channels = sum(layer.gamma.shape[0] for layer in _of_type(v2, keras.layers.BatchNormalization))
    assert bn_channels == 688 and v2.count_params() == _params("resnet20")
    projected = build_model("resnet20", version=2, shortcut="projection")
    assert projected.get_layer("stage3_block1_shortcut").input is projected.get_layer("stage3_block1_preact_relu").output
    assert "stage3_block1_shortcut_bn" not in {layer.name for layer in projected.layers}
    out = np.asarray(v2(np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32), training=False))
    assert out.shape == (2, 10) and np.all(np.isfinite(out))
    with pytest.raises(UserError, match="Unrecognized version=3"):
        build_model("resnet20", version=3)


def test_weight_decay_is_an_l2_term_of_half_the_rate_on_kernels_only():
    assert not build_model("resnet20").losses
    model = build_model("resnet20", weight_decay=1e-4)
    kernels = [l.kernel for l in _of_type(model, keras.layers.Conv2D) + _of_type(model, keras.layers.Dense)]
    assert len(model.losses) == len(kernels) == 20
    expected = 0.5e-4 * sum(float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(UserError, match="weight_decay cannot be negative"):
        build_model("vgg11_cifar", weight_decay=-1.0)


# --- kerasapps models ---------------------------------------------------


def test_models_cli_layer_table_and_family_table(capsys):
    assert models_cli.main(["--name", "resnet20"]) == 0
    out = capsys.readouterr().out
    assert "40,551,040 multiply-accumulates per example" in out
    assert "stage4_block3_out" in out and "(8, 8, 64)" in out and "271,098" in out
    assert models_cli.main(["--family", "googlenet"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:6] == ["googlenet", "googlenet", "Functional", "224x224x3", "6,998,552", "1.58G"]
    assert row[6:8] == ["2014", "6.8M"]
    assert models_cli.main(["--family", "alexnet", "--input-shape", "64,64,3"]) == 0
    assert "alexnet         alexnet    does not fit: Layer 'conv1'" in capsys.readouterr().out


def test_models_cli_bad_name_is_one_line_and_exit_2(capsys):
    from kerasapps.commands.cli import run_main

    with pytest.raises(SystemExit) as exit_info:
        run_main(models_cli.main, ["--name", "resnet21"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Unknown model 'resnet21'" in err and "resnet20" in err
