"""The search space: the `tune.space` section of an experiment, parsed and checked before any trial.

The space is keyed by the experiment's own dotted config keys. Each entry is one of

    model.args.c1_filters: {min: 4, max: 16, step: 2}          # int range (the key holds an int)
    optimizer.learning_rate: {min: 1.0e-4, max: 1.0e-2, sampling: log}   # float range
    model.args.dropout: {min: 0.0, max: 0.5, step: 0.25}       # float range on a grid
    train.batch_size: {values: [32, 64, 128]}                  # a choice (ints, floats, strings, bools)
    model.args.kernel_size: {values: [5, 9], when: {model.args.c5: [dense]}}   # conditional

Whether a range is of ints or floats follows the value the key holds. Every entry
starts from the experiment's own value, which must lie in its space, so the
default hyperparameters are the experiment itself. A trial is the experiment
config with the trial's values set through `config.set_value` (the `--set`
path). Unknown keys, empty ranges, wrong types and values whose feature maps
vanish are errors naming the entry.
"""

import copy
import dataclasses

import keras

from kerasapps.config import get_value, set_value, validate
from kerasapps.errors import UserError
from kerasapps.training import build_experiment_model

ENTRY_KEYS = ("values", "min", "max", "step", "sampling", "when")
SAMPLINGS = ("linear", "log", "reverse_log")


@dataclasses.dataclass(frozen=True)
class SpaceEntry:
    """One tunable config key: a choice or an int/float range, optionally conditional.

    `default` is the experiment's own value of `key`; `parent`/`parent_values`
    make the entry active only while another (choice) entry takes one of those values.
    """

    key: str
    kind: str  # "choice" | "int" | "float"
    default: object
    values: tuple = ()
    min: float = 0
    max: float = 0
    step: float | None = None
    sampling: str = "linear"
    parent: str | None = None
    parent_values: tuple = ()

    def declare(self, hp):
        """Register this entry in keras-tuner's `hp` and return its value (None while inactive)."""
        condition = {"parent_name": self.parent, "parent_values": list(self.parent_values)} if self.parent else {}
        if self.kind == "choice":
            return hp.Choice(self.key, list(self.values), default=self.default, **condition)
        make = hp.Int if self.kind == "int" else hp.Float
        return make(self.key, self.min, self.max, step=self.step, sampling=self.sampling, default=self.default,
                    **condition)

    def candidates(self):
        """The values to try building before the search: every choice, a range's grid (or its ends)."""
        if self.kind == "choice":
            return list(self.values)
        if self.kind == "int" and self.sampling == "linear":
            grid = list(range(self.min, self.max + 1, self.step or 1))
            return grid if len(grid) <= 16 else [grid[0], grid[-1]]
        return [self.min, self.max]


def parse_space(config):
    """The `tune.space` of `config` as `SpaceEntry`s, in file order.

    Raises:
        UserError: an entry that is malformed, names an unknown or untunable key,
            has an empty range, mixes types, or does not contain the experiment's own value.
    """
    space = config.tune.space
    if not space:
        raise UserError(
            f"Experiment {config.name!r} has no search space: add a tune.space section to its YAML, e.g. "
            "tune: {space: {optimizer.learning_rate: {min: 1.0e-4, max: 1.0e-2, sampling: log}}}."
        )
    entries = {}
    for key, spec in space.items():
        entries[key] = _parse_entry(config, key, spec, entries)
    return list(entries.values())


