"""Export to SavedModel and TFLite, run by the LiteRT interpreter; predict with a .tflite alone."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from kerasapps import runs
from kerasapps.commands.cli import run_main
from kerasapps.commands.export import main as export_main
from kerasapps.commands.predict import main as predict_main
from kerasapps.config import load_run_config
from kerasapps.data import load_experiment_data
from kerasapps.deploy import classify, convert, export_run
from kerasapps.deploy.app_graph import app_inputs, app_model
from kerasapps.deploy.interpreter import LiteModel
from kerasapps.errors import UserError
from kerasapps.scores import accuracy, predicted_classes

pytestmark = pytest.mark.slow  # trains or converts models: the full suite's tier


@pytest.fixture(scope="module")
def lenet_run(small_lenet_run):
    """A LeNet trained for one epoch on 1,800 MNIST images (300 test images): conftest's, shared with test_phones."""
    return small_lenet_run


@pytest.fixture(scope="module")
def exported(lenet_run, data_dir, tmp_path_factory):
    """Every variant of `lenet_run` exported, the int8 file with int8 input and output."""
    out = tmp_path_factory.mktemp("tflite")
    report = export_run(lenet_run, quantize="all", io="int8", out=out, data_dir=data_dir, log=lambda _: None)
    dataset, (x_train, _), _ = load_experiment_data(load_run_config(lenet_run), data_dir=data_dir, log=lambda _: None)
    model = keras.saving.load_model(lenet_run / "model.keras")
    spec = dataset.info.preprocessing
    x_app = app_inputs(dataset.x_test, spec)  # what the files take: RGB pixels 0..255
    return {
        "dir": out / "lenet", "report": report, "model": model, "x_test": dataset.x_test, "y_test": dataset.y_test,
        "x_train": x_train, "keras_scores": model.predict(dataset.x_test, verbose=0),
        "x_app": x_app, "app_scores": app_model(model, spec).predict(x_app, verbose=0),
    }


# --- the exported files -----------------------------------------------------------


def test_export_writes_every_variant_and_records_it(exported, lenet_run):
    folder, report = exported["dir"], exported["report"]
    for name in ["float32.tflite", "float16.tflite", "dynamic.tflite", "int8.tflite", "labels.txt",
                 "preprocessing.json", "report.json", "report.csv", "saved_model/saved_model.pb"]:
        assert (folder / name).is_file(), name
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging folder left
    assert (folder / "labels.txt").read_text() == (lenet_run / "labels.txt").read_text()
    assert json.loads((folder / "preprocessing.json").read_text()) == runs.read_metrics(lenet_run)["dataset"]["preprocessing"]
    table = pd.read_csv(folder / "report.csv")
    assert list(table["variant"]) == ["float32", "float16", "dynamic", "int8"]
    assert report["test_examples"] == 300 and report["representative_examples"] == 50
    for row in report["variants"]:
        assert row["size_kb"] == round((folder / row["file"]).stat().st_size / 1024, 1)
        assert 0 < row["latency_ms"] and row["test_accuracy"] > 0.5 and "CONV_2D" in row["ops"] and row["xnnpack"]
        if row["agreement"] == 1:  # the same predictions as the row they are measured against: its accuracy
            assert row["test_accuracy"] == pytest.approx(report["keras"]["test_accuracy"]), row["variant"]
    sizes = {row["variant"]: row["size_kb"] for row in report["variants"]}
    assert sizes["float16"] < 0.6 * sizes["float32"] and sizes["int8"] < 0.35 * sizes["float32"]
    history = json.loads((lenet_run / "exports.json").read_text())
    assert history[-1]["variants"] == ["float32", "float16", "dynamic", "int8"] and history[-1]["io"] == "int8"
    assert history[-1]["out_dir"] == str(folder.resolve())


