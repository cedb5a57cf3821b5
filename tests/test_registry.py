import numpy as np
import pytest

from kerasapps.errors import UserError
from kerasapps.registry import build_model, get_model_entry, list_models, register_model

# Models whose default input is too large for a quick forward pass get a smaller one here;
# text models, whose default length is any length, get a fixed one.
# (The golden parameter counts at full size are in test_cnn_models.py.)
SMALL_INPUTS = {
    **{
        name: {"input_shape": (32, 32, 3)}
        for name in ("vgg11", "vgg13", "vgg16", "vgg19", "googlenet", "resnet18", "resnet34", "resnet50")
    },
    "alexnet": {"input_shape": (67, 67, 3)},  # (67 - 11) / 4 + 1 = 15 -> 7 -> 3 -> 1 after the pools
    **{name: {"sequence_length": 16} for name in ("lstm", "gru", "bilstm", "stacked_lstm")},
}


@pytest.mark.parametrize("name", list_models())
def test_every_model_runs_forward(name):
    kwargs = SMALL_INPUTS.get(name, {})
    model = build_model(name, **kwargs)
    shape = (2, *model.input_shape[1:])
    if model.inputs[0].dtype.startswith("int"):  # token ids
        batch = np.random.default_rng(0).integers(1, 100, size=shape).astype(model.inputs[0].dtype)
    else:
        batch = np.random.default_rng(0).random(shape, dtype=np.float32)
    out = np.asarray(model(batch, training=False))
    assert out.shape == (2, *model.output_shape[1:])
    assert np.all(np.isfinite(out))


def test_unknown_model_lists_registered_names():
    with pytest.raises(UserError, match="Unknown model 'nope'.*lenet5"):
        build_model("nope")


def test_duplicate_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_model("lenet5", family="lenet")(lambda: None)


def test_unknown_argument_is_refused_and_variants_expose_base_arguments():
    assert "c1_filters" in get_model_entry("lenet5_modern").defaults()
    with pytest.raises(UserError, match="takes no argument filterz"):
        build_model("lenet5", filterz=3)
