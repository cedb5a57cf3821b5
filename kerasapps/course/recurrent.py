"""Vanishing gradients, as the notes teach them: how much the loss at the end of a review
reaches back to each of its tokens, for a plain RNN and an LSTM.

The gradient of the loss with respect to the word vector at step t, ||dL/dx_t||,
is what training can use to learn from token t. Through a SimpleRNN it passes
t..T tanh layers and shrinks step by step; the LSTM's cell state carries it
with a gate (the forget gate) instead.
"""

import keras
import numpy as np
import tensorflow as tf

from kerasapps.data import load_dataset
from kerasapps.errors import UserError, check_at_least
from kerasapps.models import build_model


def gradient_norms(model, ids, labels):
    """||dL/dx_t|| for every step t, averaged over the batch.

    Args:
        model: a model of `kerasapps.models.rnn.build_rnn` (a layer named "embedding" first).
        ids: int array (batch, steps) of token ids; 0 is padding, masked, so its gradient is 0.
        labels: array (batch,) of 0/1.

    Returns:
        A float array (steps,).
    """
    try:
        embedding = model.get_layer("embedding")
    except ValueError:
        raise UserError(f"Model {model.name!r} has no 'embedding' layer to take gradients at.") from None
    rest = model.layers[model.layers.index(embedding) + 1 :]
    with tf.GradientTape() as tape:
        vectors = embedding(ids)
        tape.watch(vectors)
        x = vectors
        for layer in rest:
            x = layer(x)  # the embedding's mask travels with its output
        loss = tf.reduce_mean(keras.losses.binary_crossentropy(np.asarray(labels, dtype="float32")[:, None], x))
    grads = np.asarray(tape.gradient(loss, vectors))
    return np.linalg.norm(grads, axis=-1).mean(axis=0)


def vanishing_gradients(*, data_dir, steps=100, train_examples=2000, log=print):
    """||dL/dx_t|| per step for a SimpleRNN and an LSTM on IMDB test reviews of at least `steps`
    tokens, at initialization and after one short epoch on `train_examples` reviews.

    Returns:
        A dict "<cell>, <stage>" -> float array (steps,), and the number of reviews measured.

    Raises:
        UserError: `steps` below 2 or `train_examples` below 1, or no IMDB copy.
    """
    check_at_least("--steps", steps, 2)
    check_at_least("--train-examples", train_examples, 1)
    data = load_dataset("imdb", data_dir=data_dir, options={"sequence_length": steps, "vocab_size": 10000}, log=log)
    # The splits are sorted by label: seeded samples keep both classes. Measured reviews have
    # at least T tokens (no padding), so every step counts.
    rng = np.random.default_rng(0)
    full = np.flatnonzero(data.x_test[:, -1] != 0)
    measured = rng.choice(full, size=min(256, len(full)), replace=False)
    ids, labels = data.x_test[measured], data.y_test[measured]
    train = rng.permutation(len(data.x_train))[:train_examples]
    curves = {}
    for cell in ("simplernn", "lstm"):
        keras.utils.set_random_seed(0)
        model = build_model("lstm", cell=cell, vocab_size=10000, sequence_length=steps, name=cell)
        model.compile(optimizer="adam", loss="binary_crossentropy")
        curves[f"{cell}, initial"] = gradient_norms(model, ids, labels)
        # A short plain fit: enough to move the weights, not an experiment run.
        model.fit(data.x_train[train], data.y_train[train], epochs=1, batch_size=64, verbose=0)
        curves[f"{cell}, after 1 epoch"] = gradient_norms(model, ids, labels)
    return curves, len(ids)
