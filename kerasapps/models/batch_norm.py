"""Keras's `BatchNormalization`, trained in fewer and wider passes on TensorFlow.

Keras 3 computes a training step's batch norm as a chain of small TensorFlow ops
(moments, then `tf.nn.batch_normalization`, and their automatic gradients: Mean,
SquaredDifference, Tile, Mul, Sub, Sum...). Each reduces or broadcasts over a last
axis of C channels, and Eigen does that slowly when C is small: LeNet's C1 has 6.
Profiled on a 2-core AVX2 CPU (bench/profile_step.py), batch norm took about 40% of
LeNet's op time per batch of 128, more than its three convolutions forward; oneDNN's
fused batch norm was slower still (docs/history.md).

`with_fast_training` keeps Keras's layer (same arguments, weights, config and results,
tested against Keras's) with one change: in a TensorFlow training step it views the
(batch, H, W, C) tensor as rows of k pixels x C channels, k a divisor of H*W with
k*C up to 128, so every reduction and broadcast runs over a wide last axis, and
it writes the gradient by hand (the textbook batch norm backward pass: two sums,
then one expression). Inference, other backends, masks, mixed precision and
the options the fast path does not cover (renorm, synchronized, another axis) run
Keras's own code. Models take it on TensorFlow while `train.fast_layers` is on
(`models.common.batch_normalization`; false trains with Keras's step alone, for an
A/B measurement: bench/bench_speed.py). The layer's class stays Keras's, so a saved
model holds nothing of this module and opens in plain Keras.
"""

import math

import keras
import tensorflow as tf

WIDE = 128  # the widest row the fast path makes: k pixels x C channels <= WIDE


def pixels_per_row(pixels, channels):
    """The largest divisor k of `pixels` with k * `channels` <= WIDE (1 if none)."""
    return max((k for k in range(1, WIDE // channels + 1) if pixels % k == 0), default=1)


def with_fast_training(layer):
    """Give `keras.layers.BatchNormalization` `layer` the faster TensorFlow training step; returns it.

    The layer stays Keras's own (class, config, weights: a saved model holds Keras's layer);
    only its `call` in a training step on float32 inputs is replaced, and every other call
    (inference, masks, options the fast path does not cover) goes to Keras's.
    """
    keras_call = layer.call

    def call(inputs, training=None, mask=None):
        if not (training and layer.trainable and _fast_path_applies(layer, inputs, mask)):
            return keras_call(inputs, training=training, mask=mask)
        outputs, mean, variance = _normalize_batch(layer, inputs)
        layer.moving_mean.assign(layer.moving_mean * layer.momentum + mean * (1.0 - layer.momentum))
        layer.moving_variance.assign(layer.moving_variance * layer.momentum + variance * (1.0 - layer.momentum))
        return outputs

    layer.call = call
    return layer


def _fast_path_applies(layer, inputs, mask):
    return (
        mask is None
        and keras.backend.standardize_dtype(inputs.dtype) == "float32"
        and layer.compute_dtype == "float32"
        and layer.center
        and layer.scale
        and not layer.renorm
        and not layer.synchronized
        and layer.axis in (-1, len(inputs.shape) - 1)
        and None not in inputs.shape[1:]
    )


def _normalize_batch(layer, inputs):
    """Normalize `inputs` by its own batch statistics. Returns (outputs, mean, variance)."""
    channels = inputs.shape[-1]
    k = pixels_per_row(math.prod(inputs.shape[1:-1]), channels)
    epsilon = layer.epsilon

    def widen(per_channel):  # (C,) -> (k*C,): one value per column of a row
        return tf.tile(per_channel, [k])

    def per_channel_sum(rows):  # (n, k*C) -> (C,)
        return tf.reduce_sum(tf.reshape(tf.reduce_sum(rows, 0), [k, channels]), 0)

    @tf.custom_gradient
    def normalize(x, gamma, beta):
        rows = tf.reshape(x, [-1, k * channels])
        count = tf.cast(tf.shape(rows)[0] * k, x.dtype)
        mean = per_channel_sum(rows) / count
        centered = rows - widen(mean)
        variance = per_channel_sum(tf.square(centered)) / count  # two passes, as Keras: no cancellation
        inv_std = tf.math.rsqrt(variance + epsilon)
        scale = gamma * inv_std
        outputs = tf.reshape(centered * widen(scale) + widen(beta), tf.shape(x))

        def gradient(d_outputs, _d_mean, _d_variance):  # mean and variance leave as constants
            with tf.name_scope(f"{layer.name}_gradient"):  # a name in profiles (bench/profile_step.py)
                d_rows = tf.reshape(d_outputs, [-1, k * channels])
                d_beta = per_channel_sum(d_rows)
                d_gamma = per_channel_sum(d_rows * centered) * inv_std  # sum of dy * x_hat
                d_rows = (
                    d_rows * widen(scale)
                    - centered * widen(scale * inv_std * d_gamma / count)
                    - widen(scale * d_beta / count)
                )
                return tf.reshape(d_rows, tf.shape(x)), d_gamma, d_beta

        return (outputs, mean, variance), gradient

    outputs, mean, variance = normalize(inputs, tf.convert_to_tensor(layer.gamma), tf.convert_to_tensor(layer.beta))
    return outputs, tf.stop_gradient(mean), tf.stop_gradient(variance)
