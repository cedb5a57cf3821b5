"""Truncated backpropagation through time (`model.args.tbptt_steps`): same forward pass, the gradient cut at
window boundaries, the option checked, and a real training run on a slice of IMDB."""

import math

import keras
import numpy as np
import pytest

from kerasapps.config import load_config
from kerasapps.course.recurrent import gradient_norms
from kerasapps.errors import UserError
from kerasapps.models import build_model
from kerasapps.models.tbptt import TruncatedBPTT, window_starts

# dense_units=0: no ReLU between the state and the output that could zero a gradient by chance
SMALL = {"vocab_size": 50, "embedding_dim": 8, "units": 6, "dense_units": 0, "sequence_length": 12}
IDS = np.random.default_rng(0).integers(1, 50, size=(3, 12)).astype("int32")
IDS[1, 7:] = 0  # real tokens 0..6: its last word lies in the second window of 5
IDS[2, 3:] = 0  # real tokens 0..2: the first window


def test_windows_cover_the_sequence_once():
    assert window_starts(12, 5) == [0, 5, 10]
    assert window_starts(400, 100) == [0, 100, 200, 300]
    assert window_starts(12, 1) == list(range(12))


@pytest.mark.parametrize("name", ["lstm", "gru", "simple_rnn", "stacked_lstm"])
def test_truncation_keeps_the_forward_pass_and_the_weights(name):
    plain = build_model(name, **SMALL)
    truncated = build_model(name, tbptt_steps=5, **SMALL)
    wrappers = [layer for layer in truncated.layers if isinstance(layer, TruncatedBPTT)]
    assert len(wrappers) == (2 if name == "stacked_lstm" else 1)
    assert truncated.count_params() == plain.count_params()
    truncated.set_weights(plain.get_weights())
    np.testing.assert_allclose(truncated.predict(IDS, verbose=0), plain.predict(IDS, verbose=0), atol=1e-6)


@pytest.mark.parametrize("name", ["lstm", "gru", "stacked_lstm"])
def test_the_gradient_reaches_back_only_to_the_window_of_the_last_word(name):
    truncated = build_model(name, tbptt_steps=5, **SMALL)
    plain = build_model(name, **SMALL)
    plain.set_weights(truncated.get_weights())
    # windows [0, 5), [5, 10), [10, 12): each review's gradient lives in the window of its last real token
    reach = {0: range(10, 12), 1: range(5, 7), 2: range(0, 3)}
    for row, steps in reach.items():
        cut = gradient_norms(truncated, IDS[row : row + 1], [1])
        full = gradient_norms(plain, IDS[row : row + 1], [1])
        inside = np.isin(np.arange(12), steps)
        assert np.all(cut[~inside] == 0), (row, cut)
        assert np.all(cut[inside] > 0), (row, cut)
        np.testing.assert_allclose(cut[inside], full[inside], rtol=1e-4)  # inside the window, nothing changes
        assert np.all(full[: steps.start][IDS[row, : steps.start] != 0] > 0)  # full BPTT reaches further back


def test_a_truncated_model_saves_and_loads(tmp_path):
    model = build_model("lstm", tbptt_steps=4, **SMALL)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("tbptt_lstm").steps == 4
    np.testing.assert_allclose(loaded.predict(IDS, verbose=0), model.predict(IDS, verbose=0), atol=1e-6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tbptt_steps": 0}, "tbptt_steps must be above 0, got 0"),
        ({"tbptt_steps": 2.5}, "tbptt_steps must be an integer"),
        ({"tbptt_steps": 12}, "not below the sequence length 12"),
        ({"tbptt_steps": 4, "sequence_length": None}, "needs a fixed sequence length"),
        ({"tbptt_steps": 4, "bidirectional": True}, "bidirectional=false"),
    ],
)
def test_bad_truncation_is_a_user_error(overrides, message):
    with pytest.raises(UserError, match=message):
        build_model("lstm", **{**SMALL, **overrides})


@pytest.mark.slow
def test_the_lstm_experiment_trains_with_truncated_bptt_on_imdb(data_dir, tmp_path):
    from kerasapps.data import load_experiment_data
    from kerasapps.training.fit import build_experiment_model, compile_model, fit

    config = load_config(
        "lstm",
        overrides=[
            "model.args.tbptt_steps=16", "data.options.sequence_length=64", "data.options.vocab_size=1000",
            "data.limit_train=256", "data.limit_test=64", "train.epochs=1", "train.batch_size=32",
            "train.bucket_by_length=false",  # windows need every batch at the full length
        ],
    )  # fmt: skip
    dataset, train, val = load_experiment_data(config, data_dir=str(data_dir), log=lambda *_: None)
    model = build_experiment_model(config, dataset.info.model_kwargs)
    assert len(window_starts(64, model.get_layer("tbptt_lstm").steps)) == 4
    compile_model(model, config, -(-len(train[0]) // 32))
    history = fit(model, config, train, val, verbose=0)
    losses = history.history["loss"]
    assert losses and all(math.isfinite(loss) for loss in losses)
    scores = model.predict(dataset.x_test, verbose=0)
    assert scores.shape == (64, 1) and np.all((scores > 0) & (scores < 1))


def test_truncation_with_length_buckets_is_one_clear_error():
    with pytest.raises(UserError, match="set one of them off"):
        load_config("lstm", overrides=["model.args.tbptt_steps=16"])  # the config buckets by length