def _parse_entry(config, key, spec, earlier):
    where = f"tune.space {key!r}"
    if key.split(".")[0] in ("name", "tune", "data"):
        raise UserError(
            f"{where}: {key.split('.')[0]} cannot be tuned (a search loads its data once and keeps one name). "
            "Tunable keys are those of model, optimizer, schedule, train and callbacks."
        )
    if not isinstance(spec, dict) or not spec:
        raise UserError(f"{where} must be a mapping such as {{values: [...]}} or {{min: A, max: B}}, got {spec!r}.")
    unknown = sorted(set(spec) - set(ENTRY_KEYS))
    if unknown:
        raise UserError(f"{where}: unknown entry key {unknown[0]!r}. Entry keys are: {', '.join(ENTRY_KEYS)}.")
    try:
        default = get_value(config, key)
    except UserError as error:
        raise UserError(f"{where}: {error}") from None
    parent, parent_values = _parse_condition(where, spec.get("when"), earlier)
    common = {"key": key, "default": default, "parent": parent, "parent_values": parent_values}

    if "values" in spec:
        if set(spec) - {"values", "when"}:
            raise UserError(f"{where}: a choice takes values (and when) only, got {', '.join(sorted(spec))}.")
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise UserError(f"{where}: values must be a non-empty list, got {values!r}.")
        kinds = {type(v) for v in values}
        if len(kinds) > 1 or not kinds <= {int, float, str, bool}:
            raise UserError(
                f"{where}: values must be all ints, all floats, all strings or all bools, got {values!r}."
            )
        if default not in values or type(default) is not type(values[0]):
            raise UserError(
                f"{where}: the experiment's own value {default!r} is not among values {values!r}. "
                "Every search starts from the experiment itself: add it to the list."
            )
        return SpaceEntry(kind="choice", values=tuple(values), **common)

    if "min" not in spec or "max" not in spec:
        raise UserError(f"{where}: give either values: [...] or both min and max, got {spec!r}.")
    low, high, step = spec["min"], spec["max"], spec.get("step")
    sampling = spec.get("sampling", "linear")
    numbers = [v for v in (low, high, step) if v is not None]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in numbers):
        raise UserError(f"{where}: min, max and step must be numbers, got {spec!r}.")
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        raise UserError(
            f"{where}: a range needs a numeric key, but the experiment's value is {default!r}; use values: [...]."
        )
    kind = "float" if isinstance(default, float) else "int"
    if kind == "int" and any(isinstance(v, float) for v in numbers):
        raise UserError(f"{where}: the key holds an int ({default!r}), so min, max and step must be ints, got {spec!r}.")
    if low > high:
        raise UserError(f"{where}: empty range, min={low!r} > max={high!r}.")
    if step is not None and step <= 0:
        raise UserError(f"{where}: step must be positive, got step={step!r}.")
    if sampling not in SAMPLINGS:
        raise UserError(f"{where}: unrecognized sampling={sampling!r}. Supported samplings are: {', '.join(SAMPLINGS)}.")
    if sampling != "linear" and low <= 0:
        raise UserError(f"{where}: sampling={sampling} needs min > 0, got min={low!r}.")
    if not low <= default <= high:
        raise UserError(
            f"{where}: the experiment's own value {default!r} is outside min={low!r}..max={high!r}. "
            "Every search starts from the experiment itself: widen the range."
        )
    cast = float if kind == "float" else int
    return SpaceEntry(kind=kind, min=cast(low), max=cast(high), step=None if step is None else cast(step),
                      sampling=sampling, **common)


def _parse_condition(where, when, earlier):
    if when is None:
        return None, ()
    if not isinstance(when, dict) or len(when) != 1:
        raise UserError(f"{where}: when must map one earlier choice to its values, e.g. {{optimizer.name: [sgd]}}, got {when!r}.")
    (parent, values), = when.items()
    if parent not in earlier or earlier[parent].kind != "choice":
        choices = [k for k, e in earlier.items() if e.kind == "choice"]
        raise UserError(
            f"{where}: when refers to {parent!r}, which is not a choice listed above it. "
            f"Choices above it: {', '.join(choices) or 'none'}."
        )
    values = values if isinstance(values, list) else [values]
    missing = [v for v in values if v not in earlier[parent].values]
    if not values or missing:
        raise UserError(f"{where}: when {parent} in {values!r}, but {parent} takes only {list(earlier[parent].values)!r}.")
    return parent, tuple(values)


def config_for(config, values, entries):
    """A copy of `config` with each active entry's value from `values` (keras-tuner's hp.values).

    Keys that are not entries (keras-tuner's own "tuner/epochs"...) are ignored.
    """
    trial = copy.deepcopy(config)
    for entry in entries:
        if entry.key in values and is_active(entry, values):
            set_value(trial, entry.key, values[entry.key])
    validate(trial)
    return trial


def is_active(entry, values):
    return entry.parent is None or values.get(entry.parent) in entry.parent_values


def check_space(config, entries, dataset_info):
    """Try every candidate value of every entry before a trial runs.

    Each value is set on the experiment's config (with a conditional entry's parent
    at each value that activates it), validated, and for model keys built: a type
    the key does not take, or a feature map that vanishes, is an error here.

    Raises:
        UserError: names the entry, the value and what is wrong with it.
    """
    for entry in entries:
        contexts = [{}] if entry.parent is None else [{entry.parent: v} for v in entry.parent_values]
        for context in contexts:
            for value in entry.candidates():
                values = {**context, entry.key: value}
                try:
                    trial = config_for(config, values, entries)
                    if entry.key.startswith("model."):
                        build_experiment_model(trial, dataset_info.model_kwargs)
                except UserError as error:
                    settings = ", ".join(f"{k}={v!r}" for k, v in values.items())
                    raise UserError(f"tune.space {entry.key!r}: the trial with {settings} cannot run: {error}") from None
    keras.backend.clear_session()


