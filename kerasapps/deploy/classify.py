"""Classify raw inputs (image files or texts) with a trained run or an exported .tflite file.

    predictions = classify("tflite/lenet/int8.tflite", ["digit.png"])
    predictions = classify("lstm", ["a quietly brilliant film"])      # the newest lstm run
    predictions[0]["label"], predictions[0]["score"]

A .tflite file is used alone, as a phone uses it: its TFLite metadata gives the
labels, the input size (it takes RGB pixels) or, for text, the regex tokenizer
and its vocabulary. A run applies the steps of training: its preprocessing spec
(metrics.json) sends images through `kerasapps.data.image_preprocessing` and
text through `kerasapps.data.text_preprocessing`.
"""

import dataclasses
import pathlib
from typing import Callable

import numpy as np
import tensorflow as tf

from kerasapps import runs
from kerasapps.config import list_experiments
from kerasapps.data.image_preprocessing import load_image_file, preprocess_images
from kerasapps.data.text_preprocessing import read_vocabulary, vectorize
from kerasapps.deploy.interpreter import LiteModel
from kerasapps.deploy.metadata import read_metadata, tokenize
from kerasapps.errors import UserError


@dataclasses.dataclass
class Classifier:
    """A model ready for raw inputs: `kind` ("image" or "text"), class names,
    `model_inputs(raw inputs) -> model inputs` and `scores(model inputs) -> float scores`."""

    kind: str
    labels: list
    model_inputs: Callable
    scores: Callable

    @property
    def reads_text(self):
        return self.kind == "text"


def open_tflite(path):
    """A `Classifier` for an exported .tflite file, from the file alone (its metadata).

    Raises:
        UserError: the file is missing, not a TFLite model, or has no metadata.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(f"No TFLite file {path}.")
    lite = LiteModel(path)
    content = path.read_bytes()
    facts = read_metadata(content, what=str(path))
    if facts["kind"] == "text":
        length = int(lite.input["shape"][1])

        def model_inputs(texts):
            check_texts(texts)
            return tokenize(texts, facts, length)

    else:
        spec = {"size": list(facts["size"]), "channels": 3}

        def model_inputs(paths):
            return read_images(paths, spec, exact_size=True).astype(np.float32)

    return Classifier(facts["kind"], facts["labels"], model_inputs, lite.predict)


def open_run(run, *, runs_dir=None, batch_size=256):
    """A `Classifier` for a finished run (a folder, or an experiment name for its newest run).

    Raises:
        UserError: no such run, or a text run without its vocabulary file.
    """
    run_dir = runs.resolve_run(run, runs_dir, experiments=list_experiments())
    dataset = runs.read_metrics(run_dir).get("dataset", {})
    spec = dataset.get("preprocessing") or {}
    if spec.get("kind") == "text" and not (run_dir / spec["vocabulary_file"]).is_file():
        raise UserError(f"Run {run_dir} has no vocabulary file {spec['vocabulary_file']}: it cannot read raw text.")
    model = runs.load_run_model(run_dir)
    labels = dataset.get("class_names") or []
    if spec.get("kind") == "text":
        vocabulary = read_vocabulary(run_dir / spec["vocabulary_file"])

        def model_inputs(texts):
            check_texts(texts)
            return vectorize(texts, spec, vocabulary)

    else:
        def model_inputs(paths):
            return preprocess_images(read_images(paths, spec), spec)

    kind = "text" if spec.get("kind") == "text" else "image"
    return Classifier(kind, labels, model_inputs, lambda x: model.predict(x, batch_size=batch_size, verbose=0))


def open_classifier(source, *, runs_dir=None):
    """`open_tflite` for a path ending in .tflite, else `open_run`."""
    return open_tflite(source) if str(source).endswith(".tflite") else open_run(source, runs_dir=runs_dir)


def classify(source, inputs, *, top=3, runs_dir=None):
    """Classify raw `inputs` (image paths, or texts for a text model) with a run or a .tflite file.

    `source` is a .tflite path, a run folder or an experiment name, or a `Classifier`.

    Returns one dict per input: `input`, `label`, `score` (the probability of
    that label), `top` (up to `top` (label, probability) pairs, best first) and
    `probabilities` (one per class; a one-unit sigmoid output counts as two classes).

    Raises:
        UserError: no input, an empty or undecodable text, an unreadable image.
    """
    classifier = source if isinstance(source, Classifier) else open_classifier(source, runs_dir=runs_dir)
    inputs = list(inputs)
    scores = np.asarray(classifier.scores(classifier.model_inputs(inputs)), dtype=np.float64)
    return [_ranked(item, s, classifier.labels, top) for item, s in zip(inputs, scores)]


def read_images(paths, spec, *, exact_size=False):
    """Image files -> uint8 arrays (N, H, W, C) at the spec's size and channels.

    With `exact_size`, an image of another size is refused rather than resized.

    Raises:
        UserError: no path, a missing file, a file that is not an image, or (exact_size) one of the wrong size.
    """
    if not paths:
        raise UserError("No image to classify: give one or more image files.")
    images = []
    for path in paths:
        if not pathlib.Path(path).is_file():
            raise UserError(f"No image file {path}.")
        try:
            if exact_size:
                height, width = tf.image.decode_image(tf.io.read_file(str(path)), expand_animations=False).shape[:2]
            images.append(load_image_file(str(path), spec))
        except Exception as error:  # TensorFlow raises InvalidArgumentError for a non-image
            reason = getattr(error, "message", str(error)).split("}} ")[-1].split(" [Op:")[0]
            raise UserError(f"Cannot read {path} as an image: {reason}") from None
        if exact_size and [height, width] != list(spec["size"]):
            raise UserError(
                f"{path} is {height}x{width} pixels; the model reads {spec['size'][0]}x{spec['size'][1]} RGB images. "
                "Resize it first (a phone's MediaPipe classifier resizes camera frames itself)."
            )
    return np.stack(images)


def check_texts(texts, *, where=lambda i: f"Text {i + 1}"):
    """Raise `UserError` if there is no text, or one is empty or holds undecodable bytes.

    Undecodable bytes reach Python strings as surrogate escapes (command-line
    arguments do). `where(i)` names text i in the message.
    """
    if not texts:
        raise UserError("No text to classify: give a review, or --file with one review a line.")
    for i, text in enumerate(texts):
        if not text.strip():
            raise UserError(f"{where(i)} is empty: give the text of a review.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise UserError(f"{where(i)} is not valid UTF-8 text (undecodable byte at character {error.start + 1}).") from None


def read_lines(path):
    """The texts of a UTF-8 file, one a line; blank lines are skipped (a blank line is not a review).

    Raises:
        UserError: the file cannot be read, holds undecodable bytes, or no line that is not blank.
    """
    try:
        raw = pathlib.Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"Cannot read {path}: {error.strerror}.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise UserError(f"{path}, line {line}: byte 0x{raw[error.start]:02x} is not valid UTF-8. Save the file as UTF-8.") from None
    lines = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
    if not lines:
        raise UserError(f"{path} holds no review: it is empty or all its lines are blank. Write one review a line.")
    return lines


def _ranked(item, scores, labels, top):
    probabilities = np.array([1 - scores[0], scores[0]]) if len(scores) == 1 else scores  # one sigmoid unit: P(1)
    order = np.argsort(probabilities)[::-1][:top]
    ranked = [(labels[i] if i < len(labels) else str(i), float(probabilities[i])) for i in order]
    return {
        "input": str(item), "label": ranked[0][0], "score": ranked[0][1], "top": ranked,
        "probabilities": [float(p) for p in probabilities],
    }
