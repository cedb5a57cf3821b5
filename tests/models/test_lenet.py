import keras
import pytest

from kerasapps.errors import GeometryError, UserError
from kerasapps.models import build_model


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.mark.parametrize("api", ["sequential", "functional"])
def test_lenet5_has_the_papers_61706_parameters(api):
    model = build_model("lenet5", api=api)
    assert model.count_params() == 61_706
    assert model.input_shape == (None, 32, 32, 1)
    assert isinstance(model, keras.Sequential) == (api == "sequential")
    assert _layer_types(model).count("AveragePooling2D") == 2
    assert model.get_layer("C5").kernel_size == (5, 5)
    assert model.get_layer("C1_tanh").activation.__name__ == "tanh"


def test_both_apis_build_the_same_layers():
    seq = build_model("lenet5_modern", api="sequential", dropout=0.2, batch_norm=True)
    fun = build_model("lenet5_modern", api="functional", dropout=0.2, batch_norm=True)
    def layers(model):
        return [(l.name, type(l)) for l in model.layers if not isinstance(l, keras.layers.InputLayer)]

    assert layers(seq) == layers(fun)
    assert seq.count_params() == fun.count_params()


def test_modern_variant_options_build_what_they_say():
    plain = build_model("lenet5_modern")
    assert _layer_types(plain).count("MaxPooling2D") == 2
    assert plain.get_layer("C1_relu").activation.__name__ == "relu"
    assert "Dropout" not in _layer_types(plain) and "BatchNormalization" not in _layer_types(plain)

    regularized = build_model("lenet5_modern", dropout=0.5, batch_norm=True)
    assert _layer_types(regularized).count("Dropout") == 2
    assert _layer_types(regularized).count("BatchNormalization") == 3
    # Batch norm replaces the conv biases: +4 per channel, -1 bias per channel.
    assert regularized.count_params() == 61_706 + 3 * (6 + 16 + 120)


def test_course_notes_pytorch_cnn_is_the_same_builder():
    # conv(3->6, 5) pool conv(6->16, 5) pool fc 400-120-84-10
    model = build_model("lenet5_modern", input_shape=(32, 32, 3), c5="dense")
    assert model.count_params() == (3 * 25 + 1) * 6 + (6 * 25 + 1) * 16 + 401 * 120 + 121 * 84 + 85 * 10
    assert model.count_params() == 62_006


def test_c5_as_convolution_needs_a_32x32_input():
    with pytest.raises(GeometryError, match=r"Layer 'C5'.*\(4 - 5 \+ 2\*0\) / 1 \+ 1 = 0"):
        build_model("lenet5", input_shape=(28, 28, 1))
    assert build_model("lenet5", input_shape=(28, 28, 1), c5="dense").output_shape == (None, 10)


def test_bad_option_values_are_errors():
    with pytest.raises(UserError, match="pooling='median'"):
        build_model("lenet5", pooling="median")
    with pytest.raises(UserError, match="api='graph'"):
        build_model("lenet5", api="graph")
