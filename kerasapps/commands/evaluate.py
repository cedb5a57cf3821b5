"""kerasapps evaluate RUN: re-evaluate a saved model on the test split.

Writes confusion_matrix.csv, confusion_matrix.png, classification_report.csv and
evaluation.json into the run folder. RUN is a run folder or an experiment name
(its newest finished run).
"""

import argparse

from kerasapps.commands.cli import add_common_arguments, add_location_arguments, parse, prog, run_main


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("evaluate"),
        description="Re-evaluate a saved model on its dataset's test split; write a confusion matrix (CSV and PNG)\n"
        "and a per-class precision / recall / F1 report into the run folder.",
        epilog="Examples:\n  kerasapps evaluate lenet\n  kerasapps evaluate saved_models/lenet/20260101-120000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", metavar="RUN", help="a run folder, or an experiment name for its newest run")
    add_location_arguments(parser)
    add_common_arguments(parser)
    return parser


def main(argv):
    args = parse(build_parser(), argv)
    from kerasapps.training import evaluate_run

    evaluate_run(args.run, data_dir=args.data_dir, runs_dir=args.runs_dir)
    return 0


if __name__ == "__main__":
    run_main(main)
