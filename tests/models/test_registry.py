"""Registry-driven: every registered model is tested the moment it is registered.

Each model builds from its registration's `test_args` (a smaller input for the
ImageNet networks), runs forward without NaN, has a layer table (our geometry)
that matches Keras's shapes and parameters, gives the same layers and outputs
with both APIs where it has an `api` argument, and builds the same network when
every default it advertises is passed explicitly: the defaults a user, the
config checks and the tuner see are the ones the builder really uses.
At full size, each model has the exact parameter count its registration states (`facts`).
"""

import keras
import numpy as np
import pytest

from kerasapps.config import load_config
from kerasapps.data import DATASETS
from kerasapps.errors import UserError
from kerasapps.geometry import format_table, layer_table
from kerasapps.models import MODELS, build_model, list_models
from kerasapps.registry import register_model


def _batch(model):
    shape = (2, *model.input_shape[1:])
    if model.inputs[0].dtype.startswith("int"):  # token ids
        return np.random.default_rng(0).integers(1, 50, size=shape).astype(model.inputs[0].dtype)
    return np.random.default_rng(0).random(shape, dtype=np.float32)


@pytest.mark.slow  # builds every network at full size: the VGGs hold 140M parameters each
@pytest.mark.parametrize("name", list_models())
def test_every_model_has_the_parameter_count_its_facts_state(name):
    facts = MODELS.get(name).facts
    assert isinstance(facts.get("params"), int), f"register {name} with facts={{'params': ...}}"
    assert build_model(name).count_params() == facts["params"]
    if "published" in facts:  # the paper's count, rounded as the paper prints it (a "-" where it prints none)
        assert facts["year"] and facts["source"], name
    keras.backend.clear_session()


@pytest.mark.parametrize("name", list_models())
def test_every_model_runs_forward_with_both_apis_and_its_own_defaults(name):
    entry = MODELS.get(name)
    model = build_model(name, **entry.test_args)
    batch = _batch(model)
    out = np.asarray(model(batch, training=False))
    assert out.shape == (2, *model.output_shape[1:])
    assert np.all(np.isfinite(out))

    rows = layer_table(model)
    keras_layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    assert [r.name for r in rows] == [layer.name for layer in keras_layers]
    for row, layer in zip(rows, keras_layers):
        assert row.output_shape == tuple(layer.output.shape[1:]), row.name
        assert row.params == layer.count_params(), row.name
    assert sum(r.params for r in rows) == model.count_params()
    assert "total" in format_table(rows)

    explicit = {**MODELS.defaults(name), **entry.test_args}
    same = build_model(name, **explicit)  # a variant that hard-codes an argument fails here
    assert same.count_params() == model.count_params()
    assert same.name == MODELS.defaults(name)["name"] == name

    if "api" in explicit:
        # The other API holds the same layers, though a Sequential ResNet or GoogLeNet
        # nests them in block layers: weights are matched by layer and variable name.
        other_api = "functional" if explicit["api"] == "sequential" else "sequential"
        twin = build_model(name, **{**explicit, "api": other_api})
        weights = {_weight_key(model, w): w for w in model.weights}
        assert sorted(_weight_key(twin, w) for w in twin.weights) == sorted(weights)
        for w in twin.weights:
            w.assign(weights[_weight_key(twin, w)])
        np.testing.assert_allclose(np.asarray(twin(batch, training=False)), out, rtol=1e-5, atol=1e-6)


def _weight_key(model, variable):
    """A variable's path as a Functional model names it: without the Sequential model's
    name, and without a block layer's name ('stage2_block1/stage2_block1_conv1/kernel'
    -> 'stage2_block1_conv1/kernel': a block's sublayers carry its name as a prefix)."""
    path = variable.path.removeprefix(f"{model.name}/") if isinstance(model, keras.Sequential) else variable.path
    parts = path.split("/")
    return "/".join(parts[1:] if len(parts) > 2 and parts[1].startswith(f"{parts[0]}_") else parts)


def test_variant_defaults_are_what_it_builds():
    defaults = MODELS.defaults("lenet5_modern")
    assert (defaults["activation"], defaults["pooling"], defaults["name"]) == ("relu", "max", "lenet5_modern")
    assert MODELS.defaults("alexnet")["fc_units"] == 4096
    small = build_model("alexnet", input_shape=(67, 67, 3), fc_units=32)
    assert small.get_layer("fc6").units == small.get_layer("fc7").units == 32


def test_set_pooling_avg_on_the_lenet_experiment_builds_average_pools():
    """Once a TypeError ("multiple values for keyword argument 'pooling'")."""
    from kerasapps.data import DatasetInfo
    from kerasapps.training import build_experiment_model

    config = load_config("lenet", overrides=["model.args.pooling=avg", "model.args.activation=tanh"])
    info = DatasetInfo("mnist", "", [str(i) for i in range(10)], {"input_shape": (32, 32, 1), "num_classes": 10})
    model = build_experiment_model(config, info.model_kwargs)
    assert type(model.get_layer("S2")).__name__ == "AveragePooling2D"
    assert model.get_layer("C1_tanh") is not None


def test_unknown_model_lists_registered_names():
    with pytest.raises(UserError, match="Unknown model 'nope'.*lenet5"):
        build_model("nope")


def test_duplicate_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_model("lenet5", family="lenet")(lambda: None)


def test_unknown_or_mistyped_argument_is_refused_with_the_choices():
    with pytest.raises(UserError, match="Unknown argument 'filterz' of model 'lenet5'.*c1_filters"):
        build_model("lenet5", filterz=3)
    with pytest.raises(UserError, match="dropout must be float like its default 0.0, got 'high'"):
        build_model("lenet5", dropout="high")


def test_datasets_share_the_registry_type():
    assert {"mnist", "cifar10", "imdb", "digits"} <= set(DATASETS.names())
    assert "data_dir" not in DATASETS.defaults("mnist")  # the suite passes it, not the user
    with pytest.raises(UserError, match="Unknown dataset 'nope'"):
        DATASETS.get("nope")
