"""kerasapps compare EXPERIMENT: the experiment's network trained and deployed with TensorFlow and PyTorch."""

import argparse

from kerasapps.commands.cli import (
    add_common_arguments,
    add_experiment_arguments,
    add_location_arguments,
    add_set_argument,
    experiment_config,
    parse,
    prog,
    run_main,
)
from kerasapps.compare.timing import DEFAULT_DEPLOY_TIME_LIMIT


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("compare"),
        description="Train the experiment's network with Keras on TensorFlow (graph and eager), the same Keras\n"
        "model on Keras's torch backend, and a native PyTorch twin (eager and torch.compile), each in its\n"
        "own process, on the same data split, epochs, batch size and optimizer; deploy it as LiteRT\n"
        "(.tflite) and ExecuTorch (.pte) files, float32 and int8; run the course notes' PyTorch code.\n"
        "Writes compare/<EXPERIMENT>/report.md, report.csv, report.png and the files, and prints the table.\n"
        'Needs the optional PyTorch extra: pip install -e ".[torch]".',
        epilog="Examples:\n"
        "  kerasapps compare lenet\n"
        "  kerasapps compare lenet --epochs 2\n"
        "  kerasapps compare lstm --epochs 1 --set data.limit_train=6400 --deploy-examples 300\n"
        "  kerasapps compare resnet20 --steps 300",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_experiment_arguments(parser)
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--epochs", type=int, metavar="N", help="training epochs on every side (default: the experiment's)"
    )
    length.add_argument(
        "--steps", type=int, metavar="N",
        help="train every side for N batches only (one epoch over the first N x batch-size training examples);\n"
        "the report says its rows are N steps. For networks too slow to train fully on a CPU, e.g. resnet20",
    )  # fmt: skip
    add_set_argument(parser, help="override a config value, as for train, e.g. data.limit_train=5000 (repeatable)")
    parser.add_argument(
        "--deploy-examples", type=int, default=2000, metavar="N",
        help="test inputs each deployed file runs on, one at a time (default: 2000; 0 = the whole test split)",
    )  # fmt: skip
    parser.add_argument(
        "--deploy-time-limit", type=int, default=DEFAULT_DEPLOY_TIME_LIMIT, metavar="S",
        help=f"seconds each ExecuTorch or litert-torch file may take to lower or convert, after which its row\n"
        f"says it timed out (default: {DEFAULT_DEPLOY_TIME_LIMIT}; 0 = no limit)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, metavar="N",
        help="CPU threads for every side (default: each framework's own choice; 1 steadies a shared machine)",
    )  # fmt: skip
    parser.add_argument("--out", metavar="DIR", help="root of the reports (default: compare)")
    add_location_arguments(parser)
    add_common_arguments(parser)
    return parser


def main(argv):
    parser = build_parser()
    args = parse(parser, argv)
    from kerasapps.compare.run import check_torch_installed, compare_experiment

    check_torch_installed()
    epochs = [f"train.epochs={args.epochs}"] if args.epochs is not None else []
    config = experiment_config(parser, args, epochs)
    compare_experiment(
        config,
        out=args.out,
        data_dir=args.data_dir,
        steps=args.steps,
        deploy_examples=args.deploy_examples,
        deploy_time_limit=args.deploy_time_limit,
        threads=args.threads,
    )
    return 0


if __name__ == "__main__":
    run_main(main)