@pytest.mark.parametrize("variant", convert.VARIANTS)
def test_each_file_runs_in_the_interpreter_over_the_test_split(exported, variant):
    lite = LiteModel(exported["dir"] / f"{variant}.tflite")
    keras_scores = exported["app_scores"]
    batched = lite.predict(exported["x_app"], batch_size=64)
    one_by_one = lite.predict(exported["x_app"][:20], batch_size=1)
    assert batched.shape == keras_scores.shape and batched.dtype == np.float32
    np.testing.assert_allclose(one_by_one, batched[:20], atol=1e-6)
    agreement = np.mean(predicted_classes(batched) == predicted_classes(keras_scores))
    assert agreement >= 0.95, agreement
    reported = next(r for r in exported["report"]["variants"] if r["variant"] == variant)
    assert reported["test_accuracy"] == accuracy(batched, exported["y_test"])
    tolerance = {"float32": 1e-5, "float16": 1e-2, "dynamic": 5e-2, "int8": 0.1}[variant]
    assert np.abs(batched - keras_scores).max() < tolerance


def test_interpreter_runs_without_xnnpack_when_the_delegate_refuses(exported, monkeypatch):
    lite = LiteModel(exported["dir"] / "float32.tflite")
    real_invoke, refused = LiteModel._invoke, []

    def refusing_xnnpack(self, x):
        if self.xnnpack:
            refused.append(len(x))
            raise RuntimeError("failed to create XNNPACK runtimeNode number 7 (TfLiteXNNPackDelegate) failed to prepare.")
        return real_invoke(self, x)

    monkeypatch.setattr(LiteModel, "_invoke", refusing_xnnpack)
    scores = lite.predict(exported["x_app"])
    assert refused == [256] and not lite.xnnpack
    np.testing.assert_allclose(scores, exported["app_scores"], atol=1e-5)


def test_float32_file_matches_keras(exported):
    lite = LiteModel(exported["dir"] / "float32.tflite")
    diff = np.abs(lite.predict(exported["x_app"]) - exported["app_scores"]).max()
    assert diff < 1e-5
    # the graph around the model (RGB to gray, padding, scaling) changes no prediction
    assert np.mean(predicted_classes(exported["app_scores"]) == predicted_classes(exported["keras_scores"])) >= 0.995
    assert exported["report"]["variants"][0]["max_abs_diff"] < 1e-5


def test_int8_file_has_integer_input_and_output(exported):
    lite = LiteModel(exported["dir"] / "int8.tflite")
    assert lite.input_dtype == np.int8 and lite.output_dtype == np.int8
    scale, zero = lite.input["quantization"]
    assert scale > 0 and -128 <= zero <= 127
    # raw int8 in, raw int8 out: what a board feeds it
    raw = lite.invoke(lite.quantize_input(exported["x_app"][:4]))
    assert raw.dtype == np.int8 and raw.shape == (4, 10)


def test_uint8_and_float_io_of_the_int8_variant(exported):
    for io, dtype in (("uint8", np.uint8), ("float", np.float32)):
        content = convert.convert(exported["model"], "int8", representative=exported["x_train"][:50], io=io)
        lite = LiteModel(content)
        assert lite.input_dtype == dtype and lite.output_dtype == dtype
        scores = lite.predict(exported["x_test"])
        assert np.mean(predicted_classes(scores) == predicted_classes(exported["keras_scores"])) >= 0.95


def test_saved_model_serves_in_a_fresh_process_without_kerasapps(exported, tmp_path):
    x = exported["x_test"][:8]
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, json, numpy as np, tensorflow as tf\n"
        f"m = tf.saved_model.load({str(exported['dir'] / 'saved_model')!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "a = m.serve(tf.constant(x)).numpy()\n"
        "b = list(m.signatures['serving_default'](tf.constant(x)).values())[0].numpy()\n"
        "print(json.dumps({'serve': a.tolist(), 'signature': b.tolist(),"
        " 'kerasapps': any(n.startswith('kerasapps') for n in sys.modules), 'keras': 'keras' in sys.modules}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert not served["kerasapps"]
    expected = exported["keras_scores"][:8]
    np.testing.assert_allclose(served["serve"], expected, atol=1e-5)
    np.testing.assert_allclose(served["signature"], expected, atol=1e-5)


