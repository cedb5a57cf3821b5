"""Exported files as a phone uses them: MediaPipe Tasks classifiers and predict on the file alone.

The old runtime (tflite-runtime 2.14) needs NumPy 1, which TensorFlow 2.21 does not
allow beside it: bench/old_runtime.py checks the files in a venv of its own.
"""

import importlib.util
import subprocess
import sys

import keras
import mediapipe as mp
import numpy as np
import pytest
from mediapipe.tasks.python import BaseOptions, text, vision

from kerasapps import runs
from kerasapps.commands.cli import run_main
from kerasapps.commands.predict import main as predict_main
from kerasapps.config import load_run_config
from kerasapps.data import load_experiment_data
from kerasapps.data.imdb import find_imdb_source, read_aclimdb
from kerasapps.data.text_preprocessing import read_vocabulary, vectorize
from kerasapps.deploy import classify, convert, export_run, metadata
from kerasapps.deploy.app_graph import app_inputs
from kerasapps.deploy.bundle import KEEPS_STATE
from kerasapps.errors import UserError
from kerasapps.scores import predicted_classes

pytestmark = pytest.mark.slow  # trains or converts models: the full suite's tier

TEST_REVIEWS = 200


def _export(run_dir, quantize, data_dir, tmp_path_factory, **export_options):
    out = tmp_path_factory.mktemp("tflite")
    report = export_run(run_dir, quantize=quantize, out=out, data_dir=data_dir, log=lambda _: None, **export_options)
    return run_dir, out / run_dir.parent.name, report


@pytest.fixture(scope="module")
def lenet(small_lenet_run, data_dir, tmp_path_factory):
    """conftest's LeNet (one epoch on 1,800 MNIST digits), every variant exported; its 300 test digits as RGB."""
    run_dir, folder, report = _export(small_lenet_run, "all", data_dir, tmp_path_factory, c_array=True)
    dataset, _, _ = load_experiment_data(load_run_config(run_dir), data_dir=data_dir, log=lambda _: None)
    model = keras.saving.load_model(run_dir / "model.keras")
    pixels = app_inputs(dataset.x_test, dataset.info.preprocessing).astype(np.uint8)
    return {
        "run": run_dir, "dir": folder, "report": report, "pixels": pixels, "class_names": dataset.info.class_names,
        "keras_classes": predicted_classes(model.predict(dataset.x_test, verbose=0)),
    }


@pytest.fixture(scope="module")
def lstm(tiny_lstm_run, data_dir, tmp_path_factory):
    """conftest's small LSTM (1,000 IMDB reviews), every variant exported (the fused LSTM
    converts in seconds); 200 raw test reviews of both classes."""
    run_dir, folder, report = _export(tiny_lstm_run, "all", data_dir, tmp_path_factory)
    texts, labels = read_aclimdb(find_imdb_source(str(data_dir)))["test"]
    pick = np.linspace(0, len(texts) - 1, TEST_REVIEWS).astype(int)  # sorted by label: both classes
    reviews = [texts[i] for i in pick]
    spec = runs.read_metrics(run_dir)["dataset"]["preprocessing"]
    model = keras.saving.load_model(run_dir / "model.keras")
    keras_scores = model.predict(vectorize(reviews, spec, read_vocabulary(run_dir / "vocabulary.txt")), verbose=0)
    return {"run": run_dir, "dir": folder, "report": report, "reviews": reviews, "keras_classes": predicted_classes(keras_scores)}


# Close every classifier with `with`: one left to the garbage collector closed itself inside a
# later test's TFLite conversion and waited forever on MediaPipe's dispatcher thread.
def _image_classifier(path):
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(path)), max_results=1)
    return vision.ImageClassifier.create_from_options(options)


def _text_classifier(path):
    return text.TextClassifier.create_from_options(text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=str(path))))


# --- MediaPipe Tasks ----------------------------------------------------------------


