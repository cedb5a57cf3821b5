"""kerasapps.models.batch_norm: the same results as Keras's BatchNormalization, by its own road."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import fit_save_and_load

import kerasapps.models  # noqa: F401  (registers the layer when Keras loads)
from kerasapps.models import build_model
from kerasapps.models.batch_norm import BatchNormalization, pixels_per_row


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
    for Layer in (keras.layers.BatchNormalization, BatchNormalization):
        layer = Layer(momentum=0.9)
        layer.build(shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        assert Layer is keras.layers.BatchNormalization or layer._fast_path_applies(x, None)
        results.append(_train_step(layer, x, upstream))
    names = ("outputs", "d x", "d gamma", "d beta", "moving mean", "moving variance")
    for name, ours, theirs in zip(names, results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4, err_msg=name)


def test_rows_are_whole_pixels_and_wide():
    assert pixels_per_row(28 * 28, 6) == 16  # LeNet's C1: rows of 96 values
    assert pixels_per_row(10 * 10, 16) == 5  # C3: 80
    assert pixels_per_row(32 * 32, 16) == 8  # ResNet-20's first stage: 128
    assert pixels_per_row(1, 120) == 1  # C5: a row is one pixel
    assert pixels_per_row(7, 64) == 1  # no divisor fits: one pixel per row


def test_keras_code_runs_where_the_fast_path_does_not_apply(monkeypatch):
    x = tf.zeros((2, 4, 4, 3))
    assert BatchNormalization(axis=1)._fast_path_applies(x, None) is False
    assert BatchNormalization(scale=False)._fast_path_applies(x, None) is False
    assert BatchNormalization()._fast_path_applies(x, tf.ones((2, 4, 4))) is False
    assert BatchNormalization(dtype="mixed_bfloat16")._fast_path_applies(x, None) is False
    monkeypatch.setenv("KERASAPPS_FAST_BATCH_NORM", "0")
    assert BatchNormalization()._fast_path_applies(x, None) is False


def test_models_use_it_and_a_saved_model_loads_with_it(tmp_path):
    model = build_model("lenet5_modern", batch_norm=True)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 3 and all(type(layer) is BatchNormalization for layer in norms)
    assert type(norms[0]).__name__ == "BatchNormalization"  # summaries and the PyTorch twins read it as Keras's
    assert type(fit_save_and_load(model, tmp_path).layers[1]) is BatchNormalization
