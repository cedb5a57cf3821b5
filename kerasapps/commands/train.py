"""kerasapps train EXPERIMENT: train, evaluate and save one experiment."""

import argparse
import time

from kerasapps.commands.cli import (
    add_backend_argument,
    add_common_arguments,
    add_experiment_arguments,
    add_location_arguments,
    add_set_argument,
    experiment_config,
    parse,
    prog,
    run_main,
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("train"),
        description="Train an experiment from configs/<EXPERIMENT>.yaml, evaluate it on the test split\n"
        "and save a run folder saved_models/<EXPERIMENT>/<run-id>/ (model.keras, config.yaml,\n"
        "history.csv, metrics.json, curves.png, tensorboard/).\n\n"
        "With --backend jax and the KERAS_DISTRIBUTION_* variables (or under Slurm's srun) it trains\n"
        "data-parallel across processes and hosts; `kerasapps launch` starts such processes\n"
        "on one machine. Process 0 writes the run folder. See docs/distributed.md.",
        epilog="Examples:\n"
        "  kerasapps train lenet\n"
        "  kerasapps train lenet --set train.epochs=3 --set optimizer.learning_rate=0.002\n"
        "  kerasapps train lenet --resume        # continue an interrupted run\n"
        "  kerasapps train resnet20 --backend jax\n"
        "  kerasapps launch --processes 2 train resnet20 --backend jax   # 2 processes, data-parallel\n"
        "  kerasapps train --config my.yaml --print-config",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_experiment_arguments(parser)
    add_set_argument(parser, help="override a config value, e.g. train.epochs=3 or model.args.dropout=0.25 (repeatable)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--resume", action="store_true",
        help="continue the newest unfinished run of the experiment with its saved config; --set may then "
        "change train.epochs, data.limit_test, callbacks.tensorboard, callbacks.early_stopping_patience and export.*",
    )
    add_backend_argument(parser)
    add_location_arguments(parser)
    add_common_arguments(parser)
    return parser


def main(argv):
    started = time.perf_counter()  # before TensorFlow loads: the time a user waits
    parser = build_parser()
    args = parse(parser, argv)
    config = experiment_config(parser, args)
    from kerasapps.config import dump_config

    if args.print_config:
        print(dump_config(config), end="")
        return 0
    from kerasapps.training import train_and_evaluate

    train_and_evaluate(
        config, data_dir=args.data_dir, runs_dir=args.runs_dir, resume=args.resume,
        overrides=args.overrides if args.resume else (), started=started,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    run_main(main)
