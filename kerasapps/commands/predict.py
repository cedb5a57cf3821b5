"""kerasapps predict SOURCE INPUT...: classify image files or texts with a run or a .tflite file."""

import argparse
import os
import pathlib
import sys

from kerasapps.commands.cli import add_common_arguments, add_location_arguments, parse, prog, run_main
from kerasapps.errors import UserError


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("predict"),
        description="Classify raw inputs with a trained run or an exported .tflite file, as an app would:\n"
        "image files for an image model, texts (reviews) for a text model. One line per input: the\n"
        "probability (of the positive class for a two-class model, else of the class shown), the class,\n"
        "the input. An image file is first made like the training images (a photo of ink on paper is\n"
        "inverted, cropped and centred as MNIST's digits were); a `note:` line on stderr says what was\n"
        "done, and --show DIR writes the image the model saw.",
        epilog="Examples:\n"
        "  kerasapps predict lenet digit.png                  # the newest lenet run\n"
        '  kerasapps predict lstm "a quietly brilliant film"\n'
        "  kerasapps predict saved_models/lstm/<run-id> --file reviews.txt\n"
        "  kerasapps predict tflite/lenet/int8.tflite digit.png --show seen/   # seen/digit.png: what it read",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "source", metavar="SOURCE", help="a run folder, an experiment name (its newest run), or an exported .tflite file"
    )
    parser.add_argument("inputs", metavar="INPUT", nargs="*", help="image files, or texts for a text model")
    parser.add_argument("--file", help="a UTF-8 file of texts, one a line")
    parser.add_argument("--show", metavar="DIR", help="write each image as the model saw it to DIR/<name>.png")
    add_location_arguments(parser)
    add_common_arguments(parser)
    return parser


def main(argv):
    args = parse(build_parser(), argv)
    if args.inputs and args.file:
        raise UserError("Give inputs either as arguments or with --file, not both.")
    from kerasapps.deploy.classify import check_texts, classify, open_classifier, read_lines

    classifier = open_classifier(args.source, runs_dir=args.runs_dir)
    inputs = read_lines(args.file) if args.file else args.inputs
    if classifier.reads_text and not args.file:
        _refuse_image_files(args.source, inputs)
        check_texts(inputs, where=lambda i: f"Text argument {i + 1}")
    if args.show and classifier.reads_text:
        raise UserError("--show writes the images an image model saw; this model reads texts.")
    for p in classify(classifier, inputs):
        probability = p["probabilities"][1] if len(p["probabilities"]) == 2 else p["score"]
        shown = _preview(p["input"]) if classifier.reads_text else p["input"]
        notes = [*p.get("notes", []), *([f"the model saw {_write_seen(p, args.show)}"] if args.show else [])]
        if notes:
            print(f"note: {p['input']}: {'; '.join(notes)}.", file=sys.stderr)
        print(f"{probability:.4f}\t{p['label']}\t{shown}", flush=True)
    return 0


def _write_seen(prediction, folder):
    """Write the pixels the model saw as FOLDER/<input's stem>.png; returns that path."""
    from PIL import Image

    pixels = prediction["pixels"]
    path = pathlib.Path(folder) / f"{pathlib.Path(prediction['input']).stem}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path)
    return path


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _refuse_image_files(source, inputs):
    """A text model would classify an image's file name as a review: refuse an INPUT that is an image file."""
    for item in inputs:
        if os.path.splitext(item)[1].lower() in IMAGE_SUFFIXES and os.path.isfile(item):
            model = source if str(source).endswith(".tflite") else f"run {source}"
            raise UserError(
                f"{item} is an image file; {model} reads texts: pass the review text, or --file FILE with one review a line."
            )


def _preview(text):
    return text if len(text) <= 60 else text[:57] + "..."


if __name__ == "__main__":
    run_main(main)
