"""kerasapps launch --processes N train EXPERIMENT ...: data-parallel training in N local processes."""

import argparse

from kerasapps.commands.cli import add_common_arguments, experiment_config, parse, prog, run_main


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("launch"),
        description="Start N processes of `python -m kerasapps train ...` on this machine, with the\n"
        "KERAS_DISTRIBUTION_* variables set (process 0 coordinates on 127.0.0.1) and the JAX backend,\n"
        "so that they train one model data-parallel: each process takes a share of every global batch.\n"
        "Process 0's output is shown and process 0 writes the run folder. If one process fails or is\n"
        "killed, the others are stopped and the launch exits 1 (or the failed process's code).\n"
        "The same train command runs across hosts under Slurm or Kubernetes: see docs/distributed.md.",
        epilog="Examples:\n"
        "  kerasapps launch --processes 2 train lenet\n"
        "  kerasapps launch --processes 4 train resnet20 --set train.batch_size=128\n"
        "  kerasapps launch --processes 2 train resnet20 --resume    # after an interruption\n"
        "  kerasapps launch --processes 2 --timeout 3600 train lenet",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--processes", type=int, required=True, metavar="N", help="how many processes (at least 1)")
    parser.add_argument("--port", type=int, help="process 0's coordinator port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="stop every process and exit 1 after this long (default: no limit)")
    add_common_arguments(parser)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="train EXPERIMENT [train's arguments]")
    return parser


def main(argv):
    args = parse(build_parser(), argv)
    from kerasapps.processes import ProcessGroup, check_command

    check_command(args.command)
    _check_before_starting(args.command[1:], args.processes)
    return ProcessGroup(args.command, processes=args.processes, port=args.port).run(timeout=args.timeout)


def _check_before_starting(train_argv, processes):
    """The train command's config, checked here without TensorFlow, before N processes spend seconds starting
    (a --resume run's saved config is checked by the run itself, before it trains)."""
    from kerasapps.commands.train import build_parser as train_parser
    from kerasapps.processes import check_batch_size

    parser = train_parser()
    train_args = parser.parse_args(train_argv)
    if not train_args.resume:
        check_batch_size(experiment_config(parser, train_args).train.batch_size, processes)


if __name__ == "__main__":
    run_main(main)
