"""Classify raw inputs (image files or texts) with a trained run or an exported .tflite file.

    predictions = classify("tflite/lenet/int8.tflite", ["digit.png"])
    predictions = classify("lstm", ["a quietly brilliant film"])      # the newest lstm run
    predictions[0]["label"], predictions[0]["score"]

Both kinds of model and both kinds of input take the same road: the
preprocessing spec (`preprocessing.json` beside a .tflite file, the run's
metrics.json for a run) says whether the model reads images or text; images go
through `kerasapps.data.image_preprocessing` and text through
`kerasapps.data.text_preprocessing`, the same steps as in training, and the
class names come from `labels.txt` (or the run's dataset).
"""

import dataclasses
import json
import pathlib
from typing import Callable

import numpy as np

from kerasapps import runs
from kerasapps.errors import UserError
from kerasapps.lazy import keras

LABELS_FILE = "labels.txt"
PREPROCESSING_FILE = "preprocessing.json"


@dataclasses.dataclass
class Classifier:
    """A model ready for raw inputs: its preprocessing spec, class names, the folder of its
    companion files (the vocabulary), and `scores(model_inputs) -> float scores`."""

    spec: dict
    labels: list
    folder: pathlib.Path
    scores: Callable

    @property
    def reads_text(self):
        return self.spec.get("kind") == "text"


def open_tflite(path):
    """A `Classifier` for an exported .tflite file and the companion files `export` writes beside it.

    Raises:
        UserError: the file or one of its companions is missing, or it is not a TFLite model.
    """
    from kerasapps.deploy.interpreter import LiteModel

    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(f"No TFLite file {path}.")
    for name in (PREPROCESSING_FILE, LABELS_FILE):
        if not (path.parent / name).is_file():
            raise UserError(
                f"{path} has no {name} beside it; export the run with `python -m kerasapps.export RUN`, which writes it."
            )
    spec = json.loads((path.parent / PREPROCESSING_FILE).read_text())
    labels = (path.parent / LABELS_FILE).read_text().splitlines()
    return Classifier(spec, labels, path.parent, LiteModel(path).predict)


def open_run(run, *, runs_dir=None, batch_size=256):
    """A `Classifier` for a finished run (a folder, or an experiment name for its newest run).

    Raises:
        UserError: no such run, or a text run without its vocabulary file.
    """
    run_dir = runs.resolve_run(run, runs_dir)
    dataset = runs.read_metrics(run_dir).get("dataset", {})
    spec = dataset.get("preprocessing") or {}
    if spec.get("kind") == "text" and not (run_dir / spec["vocabulary_file"]).is_file():
        raise UserError(f"Run {run_dir} has no vocabulary file {spec['vocabulary_file']}: it cannot read raw text.")
    model = keras.saving.load_model(run_dir / runs.MODEL_FILE)
    labels = dataset.get("class_names") or []
    return Classifier(spec, labels, run_dir, lambda x: model.predict(x, batch_size=batch_size, verbose=0))


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
    scores = np.asarray(classifier.scores(model_inputs(classifier, inputs)), dtype=np.float64)
    return [_ranked(item, s, classifier.labels, top) for item, s in zip(inputs, scores)]


def model_inputs(classifier, raw):
    """Raw inputs -> model inputs: texts through the run's tokenizer, image paths through the image steps."""
    if classifier.reads_text:
        from kerasapps.data.text_preprocessing import read_vocabulary, vectorize

        check_texts(raw)
        vocabulary = read_vocabulary(classifier.folder / classifier.spec["vocabulary_file"])
        return vectorize(raw, classifier.spec, vocabulary)
    from kerasapps.data.image_preprocessing import load_image_file, preprocess_images

    if not raw:
        raise UserError("No image to classify: give one or more image files.")
    images = []
    for path in raw:
        if not pathlib.Path(path).is_file():
            raise UserError(f"No image file {path}.")
        try:
            images.append(load_image_file(str(path), classifier.spec))
        except Exception as error:  # TensorFlow raises InvalidArgumentError for a non-image
            reason = getattr(error, "message", str(error)).split("}} ")[-1].split(" [Op:")[0]
            raise UserError(f"Cannot read {path} as an image: {reason}") from None
    return preprocess_images(np.stack(images), classifier.spec)


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
    """The texts of a UTF-8 file, one a line (a final newline is not an empty text).

    Raises:
        UserError: the file cannot be read, holds undecodable bytes, or an empty line.
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
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.rstrip("\r") for line in lines]
    if not lines:
        raise UserError(f"{path} is empty: it should hold one review a line.")
    check_texts(lines, where=lambda i: f"{path}, line {i + 1}")
    return lines


def _ranked(item, scores, labels, top):
    probabilities = np.array([1 - scores[0], scores[0]]) if len(scores) == 1 else scores  # one sigmoid unit: P(1)
    order = np.argsort(probabilities)[::-1][:top]
    ranked = [(labels[i] if i < len(labels) else str(i), float(probabilities[i])) for i in order]
    return {
        "input": str(item), "label": ranked[0][0], "score": ranked[0][1], "top": ranked,
        "probabilities": [float(p) for p in probabilities],
    }
