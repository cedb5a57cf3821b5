"""Classify raw inputs (image files or texts) with a trained run or an exported .tflite file.

    predictions = classify("tflite/lenet/int8.tflite", ["digit.png"])
    predictions = classify("lstm", ["a quietly brilliant film"])      # the newest lstm run
    predictions[0]["label"], predictions[0]["score"]

A .tflite file is used alone, as a phone uses it: its TFLite metadata gives the
labels, the input size and layout (it takes RGB pixels) or, for text, the regex
tokenizer and its vocabulary. A run applies the steps of training: its preprocessing
spec (metrics.json) sends images through `kerasapps.data.image_preprocessing` and
text through `kerasapps.data.text_preprocessing`. Either way an image file is first
made like the training images (`data.user_images`: a photo of ink on paper inverted,
cropped and centred as MNIST's digits); each prediction says what was done (`notes`)
and holds the pixels the model saw (`pixels`).
"""

import dataclasses
import pathlib
from typing import Callable

import numpy as np

from kerasapps import runs
from kerasapps.config import list_experiments
from kerasapps.data.image_preprocessing import preprocess_images, read_image_file
from kerasapps.data.text_preprocessing import read_vocabulary, vectorize
from kerasapps.deploy.interpreter import LiteModel
from kerasapps.deploy.metadata import read_metadata, tokenize
from kerasapps.errors import UserError


@dataclasses.dataclass
class Classifier:
    """A model ready for raw inputs: `kind` ("image" or "text"), class names,
    `model_inputs(texts, or uint8 images at the spec's size) -> model inputs`, `scores(model inputs)
    -> float scores`, and for images the `image_spec` (size, channels, layout) files are read with."""

    kind: str
    labels: list
    model_inputs: Callable
    scores: Callable
    image_spec: dict | None = None

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

        return Classifier("text", facts["labels"], model_inputs, lite.predict)
    spec = {"size": list(facts["size"]), "channels": 3, "layout": facts["layout"]}
    return Classifier("image", facts["labels"], lambda images: images.astype(np.float32), lite.predict, spec)


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

    def scores(x):
        return model.predict(x, batch_size=batch_size, verbose=0)

    if spec.get("kind") == "text":
        vocabulary = read_vocabulary(run_dir / spec["vocabulary_file"])

        def model_inputs(texts):
            check_texts(texts)
            return vectorize(texts, spec, vocabulary)

        return Classifier("text", labels, model_inputs, scores)
    return Classifier("image", labels, lambda images: preprocess_images(images, spec), scores, spec)


def open_classifier(source, *, runs_dir=None):
    """`open_tflite` for a path ending in .tflite, else `open_run`."""
    return open_tflite(source) if str(source).endswith(".tflite") else open_run(source, runs_dir=runs_dir)


def classify(source, inputs, *, top=3, runs_dir=None):
    """Classify raw `inputs` (image paths, or texts for a text model) with a run or a .tflite file.

    `source` is a .tflite path, a run folder or an experiment name, or a `Classifier`.

    Returns one dict per input: `input`, `label`, `score` (the probability of
    that label), `top` (up to `top` (label, probability) pairs, best first) and
    `probabilities` (one per class; a one-unit sigmoid output counts as two classes);
    for an image also `pixels` (the uint8 image the model saw, before its own scaling) and
    `notes` (what was done to the file to make it so: "inverted it ...").

    Raises:
        UserError: no input, an empty or undecodable text, an unreadable image.
    """
    classifier = source if isinstance(source, Classifier) else open_classifier(source, runs_dir=runs_dir)
    inputs = list(inputs)
    if classifier.reads_text:
        seen = [{} for _ in inputs]
        x = classifier.model_inputs(inputs)
    else:
        seen = [{"pixels": pixels, "notes": notes} for pixels, notes in read_images(inputs, classifier.image_spec)]
        x = classifier.model_inputs(np.stack([s["pixels"] for s in seen]))
    scores = np.asarray(classifier.scores(x), dtype=np.float64)
    return [{**_ranked(item, s, classifier.labels, top), **more} for item, s, more in zip(inputs, scores, seen)]


def read_images(paths, spec):
    """Image files as the spec's training images were made: a list of (uint8 array (H, W, C), notes).

    Raises:
        UserError: no path, a missing file, or a file that is not an image.
    """
    if not paths:
        raise UserError("No image to classify: give one or more image files.")
    return [read_image_file(path, spec) for path in paths]


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
