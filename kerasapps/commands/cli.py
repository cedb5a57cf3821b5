"""What every command shares: common flags, parsing, error handling.

A command parses its arguments before it imports the library (`parse`), so that
`--help` and a usage error come in a tenth of a second; the library imports Keras
and TensorFlow at the top, as any Keras code does, and `parse` has loaded them
quietly by then.
"""

import argparse
import importlib.util
import os
import sys
import traceback

from kerasapps import settings
from kerasapps.errors import TrainingDiverged, UserError


def prog(command):
    """The command's name in usage lines: `kerasapps train`."""
    return f"kerasapps {command}"


def parse(parser: argparse.ArgumentParser, argv):
    """Parse `argv`, then make ready to import the library: select the Keras backend
    (`--backend`, where the command has it) and import TensorFlow with its start-up
    chatter hidden (`settings.import_tensorflow`)."""
    args = parser.parse_args(argv)
    if hasattr(args, "backend"):  # launch has none: its processes take KERAS_BACKEND (default jax) as it is
        select_backend(args.backend)
    settings.import_tensorflow()
    return args


def add_common_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def add_location_arguments(parser: argparse.ArgumentParser):
    """--data-dir and --runs-dir, for the commands that read datasets and run folders."""
    parser.add_argument(
        "--data-dir", metavar="DIR", default=settings.data_dir(),
        help="local dataset folder (default: $KERASAPPS_DATA_DIR; with neither, TFDS)",
    )
    parser.add_argument(
        "--runs-dir", metavar="DIR", default=settings.runs_dir(),
        help="root of run folders (default: $KERASAPPS_RUNS_DIR, else saved_models)",
    )


BACKENDS = ("tensorflow", "jax")


def add_backend_argument(parser: argparse.ArgumentParser):
    parser.add_argument(
        "--backend", choices=BACKENDS,
        help="Keras backend (default: $KERAS_BACKEND, else tensorflow); jax can train across processes",
    )


def select_backend(backend):
    """Make `backend` (None: keep $KERAS_BACKEND) Keras's backend; call it before anything imports Keras.

    Raises:
        UserError: JAX is asked for but not installed, or Keras is already loaded with another backend.
    """
    if backend is None:
        backend = settings.backend()
    if backend == "jax" and importlib.util.find_spec("jax") is None:
        raise UserError("The JAX backend needs JAX: pip install 'kerasapps[jax]'.")
    loaded = sys.modules.get("keras")
    if loaded is not None and loaded.backend.backend() != backend:
        raise UserError(f"Keras is already loaded with the {loaded.backend.backend()} backend; {backend} comes too late.")
    os.environ["KERAS_BACKEND"] = backend


def add_experiment_arguments(parser: argparse.ArgumentParser):
    """EXPERIMENT (a YAML name in ./configs or the bundled configs) and --config PATH, for the commands
    that run an experiment; `experiment_config` resolves them."""
    parser.add_argument("experiment", nargs="?", help="name of a YAML file in configs/ (e.g. lenet)")
    parser.add_argument("--config", metavar="PATH", help="a config file outside configs/")


def experiment_config(parser: argparse.ArgumentParser, args, overrides=()):
    """The config that EXPERIMENT or --config names, with --set and then `overrides` applied.

    A usage error (exit 2) if neither is given; `UserError` for a bad file or value.
    """
    if not args.experiment and not args.config:
        parser.error("name an EXPERIMENT (a file in configs/) or give --config PATH")
    from kerasapps.config import load_config

    return load_config(args.experiment, path=args.config, overrides=[*args.overrides, *overrides])


def add_set_argument(parser: argparse.ArgumentParser, help):
    """The repeatable --set KEY=VALUE config override, collected in `args.overrides`."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help)


def run_main(main, argv=None):
    """Call `main(argv)` and turn expected failures into one line on stderr.

    Exit codes: 0 success, 1 training diverged, 2 bad input (a `UserError`),
    130 interrupted. With --debug the traceback is printed as well.
    """
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        code = main(argv)
    except UserError as error:
        if debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        code = 2
    except TrainingDiverged as error:
        if debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        hint = ""
        if main.__module__ == "kerasapps.commands.train":
            hint = f" `{prog('train')} EXPERIMENT --resume` continues the run from its last finished epoch."
        print(f"\ninterrupted.{hint}", file=sys.stderr)
        code = 130
    sys.exit(code or 0)
