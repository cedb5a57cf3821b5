"""The course notes' networks added in issue 14: ZFNet, ResNet-152, and the Sequential
ResNet and GoogLeNet whose blocks are Keras layers (saved and reloaded here).

Every registered model also runs forward with both APIs in test_registry.py.
"""

import keras
import numpy as np
import pytest

from kerasapps.geometry import layer_table
from kerasapps.models import build_model
from kerasapps.models.googlenet import InceptionModule
from kerasapps.models.resnet import ResidualBlock


def test_zfnet_has_figure3_sizes_and_62357608_parameters():
    model = build_model("zfnet")
    assert model.count_params() == 62_357_608  # the notes say "58M"; the paper prints no total
    shapes = {r.name: r.output_shape for r in layer_table(model)}
    assert [shapes[k] for k in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")] == [
        (110, 110, 96), (55, 55, 96), (26, 26, 256), (13, 13, 256), (13, 13, 256), (6, 6, 256),
    ]  # fmt: skip
    weighted = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(weighted) == 8  # the notes' depth
    keras.backend.clear_session()


def test_resnet152_has_keras_applications_60419944_parameters():
    model = build_model("resnet152")
    assert model.count_params() == 60_419_944  # keras.applications.ResNet152(weights=None)
    weighted = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    assert len(weighted) - 4 == 152  # four projection shortcuts are not counted in the depth
    keras.backend.clear_session()


@pytest.mark.parametrize(
    "name, args, block",
    [
        ("resnet20", {"version": 2, "shortcut": "projection", "weight_decay": 1e-4}, ResidualBlock),
        ("googlenet", {"input_shape": (32, 32, 3), "num_classes": 5, "batch_norm": True, "weight_decay": 1e-4}, InceptionModule),
    ],
)
def test_sequential_block_models_save_reload_and_match_the_functional_one(tmp_path, name, args, block):
    sequential = build_model(name, api="sequential", **args)
    functional = build_model(name, api="functional", **args)
    assert isinstance(sequential, keras.Sequential) and any(isinstance(layer, block) for layer in sequential.layers)
    assert sequential.count_params() == functional.count_params()
    batch = np.random.default_rng(1).random((2, *sequential.input_shape[1:]), dtype=np.float32)
    expected = np.asarray(sequential(batch, training=False))

    path = tmp_path / f"{name}.keras"
    sequential.save(path)
    reloaded = keras.models.load_model(path)  # no custom_objects: the block layers are registered
    assert [type(layer) for layer in reloaded.layers] == [type(layer) for layer in sequential.layers]
    np.testing.assert_allclose(np.asarray(reloaded(batch, training=False)), expected, rtol=1e-5, atol=1e-6)
    assert len(reloaded.losses) == len(sequential.losses) > 0  # the blocks' weight decay is saved too
