"""Predict with a trained run on raw text: `python -m kerasapps.predict RUN "text" | --file PATH`.

    python -m kerasapps.predict lstm "a quietly brilliant film"
    python -m kerasapps.predict saved_models/lstm/<run-id> --file reviews.txt
    python -m kerasapps.predict tflite/lenet/int8.tflite digit.png
    python -m kerasapps.predict tflite/lstm/dynamic.tflite "a quietly brilliant film"

RUN is a run folder or an experiment name (its newest run). Each review is
cleaned, turned into ids with the run's saved vocabulary and preprocessing spec,
and scored; one line per review: the positive probability, the class, the text.

A `.tflite` file written by `python -m kerasapps.export` works alone, as on a phone:
labels, preprocessing and vocabulary come from the files beside it, and the
inputs are image files or reviews, whichever its model reads (see
`kerasapps.inference`). One line per input: the probability (of the positive
class for a two-class model, else of the class shown), the class, the input.

The library parts are `predict_texts(run_dir, texts)` and
`kerasapps.inference.classify_with_tflite(path, inputs)`; the command line only
parses arguments and reads files.
"""

import argparse
import os

import numpy as np

from kerasapps.cli import add_common_arguments, run_main
from kerasapps import runs
from kerasapps.errors import UserError

# --- library ----------------------------------------------------------------------


def load_text_run(run_dir):
    """The model, preprocessing spec, vocabulary and class names saved in a text run folder.

    Raises:
        UserError: the folder is not a run, or its model does not read text.
    """
    import keras

    from kerasapps.data.text import read_vocabulary

    info = _dataset_info(run_dir)
    spec = info.get("preprocessing") or {}
    if spec.get("kind") != "text":
        raise UserError(
            f"Run {run_dir} was trained on {info.get('name', 'a dataset')!r}, which is not text: "
            f"predict on reviews needs a run of a text model such as lstm."
        )
    vocabulary_path = os.path.join(run_dir, spec["vocabulary_file"])
    if not os.path.isfile(vocabulary_path):
        raise UserError(f"Run {run_dir} has no vocabulary file {spec['vocabulary_file']}: it cannot read raw text.")
    model = keras.saving.load_model(os.path.join(run_dir, runs.MODEL_FILE))
    return model, spec, read_vocabulary(vocabulary_path), info.get("class_names") or ["neg", "pos"]


def _dataset_info(run_dir):
    if not all(os.path.isfile(os.path.join(run_dir, f)) for f in (runs.METRICS_FILE, runs.MODEL_FILE)):
        raise UserError(f"{run_dir} is not a finished run folder: it lacks {runs.MODEL_FILE} or {runs.METRICS_FILE}.")
    return runs.read_metrics(run_dir).get("dataset", {})


def check_texts(texts, *, where=lambda i: f"Text {i + 1}"):
    """Raise `UserError` if there is no review, or one is empty or holds undecodable bytes.

    Undecodable bytes reach Python strings as surrogate escapes (command-line
    arguments do). `where(i)` names review i in the message.
    """
    if not texts:
        raise UserError("No text to predict on: give a review, or --file with one review a line.")
    for i, text in enumerate(texts):
        name = where(i)
        if not text.strip():
            raise UserError(f"{name} is empty: give the text of a review.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise UserError(
                f"{name} is not valid UTF-8 text (undecodable byte at character {error.start + 1})."
            ) from None


def predict_texts(run_dir, texts, *, batch_size=256, run=None):
    """Positive-class probabilities of raw reviews, one float per text.

    Args:
        run_dir: a run folder of a text model.
        texts: the reviews, str.
        batch_size: reviews per forward pass.
        run: the result of `load_text_run(run_dir)`, to skip reloading.

    Raises:
        UserError: empty or undecodable text, or a run that does not read text.
    """
    from kerasapps.data.text import vectorize

    texts = list(texts)
    check_texts(texts)
    model, spec, vocabulary, _ = run or load_text_run(run_dir)
    ids = vectorize(texts, spec, vocabulary)
    return np.asarray(model.predict(ids, batch_size=batch_size, verbose=0), dtype=np.float64).reshape(len(texts))


def read_reviews(path):
    """The reviews of a UTF-8 file, one a line (a final newline is not an empty review).

    Raises:
        UserError: the file cannot be read, holds undecodable bytes, or an empty line.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as error:
        raise UserError(f"Cannot read {path}: {error.strerror}.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise UserError(
            f"{path}, line {line}: byte 0x{raw[error.start]:02x} is not valid UTF-8. Save the file as UTF-8."
        ) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.rstrip("\r") for line in lines]
    if not lines:
        raise UserError(f"{path} is empty: it should hold one review a line.")
    check_texts(lines, where=lambda i: f"{path}, line {i + 1}")
    return lines


# --- command line -----------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m kerasapps.predict", description=__doc__.split("\n")[0])
    parser.add_argument(
        "run", metavar="RUN", help="a run folder, an experiment name (its newest run), or an exported .tflite file"
    )
    parser.add_argument("texts", metavar="TEXT", nargs="*", help="reviews to score (image files for an image .tflite)")
    parser.add_argument("--file", help="a UTF-8 file of reviews, one a line")
    parser.add_argument("--batch-size", type=int, default=256)
    add_common_arguments(parser)
    return parser.parse_args(argv)


def main(argv):
    """Score the reviews given on the command line or in --file; print one line each."""
    args = parse_args(argv)
    if args.texts and args.file:
        raise UserError("Give reviews either as arguments or with --file, not both.")
    texts = read_reviews(args.file) if args.file else args.texts
    check_texts(texts, where=lambda i: f"Text argument {i + 1}")
    if args.run.endswith(".tflite"):
        return print_tflite_predictions(args.run, texts)
    run_dir = runs.resolve_run(args.run)
    run = load_text_run(run_dir)
    class_names = run[3]
    for text, p in zip(texts, predict_texts(run_dir, texts, batch_size=args.batch_size, run=run)):
        print(f"{p:.4f}\t{class_names[int(p >= 0.5)]}\t{_preview(text)}")


def print_tflite_predictions(path, inputs):
    """Classify `inputs` with the exported file `path` alone; print one line each."""
    from kerasapps.inference import classify_with_tflite, is_text_spec, read_bundle

    text = is_text_spec(read_bundle(path)[0])
    for p in classify_with_tflite(path, inputs):
        probability = p["probabilities"][1] if len(p["probabilities"]) == 2 else p["score"]
        print(f"{probability:.4f}\t{p['label']}\t{_preview(p['input']) if text else p['input']}")


def _preview(text):
    return text if len(text) <= 60 else text[:57] + "..."


if __name__ == "__main__":
    run_main(main)
