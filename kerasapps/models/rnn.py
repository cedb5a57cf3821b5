"""Recurrent sentiment classifiers: the course notes' LSTM and its variants.

The notes' Keras model, fed by token ids through an embedding that masks padding:

    Embedding(vocab_size, 128, mask_zero=True) -> LSTM(128)
    -> Dense(64, relu) -> Dense(1, sigmoid)

trained with binary cross-entropy and Adam. Variants from the same notes are
arguments of one builder: a GRU or a plain SimpleRNN cell, a bidirectional layer, stacked layers,
dropout on the cell inputs and on the recurrent state.

Masking: id 0 is padding. The embedding's mask makes every recurrent layer skip
the padded steps, so a review gives the same output however much padding follows
it (tested). A nonzero `recurrent_dropout` rules out the fused cuDNN kernel on a
GPU, so it defaults to 0.
"""

import functools

import keras

from kerasapps.errors import UserError, check_at_least, check_choice
from kerasapps.models.common import assemble
from kerasapps.models.tbptt import TruncatedBPTT
from kerasapps.registry import register_model

CELLS = ("lstm", "gru", "simplernn")
POOLINGS = ("last", "mean")

# --- builder ----------------------------------------------------------------------


def build_rnn(
    *,
    vocab_size=20000,
    sequence_length=None,
    embedding_dim=128,
    embedding_dropout=0.0,
    cell="lstm",
    units=128,
    num_layers=1,
    bidirectional=False,
    dropout=0.0,
    recurrent_dropout=0.0,
    pooling="last",
    dense_units=64,
    dense_dropout=0.0,
    tbptt_steps=None,
    api="sequential",
    name="rnn",
):
    """Build a recurrent binary classifier of token-id sequences.

    Args:
        vocab_size: number of token ids (0 = padding, masked).
        sequence_length: ids per example; None accepts any length.
        embedding_dim: width of the word vectors.
        embedding_dropout: rate at which whole word-vector dimensions are dropped, the same ones at
            every step of a review (`SpatialDropout1D`; 0 = none).
        cell: "lstm", "gru" or "simplernn" (h_t = tanh(W x_t + U h_t-1 + b): the notes' plain RNN).
        units: state size of each recurrent layer (per direction).
        num_layers: recurrent layers stacked; all but the last return sequences.
        bidirectional: wrap each recurrent layer in `Bidirectional` (concatenated).
        dropout: dropout rate on each recurrent layer's inputs.
        recurrent_dropout: dropout rate on the recurrent state (no cuDNN kernel if > 0).
        pooling: what the head reads from the last recurrent layer: "last", its final output (the
            notes' model), or "mean", the average of its outputs over the review's unpadded steps.
        dense_units: width of the ReLU layer before the output (0 = none).
        dense_dropout: dropout rate before the ReLU layer (0 = none).
        tbptt_steps: truncated backpropagation through time: each recurrent layer runs over windows of
            this many steps, the state carried between them and the gradient cut (`models.tbptt`).
            None: full backpropagation through time.
        api: "sequential" or "functional"; the same layers either way.
        name: the Keras model name.

    Returns:
        An uncompiled `keras.Model` whose output is one sigmoid unit, P(positive).

    Raises:
        UserError: an unknown cell or api, a size below 1, or `tbptt_steps` without a fixed
            `sequence_length` shorter than it, or with a bidirectional layer.
    """
    check_choice("cell", cell, CELLS)
    check_choice("pooling", pooling, POOLINGS)
    for key, value in (("vocab_size", vocab_size), ("embedding_dim", embedding_dim), ("units", units), ("num_layers", num_layers)):
        check_at_least(f"model.args.{key}", value)
    if tbptt_steps is not None:
        check_truncation(tbptt_steps, sequence_length, bidirectional)
    Cell = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simplernn": keras.layers.SimpleRNN}[cell]
    layers = [keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")]
    if embedding_dropout:
        layers.append(keras.layers.SpatialDropout1D(embedding_dropout, name="embedding_dropout"))
    for i in range(num_layers):
        label = f"{cell}_{i + 1}" if num_layers > 1 else cell
        recurrent = Cell(
            units,
            return_sequences=i < num_layers - 1 or pooling != "last",
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            name=label,
        )
        if bidirectional:
            recurrent = keras.layers.Bidirectional(recurrent, name=f"bi{label}")
        if tbptt_steps is not None:
            recurrent = TruncatedBPTT(recurrent, tbptt_steps, name=f"tbptt_{label}")
        layers.append(recurrent)
    if pooling == "mean":
        layers.append(keras.layers.GlobalAveragePooling1D(name="mean_over_time"))  # honours the padding mask
    if dense_dropout:
        layers.append(keras.layers.Dropout(dense_dropout, name="dense_dropout"))
    if dense_units:
        layers.append(keras.layers.Dense(dense_units, activation="relu", name="dense"))
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="output"))
    return assemble(layers, input_shape=(sequence_length,), api=api, name=name, input_dtype="int32")


