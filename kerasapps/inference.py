"""Classify raw inputs with an exported .tflite file alone, as an app on a phone would.

    predictions = classify_with_tflite("tflite/lenet/int8.tflite", ["digit.png"])
    predictions[0]["label"], predictions[0]["score"]

Everything besides the file comes from the files `kerasapps.export` writes beside
it: `labels.txt` (class names) and `preprocessing.json` (the run's preprocessing
spec), plus the vocabulary for text models. Images go through
`kerasapps.data.images` and text through `kerasapps.data.text`: the same steps
as in training.
"""

import json
import pathlib

import numpy as np

from kerasapps.errors import UserError

LABELS_FILE = "labels.txt"
PREPROCESSING_FILE = "preprocessing.json"


def read_bundle(tflite_path):
    """The preprocessing spec and class names written beside `tflite_path`.

    Raises:
        UserError: the file or one of its companions is missing.
    """
    path = pathlib.Path(tflite_path)
    if not path.is_file():
        raise UserError(f"No TFLite file {path}.")
    companions = {name: path.parent / name for name in (PREPROCESSING_FILE, LABELS_FILE)}
    for name, companion in companions.items():
        if not companion.is_file():
            raise UserError(
                f"{path} has no {name} beside it; export the run with `python -m kerasapps.export RUN`, "
                "which writes it."
            )
    spec = json.loads(companions[PREPROCESSING_FILE].read_text())
    labels = companions[LABELS_FILE].read_text().splitlines()
    return spec, labels


def is_text_spec(spec):
    """True for a text model's preprocessing spec (token ids from raw text)."""
    return spec.get("kind") == "text"


def model_inputs(spec, raw, folder):
    """Raw inputs -> model inputs: image file paths for an image spec, texts for a text spec."""
    if is_text_spec(spec):
        from kerasapps.data.text import read_vocabulary, vectorize

        vocabulary = read_vocabulary(pathlib.Path(folder) / spec["vocabulary_file"])
        return vectorize(list(raw), spec, vocabulary)
    from kerasapps.data.images import load_image_file, preprocess_images

    images = []
    for path in raw:
        if not pathlib.Path(path).is_file():
            raise UserError(f"No image file {path}.")
        try:
            images.append(load_image_file(str(path), spec))
        except Exception as error:  # TensorFlow raises InvalidArgumentError for a non-image
            reason = getattr(error, "message", str(error)).split("}} ")[-1].split(" [Op:")[0]
            raise UserError(f"Cannot read {path} as an image: {reason}") from None
    return preprocess_images(np.stack(images), spec)


def classify_with_tflite(tflite_path, raw, *, top=3):
    """Classify `raw` inputs (image paths, or texts for a text model) with a .tflite file.

    Returns one dict per input: `input`, `label`, `score` (the probability of
    that label), `top` (up to `top` (label, probability) pairs, best first) and
    `probabilities` (one per class; a one-unit sigmoid output counts as two classes).
    """
    from kerasapps.litert import LiteModel

    spec, labels = read_bundle(tflite_path)
    lite = LiteModel(tflite_path)
    scores = lite.predict(model_inputs(spec, raw, pathlib.Path(tflite_path).parent))
    return [_ranked(item, s, labels, top) for item, s in zip(raw, scores)]


def _ranked(item, scores, labels, top):
    if len(scores) == 1:  # one sigmoid unit: P(class 1)
        probabilities = np.array([1 - scores[0], scores[0]])
    else:
        probabilities = scores
    order = np.argsort(probabilities)[::-1][:top]
    ranked = [(labels[i] if i < len(labels) else str(i), float(probabilities[i])) for i in order]
    return {
        "input": str(item), "label": ranked[0][0], "score": ranked[0][1], "top": ranked,
        "probabilities": [float(p) for p in probabilities],
    }
