import keras
import pytest

from kerasapps.errors import GeometryError
from kerasapps.geometry import conv_output_size, format_table, layer_table, pool_output_size
from kerasapps.registry import build_model, list_models
from test_registry import SMALL_INPUTS


def test_course_notes_worked_example_with_the_plus_one():
    # 125x49 input, 5x5 filter, P=2, S=2: the notes forget the +1; the answer is 63x25.
    assert conv_output_size(125, 5, stride=2, padding=2) == 63
    assert conv_output_size(49, 5, stride=2, padding=2) == 25


@pytest.mark.parametrize(
    "size, kernel, stride, padding, expected",
    [(32, 5, 1, 0, 28), (28, 3, 1, 1, 28), (227, 11, 4, 0, 55), (7, 3, 2, "same", 4), (32, 5, 1, "valid", 28)],
)
def test_conv_output_size(size, kernel, stride, padding, expected):
    assert conv_output_size(size, kernel, stride, padding) == expected


def test_pooling_formula_defaults_stride_to_window():
    assert pool_output_size(28, 2) == 14
    assert pool_output_size(55, 3, 2) == 27


@pytest.mark.parametrize("size, kernel, stride, padding", [(4, 5, 1, 0), (224, 11, 4, 0), (7, 2, 2, 0)])
def test_sizes_that_are_not_positive_whole_numbers_are_errors(size, kernel, stride, padding):
    with pytest.raises(GeometryError, match=r"Layer 'conv9'.*W_out = \(W_in - K \+ 2P\) / S \+ 1"):
        conv_output_size(size, kernel, stride, padding, layer="conv9")


@pytest.mark.parametrize("name", list_models())
def test_layer_table_matches_keras_shapes_and_parameters(name):
    model = build_model(name, **SMALL_INPUTS.get(name, {}))
    rows = layer_table(model)
    keras_layers = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    assert [r.name for r in rows] == [l.name for l in keras_layers]
    for row, layer in zip(rows, keras_layers):
        assert row.output_shape == tuple(layer.output.shape[1:]), row.name
        assert row.params == layer.count_params(), row.name
    assert sum(r.params for r in rows) == model.count_params()
    assert "total" in format_table(rows)
