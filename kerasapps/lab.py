"""python -m kerasapps.lab: the course notes' convolution examples, computed by real Keras layers.

    python -m kerasapps.lab toy          # 3x4 input, 2x2 kernel: aw+bx+ey+fz ...
    python -m kerasapps.lab edges        # vertical/horizontal/Sobel/Scharr on 6x6 and an MNIST digit
    python -m kerasapps.lab all --out lab
"""

import argparse
import os

from kerasapps.cli import add_common_arguments, prog, run_main

EXAMPLES = {  # subcommand -> what it shows
    "toy": "the 3x4 input and 2x2 kernel, symbolically: the 2x3 output aw+bx+ey+fz, ...",
    "edges": "vertical, horizontal, Sobel and Scharr filters on the notes' 6x6 image and an MNIST digit",
    "channels": "n x n x n_c input, f x f x n_c filters: (n-f+1) x (n-f+1) x filters",
    "padding": "the output-size formula, the 125x49 K5 P2 S2 example (63x25), same padding P = (K-1)/2",
    "pooling": "max vs average pooling, and the notes' pooling-formula erratum",
    "sharing": "4x4 image, 2x2 filter: 16 dense weights vs 4 shared; every CNN's params vs MACs vs a dense net",
}
SHARING_MODELS = ["lenet5", "alexnet", "zfnet", "vgg16", "googlenet", "resnet152"]


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("lab"),
        description="Print the course notes' convolution examples, each computed by a real Keras layer, "
        "and draw each as a PNG.",
        epilog="examples:\n  %(prog)s toy\n  %(prog)s edges --data-dir ../shared/data --digit 7\n"
        "  %(prog)s sharing --models lenet5 alexnet\n  %(prog)s all --out lab",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "example", choices=[*EXAMPLES, "all"], metavar="EXAMPLE",
        help="one of: " + "; ".join(f"{k}: {v}" for k, v in EXAMPLES.items()) + "; or all",
    )  # fmt: skip
    parser.add_argument("--out", default="lab", metavar="DIR", help="folder for the PNG figures (default: lab)")
    parser.add_argument(
        "--data-dir", metavar="DIR", help="folder with the MNIST IDX files for `edges` (default: $KERASAPPS_DATA_DIR)"
    )
    parser.add_argument("--digit", type=int, default=0, metavar="N", help="which MNIST test image `edges` filters")
    parser.add_argument(
        "--models", nargs="+", default=SHARING_MODELS, metavar="MODEL",
        help=f"networks for the `sharing` table (default: {' '.join(SHARING_MODELS)}; builds each: ~1 min)",
    )  # fmt: skip
    add_common_arguments(parser)
    return parser


def mnist_digit(data_dir, index):
    """Test image `index` of MNIST (28x28, 0..255) from the local IDX files."""
    from kerasapps.data.core import resolve_data_dir
    from kerasapps.data.mnist import find_idx_folder, read_idx_folder
    from kerasapps.errors import UserError

    folder = find_idx_folder(resolve_data_dir(data_dir), ["mnist"])
    if not folder:
        raise UserError("`edges` filters an MNIST digit: point --data-dir (or $KERASAPPS_DATA_DIR) at the MNIST IDX files.")
    images = read_idx_folder(folder)["test"][0]
    if not 0 <= index < len(images):
        raise UserError(f"--digit must be in 0..{len(images) - 1}, got {index}.")
    return images[index]


def show(example, out, stem):
    """Print an example and draw its matrices to OUT/STEM.png."""
    from kerasapps.plots import plot_grids

    print(f"== {example.title}")
    print("\n".join(example.lines))
    if example.panels:
        path = os.path.join(out, f"{stem}.png")
        plot_grids(example.panels, path, example.title)
        print(f"figure: {path}")
    print()


def main(argv):
    args = build_parser().parse_args(argv)
    from kerasapps.course import convolution
    from kerasapps.models import MODELS

    for name in args.models:
        MODELS.get(name)  # an unknown name fails before anything runs
    os.makedirs(args.out, exist_ok=True)
    wanted = list(EXAMPLES) if args.example == "all" else [args.example]
    for name in wanted:
        if name == "edges":
            show(convolution.edges(mnist_digit(args.data_dir, args.digit)), args.out, name)
        elif name == "sharing":
            show(convolution.sharing()[0], args.out, name)
            print_sharing_table(args.models)
        else:
            result = getattr(convolution, {"channels": "multichannel", "padding": "padding_and_stride"}.get(name, name))()
            show(result[0], args.out, name)
    return 0


def print_sharing_table(names):
    """Each network's conv weights and MACs beside a dense layer of the same input and output sizes."""
    from kerasapps.course.convolution import sharing_table
    from kerasapps.lazy import keras
    from kerasapps.models import build_model

    print("convolution layers of each network: weights (shared), multiply-accumulates, and the weights a")
    print("dense layer with the same input and output sizes would need")
    print(f"{'network':<12}{'conv weights':>15}{'MACs':>18}{'dense equivalent':>22}{'ratio':>12}")
    for name in names:
        _, params, macs, dense = sharing_table(build_model(name))[-1]
        print(f"{name:<12}{params:>15,}{macs:>18,}{dense:>22,}{dense / params:>12,.0f}x", flush=True)
        keras.backend.clear_session()


if __name__ == "__main__":
    run_main(main)
