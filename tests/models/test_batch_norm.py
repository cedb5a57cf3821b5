"""kerasapps.models.batch_norm: the same results as Keras's BatchNormalization, by its own road."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasapps import settings
from kerasapps.models import build_model
from kerasapps.models.batch_norm import _fast_path_applies, pixels_per_row, with_fast_training
from tests.conftest import fit_save_and_load

# float32 reductions over n values in another order differ by at most about n * 2**-24 of the sum
# of magnitudes (recursive summation's bound); n is at most 4 * 28 * 28 = 3,136 here, values of
# order one: 2e-4. A wrong formula (a missed term of the backward pass) is off by more than 1e-2.
TOLERANCE = 4 * 28 * 28 * 2**-24


def _train_step(layer, x, upstream):
    """One training-mode call: (outputs, d x, d gamma, d beta, moving mean, moving variance)."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, training=True) * upstream)
        outputs = layer(x, training=False)  # after the moving statistics moved
    gradients = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return [np.asarray(t) for t in (outputs, *gradients, layer.moving_mean, layer.moving_variance)]


@pytest.mark.parametrize("shape", [(4, 28, 28, 6), (3, 10, 10, 16), (5, 1, 1, 120), (2, 7, 5, 3), (6, 200)])
def test_training_step_matches_keras(shape):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, shape).astype("float32"))
    upstream = tf.constant(rng.normal(size=shape).astype("float32"))
    gamma, beta = rng.normal(1.0, 0.5, shape[-1]), rng.normal(0.0, 0.5, shape[-1])
    results = []
    for fast in (False, True):
        layer = keras.layers.BatchNormalization(momentum=0.9)
        layer.build(shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        if fast:
            assert _fast_path_applies(with_fast_training(layer), x, None)
        results.append(_train_step(layer, x, upstream))
    names = ("outputs", "d x", "d gamma", "d beta", "moving mean", "moving variance")
    for name, ours, theirs in zip(names, results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE, err_msg=name)


def test_rows_are_whole_pixels_and_wide():
    assert pixels_per_row(28 * 28, 6) == 16  # LeNet's C1: rows of 96 values
    assert pixels_per_row(10 * 10, 16) == 5  # C3: 80
    assert pixels_per_row(32 * 32, 16) == 8  # ResNet-20's first stage: 128
    assert pixels_per_row(1, 120) == 1  # C5: a row is one pixel
    assert pixels_per_row(7, 64) == 1  # no divisor fits: one pixel per row


def test_keras_code_runs_where_the_fast_path_does_not_apply():
    x = tf.zeros((2, 4, 4, 3))
    BN = keras.layers.BatchNormalization
    assert _fast_path_applies(BN(axis=1), x, None) is False
    assert _fast_path_applies(BN(scale=False), x, None) is False
    assert _fast_path_applies(BN(), x, tf.ones((2, 4, 4))) is False
    assert _fast_path_applies(BN(dtype="mixed_bfloat16"), x, None) is False


def _norms(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_models_use_it_with_fast_layers_and_save_keras_own_layer(tmp_path):
    norms = _norms(build_model("lenet5_modern", batch_norm=True))
    assert len(norms) == 3 and all(type(layer) is keras.layers.BatchNormalization for layer in norms)
    assert all("call" in vars(layer) for layer in norms)  # the fast training step is attached
    with settings.use_fast_layers(False):
        assert not any("call" in vars(layer) for layer in _norms(build_model("lenet5_modern", batch_norm=True)))
    loaded = fit_save_and_load(build_model("lenet5_modern", batch_norm=True), tmp_path)
    assert type(loaded.layers[1]) is keras.layers.BatchNormalization and "call" not in vars(loaded.layers[1])
