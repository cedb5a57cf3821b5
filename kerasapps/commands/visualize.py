"""kerasapps visualize RUN [INPUT]: pictures of what a trained network computes.

    kerasapps visualize lenet                   # filters and feature maps of the first test image
    kerasapps visualize lenet digit.png
    kerasapps visualize lstm "a quietly brilliant film"   # hidden state over the tokens
"""

import argparse

from kerasapps.commands.cli import add_common_arguments, add_location_arguments, parse, prog, run_main


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("visualize"),
        description="Draw what a trained run computes for one input, as a PNG: for a CNN, its first layer's "
        "filters and the feature maps of every convolution (layer names and shapes); for an LSTM or GRU, "
        "the hidden state h_t at each token of a review.",
        epilog="examples:\n  %(prog)s lenet\n  %(prog)s lenet digit.png --out lenet_maps.png\n"
        '  %(prog)s lstm "a quietly brilliant film"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", metavar="RUN", help="a run folder, or an experiment name for its newest finished run")
    parser.add_argument(
        "input", nargs="?", metavar="INPUT",
        help="an image file (image runs) or a review's text (text runs); default: the first test example",
    )  # fmt: skip
    parser.add_argument(
        "--out", metavar="PNG",
        help="where to write the PNG (default: RUN/visualize.png); .png is added to a name without a suffix "
        "and missing folders are created",
    )  # fmt: skip
    add_location_arguments(parser)
    add_common_arguments(parser)
    return parser


def main(argv):
    args = parse(build_parser(), argv)
    from kerasapps.course.pictures import visualize_run

    visualize_run(args.run, args.input, out=args.out, data_dir=args.data_dir, runs_dir=args.runs_dir)
    return 0


if __name__ == "__main__":
    run_main(main)
