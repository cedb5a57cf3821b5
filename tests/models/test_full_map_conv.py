"""kerasapps.models.full_map_conv: a convolution whose kernel covers the map, as one matrix product."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasapps import settings
from kerasapps.models import build_model
from kerasapps.models.full_map_conv import _covers_the_map, with_full_map_product
from tests.conftest import fit_save_and_load

# The product and the convolution sum the same kh * kw * C products in another order: float32
# differs by at most about n * 2**-24 of the sum of magnitudes, n = 5 * 5 * 16 = 400 here (2.4e-5 on
# values of order one); a wrong layout of the kernel or the map is off by order one.
TOLERANCE = 5 * 5 * 16 * 2**-24


def _step(layer, x, upstream):
    """(outputs, d x, d kernel, d bias) of one call of `layer` on `x`."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x)
        loss = tf.reduce_sum(outputs * upstream)
    return [np.asarray(t) for t in (outputs, *tape.gradient(loss, [x, layer.kernel, layer.bias]))]


@pytest.mark.parametrize("shape, kernel", [((4, 5, 5, 16), 5), ((3, 3, 2, 7), (3, 2)), ((2, 1, 1, 9), 1)])
def test_results_and_gradients_match_keras_where_the_kernel_covers_the_map(shape, kernel):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=shape).astype("float32"))
    upstream = tf.constant(rng.normal(size=(shape[0], 1, 1, 12)).astype("float32"))
    theirs = keras.layers.Conv2D(12, kernel, bias_initializer="random_normal")
    ours = with_full_map_product(keras.layers.Conv2D(12, kernel))
    for layer in (theirs, ours):
        layer.build(shape)
    ours.set_weights(theirs.get_weights())
    assert _covers_the_map(ours, x)
    names = ("outputs", "d x", "d kernel", "d bias")
    for name, a, b in zip(names, _step(ours, x, upstream), _step(theirs, x, upstream)):
        np.testing.assert_allclose(a, b, rtol=TOLERANCE, atol=TOLERANCE, err_msg=name)


def test_keras_code_runs_where_the_kernel_does_not_cover_the_map():
    x = tf.zeros((2, 6, 5, 3))
    Conv2D = keras.layers.Conv2D
    assert not _covers_the_map(Conv2D(4, 5), x)  # 6 rows for a kernel of 5
    assert not _covers_the_map(Conv2D(4, 5, padding="same"), tf.zeros((2, 5, 5, 3)))
    assert not _covers_the_map(Conv2D(4, 5, strides=2), tf.zeros((2, 5, 5, 3)))
    assert with_full_map_product(Conv2D(4, 3))(x).shape == (2, 4, 3, 4)  # Keras's own convolution


def _replaced(model):
    """For each Conv2D of `model`: whether its convolution is the full-map product."""
    return ["convolution_op" in vars(layer) for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def test_lenet_c5_uses_it_with_fast_layers_and_saves_keras_own_layer(tmp_path, monkeypatch):
    assert _replaced(build_model("lenet5_modern", batch_norm=True)) == [False, False, True]  # C1, C3, C5
    with settings.use_fast_layers(False):
        assert _replaced(build_model("lenet5_modern")) == [False, False, False]
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert _replaced(build_model("lenet5_modern")) == [False, False, False]  # measured on TensorFlow only
    monkeypatch.undo()
    loaded = fit_save_and_load(build_model("lenet5_modern", batch_norm=True), tmp_path)
    assert type(loaded.get_layer("C5")) is keras.layers.Conv2D and _replaced(loaded) == [False, False, False]
