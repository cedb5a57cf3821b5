import pytest

from kerasapps.errors import GeometryError
from kerasapps.geometry import conv_output_size, pool_output_size


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
