"""`kerasapps lab`: the course notes' convolution examples, each checked against the notes' numbers.

The numbers come from real Keras layers (kerasapps.course.convolution); the
expected values here are the notes' own, or the arithmetic that corrects them.
"""

import numpy as np
import pytest

from kerasapps.commands import lab
from kerasapps.commands.cli import run_main
from kerasapps.course import convolution
from kerasapps.errors import GeometryError
from kerasapps.models import build_model


def test_toy_example_gives_the_notes_symbolic_2x3_output():
    _, terms = convolution.toy()
    assert terms == [
        ["aw+bx+ey+fz", "bw+cx+fy+gz", "cw+dx+gy+hz"],
        ["ew+fx+iy+jz", "fw+gx+jy+kz", "gw+hx+ky+lz"],
    ]


def test_edge_filters_on_the_notes_6x6_image():
    image = convolution.notes_image()
    expected = {"vertical": [0, 30, 30, 0], "horizontal": [0, 0, 0, 0], "sobel": [0, 40, 40, 0], "scharr": [0, 160, 160, 0]}
    for name, row in expected.items():
        out = convolution.convolve(image, convolution.FILTERS[name])
        np.testing.assert_array_equal(out, np.tile(row, (4, 1)), err_msg=name)


def test_multichannel_output_is_n_minus_f_plus_1_squared_by_filters():
    example, shape = convolution.multichannel(n=7, channels=3, f=3, filters=4)
    assert shape == (5, 5, 4)
    assert "(max difference 0)" in "\n".join(example.lines)  # a filter sums its per-channel convolutions


def test_padding_stride_worked_example_is_63x25_not_the_notes_62x24():
    _, (keras_shape, formula, same) = convolution.padding_and_stride()
    assert keras_shape == formula == (63, 25)
    assert all(p == (k - 1) // 2 and out == keras_same == 32 for k, (p, out, keras_same) in same.items())
    with pytest.raises(GeometryError):  # the strict formula refuses a size that is not whole
        convolution.conv_output_size(124, 5, 2, 2)


def test_pooling_max_average_and_the_formula_erratum():
    example, rows = convolution.pooling()
    np.testing.assert_array_equal(convolution.pool(convolution.POOLING_INPUT, 2), [[9, 2], [6, 3]])
    np.testing.assert_array_equal(convolution.pool(convolution.POOLING_INPUT, 2, kind="avg"), [[3.75, 1.25], [3.75, 2]])
    for n, f, s, printed, right, seen in rows:
        assert seen == right == (n - f) // s + 1
    assert any(printed != int(printed) for *_, printed, _, _ in rows)  # the printed formula is not whole
    assert "8 -> 7" in "\n".join(example.lines)  # S = 1 does not downsample


def test_weight_sharing_16_dense_weights_vs_4_shared_give_the_same_output():
    _, (conv, as_dense, counts) = convolution.sharing()
    np.testing.assert_allclose(conv, as_dense)
    assert list(counts.values()) == [64, 16, 4]
    rows = convolution.sharing_table(build_model("lenet5"))
    c1 = dict((r[0], r[1:]) for r in rows)["C1"]
    assert c1 == (6 * 25 + 6, 6 * 25 * 28 * 28, 32 * 32 * 28 * 28 * 6)  # params, MACs, dense weights


def test_lab_all_prints_and_draws_every_example(tmp_path, capsys, data_dir):
    with pytest.raises(SystemExit) as exit_info:
        run_main(lab.main, ["all", "--out", str(tmp_path), "--models", "lenet5", "--data-dir", str(data_dir)])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "aw+bx+ey+fz" in out and "63x25" in out and "lenet5" in out
    assert "MNIST digit, vertical  : (28, 28) -> (26, 26)" in out
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(
        f"{name}.png" for name in lab.EXAMPLES if name not in ("padding", "gradients")
    )


def test_lab_unknown_model_is_one_line_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_main(lab.main, ["sharing", "--out", str(tmp_path), "--models", "nope"])
    assert exit_info.value.code == 2
    assert "Unknown model 'nope'" in capsys.readouterr().err


def test_gradient_norms_per_step_are_zero_on_padding():
    from kerasapps.course.recurrent import gradient_norms

    model = build_model("simple_rnn", vocab_size=50, sequence_length=12, units=8, embedding_dim=4)
    ids = np.random.default_rng(0).integers(1, 50, size=(3, 12)).astype("int32")
    ids[:, 8:] = 0  # padding after step 8: masked, so the loss does not depend on it
    norms = gradient_norms(model, ids, np.array([0, 1, 1]))
    assert norms.shape == (12,)
    assert np.all(norms[:8] > 0) and np.all(norms[8:] == 0)