def check_truncation(tbptt_steps, sequence_length, bidirectional):
    """Raise `UserError` unless truncated BPTT of `tbptt_steps` steps fits the model."""
    check_at_least("model.args.tbptt_steps", tbptt_steps)
    if sequence_length is None:
        raise UserError("model.args.tbptt_steps needs a fixed sequence length (data.options.sequence_length).")
    if tbptt_steps >= sequence_length:
        raise UserError(
            f"model.args.tbptt_steps={tbptt_steps} is not below the sequence length {sequence_length}, so nothing "
            "would be truncated; choose fewer steps, or leave it out for full backpropagation through time."
        )
    if bidirectional:
        raise UserError(
            "model.args.tbptt_steps cannot truncate a bidirectional layer (its backward half runs from the end); "
            "set model.args.bidirectional=false."
        )


# --- variants ---------------------------------------------------------------------

SHORT = {"sequence_length": 16, "vocab_size": 100}  # a quick build for tests

register_model(
    "lstm", family="rnn", test_args=SHORT, facts={"params": 2_699_905},
    description="The course notes' model: Embedding -> LSTM(128) -> Dense(64, relu) -> Dense(1, sigmoid).",
)(functools.partial(build_rnn, name="lstm"))
register_model(
    "gru", family="rnn", test_args=SHORT, facts={"params": 2_667_393}, description="The notes' model with a GRU(128) in place of the LSTM."
)(functools.partial(build_rnn, cell="gru", name="gru"))
register_model(
    "simple_rnn", family="rnn", test_args=SHORT, facts={"params": 2_601_217},
    description="The notes' model with a SimpleRNN(128), the plain RNN whose gradients vanish over long reviews.",
)(functools.partial(build_rnn, cell="simplernn", name="simple_rnn"))
register_model(
    "bilstm", family="rnn", test_args=SHORT, facts={"params": 2_667_137},
    description="A bidirectional LSTM, 64 units each way (128 concatenated), then the notes' head.",
)(functools.partial(build_rnn, units=64, bidirectional=True, name="bilstm"))
register_model(
    "stacked_lstm", family="rnn", test_args=SHORT, facts={"params": 2_646_657},
    description="Two LSTM(64) layers stacked, the first returning its whole sequence, then the notes' head.",
)(functools.partial(build_rnn, units=64, num_layers=2, name="stacked_lstm"))


# --- the notes' model verbatim ------------------------------------------------------


def build_notes_lstm(*, timesteps=10, features=256, units=128, dense_units=64, api="sequential", name="notes_lstm"):
    """The notes' Keras LSTM exactly as printed: `LSTM(128, input_shape=(10, 256))`, Dense(64, relu), Dense(1, sigmoid).

    It reads ready-made vectors (10 steps of 256 features), not token ids: 205,441
    parameters, 197,120 of them the LSTM's 4 x (128 x (256 + 128) + 128). The
    IMDB model `lstm` puts an Embedding in front of the same layers. Keras 3
    takes the printed `input_shape=` from an `Input` instead.

    Returns:
        An uncompiled `keras.Model` mapping (batch, timesteps, features) floats to P(positive).
    """
    layers = [
        keras.layers.LSTM(units, name="lstm"),
        keras.layers.Dense(dense_units, activation="relu", name="dense"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ]
    return assemble(layers, input_shape=(timesteps, features), api=api, name=name)


register_model(
    "notes_lstm", family="notes",  # not "rnn": it reads vectors, not the token ids every rnn model takes
    facts={"params": 205_441},
    description="The notes' Keras LSTM verbatim: LSTM(128, input_shape=(10, 256)) -> Dense(64, relu) -> Dense(1, sigmoid).",
)(build_notes_lstm)
