"""python -m kerasapps.models: the registered models as a table, or one model layer by layer.

    python -m kerasapps.models                     # every model (builds each once: ~1 min)
    python -m kerasapps.models --family resnet     # one family
    python -m kerasapps.models --name resnet20     # layer-by-layer shapes and parameters
    python -m kerasapps.models --notes             # the course notes' table beside the suite's counts
"""

import argparse
import math

from kerasapps.cli import add_common_arguments, prog, run_main

# Published parameter counts of the networks in the course notes' table of
# ILSVRC (and CIFAR) networks: name -> (year, published, where it is stated).
PUBLISHED = {
    "lenet5": (1998, "60K", "LeCun et al. 1998"),
    "alexnet": (2012, "60M", "Krizhevsky et al. 2012 (two-GPU form: groups=2)"),
    "vgg11": (2014, "133M", "Simonyan & Zisserman, Table 2 (A)"),
    "vgg13": (2014, "133M", "Simonyan & Zisserman, Table 2 (B)"),
    "vgg16": (2014, "138M", "Simonyan & Zisserman, Table 2 (D)"),
    "vgg19": (2014, "144M", "Simonyan & Zisserman, Table 2 (E)"),
    "zfnet": (2013, "-", "Zeiler & Fergus print no total (the notes: 58M)"),
    "googlenet": (2014, "6.8M", "Szegedy et al., Table 1 column sum (weights only)"),
    "resnet18": (2015, "11.7M", "torchvision (He et al. give 1.8G FLOPs, no count)"),
    "resnet34": (2015, "21.8M", "torchvision (He et al. give 3.6G FLOPs, no count)"),
    "resnet50": (2015, "25.6M", "keras.applications (He et al. give 3.8G FLOPs)"),
    "resnet152": (2015, "60.4M", "keras.applications (He et al. give 11.3G FLOPs)"),
    "resnet20": (2015, "0.27M", "He et al., Table 6"),
    "resnet32": (2015, "0.46M", "He et al., Table 6"),
    "resnet44": (2015, "0.66M", "He et al., Table 6"),
    "resnet56": (2015, "0.85M", "He et al., Table 6"),
    "resnet110": (2015, "1.7M", "He et al., Table 6"),
}


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


def count_macs(model, rows):
    """Multiply-accumulates per example (an image, a sequence) of the conv, dense and recurrent layers.

    A conv layer does one MAC per kernel weight per output position; a dense
    layer, one per kernel weight (per time step, on a sequence); a recurrent
    layer (LSTM, GRU, SimpleRNN, one inside `Bidirectional` or `TruncatedBPTT`),
    one per input and recurrent kernel weight per time step, each direction of a
    bidirectional layer counted. An axis of open length (a sequence of any length)
    counts as one step. Biases, batch norm, pooling, activations and gates'
    element-wise products are not counted.

    Args:
        model: a built Keras model.
        rows: its `geometry.layer_table` rows.

    Returns:
        The MACs as an int.
    """
    from kerasapps.lazy import keras

    total = 0
    for row in rows:
        layer = model.get_layer(row.name)
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):  # per output position or time step
            total += _weights(layer.kernel) * _steps(row.output_shape[:-1])
        elif cells := _recurrent_cells(layer):
            per_step = sum(_weights(cell.kernel) + _weights(cell.recurrent_kernel) for cell in cells)
            total += per_step * _steps(_sequence_shape(layer)[1:2])
    return total


def _weights(variable):
    return math.prod(variable.shape)


def _steps(dims):
    """Positions over `dims` (an open axis, None, counts as one)."""
    return math.prod(d or 1 for d in dims)


def _recurrent_cells(layer):
    """The recurrent cells that `layer` runs at each time step: an RNN's cell, both directions of a
    `Bidirectional`, the wrapped layer's of a wrapper (`TruncatedBPTT`); [] for any other layer."""
    from kerasapps.lazy import keras

    if isinstance(layer, keras.layers.Bidirectional):
        return _recurrent_cells(layer.forward_layer) + _recurrent_cells(layer.backward_layer)
    if isinstance(layer, keras.layers.RNN):
        return list(getattr(layer.cell, "cells", [layer.cell]))  # StackedRNNCells holds several
    inner = getattr(layer, "layer", None)
    return _recurrent_cells(inner) if isinstance(inner, keras.layers.Layer) else []


def _sequence_shape(layer):
    """The (batch, time, features) shape of the sequence a recurrent layer reads.

    `layer.input` is a list when the layer was also given a mask (Embedding(mask_zero=True)
    before it) or initial states; the sequence is its one rank-3 tensor.
    """
    from kerasapps.lazy import keras

    sequences = [t for t in keras.tree.flatten(layer.input) if len(t.shape) == 3]
    if len(sequences) != 1:
        raise ValueError(f"Layer {layer.name!r} reads {len(sequences)} rank-3 tensors; expected one sequence.")
    return tuple(sequences[0].shape)


def human(n):
    """1234567 -> '1.23M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def _parse_shape(text):
    from kerasapps.errors import UserError

    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise UserError(f"--input-shape takes H,W,C such as 32,32,3, got {text!r}.")
    return shape


def describe(name, input_shape=None):
    """One table row for model `name`: built once with its defaults (or `input_shape`)."""
    from kerasapps.geometry import layer_table
    from kerasapps.lazy import keras
    from kerasapps.models import MODELS, build_model

    entry = MODELS.get(name)
    model = build_model(name, **({"input_shape": input_shape} if input_shape else {}))
    rows = layer_table(model)
    row = {
        "name": name,
        "family": entry.family,
        "api": "Sequential" if isinstance(model, keras.Sequential) else "Functional",
        "input": "x".join(str(d) for d in model.input_shape[1:]),
        "params": model.count_params(),
        "macs": count_macs(model, rows),
    }
    keras.backend.clear_session()  # the VGGs hold over 500 MB of weights each
    return row


def configuration_note(name, input_shape=None):
    """One line saying that model `name` was built with its builder's defaults, and which experiments
    set other `model.args` for it (an experiment's numbers may then differ from this build's)."""
    from kerasapps.config import find_config, list_experiments, read_yaml
    from kerasapps.errors import UserError

    users = []
    for experiment in list_experiments():
        try:
            model = read_yaml(find_config(experiment)).get("model")
        except UserError:  # a broken experiment file is `train`'s to report, not this listing's
            continue
        if isinstance(model, dict) and model.get("name") == name and model.get("args"):
            users.append(experiment)
    built = f"built with the builder's defaults{f' and input_shape={input_shape}' if input_shape else ''}"
    if not users:
        return f"{built}; an experiment's config may set other model.args (`kerasapps train EXP --print-config`)."
    who = f"experiment {users[0]} sets" if len(users) == 1 else f"experiments {', '.join(users)} set"
    return f"{built}; {who} other model.args (`kerasapps train {users[0]} --print-config` shows them)."


def main(argv):
    args = build_parser().parse_args(argv)

    from kerasapps.errors import GeometryError, check_choice
    from kerasapps.geometry import format_table, layer_table
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
        year, published, source = PUBLISHED.get(name, ("", "", ""))
        print(
            f"{r['name']:<16}{r['family']:<11}{r['api']:<12}{r['input']:<13}{r['params']:>13,}"
            f"{human(r['macs']):>9}  {str(year):<6}{published:<10}{source}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    run_main(main)
