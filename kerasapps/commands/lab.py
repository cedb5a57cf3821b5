"""kerasapps lab: the course notes' convolution examples, computed by real Keras layers.

    kerasapps lab toy          # 3x4 input, 2x2 kernel: aw+bx+ey+fz ...
    kerasapps lab edges        # vertical/horizontal/Sobel/Scharr on 6x6 and an MNIST digit
    kerasapps lab all --out lab   # every example but `gradients`, which trains two networks
"""

import argparse
import os

from kerasapps import settings
from kerasapps.commands.cli import add_common_arguments, parse, prog, run_main

EXAMPLES = {  # subcommand -> what it shows
    "toy": "the 3x4 input and 2x2 kernel, symbolically: the 2x3 output aw+bx+ey+fz, ...",
    "edges": "vertical, horizontal, Sobel and Scharr filters on the notes' 6x6 image and an MNIST digit",
    "channels": "n x n x n_c input, f x f x n_c filters: (n-f+1) x (n-f+1) x filters",
    "padding": "the output-size formula, the 125x49 K5 P2 S2 example (63x25), same padding P = (K-1)/2",
    "pooling": "max vs average pooling, and the notes' pooling-formula erratum",
    "sharing": "4x4 image, 2x2 filter: 16 dense weights vs 4 shared; every CNN's params vs MACs vs a dense net",
    "gradients": "vanishing gradients: ||dL/dx_t|| per time step, SimpleRNN vs LSTM on IMDB (trains each briefly)",
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
        help="one of: " + "; ".join(f"{k}: {v}" for k, v in EXAMPLES.items())
        + "; or all (every example but gradients, which trains networks)",
    )  # fmt: skip
    parser.add_argument("--out", default="lab", metavar="DIR", help="folder for the PNG figures (default: lab)")
    parser.add_argument(
        "--data-dir", metavar="DIR", default=settings.data_dir(),
        help="folder with the MNIST IDX files for `edges` (default: $KERASAPPS_DATA_DIR)",
    )
    parser.add_argument("--digit", type=int, default=0, metavar="N", help="which MNIST test image `edges` filters")
    parser.add_argument(
        "--models", nargs="+", default=SHARING_MODELS, metavar="MODEL",
        help=f"networks for the `sharing` table (default: {' '.join(SHARING_MODELS)}; builds each: ~1 min)",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=100, metavar="T", help="review length for `gradients` (default: 100)")
    parser.add_argument(
        "--train-examples", type=int, default=2000, metavar="N",
        help="reviews each network of `gradients` trains on for one epoch before measuring (default: 2000)",
    )  # fmt: skip
    add_common_arguments(parser)
    return parser


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
    args = parse(build_parser(), argv)
    from kerasapps.course import convolution
    from kerasapps.models import MODELS

    for name in args.models:
        MODELS.get(name)  # an unknown name fails before anything runs
    os.makedirs(args.out, exist_ok=True)
    wanted = [e for e in EXAMPLES if e != "gradients"] if args.example == "all" else [args.example]
    for name in wanted:
        if name == "edges":
            show(convolution.edges(convolution.mnist_test_digit(args.data_dir, args.digit)), args.out, name)
        elif name == "gradients":
            show_gradients(args)
        elif name == "sharing":
            show(convolution.sharing()[0], args.out, name)
            print_sharing_table(args.models)
        else:
            result = getattr(convolution, {"channels": "multichannel", "padding": "padding_and_stride"}.get(name, name))()
            show(result[0], args.out, name)
    return 0


def print_sharing_table(names):
    """Each network's conv weights and MACs beside a dense layer of the same input and output sizes."""
    from kerasapps.course.convolution import network_sharing

    print("convolution layers of each network: weights (shared), multiply-accumulates, and the weights a")
    print("dense layer with the same input and output sizes would need")
    print(f"{'network':<12}{'conv weights':>15}{'MACs':>18}{'dense equivalent':>22}{'ratio':>12}")
    for name, params, macs, dense in network_sharing(names):
        print(f"{name:<12}{params:>15,}{macs:>18,}{dense:>22,}{dense / params:>12,.0f}x", flush=True)


def show_gradients(args):
    """||dL/dx_t|| per step for a SimpleRNN and an LSTM, at initialization and after one short epoch."""
    from kerasapps.course.recurrent import vanishing_gradients
    from kerasapps.plots import plot_curves

    print(f"== Vanishing gradients: ||dL/dx_t|| over {args.steps} steps (trains each network briefly)", flush=True)
    curves, reviews = vanishing_gradients(data_dir=args.data_dir, steps=args.steps, train_examples=args.train_examples)
    print(f"{reviews} IMDB test reviews")
    print(f"{'network':<28}{'t=1':>11}{'t=T/2':>11}{'t=T':>11}{'t=1 / t=T':>12}")
    for label, norms in curves.items():
        print(f"{label:<28}{norms[0]:>11.2e}{norms[len(norms) // 2]:>11.2e}{norms[-1]:>11.2e}"
              f"{norms[0] / norms[-1]:>12.2e}")  # fmt: skip
    path = os.path.join(args.out, "gradients.png")
    plot_curves(curves, path, xlabel="time step t (the loss is taken after step T)", ylabel="||dL/dx_t||",
                title="Vanishing gradients: SimpleRNN vs LSTM on IMDB", log_y=True)  # fmt: skip
    print(f"figure: {path}\n")


if __name__ == "__main__":
    run_main(main)
