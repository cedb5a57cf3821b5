"""Vanishing gradients, as the notes teach them: how much the loss at the end of a review
reaches back to each of its tokens, for a plain RNN and an LSTM.

The gradient of the loss with respect to the word vector at step t, ||dL/dx_t||,
is what training can use to learn from token t. Through a SimpleRNN it passes
t..T tanh layers and shrinks step by step; the LSTM's cell state carries it
with a gate (the forget gate) instead.
"""

import numpy as np

from kerasapps.errors import UserError
from kerasapps.lazy import keras, tf


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
