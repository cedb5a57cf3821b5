"""The course notes' networks added in issue 14: ZFNet, ResNet-152, and the Sequential
ResNet and GoogLeNet whose blocks are Keras layers (saved and reloaded here).

Every registered model also runs forward with both APIs in test_registry.py.
"""

import keras
import numpy as np
import pytest

from kerasapps.geometry import layer_table, weighted_depth
from kerasapps.models import MODELS, build_model
from kerasapps.models.googlenet import InceptionModule
from kerasapps.models.resnet import ResidualBlock


def test_zfnet_has_figure3_sizes_and_62357608_parameters():
    model = build_model("zfnet")
    assert model.count_params() == MODELS.get("zfnet").facts["params"]  # the notes say "58M"; the paper prints no total
    shapes = {r.name: r.output_shape for r in layer_table(model)}
    assert [shapes[k] for k in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")] == [
        (110, 110, 96), (55, 55, 96), (26, 26, 256), (13, 13, 256), (13, 13, 256), (6, 6, 256),
    ]  # fmt: skip
    weighted = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(weighted) == 8  # the notes' depth
    keras.backend.clear_session()


def test_resnet152_has_keras_applications_60419944_parameters():
    model = build_model("resnet152")
    assert model.count_params() == MODELS.get("resnet152").facts["params"]  # keras.applications.ResNet152(weights=None)
    weighted = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(weighted) == 156
    assert weighted_depth(model) == 152  # the four projection shortcuts run beside the blocks
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "name, args, block",
    [
        ("resnet20", {"version": 2, "shortcut": "projection", "weight_decay": 1e-4}, ResidualBlock),
        ("googlenet", {"input_shape": (32, 32, 3), "num_classes": 5, "batch_norm": True, "weight_decay": 1e-4}, InceptionModule),
    ],
)
def test_sequential_block_models_save_and_reload(tmp_path, name, args, block):
    """Same parameters and outputs as the Functional graph: test_registry.py compares the two APIs."""
    sequential = build_model(name, api="sequential", **args)
    assert isinstance(sequential, keras.Sequential) and any(isinstance(layer, block) for layer in sequential.layers)
    batch = np.random.default_rng(1).random((2, *sequential.input_shape[1:]), dtype=np.float32)
    expected = np.asarray(sequential(batch, training=False))

    path = tmp_path / f"{name}.keras"
    sequential.save(path)
    reloaded = keras.models.load_model(path)  # no custom_objects: the block layers are registered
    assert [type(layer) for layer in reloaded.layers] == [type(layer) for layer in sequential.layers]
    np.testing.assert_allclose(np.asarray(reloaded(batch, training=False)), expected, rtol=1e-5, atol=1e-6)
    assert len(reloaded.losses) == len(sequential.losses) > 0  # the blocks' weight decay is saved too


# --- the notes' table and their verbatim LSTM ----------------------------------------


def test_notes_table_rows_build_registered_models_of_the_papers_depth():
    from kerasapps.course.notes import NOTES_TABLE
    from kerasapps.models import MODELS

    for row in NOTES_TABLE:
        if row.model == "resnet152":  # built at full size above
            continue
        small = build_model(row.model, **{**MODELS.get(row.model).test_args, "name": row.model})
        assert weighted_depth(small) == row.paper_depth, row.network  # depth does not depend on the input size
    keras.backend.clear_session()


def test_notes_table_marks_each_contradiction_the_issue_names():
    from kerasapps.course.notes import NOTES_TABLE, format_notes_table

    text = format_notes_table(NOTES_TABLE, [(1, 1)] * len(NOTES_TABLE))
    rows = {line.split()[0]: line for line in text.splitlines()[1 : len(NOTES_TABLE) + 1]}
    for network in ("AlexNet", "ZFNet", "VGG", "GoogLeNet"):
        assert rows[network].endswith("!"), network
    assert not rows["ResNet(152)"].endswith("!")
    for pair in ("60M and 61M", "7.3% and 13.6%", "4M and 6M", "the notes say 7;", "the notes say 19;", "58M"):
        assert pair in text


def test_notes_verbatim_lstm_has_205441_parameters_beside_the_imdb_model():
    notes = build_model("notes_lstm")
    assert notes.count_params() == 205_441
    assert notes.get_layer("lstm").count_params() == 4 * (128 * (256 + 128) + 128)
    assert notes.input_shape == (None, 10, 256)
    imdb = build_model("lstm")
    embedding = imdb.get_layer("embedding").count_params()
    # The IMDB model is the same head on 128-wide word vectors: its LSTM sees 128 features, not 256.
    assert imdb.count_params() - embedding == 205_441 - 4 * 128 * (256 - 128)


def test_multiply_accumulates_count_the_lstm_at_every_time_step():
    from kerasapps.commands.models import describe

    # 10 steps x (input kernel 256x512 + recurrent kernel 128x512), then Dense 128x64 and 64x1.
    assert describe("notes_lstm")["macs"] == 10 * (256 * 512 + 128 * 512) + 128 * 64 + 64


# --- tunable widths and kernels -----------------------------------------------------------


def test_width_and_kernel_size_build_what_they_say():
    vgg = build_model("vgg11_cifar", width=0.5, kernel_size=5)
    convs = [layer for layer in vgg.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 64, 128, 128, 256, 256, 256, 256]
    assert {c.kernel_size for c in convs} == {(5, 5)}
    resnet = build_model("resnet20", width=2.0)
    convs = [layer for layer in resnet.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs[0].filters == 32 and {c.filters for c in convs[1:]} == {32, 64, 128}
