"""kerasapps models: the registered models as a table, or one model layer by layer.

    kerasapps models                     # every model (builds each once: ~1 min)
    kerasapps models --family resnet     # one family
    kerasapps models --name resnet20     # layer-by-layer shapes and parameters
    kerasapps models --notes             # the course notes' table beside the suite's counts
"""

import argparse

from kerasapps.commands.cli import add_common_arguments, parse, prog, run_main
from kerasapps.errors import UserError


def build_parser():
    parser = argparse.ArgumentParser(
        prog=prog("models"),
        description="List the registered models (family, API, input shape, parameters, "
        "multiply-accumulates per example (an image or a sequence), year and published parameters), or show one "
        "model's layer-by-layer output shapes from the geometry arithmetic.",
    )
    parser.add_argument("--name", metavar="MODEL", help="show this model layer by layer")
    parser.add_argument("--family", metavar="FAMILY", help="list only this family (lenet, vgg, resnet ...)")
    parser.add_argument(
        "--notes", action="store_true",
        help="print the course notes' table of ILSVRC networks (year, rank, top-5 error, depth, parameters) "
        "beside the suite's counts and the papers', with the notes' contradictions marked (builds each: ~1 min)",
    )  # fmt: skip
    parser.add_argument(
        "--input-shape", metavar="H,W,C", help="build with this input shape instead of the model's default"
    )
    add_common_arguments(parser)
    return parser


def human(n):
    """1234567 -> '1.23M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _parse_shape(text):
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise UserError(f"--input-shape takes H,W,C such as 32,32,3, got {text!r}.")
    return shape


def describe(name, input_shape=None):
    """One table row for model `name`: built once with its defaults (or `input_shape`)."""
    import keras

    from kerasapps.geometry import count_macs, layer_table
    from kerasapps.models import MODELS, build_model

    entry = MODELS.get(name)
    model = build_model(name, **({"input_shape": input_shape} if input_shape else {}))
    row = {
        "name": name,
        "family": entry.family,
        "api": "Sequential" if isinstance(model, keras.Sequential) else "Functional",
        "input": "x".join(str(d) for d in model.input_shape[1:]),
        "params": model.count_params(),
        "macs": count_macs(model, layer_table(model)),
    }
    keras.backend.clear_session()  # the VGGs hold over 500 MB of weights each
    return row


def configuration_note(name, input_shape=None):
    """One line saying that model `name` was built with its builder's defaults, and which experiments
    set other `model.args` for it (an experiment's numbers may then differ from this build's)."""
    from kerasapps.config import experiments_setting_model_args

    users = experiments_setting_model_args(name)
    built = f"built with the builder's defaults{f' and input_shape={input_shape}' if input_shape else ''}"
    if not users:
        return f"{built}; an experiment's config may set other model.args (`kerasapps train EXP --print-config`)."
    who = f"experiment {users[0]} sets" if len(users) == 1 else f"experiments {', '.join(users)} set"
    return f"{built}; {who} other model.args (`kerasapps train {users[0]} --print-config` shows them)."


def main(argv):
    args = parse(build_parser(), argv)
    from kerasapps.errors import GeometryError, check_choice
    from kerasapps.geometry import count_macs, format_table, layer_table
    from kerasapps.models import MODELS, build_model, list_models

    if args.notes:
        from kerasapps.course.notes import NOTES_TABLE, format_notes_table, suite_counts

        print(format_notes_table(NOTES_TABLE, [suite_counts(row) for row in NOTES_TABLE]))
        return 0
    input_shape = _parse_shape(args.input_shape) if args.input_shape else None
    if args.name:
        MODELS.get(args.name)
        model = build_model(args.name, **({"input_shape": input_shape} if input_shape else {}))
        rows = layer_table(model)
        open_length = " (an open sequence length counts one time step)" if None in model.input_shape[1:] else ""
        print(
            f"{args.name}: input {model.input_shape[1:]}, {count_macs(model, rows):,} multiply-accumulates "
            f"per example{open_length}"
        )
        print(configuration_note(args.name, input_shape))
        print(format_table(rows))
        return 0
    names = list_models()
    if args.family:
        check_choice("--family", args.family, sorted({MODELS.get(n).family for n in names}))
        names = [n for n in names if MODELS.get(n).family == args.family]
    header = f"{'name':<16}{'family':<11}{'API':<12}{'input':<13}{'params':>13}{'MACs':>9}  {'year':<6}{'published':<10}source"
    print(header)
    for name in names:
        try:
            r = describe(name, input_shape)
        except GeometryError as error:  # with --input-shape, some networks do not fit
            print(f"{name:<16}{MODELS.get(name).family:<11}does not fit: {error}", flush=True)
            continue
        facts = MODELS.get(name).facts
        print(
            f"{r['name']:<16}{r['family']:<11}{r['api']:<12}{r['input']:<13}{r['params']:>13,}"
            f"{human(r['macs']):>9}  {str(facts.get('year', '')):<6}{facts.get('published', ''):<10}"
            f"{facts.get('source', '')}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    run_main(main)
