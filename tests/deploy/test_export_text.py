"""Export of a text run (the `lstm` experiment, tiny): fused LSTM file, vocabulary, predict on raw text."""


import keras
import numpy as np
import pytest

from kerasapps.data.text_preprocessing import read_vocabulary, vectorize
from kerasapps.deploy import classify, export_run
from kerasapps.deploy.interpreter import LiteModel

pytestmark = pytest.mark.slow  # trains or converts models: the full suite's tier

REVIEWS = ["A quietly brilliant film, moving and beautifully acted.", "Dull, boring<br />and a waste of time."]


@pytest.fixture(scope="module")
def text_export(tiny_lstm_run, data_dir, tmp_path_factory):
    """conftest's small LSTM (shared with test_phones and test_visualize), exported with dynamic-range weights."""
    run_dir = tiny_lstm_run
    out = tmp_path_factory.mktemp("tflite")
    report = export_run(run_dir, quantize="dynamic", out=out, data_dir=data_dir, log=lambda _: None)
    return run_dir, out / "lstm", report


def test_text_run_exports_a_builtin_only_file_with_its_vocabulary(text_export):
    run_dir, folder, report = text_export
    assert report["converted_from"].startswith("fused LSTM twin")
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in report["variants"][0]["ops"]
    row = report["variants"][0]
    assert row["variant"] == "dynamic" and not [op for op in row["ops"] if op.startswith("Flex")]
    assert row["agreement"] >= 0.99 and row["max_abs_diff"] < 1e-3
    assert read_vocabulary(folder / "vocabulary.txt") == read_vocabulary(run_dir / "vocabulary.txt")
    assert (folder / "labels.txt").read_text().splitlines() == ["neg", "pos"]
    assert LiteModel(folder / "dynamic.tflite").input_dtype == np.int32


def test_predict_on_raw_text_with_the_tflite_alone(text_export):
    run_dir, folder, _ = text_export
    predictions = classify(folder / "dynamic.tflite", REVIEWS)
    import json

    spec = json.loads((folder / "preprocessing.json").read_text())
    model = keras.saving.load_model(run_dir / "model.keras")
    expected = model.predict(vectorize(REVIEWS, spec, read_vocabulary(run_dir / "vocabulary.txt")), verbose=0)[:, 0]
    for p, positive in zip(predictions, expected):
        assert p["label"] == ("pos" if positive > 0.5 else "neg")
        assert p["score"] == pytest.approx(max(positive, 1 - positive), abs=1e-3)


def test_predict_cli_dispatches_a_tflite_path(text_export, capsys):
    """In-process (test_predict.py runs `kerasapps predict` end to end): the same `main`."""
    from kerasapps.commands.cli import run_main
    from kerasapps.commands.predict import main as predict_main

    _, folder, _ = text_export
    with pytest.raises(SystemExit) as exit_info:
        run_main(predict_main, [str(folder / "dynamic.tflite"), *REVIEWS])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err[-2000:]
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all(line.split("\t")[1] in ("neg", "pos") for line in lines)


def test_integer_io_on_token_ids_is_refused_before_converting(text_export, capsys):
    from kerasapps.commands.cli import run_main
    from kerasapps.commands.export import main as export_main

    run_dir, folder, _ = text_export
    with pytest.raises(SystemExit) as exit_info:
        run_main(export_main, [str(run_dir), "--quantize", "int8", "--io", "int8", "--out", str(folder.parent / "x")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--io int8 cannot apply" in err and "int32" in err