@pytest.mark.parametrize("variant", convert.VARIANTS)
def test_mediapipe_image_classifier_reads_every_file_alone(lenet, variant):
    with _image_classifier(lenet["dir"] / f"{variant}.tflite") as classifier:
        top = [
            classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))).classifications[0].categories[0]
            for rgb in lenet["pixels"]
        ]
    assert [c.category_name for c in top] == [lenet["class_names"][c.index] for c in top]  # labels from the file
    agreement = np.mean([c.index for c in top] == lenet["keras_classes"])
    reported = next(r["agreement"] for r in lenet["report"]["variants"] if r["variant"] == variant)
    assert agreement >= (0.995 if variant == "float32" else 0.97), agreement
    assert abs(agreement - reported) <= 0.01  # the int8 drop is the one the report gives


def _positive(categories):
    return next(c.score for c in categories if c.category_name == "pos")


def test_mediapipe_text_classifier_reads_raw_reviews(lstm):
    assert lstm["report"]["converted_from"].startswith("fused LSTM")
    path = lstm["dir"] / "float32.tflite"
    with _text_classifier(path) as classifier:
        results = [classifier.classify(review).classifications[0].categories for review in lstm["reviews"]]
        # MediaPipe never resets the fused LSTM's state variables: the file's reset step does
        again = classifier.classify(lstm["reviews"][0]).classifications[0].categories
    assert _positive(again) == _positive(results[0])
    assert all(sorted(c.category_name for c in categories) == ["neg", "pos"] for categories in results)
    positive = np.array([_positive(categories) for categories in results])
    ours = np.array([p["probabilities"][1] for p in classify(path, lstm["reviews"])])
    np.testing.assert_allclose(positive, ours, atol=2e-3)  # same tokenizer, same file
    agreement = np.mean((positive > 0.5) == lstm["keras_classes"])
    # the file's regex tokenizer splits as training's lower_and_split_punctuation; mixed-case words differ
    assert agreement >= 0.995, agreement


def test_text_int8_file_is_smaller_and_classifies_in_mediapipe(lstm):
    sizes = {row["variant"]: row["size_kb"] for row in lstm["report"]["variants"]}
    assert sizes["int8"] < sizes["float32"] and sizes["dynamic"] < sizes["float32"], sizes
    for variant in ("float16", "dynamic"):  # MediaPipe loads every text file (the fused float16 one it refused)
        with _text_classifier(lstm["dir"] / f"{variant}.tflite") as classifier:
            assert len(classifier.classify(lstm["reviews"][0]).classifications[0].categories) == 2
    path = lstm["dir"] / "int8.tflite"
    # the one stateful file says so, in the export's table and in its own description
    notes = {row["variant"]: row.get("note", "") for row in lstm["report"]["variants"]}
    assert notes == {"float32": "", "float16": "", "dynamic": "", "int8": KEEPS_STATE}, notes
    assert metadata.read_metadata(path.read_bytes())["description"].endswith(f"It {KEEPS_STATE}.")
    assert "state" not in metadata.read_metadata((lstm["dir"] / "dynamic.tflite").read_bytes())["description"]
    ours = [p["probabilities"][1] for p in classify(path, lstm["reviews"][:3])]
    for review, expected in zip(lstm["reviews"][:3], ours):
        # a fresh classifier per review: the int8 file keeps its LSTM state between calls (docs/phones.md)
        with _text_classifier(path) as classifier:
            assert _positive(classifier.classify(review).classifications[0].categories) == pytest.approx(expected, abs=1e-6)


def test_every_file_carries_its_metadata(lenet, lstm):
    image = metadata.read_metadata((lenet["dir"] / "float32.tflite").read_bytes())
    assert image.pop("description").startswith("lenet5")
    assert image == {"name": "lenet", "labels": lenet["class_names"], "kind": "image", "size": (28, 28), "normalized": True, "layout": "mnist"}
    words = metadata.read_metadata((lstm["dir"] / "float32.tflite").read_bytes())
    assert words["kind"] == "text" and words["labels"] == ["neg", "pos"]
    vocabulary = read_vocabulary(lstm["run"] / "vocabulary.txt")
    word = vocabulary[2]
    assert words["vocabulary"][word] == words["vocabulary"][word.upper()] == 2 and words["vocabulary"]["<PAD>"] == 0
    ids = metadata.tokenize(["Don't", ""], words, 4)
    assert ids[1].tolist() == [0, 0, 0, 0] and ids[0][0] == words["vocabulary"].get("dont", 1)


