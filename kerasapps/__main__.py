"""`kerasapps COMMAND ...` (and `python -m kerasapps COMMAND ...`): one door to every command.

Each command is a module of `kerasapps.commands` with its own --help; the table
below is the only list of commands.
"""

import importlib
import sys

from kerasapps import __version__
from kerasapps.commands.cli import run_main

COMMANDS = {  # name (a module of kerasapps.commands with main(argv)) -> one line of help
    "train": "train, evaluate and save an experiment (configs/<name>.yaml)",
    "evaluate": "confusion matrix and per-class report of a finished run",
    "launch": "train in N local processes, data-parallel (JAX backend)",
    "tune": "keras-tuner search over an experiment's tune.space",
    "export": "SavedModel and TFLite (LiteRT) files of a run, each checked",
    "predict": "classify image files or texts with a run or a .tflite file",
    "serve": "the web app of an export: classify in the browser with MediaPipe",
    "models": "the registered models: parameters, MACs, layer tables",
    "lab": "the course notes' convolution examples, computed by Keras layers and drawn",
    "visualize": "pictures of a trained run: first-layer filters, feature maps, LSTM state",
    "compare": "TensorFlow vs PyTorch on the same network: training and deployment",
}


def usage():
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {summary}" for name, summary in COMMANDS.items()]
    return (
        "usage: kerasapps COMMAND [ARGS...]\n\n"
        "Train, tune and deploy the classic networks of a deep-learning course.\n\ncommands:\n"
        + "\n".join(lines)
        + "\n\n`kerasapps COMMAND --help` explains each; `kerasapps train lenet` is the place to start."
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"kerasapps {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"error: unknown command {argv[0]!r}. Commands are: {', '.join(COMMANDS)}.", file=sys.stderr)
        return 2
    run_main(importlib.import_module(f"kerasapps.commands.{argv[0]}").main, argv[1:])


if __name__ == "__main__":
    sys.exit(main())
