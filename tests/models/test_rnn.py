"""The recurrent classifiers: shapes, masking, what each variant builds, both APIs."""

import keras
import numpy as np
import pytest

from kerasapps.config import load_config
from kerasapps.errors import UserError
from kerasapps.models import MODELS, build_model, list_models
from kerasapps.models.rnn import build_rnn
from kerasapps.training import compile_model
from kerasapps.training.optimizers import make_optimizer

RNN_MODELS = [name for name in list_models() if MODELS.get(name).family == "rnn"]
SMALL = {"vocab_size": 50, "embedding_dim": 8, "units": 6, "dense_units": 4}


def _kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_the_rnn_family_has_the_named_variants():
    assert set(RNN_MODELS) >= {"lstm", "gru", "bilstm", "stacked_lstm"}


@pytest.mark.parametrize("name", RNN_MODELS)
@pytest.mark.parametrize("api", ["sequential", "functional"])
def test_forward_pass_shape_and_range(name, api):
    model = build_model(name, sequence_length=12, api=api, **SMALL)
    ids = np.random.default_rng(0).integers(1, 50, size=(3, 12)).astype("int32")
    ids[0, 5:] = 0
    out = keras.ops.convert_to_numpy(model(ids))
    assert out.shape == (3, 1)
    assert np.all((out > 0) & (out < 1))
    assert model.inputs[0].dtype == "int32"


def test_lstm_is_the_notes_model_with_exact_parameter_count():
    model = build_model("lstm", vocab_size=20000, sequence_length=400)
    assert _kinds(model) == ["Embedding", "LSTM", "Dense", "Dense"]
    embedding, lstm, dense, output = model.layers
    assert embedding.mask_zero and lstm.units == 128 and not lstm.return_sequences
    assert dense.units == 64 and dense.activation.__name__ == "relu"
    assert output.units == 1 and output.activation.__name__ == "sigmoid"
    # 20000*128 + 4*(128*(128+128) + 128) + (128*64 + 64) + (64 + 1)
    assert model.count_params() == 2_560_000 + 131_584 + 8_256 + 65


def test_gru_has_a_gru_cell():
    model = build_model("gru", **SMALL)
    assert _kinds(model) == ["Embedding", "GRU", "Dense", "Dense"]


def test_bilstm_wraps_an_lstm_in_both_directions():
    model = build_model("bilstm", **SMALL)
    bi = model.layers[1]
    assert isinstance(bi, keras.layers.Bidirectional)
    assert isinstance(bi.forward_layer, keras.layers.LSTM) and bi.backward_layer.go_backwards
    assert bi.merge_mode == "concat" and bi.output.shape[-1] == 2 * SMALL["units"]


def test_stacked_lstm_returns_sequences_from_all_but_the_last_layer():
    model = build_model("stacked_lstm", num_layers=3, **SMALL)
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert [layer.return_sequences for layer in recurrent] == [True, True, False]


def test_dropout_options_reach_the_cells_and_head():
    model = build_rnn(dropout=0.2, recurrent_dropout=0.1, dense_dropout=0.3, **SMALL)
    lstm = model.get_layer("lstm")
    assert (lstm.dropout, lstm.recurrent_dropout) == (0.2, 0.1)
    assert model.get_layer("dense_dropout").rate == 0.3
    assert "Dropout" not in _kinds(build_rnn(**SMALL))
    assert build_rnn(embedding_dropout=0.25, **SMALL).get_layer("embedding_dropout").rate == 0.25


@pytest.mark.parametrize(
    "name, args",
    [("lstm", {}), ("gru", {}), ("bilstm", {}), ("stacked_lstm", {}), ("lstm", {"pooling": "mean"}),
     ("bilstm", {"pooling": "mean", "embedding_dropout": 0.3})],
)  # fmt: skip
def test_padding_is_masked(name, args):
    """A review and the same review followed by padding give the same output."""
    keras.utils.set_random_seed(1)
    model = build_model(name, **args, **SMALL)  # sequence_length=None: any length
    review = np.array([[7, 3, 12, 40, 5]], dtype="int32")
    padded = np.concatenate([review, np.zeros((1, 9), "int32")], axis=1)
    np.testing.assert_allclose(model(review), model(padded), rtol=1e-5, atol=1e-6)
    # and the mask matters: the same ids read as unknown words change the output
    assert not np.allclose(model(review), model(np.where(padded == 0, 1, padded)), atol=1e-6)


def test_sequential_and_functional_have_the_same_layers():
    seq = build_model("bilstm", api="sequential", **SMALL)
    fun = build_model("bilstm", api="functional", **SMALL)
    assert isinstance(seq, keras.Sequential) and not isinstance(fun, keras.Sequential)
    assert _kinds(seq) == _kinds(fun)[1:]  # the functional model lists its InputLayer
    assert seq.count_params() == fun.count_params()


@pytest.mark.parametrize(
    "kwargs, message",
    [({"cell": "rnn"}, "Unrecognized cell='rnn'"), ({"units": 0}, "units must be an integer"),
     ({"api": "subclass"}, "Unrecognized api='subclass'")],
)  # fmt: skip
def test_bad_arguments_are_user_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        build_rnn(**kwargs)


# --- gradient clipping through the config -------------------------------------------


def _one_sgd_step(overrides):
    """Build the lstm experiment's model small, take one SGD step (rate 1); return the updates."""
    config = load_config("lstm", overrides=["optimizer.name=sgd", "optimizer.learning_rate=1.0", *overrides])
    model = compile_model(build_model("lstm", sequence_length=6, **SMALL), config, steps_per_epoch=1)
    # Every id once: the embedding's gradient is sparse, one slice per occurrence, and
    # Keras clips each slice before the slices of a repeated id are summed.
    ids = np.random.default_rng(0).permutation(np.arange(1, 49)).reshape(8, 6).astype("int32")
    labels = np.array([0, 1] * 4, dtype="float32")
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.train_on_batch(ids, labels)
    return model.optimizer, [w.numpy() - b for w, b in zip(model.trainable_weights, before)]


def test_the_lstm_config_clips_gradients():
    optimizer = make_optimizer(load_config("lstm"), steps_per_epoch=100)
    assert optimizer.clipnorm == 1.0 and optimizer.clipvalue is None


def test_clipvalue_reaches_the_optimizer_and_bounds_each_update():
    optimizer, updates = _one_sgd_step(["optimizer.clipnorm=null", "optimizer.clipvalue=0.001"])
    assert optimizer.clipvalue == 0.001
    largest = max(np.abs(u).max() for u in updates)
    assert largest <= 0.001 * (1 + 1e-5) and largest > 0.0005


def test_clipnorm_reaches_the_optimizer_and_bounds_each_gradient_norm():
    optimizer, updates = _one_sgd_step(["optimizer.clipnorm=0.01"])
    assert optimizer.clipnorm == 0.01
    norms = [np.linalg.norm(u) for u in updates]
    assert max(norms) <= 0.01 * (1 + 1e-4) and max(norms) > 0.009
    _, unclipped = _one_sgd_step(["optimizer.clipnorm=null"])
    assert max(np.linalg.norm(u) for u in unclipped) > 0.02  # so the bound above was the clip's doing
