"""`kerasapps visualize`: first-layer filters and feature maps of a trained LeNet run,
and the hidden state of a trained LSTM run over a review's tokens."""

import pathlib

import keras
import numpy as np
import pytest

from kerasapps.commands import visualize
from kerasapps.commands.cli import run_main
from kerasapps.course import pictures


@pytest.fixture(scope="module")
def lenet_run(small_lenet_run):
    return small_lenet_run  # conftest's, shared with test_export and test_phones


@pytest.fixture(scope="module")
def lstm_run(tiny_lstm_run):
    return tiny_lstm_run  # conftest's: 32 ids a review, 16 LSTM units


def test_feature_maps_of_every_conv_layer_with_names_and_shapes(lenet_run, data_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_main(visualize.main, [str(lenet_run), "--data-dir", str(data_dir)])
    assert exit_info.value.code == 0
    assert (lenet_run / "visualize.png").stat().st_size > 10_000
    model = keras.saving.load_model(lenet_run / "model.keras")
    image = np.random.default_rng(0).random((32, 32, 1), dtype=np.float32)
    maps = pictures.feature_maps(model, image)
    assert [(name, shape) for name, shape, _ in maps] == [("C1", (28, 28, 6)), ("C3", (10, 10, 16)), ("C5", (1, 1, 120))]
    conv, filters = pictures.first_filters(model)
    assert filters.shape == (6, 5, 5)
    np.testing.assert_allclose(filters[2], np.asarray(conv.kernel)[:, :, 0, 2])  # one input channel: the kernel itself


@pytest.mark.slow
def test_hidden_state_over_the_tokens_ends_in_the_lstm_output(lstm_run, tmp_path):
    out = tmp_path / "state.png"
    with pytest.raises(SystemExit) as exit_info:
        run_main(visualize.main, [str(lstm_run), "a quietly brilliant film with a dull ending", "--out", str(out)])
    assert exit_info.value.code == 0 and out.stat().st_size > 5_000

    model = keras.saving.load_model(lstm_run / "model.keras")
    ids = np.array([5, 17, 42, 9] + [0] * 28, dtype="int32")  # the run's 32 ids, padded
    name, states = pictures.hidden_states(model, ids)
    assert name == "lstm" and states.shape == (4, 16)  # padding steps are left out
    last = keras.Model(model.inputs[0], model.get_layer("lstm").output)(ids[None])
    np.testing.assert_allclose(states[-1], np.asarray(last)[0], rtol=1e-5, atol=1e-6)  # the masked LSTM's answer


def test_wrong_input_kind_is_one_line_exit_2(lenet_run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_main(visualize.main, [str(lenet_run), "no_such_image.png"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: No image file no_such_image.png."


def _digit(tmp_path):
    from PIL import Image

    path = tmp_path / "digit.png"
    Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype("uint8")).save(path)
    return path


def test_out_in_a_missing_folder_is_created(lenet_run, tmp_path, capsys):
    out = tmp_path / "missing" / "deeper" / "v.png"
    with pytest.raises(SystemExit) as exit_info:
        run_main(visualize.main, [str(lenet_run), str(_digit(tmp_path)), "--out", str(out)])
    assert exit_info.value.code == 0 and out.stat().st_size > 10_000
    assert capsys.readouterr().out.strip().endswith(f"wrote {out}")


def test_out_without_suffix_reports_the_file_written(lenet_run, tmp_path, capsys):
    out = tmp_path / "maps"
    with pytest.raises(SystemExit) as exit_info:
        run_main(visualize.main, [str(lenet_run), str(_digit(tmp_path)), "--out", str(out)])
    assert exit_info.value.code == 0
    written = pathlib.Path(capsys.readouterr().out.strip().split("wrote ")[-1])
    assert written == tmp_path / "maps.png" and written.is_file() and not out.exists()


def test_out_of_another_kind_is_refused_and_nothing_written(lenet_run, tmp_path, capsys):
    out = tmp_path / "missing" / "maps.jpg"
    with pytest.raises(SystemExit) as exit_info:
        run_main(visualize.main, [str(lenet_run), str(_digit(tmp_path)), "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: --out {out}: the picture is a PNG; give a name ending in .png, such as {out.with_suffix('.png')}.\n"
    assert not (tmp_path / "missing").exists()


def test_bad_input_creates_no_out_folder(lenet_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_main(visualize.main, [str(lenet_run), "no_such_image.png", "--out", str(tmp_path / "missing" / "v.png")])
    assert exit_info.value.code == 2 and not (tmp_path / "missing").exists()