def test_integer_input_carries_no_normalization(lenet):
    content = (lenet["dir"] / "int8.tflite").read_bytes()
    described = metadata.describe_image_classifier(name="lenet", description="d", size=(28, 28), io="uint8")
    facts = metadata.read_metadata(metadata.with_metadata(content, described, {"labels.txt": b"a\nb\n"}))
    assert facts["normalized"] is False and facts["labels"] == ["a", "b"]


# --- microcontrollers ----------------------------------------------------------------


def test_format_c_writes_the_int8_model_as_a_c_array_that_compiles(lenet, tmp_path):
    folder, c = lenet["dir"], lenet["report"]["c_array"]
    header = (folder / "model_data.h").read_text()
    assert f"constexpr std::size_t kTensorArenaSize = {c['tensor_arena_bytes']};" in header
    # the largest activation (LeNet's first conv output, 28x28x6 int8 after padding to 32x32) fits
    assert 32 * 32 * 6 < c["tensor_arena_bytes"] < 256 * 1024
    source = (folder / "model_data.cc").read_text()
    array = bytes(int(b, 16) for b in source.split("{", 1)[1].split("}", 1)[0].replace(",", " ").split())
    assert len(array) == c["bytes"] and array[4:8] == b"TFL3"
    with pytest.raises(UserError, match="no TFLite metadata"):  # a microcontroller reads none: not packed in
        metadata.read_metadata(array)
    if importlib.util.find_spec("tflite_micro"):  # the micro extra: the arena is measured, and it is tight
        assert c["tensor_arena"].startswith("measured") and "measured" in header
        model = tmp_path / "int8.tflite"
        model.write_bytes(array)
        smallest = subprocess.run([sys.executable, "-m", "kerasapps.deploy.c_array", str(model)], capture_output=True, text=True)
        assert int(smallest.stdout) == c["tensor_arena_bytes"]
    else:
        assert c["tensor_arena"].startswith("planned estimate") and "planned estimate" in header
    main = tmp_path / "main.cc"
    main.write_text('#include "model_data.h"\nint main() { return g_model_data_len > 0 && kTensorArenaSize > 0 ? 0 : 1; }\n')
    built = subprocess.run(["g++", "-std=c++17", f"-I{folder}", str(folder / "model_data.cc"), str(main), "-o", str(tmp_path / "m")],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert subprocess.run([str(tmp_path / "m")]).returncode == 0


def test_format_c_needs_the_int8_variant(lenet, capsys):
    from kerasapps.commands.export import main as export_main

    with pytest.raises(SystemExit) as exit_info:
        run_main(export_main, [str(lenet["run"]), "--quantize", "float16", "--format", "c"])
    assert exit_info.value.code == 2 and "--format c writes the int8 model" in capsys.readouterr().err


# --- bad input to predict -----------------------------------------------------------


def _predict(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_main(predict_main, argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1, err
    return err


def test_bad_input_to_predict_is_one_line_and_exit_2(lenet, lstm, tmp_path, capsys):
    from PIL import Image

    Image.fromarray(np.zeros((40, 30, 3), np.uint8)).save(tmp_path / "big.png")  # any size is prepared, not refused
    (tmp_path / "notes.png").write_text("not an image")
    assert "Cannot read" in _predict([str(lenet["dir"] / "int8.tflite"), str(tmp_path / "notes.png")], capsys)
    assert "Text argument 1 is empty" in _predict([str(lstm["dir"] / "float32.tflite"), " "], capsys)
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(convert.convert(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), "float32"))
    assert "has no TFLite metadata" in _predict([str(bare), str(tmp_path / "big.png")], capsys)
