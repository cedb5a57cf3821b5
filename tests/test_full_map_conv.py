"""kerasapps.models.full_map_conv: a convolution whose kernel covers the map, as one matrix product."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import fit_save_and_load

import kerasapps.models  # noqa: F401  (registers the layer when Keras loads)
from kerasapps.models import build_model
from kerasapps.models.full_map_conv import Conv2D


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
    theirs, ours = keras.layers.Conv2D(12, kernel, bias_initializer="random_normal"), Conv2D(12, kernel)
    for layer in (theirs, ours):
        layer.build(shape)
    ours.set_weights(theirs.get_weights())
    assert ours._covers_the_map(x)
    names = ("outputs", "d x", "d kernel", "d bias")
    for name, a, b in zip(names, _step(ours, x, upstream), _step(theirs, x, upstream)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


def test_keras_code_runs_where_the_kernel_does_not_cover_the_map(monkeypatch):
    x = tf.zeros((2, 6, 5, 3))
    assert not Conv2D(4, 5)._covers_the_map(x)  # 6 rows for a kernel of 5
    assert not Conv2D(4, 5, padding="same")._covers_the_map(tf.zeros((2, 5, 5, 3)))
    assert not Conv2D(4, 5, strides=2)._covers_the_map(tf.zeros((2, 5, 5, 3)))
    layer = Conv2D(4, 3)
    assert layer(x).shape == (2, 4, 3, 4)  # Keras's own convolution
    covering = tf.zeros((2, 5, 5, 3))
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert not Conv2D(4, 5)._covers_the_map(covering)  # measured on TensorFlow only
    monkeypatch.undo()
    monkeypatch.setenv("KERASAPPS_FULL_MAP_CONV", "0")
    assert not Conv2D(4, 5)._covers_the_map(covering)


def test_lenet_c5_uses_it_and_a_saved_model_loads_with_it(tmp_path):
    model = build_model("lenet5_modern", batch_norm=True)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [type(layer) is Conv2D for layer in convs] == [False, False, True]  # C1, C3, C5
    assert type(convs[2]).__name__ == "Conv2D"  # summaries and the PyTorch twins read it as Keras's
    assert type(fit_save_and_load(model, tmp_path).get_layer("C5")) is Conv2D