def test_predict_on_an_image_file_with_the_tflite_alone(exported, data_dir, tmp_path, capsys):
    from kerasapps.data.image_preprocessing import preprocess_images
    from kerasapps.data.mnist import find_idx_folder, read_idx_folder

    raw = read_idx_folder(find_idx_folder(str(data_dir), ["mnist"]))["test"][0][:3]  # uint8 28x28 digits
    paths = []
    for i, image in enumerate(raw):
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(image).save(paths[-1])
    spec = json.loads((exported["dir"] / "preprocessing.json").read_text())
    expected = predicted_classes(exported["model"].predict(preprocess_images(raw, spec), verbose=0))
    labels = (exported["dir"] / "labels.txt").read_text().splitlines()
    predictions = classify(exported["dir"] / "float32.tflite", paths)
    assert [p["label"] for p in predictions] == [labels[i] for i in expected]
    for p in predictions:
        assert 0 < p["score"] <= 1 and p["top"][0] == (p["label"], p["score"]) and len(p["top"]) == 3
    int8 = classify(exported["dir"] / "int8.tflite", paths)
    assert [p["label"] for p in int8] == [p["label"] for p in predictions]
    # in-process: test_predict.py runs `kerasapps predict` end to end
    with pytest.raises(SystemExit) as exit_info:
        run_main(predict_main, [str(exported["dir"] / "int8.tflite"), *map(str, paths)])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err[-2000:]
    lines = [line.split("\t") for line in out.strip().splitlines()]
    assert [(label, path) for _, label, path in lines] == [(p["label"], str(path)) for p, path in zip(int8, paths)]
    assert [float(score) for score, _, _ in lines] == pytest.approx([p["score"] for p in int8], abs=1e-4)


def test_a_keras_image_run_classifies_image_files_as_its_tflite_does(exported, lenet_run, data_dir, tmp_path):
    from kerasapps.data.mnist import find_idx_folder, read_idx_folder

    raw = read_idx_folder(find_idx_folder(str(data_dir), ["mnist"]))["test"][0][:4]
    paths = []
    for i, image in enumerate(raw):
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(image).save(paths[-1])
    from_run = classify(lenet_run, paths)
    from_file = classify(exported["dir"] / "float32.tflite", paths)
    assert [p["label"] for p in from_run] == [p["label"] for p in from_file]
    # the file converts RGB to gray inside its graph; the run decodes the PNG as gray: rounding differs a little
    np.testing.assert_allclose([p["score"] for p in from_run], [p["score"] for p in from_file], atol=1e-3)


def test_predict_reads_a_lone_tflite_file(exported, tmp_path):
    lone = tmp_path / "lone" / "model.tflite"  # no labels.txt or preprocessing.json beside it
    lone.parent.mkdir()
    lone.write_bytes((exported["dir"] / "float32.tflite").read_bytes())
    digit = tmp_path / "digit.png"
    Image.fromarray(exported["x_app"][0].astype(np.uint8)).save(digit)
    [prediction] = classify(lone, [digit])
    assert prediction["label"] == str(predicted_classes(exported["app_scores"][:1])[0])
    with pytest.raises(UserError, match=r"No image file .*missing\.png"):
        classify(lone, [str(tmp_path / "missing.png")])
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(UserError, match="Cannot read .*notes.png as an image: not a picture format"):
        classify(lone, [str(tmp_path / "notes.png")])
    lone.write_text("not a model")
    with pytest.raises(UserError, match="Cannot load .*model.tflite as a TFLite model"):
        classify(lone, [str(tmp_path / "notes.png")])


# --- Flex ops and recurrent models ------------------------------------------------


def _small_lstm(*, length=None, cell=keras.layers.LSTM, bidirectional=False):
    recurrent = cell(16)
    return keras.Sequential([
        keras.Input((length,), dtype="int32"),
        keras.layers.Embedding(50, 8, mask_zero=True),
        keras.layers.Bidirectional(recurrent) if bidirectional else recurrent,
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


def _token_ids(n=16, length=12):
    x = np.random.default_rng(0).integers(1, 50, (n, length)).astype(np.int32)
    for i in range(n):
        x[i, 3 + i % (length - 3):] = 0  # padding after 3 to length-1 tokens
    return x


def test_a_file_with_flex_ops_is_refused(tmp_path):
    model = _small_lstm(length=12)
    model.export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "sm"))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    content = converter.convert()  # Keras 3's LSTM loop: TensorList ops become Flex ops
    ops = convert.op_names(content)
    assert "FlexTensorListReserve" in ops and "WHILE" in ops
    with pytest.raises(UserError, match="FlexTensorListReserve.*--allow-flex"):
        convert.check_ops(ops)
    convert.check_ops(ops, allow_flex=True)
    with pytest.raises(RuntimeError, match="Flex"):  # why: the plain interpreter cannot run it
        LiteModel(content).predict(_token_ids(length=12))


