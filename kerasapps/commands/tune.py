"""kerasapps tune EXPERIMENT: search the hyperparameters declared in the experiment's tune: section."""

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


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("tune"),
        description="Search the space declared in the tune: section of configs/<EXPERIMENT>.yaml with keras-tuner.\n"
        "Every trial is the experiment's own config with the trial's values set, trained on the training\n"
        "split and scored on the validation split (never the test split). Results go to\n"
        "saved_models/<EXPERIMENT>/tune/<NAME>/: keras-tuner's state, trials.csv (one row per trial),\n"
        "best_config.yaml (a complete config: kerasapps train --config PATH) and objective.png.\n"
        "The same command again continues an interrupted search; --overwrite starts afresh. Each trial\n"
        "runs in a fresh process, so memory stays flat over a long search; a failing trial (NaN loss,\n"
        "out of memory, a killed process) is recorded as failed and the search goes on.\n\n"
        "The space, keyed by the experiment's own config keys:\n"
        "  tune:\n"
        "    space:\n"
        "      model.args.c1_filters: {min: 4, max: 16, step: 2}                  # ints: the key holds an int\n"
        "      optimizer.learning_rate: {min: 1.0e-4, max: 1.0e-2, sampling: log}  # floats\n"
        "      train.batch_size: {values: [32, 64, 128]}                          # a choice\n"
        "      model.args.kernel_size: {values: [5, 9], when: {model.args.c5: [dense]}}   # conditional",
        epilog="Examples:\n"
        "  kerasapps tune lenet                          # the tuner and budget in lenet.yaml\n"
        "  kerasapps tune lenet --tuner random --max-trials 20 --retrain\n"
        "  kerasapps tune lenet --set train.epochs=3 --set data.limit_train=5000   # a quick try\n"
        "Several processes (on one machine or several, sharing the saved_models folder):\n"
        "  kerasapps tune lenet --distributed chief --oracle 10.0.0.1:8000    # serves trials\n"
        "  kerasapps tune lenet --distributed worker --oracle 10.0.0.1:8000   # runs them; start many",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_experiment_arguments(parser)
    parser.add_argument("--tuner", help="search algorithm: random, hyperband, bayesian or grid (default: tune.tuner)")
    parser.add_argument("--max-trials", type=int, metavar="N",
                        help="trials to run (random, bayesian, grid); a cap for hyperband (default: tune.max_trials)")
    parser.add_argument("--objective",
                        help="what to optimize: val_accuracy, val_loss, accuracy or loss (default: tune.objective)")
    parser.add_argument("--seed", type=int, help="the tuner's sampling seed (default: the experiment's seed)")
    parser.add_argument("--executions-per-trial", type=int, metavar="N",
                        help="train each trial N times and average (default: 1)")
    parser.add_argument("--name", help="the search's folder under saved_models/<EXPERIMENT>/tune/ (default: the tuner's name)")
    parser.add_argument("--overwrite", action="store_true", help="delete an earlier search of that name and start afresh")
    parser.add_argument("--retrain", action="store_true",
                        help="afterwards, train the best config into a normal run folder saved_models/<EXPERIMENT>/<run-id>/")
    parser.add_argument("--distributed", choices=["chief", "worker"],
                        help="keras-tuner's distributed mode: the chief serves trials over gRPC, workers run them")
    parser.add_argument("--oracle", metavar="HOST:PORT", help="the chief's address, with --distributed")
    add_set_argument(parser, help="override a config value for every trial, e.g. train.epochs=3 (repeatable)")
    parser.add_argument("--verbose", type=int, choices=[0, 1, 2], default=0,
                        help="Keras output within a trial: 0 none (default), 1 progress bar, 2 a line per epoch")
    add_location_arguments(parser)
    add_common_arguments(parser)
    return parser


FLAG_KEYS = {
    "tuner": "tune.tuner",
    "max_trials": "tune.max_trials",
    "objective": "tune.objective",
    "seed": "tune.seed",
    "executions_per_trial": "tune.executions_per_trial",
}


def main(argv):
    parser = build_parser()
    args = parse(parser, argv)
    if bool(args.distributed) != bool(args.oracle):
        parser.error("--distributed and --oracle HOST:PORT go together")

    flags = [f"{key}={getattr(args, flag)}" for flag, key in FLAG_KEYS.items() if getattr(args, flag) is not None]
    config = experiment_config(parser, args, flags)
    from kerasapps.search import search

    search(
        config,
        name=args.name,
        data_dir=args.data_dir,
        runs_dir=args.runs_dir,
        overwrite=args.overwrite,
        retrain=args.retrain,
        distributed=args.distributed,
        oracle=args.oracle,
        verbose=args.verbose,
    )
    return 0


if __name__ == "__main__":
    run_main(main)
