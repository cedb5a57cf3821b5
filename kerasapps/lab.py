"""python -m kerasapps.lab: the course notes' convolution examples, computed by real Keras layers.

    python -m kerasapps.lab toy          # 3x4 input, 2x2 kernel: aw+bx+ey+fz ...
    python -m kerasapps.lab edges        # vertical/horizontal/Sobel/Scharr on 6x6 and an MNIST digit
    python -m kerasapps.lab all --out lab   # every example but `gradients`, which trains two networks
"""

import argparse
import os

from kerasapps import settings
from kerasapps.cli import add_common_arguments, prog, run_main

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


def mnist_digit(data_dir, index):
    """Test image `index` of MNIST (28x28, 0..255) from the local IDX files."""
    from kerasapps.data.mnist import find_idx_folder, read_idx_folder
    from kerasapps.errors import UserError

    folder = find_idx_folder(data_dir, ["mnist"])
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
    wanted = [e for e in EXAMPLES if e != "gradients"] if args.example == "all" else [args.example]
    for name in wanted:
        if name == "edges":
            show(convolution.edges(mnist_digit(args.data_dir, args.digit)), args.out, name)
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


def show_gradients(args):
    """||dL/dx_t|| per step for a SimpleRNN and an LSTM, at initialization and after one short epoch."""
    import numpy as np

    from kerasapps.course.recurrent import gradient_norms
    from kerasapps.data import load_dataset
    from kerasapps.errors import check_at_least
    from kerasapps.lazy import keras
    from kerasapps.models import build_model
    from kerasapps.plots import plot_curves

    check_at_least("--steps", args.steps, 2)
    check_at_least("--train-examples", args.train_examples, 1)
    data = load_dataset("imdb", data_dir=args.data_dir, options={"sequence_length": args.steps, "vocab_size": 10000})
    # The splits are sorted by label: seeded samples keep both classes. Measured reviews have
    # at least T tokens (no padding), so every step counts.
    rng = np.random.default_rng(0)
    full = np.flatnonzero(data.x_test[:, -1] != 0)
    measured = rng.choice(full, size=min(256, len(full)), replace=False)
    ids, labels = data.x_test[measured], data.y_test[measured]
    train = rng.permutation(len(data.x_train))[: args.train_examples]
    curves = {}
    print(f"== Vanishing gradients: ||dL/dx_t|| over {args.steps} steps, {len(ids)} IMDB test reviews")
    print(f"{'network':<28}{'t=1':>11}{'t=T/2':>11}{'t=T':>11}{'t=1 / t=T':>12}")
    for cell in ("simplernn", "lstm"):
        keras.utils.set_random_seed(0)
        model = build_model("lstm", cell=cell, vocab_size=10000, sequence_length=args.steps, name=cell)
        model.compile(optimizer="adam", loss="binary_crossentropy")
        for stage in ("initial", "after 1 epoch"):
            if stage != "initial":  # a short plain fit: enough to move the weights, not an experiment run
                model.fit(data.x_train[train], data.y_train[train], epochs=1, batch_size=64, verbose=0)
            norms = gradient_norms(model, ids, labels)
            label = f"{cell}, {stage}"
            curves[label] = norms
            print(f"{label:<28}{norms[0]:>11.2e}{norms[len(norms) // 2]:>11.2e}{norms[-1]:>11.2e}"
                  f"{norms[0] / norms[-1]:>12.2e}", flush=True)  # fmt: skip
    path = os.path.join(args.out, "gradients.png")
    plot_curves(curves, path, xlabel="time step t (the loss is taken after step T)", ylabel="||dL/dx_t||",
                title="Vanishing gradients: SimpleRNN vs LSTM on IMDB", log_y=True)  # fmt: skip
    print(f"figure: {path}\n")


if __name__ == "__main__":
    run_main(main)