@pytest.mark.parametrize("bidirectional, cell", [(False, keras.layers.LSTM), (True, keras.layers.GRU)])
def test_recurrent_model_runs_on_the_plain_interpreter(bidirectional, cell):
    model = _small_lstm(cell=cell, bidirectional=bidirectional)  # open sequence length
    x = _token_ids()
    content = convert.convert(model, "float32", sequence_length=x.shape[1])
    ops = convert.op_names(content)
    assert not [op for op in ops if op.startswith("Flex")] and "WHILE" not in ops
    lite = LiteModel(content)
    assert lite.input_dtype == np.int32
    scores = lite.predict(x, batch_size=5)
    np.testing.assert_allclose(scores, model.predict(x, verbose=0), atol=1e-5)
    # the twin has the same weights and a fixed length, and the mask still applies:
    # a review gives the same score with 12 or 20 ids of padding after it
    twin = convert.unrolled_twin(model, 20)
    assert twin.inputs[0].shape == (None, 20) and len(twin.get_weights()) == len(model.get_weights())
    longer = np.pad(x, ((0, 0), (0, 8)))
    np.testing.assert_allclose(twin.predict(longer, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_recurrent_model_int8_keeps_token_id_input():
    model = _small_lstm(length=12)
    x = _token_ids()
    lite = LiteModel(convert.convert(model, "int8", representative=x))
    assert lite.input_dtype == np.int32
    assert np.abs(lite.predict(x) - model.predict(x, verbose=0)).max() < 0.05
    with pytest.raises(UserError, match="--io int8 cannot apply.*int32"):
        convert.convert(model, "int8", representative=x, io="int8")


def test_recurrent_model_with_open_length_needs_a_sequence_length():
    for recurrent in convert.RECURRENT:
        with pytest.raises(UserError, match=r"Cannot convert the recurrent layers .*\(None,\)"):
            convert.convert(_small_lstm(), "float32", recurrent=recurrent)


def _stacked_lstm(length):
    return keras.Sequential([
        keras.Input((length,), dtype="int32"),
        keras.layers.Embedding(50, 8, mask_zero=True),
        keras.layers.LSTM(12, return_sequences=True),
        keras.layers.LSTM(16),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


@pytest.mark.parametrize("build", [_small_lstm, _stacked_lstm], ids=["lstm", "stacked"])
def test_lstm_converts_to_the_fused_kernel_and_agrees_with_keras(build):
    model = build(length=12)
    x = _token_ids()
    x[0] = 0  # a review of pads only: Keras gives the initial state
    assert convert.recurrent_route(model) == "fused"
    content = convert.convert(model, "float32")
    ops = convert.op_names(content)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops and "WHILE" not in ops and not [op for op in ops if op.startswith("Flex")]
    lite = LiteModel(content)
    assert lite.fixed_batch == 1
    np.testing.assert_allclose(lite.predict(x), model.predict(x, verbose=0), atol=1e-5)
    # The reset step leaves zero state behind: an interpreter that never resets its
    # variables (as MediaPipe's classifiers) gives each review the same score every time.
    from ai_edge_litert.interpreter import Interpreter

    bare = Interpreter(model_content=content)
    bare.allocate_tensors()

    def score(ids):
        bare.set_tensor(bare.get_input_details()[0]["index"], ids[None])
        bare.invoke()
        return bare.get_tensor(bare.get_output_details()[0]["index"]).copy()

    first = score(x[5])
    for ids in x[6:9]:
        score(ids)
    np.testing.assert_array_equal(score(x[5]), first)


def test_fused_lstm_int8_file_is_smaller_than_float32_and_close_to_keras():
    model = _small_lstm(length=40)
    x = _token_ids(length=40)
    float32 = convert.convert(model, "float32")
    int8 = convert.convert(model, "int8", representative=x)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in convert.op_names(int8)
    # the unrolled twin's int8 file outgrows its float32 one with the sequence (docs/export.md)
    assert len(int8) < 0.7 * len(float32), (len(int8), len(float32))
    assert np.abs(LiteModel(int8).predict(x) - model.predict(x, verbose=0)).max() < 0.05


def test_other_recurrent_layers_and_the_unrolled_choice_take_the_unrolled_route():
    assert convert.recurrent_route(_small_lstm(cell=keras.layers.GRU)) == "unrolled"
    assert convert.recurrent_route(_small_lstm(bidirectional=True)) == "unrolled"
    assert convert.recurrent_route(_small_lstm(), "unrolled") == "unrolled"
    assert convert.recurrent_route(_small_lstm(), "fused", "float16") == "unrolled"
    assert convert.recurrent_route(_small_lstm(), "fused", "dynamic") == "fused"
    assert convert.recurrent_route(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])) is None
    with pytest.raises(UserError, match="recurrent"):
        convert.recurrent_route(_small_lstm(), "scan")
    content = convert.convert(_small_lstm(length=12), "float32", recurrent="unrolled")
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in convert.op_names(content)
    assert LiteModel(content).fixed_batch is None


def test_a_conversion_failure_says_why(monkeypatch):
    # Without the unrolled twin, the converter meets the TensorList loop and gives up.
    monkeypatch.setattr(convert, "has_recurrent_layers", lambda model: False)
    with pytest.raises(UserError, match="Cannot produce the float32 variant .*TensorList"):
        convert.convert(_small_lstm(length=12), "float32")


# --- errors -----------------------------------------------------------------------


def _cli(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_main(export_main, argv)
    err = capsys.readouterr().err.strip()
    return exit_info.value.code, err


def test_run_folder_without_a_model_is_an_error(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("name: lenet\n")
    code, err = _cli([str(tmp_path / "run"), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and err.startswith("error: ") and "no model.keras" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("quantize, variant", [("none", "float32"), ("float16", "float16"), ("dynamic", "dynamic")])
def test_integer_io_needs_int8_quantization(exported, lenet_run, quantize, variant, capsys):
    code, err = _cli([str(lenet_run), "--quantize", quantize, "--io", "uint8"], capsys)
    assert code == 2 and "--io uint8 needs full-integer quantization (--quantize int8 or all)" in err
    assert f"the {variant} variant keeps float32 input and output" in err


def test_empty_representative_set_is_an_error(exported, lenet_run, tmp_path, capsys):
    code, err = _cli([str(lenet_run), "--quantize", "int8", "--set", "export.representative_size=0",
                      "--out", str(tmp_path)], capsys)
    assert code == 2 and "export.representative_size must be an integer of at least 1, got 0" in err
    empty = exported["x_train"][:0]
    with pytest.raises(UserError, match="representative set .* is empty"):
        convert.convert(exported["model"], "int8", representative=empty)


def test_unwritable_output_folder_is_an_error(lenet_run, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, err = _cli([str(lenet_run), "--quantize", "none", "--out", str(blocker / "sub")], capsys)
    assert code == 2 and "Cannot write to the output folder" in err and str(blocker) in err
    (tmp_path / "lenet").write_text("a file where the export folder goes")
    code, err = _cli([str(lenet_run), "--quantize", "none", "--out", str(tmp_path)], capsys)
    assert code == 2 and "it is a file" in err


def test_a_failed_export_overwrites_nothing(exported, lenet_run, data_dir, monkeypatch):
    folder = exported["dir"]
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    real_convert = convert.convert

    def fail_on_int8(model, variant, **kwargs):
        if variant == "int8":
            raise UserError("Cannot produce the int8 variant: simulated failure.")
        return real_convert(model, variant, **kwargs)

    monkeypatch.setattr(convert, "convert", fail_on_int8)
    with pytest.raises(UserError, match="simulated"):
        export_run(lenet_run, quantize="all", out=folder.parent, data_dir=data_dir, log=lambda _: None)
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert after == before
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]
    assert len(json.loads((lenet_run / "exports.json").read_text())) == 1
