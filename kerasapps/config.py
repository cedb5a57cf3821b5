"""Experiment configs: defaults, then a YAML file, then --set overrides, then validation.

    config = load_config("lenet", overrides=["train.epochs=3"])

A YAML file names only what differs from the defaults below; an unknown key is an
error, and so is a `--set` value whose type does not match the field it sets.
`model.args` and `data.options` are checked against the keyword arguments of the
model builder and dataset loader they are passed to, by the registry's one
check (`Registry.check_arguments`). The resolved config is saved with every run
(`save_config`); `load_run_config` reads it back. The `tune` section (a search space over
the other keys) is read only by `kerasapps tune` (kerasapps/search/),
which sets each trial's values with `set_value`, the typed path of `--set`.
"""

import dataclasses
import importlib.resources
import pathlib
import types
import typing

import yaml

from kerasapps import runs, settings
from kerasapps.data import DATASETS
from kerasapps.errors import UserError, check_at_least, check_choice, check_positive_number
from kerasapps.models import MODELS

BUNDLED_CONFIGS = importlib.resources.files("kerasapps") / "configs"  # shipped inside the package


# --- schema -----------------------------------------------------------------------


@dataclasses.dataclass
class ModelConfig:
    name: str = "lenet5"
    args: dict = dataclasses.field(default_factory=dict)  # keyword arguments of the builder


@dataclasses.dataclass
class DataConfig:
    name: str = "mnist"
    fallback: str | None = None  # dataset to use when `name` cannot be had
    validation_split: float = 0.1  # carved from the training split
    limit_train: int | None = None  # use a random subset of this many training examples (quick runs)
    limit_test: int | None = None  # and of this many test examples
    options: dict = dataclasses.field(default_factory=dict)  # keyword options of the loader


@dataclasses.dataclass
class OptimizerConfig:
    name: str = "adam"  # adam | adamw | sgd | rmsprop
    learning_rate: float = 1e-3
    momentum: float = 0.0  # sgd and rmsprop
    nesterov: bool = False  # sgd
    weight_decay: float = 0.0  # decoupled weight decay, as Keras optimizers apply it
    clipnorm: float | None = None  # clip each gradient to this L2 norm
    clipvalue: float | None = None  # clip each gradient element to [-v, v]


@dataclasses.dataclass
class ScheduleConfig:
    name: str = "constant"  # constant | cosine | step
    warmup_epochs: int = 0  # cosine or constant: linear warm-up from 0 over this many epochs
    boundaries: list = dataclasses.field(default_factory=lambda: [0.5, 0.75])  # step: fractions of training
    factor: float = 0.1  # step: multiply the rate by this at each boundary


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    steps_per_execution: int = 1  # batches per compiled call: fewer Python round trips
    mixed_precision: bool | str = False  # bfloat16 compute, float32 weights; "auto": a GPU's half precision
    bucket_by_length: bool = False  # token sequences: batch similar lengths, cut each batch to its longest
    inter_op_threads: int = 0  # TensorFlow ops run side by side; 0: TensorFlow's default, one per core
    # TensorFlow: batch norm in wider passes, LeNet's C5 as one matrix product (models.batch_norm,
    # models.full_map_conv; bench/bench_speed.py measures them); saved models hold Keras's own layers
    fast_layers: bool = True


@dataclasses.dataclass
class CallbacksConfig:
    checkpoint: bool = True  # keep the best model by validation accuracy as best.keras
    early_stopping_patience: int = 0  # epochs without val improvement before stopping; 0 = never
    tensorboard: bool = True  # logs under the run folder's tensorboard/
    # Test accuracies to time: after each epoch the test split is evaluated (not counted in the
    # time, never used to choose) and metrics.json records when each was first reached.
    time_to_accuracy: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TuneConfig:
    space: dict = dataclasses.field(default_factory=dict)  # dotted config key -> entry; see kerasapps/search/space.py
    tuner: str = "random"  # random | hyperband | bayesian | grid
    objective: str = "val_accuracy"  # val_accuracy | val_loss | accuracy | loss
    max_trials: int = 10  # trials of random, bayesian and grid; a cap for hyperband
    executions_per_trial: int = 1  # trainings per trial, averaged
    hyperband_factor: int = 3  # hyperband: keep 1/factor of the trials per round
    seed: int | None = None  # the tuner's sampling seed; None: the experiment's seed


@dataclasses.dataclass
class ExportConfig:
    representative_size: int = 200  # training examples that calibrate the int8 TFLite file


@dataclasses.dataclass
class ExperimentConfig:
    name: str = "experiment"
    seed: int = 0
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    callbacks: CallbacksConfig = dataclasses.field(default_factory=CallbacksConfig)
    tune: TuneConfig = dataclasses.field(default_factory=TuneConfig)  # used by kerasapps.tune only
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)  # used by kerasapps.export only

    def to_dict(self):
        return _plain(dataclasses.asdict(self))


OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step")
TUNERS = ("random", "hyperband", "bayesian", "grid")
OBJECTIVES = {"val_accuracy": "max", "val_loss": "min", "accuracy": "max", "loss": "min"}  # name -> direction


# --- locating and reading files ---------------------------------------------------


def config_dirs():
    """Folders searched for `<experiment>.yaml`, first match wins: $KERASAPPS_CONFIG_DIR,
    ./configs (the user's own experiments), then the experiments bundled with the package."""
    dirs = [settings.config_dir(), "configs", pathlib.Path(str(BUNDLED_CONFIGS))]
    seen, result = set(), []
    for d in dirs:
        if d and pathlib.Path(d).is_dir() and pathlib.Path(d).resolve() not in seen:
            seen.add(pathlib.Path(d).resolve())
            result.append(pathlib.Path(d))
    return result


def list_experiments():
    """Experiment names that have a YAML file in the config folders."""
    return sorted({p.stem for d in config_dirs() for p in d.glob("*.yaml")})


def find_config(experiment):
    """Path of the YAML file of `experiment`; raises `UserError` listing the known ones."""
    for d in config_dirs():
        path = d / f"{experiment}.yaml"
        if path.is_file():
            return path
    where = ", ".join(str(d) for d in config_dirs()) or "no configs/ folder found"
    raise UserError(
        f"Unknown experiment {experiment!r}. Experiments in {where}: {', '.join(list_experiments()) or 'none'}. "
        f"Use --config PATH for a file elsewhere."
    )


def experiments_setting_model_args(model_name):
    """The experiments whose YAML file builds `model_name` with `model.args` of its own (a broken
    experiment file is skipped: it is `train`'s to report)."""
    users = []
    for experiment in list_experiments():
        try:
            model = read_yaml(find_config(experiment)).get("model")
        except UserError:
            continue
        if isinstance(model, dict) and model.get("name") == model_name and model.get("args"):
            users.append(experiment)
    return users


def read_yaml(path):
    """Parse a YAML mapping; syntax errors name the file and line."""
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except OSError as error:
        raise UserError(f"Cannot read config {path}: {error.strerror}.") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise UserError(f"Bad YAML in {where}: {error.problem}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"Config {path} must be a YAML mapping of sections, not a {type(data).__name__}.")
    return data


# --- building the typed config ----------------------------------------------------


def load_config(experiment=None, *, path=None, overrides=()):
    """Resolve an experiment's config: defaults <- the experiment's YAML <- the file at `path` <- `overrides`.

    Args:
        experiment: a name in configs/.
        path: a YAML file anywhere: the whole config, or with `experiment` what differs from it
            (`train lenet --config wide.yaml`: lenet's settings with wide.yaml's over them).
        overrides: dotted `key=value` strings; values are parsed as YAML.

    Returns:
        A validated `ExperimentConfig`.

    Raises:
        UserError: unknown experiment, bad YAML, unknown key, wrong type, bad value.
    """
    files = [find_config(experiment)] if experiment else []
    files += [pathlib.Path(path)] if path else []
    data = {"name": experiment or files[-1].stem}
    for file in files:
        data = _merged(data, read_yaml(file))
    config = _from_dict(ExperimentConfig, data, where=" with ".join(map(str, files)))
    for override in overrides:
        apply_override(config, override)
    validate(config)
    return config


def _merged(base, over):
    """`base` with `over`'s keys over it, section by section (a YAML file's nested dicts). A section
    that names another model or dataset, and a search space, replace the base's whole."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict) and key != "space":
            merged[key] = _merged(below, value) if value.get("name", below.get("name")) == below.get("name") else value
        else:
            merged[key] = value
    return merged


def config_from_dict(data, *, where="config"):
    """An `ExperimentConfig` from a plain dict (a saved config.yaml, say), validated."""
    config = _from_dict(ExperimentConfig, dict(data), where=where)
    validate(config)
    return config


def _from_dict(cls, data, *, where, prefix=""):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = prefix + unknown[0]
        raise UserError(
            f"Unknown config key {key!r} in {where}. Keys of {prefix.rstrip('.') or 'the top level'} are: "
            f"{', '.join(fields)}."
        )
    kwargs = {}
    for name, value in data.items():
        field_type = _field_types(cls)[name]
        if dataclasses.is_dataclass(field_type):
            if not isinstance(value, dict):
                raise UserError(f"Config key {prefix + name!r} in {where} must be a mapping of its own keys.")
            kwargs[name] = _from_dict(field_type, value, where=where, prefix=f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, field_type, key=prefix + name)
    return cls(**kwargs)


def _field_types(cls):
    return typing.get_type_hints(cls)


def _coerce(value, annotation, *, key):
    """Check `value` against a field's type annotation; ints are accepted for floats."""
    allowed = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    if value is None and type(None) in allowed:
        return None
    for kind in allowed:
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is float and isinstance(value, str):
            try:  # PyYAML reads 1e-3 (no dot) as a string
                return float(value)
            except ValueError:
                pass
        if kind in (int, str, bool, list, dict) and type(value) is kind:
            return value
    names = " or ".join("null" if k is type(None) else k.__name__ for k in allowed)
    raise UserError(f"Config key {key!r} must be {names}, got {value!r} ({type(value).__name__}).")


def apply_override(config, override):
    """Apply one `--set key=value` to `config` in place, typed against the field it sets."""
    key, sep, raw = override.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(f"--set takes key=value (for example train.epochs=3), got {override!r}.")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    set_value(config, key, value)


def set_value(config, key, value):
    """Set the dotted `key` of `config` to the Python `value` in place, typed as `apply_override` types it.

    Raises:
        UserError: unknown key, a section instead of a value, or a value of the wrong type.
    """
    parts = key.split(".")
    target = config
    for i, part in enumerate(parts):
        if isinstance(target, dict):
            _set_free_key(config, parts[:i], ".".join(parts[i:]), value, key)
            return
        fields = {f.name for f in dataclasses.fields(target)}
        if part not in fields:
            path = ".".join(parts[:i]) or "the top level"
            raise UserError(f"Unknown config key {key!r}: {path} has keys {', '.join(sorted(fields))}.")
        if i == len(parts) - 1:
            annotation = _field_types(type(target))[part]
            if dataclasses.is_dataclass(annotation):
                raise UserError(f"Config key {key!r} is a section; set one of its keys, e.g. {key}.<name>=value.")
            setattr(target, part, _coerce(value, annotation, key=key))
            return
        target = getattr(target, part)


def get_value(config, key):
    """The value of the dotted `key`; for an unset `model.args.X` or `data.options.X`, its default.

    Raises:
        UserError: unknown key, or a key that names a whole section.
    """
    parts = key.split(".")
    target = config
    for i, part in enumerate(parts):
        if isinstance(target, dict):
            section, name = ".".join(parts[:i]), ".".join(parts[i:])
            registry, entry = _free_key_owner(config, section)
            registry.check_arguments(entry, {name: None}, where=section)  # an unknown name raises
            return target.get(name, registry.defaults(entry)[name])
        fields = {f.name for f in dataclasses.fields(target)}
        if part not in fields:
            path = ".".join(parts[:i]) or "the top level"
            raise UserError(f"Unknown config key {key!r}: {path} has keys {', '.join(sorted(fields))}.")
        target = getattr(target, part)
    if dataclasses.is_dataclass(target):
        raise UserError(f"Config key {key!r} is a section, not a value.")
    return target


def _set_free_key(config, section_path, name, value, key):
    """Set `model.args.X` or `data.options.X`, checked and typed against the builder's or loader's default."""
    section = ".".join(section_path)
    registry, entry = _free_key_owner(config, section)
    registry.check_arguments(entry, {name: value}, where=section)
    default = registry.defaults(entry).get(name)
    if isinstance(default, float) and isinstance(value, int):
        value = float(value)
    if isinstance(default, tuple) and isinstance(value, list):
        value = tuple(value)
    _resolve_section(config, section)[name] = value


def _resolve_section(config, section):
    target = config
    for part in section.split("."):
        target = getattr(target, part)
    return target


def _free_key_owner(config, section):
    """The registry and entry whose keyword arguments `section` ("model.args", "data.options") holds.

    Raises:
        UserError: `section` is neither.
    """
    if section == "model.args":
        return MODELS, config.model.name
    if section == "data.options":
        return DATASETS, config.data.name
    raise UserError(f"Unknown config section {section!r}: only model.args and data.options take free keys.")


# --- validation and saving --------------------------------------------------------


def validate(config):
    """Check values that a type alone cannot; raises `UserError` naming the key."""
    MODELS.get(config.model.name)
    for key in ("name", "fallback"):
        name = getattr(config.data, key)
        if name is not None:
            check_choice(f"data.{key}", name, DATASETS.names())
    MODELS.check_arguments(config.model.name, config.model.args, where="model.args")
    DATASETS.check_arguments(config.data.name, config.data.options, where="data.options")
    check_choice("optimizer.name", config.optimizer.name, OPTIMIZERS)
    check_choice("schedule.name", config.schedule.name, SCHEDULES)
    check_choice("tune.tuner", config.tune.tuner, TUNERS)
    check_choice("tune.objective", config.tune.objective, tuple(OBJECTIVES))
    check_at_least("tune.max_trials", config.tune.max_trials)
    check_at_least("tune.executions_per_trial", config.tune.executions_per_trial)
    check_at_least("tune.hyperband_factor", config.tune.hyperband_factor, 2)
    check_at_least("train.epochs", config.train.epochs)
    check_at_least("train.batch_size", config.train.batch_size)
    check_at_least("train.steps_per_execution", config.train.steps_per_execution)
    check_at_least("train.inter_op_threads", config.train.inter_op_threads, 0)
    if isinstance(config.train.mixed_precision, str):
        check_choice("train.mixed_precision", config.train.mixed_precision, ("auto",))
    check_at_least("export.representative_size", config.export.representative_size)
    for key in ("limit_train", "limit_test"):
        if getattr(config.data, key) is not None:
            check_at_least(f"data.{key}", getattr(config.data, key))
    if config.train.bucket_by_length and config.model.args.get("tbptt_steps"):
        raise UserError(
            "train.bucket_by_length cuts batches to their longest sequence, and model.args.tbptt_steps needs the "
            "full length: set one of them off."
        )
    if config.schedule.warmup_epochs and config.schedule.name == "step":
        raise UserError("schedule.warmup_epochs works with schedule.name cosine or constant: set schedule.warmup_epochs=0 for step.")
    check_positive_number("optimizer.learning_rate", config.optimizer.learning_rate)
    if not 0 <= config.data.validation_split < 1:
        raise UserError(f"data.validation_split must be in [0, 1), got {config.data.validation_split}.")
    if config.callbacks.checkpoint and config.data.validation_split == 0:
        raise UserError("callbacks.checkpoint needs a validation split: set data.validation_split > 0 or callbacks.checkpoint=false.")
    if sorted(config.schedule.boundaries) != config.schedule.boundaries or not all(
        0 < b < 1 for b in config.schedule.boundaries
    ):
        raise UserError(f"schedule.boundaries must be increasing fractions of training in (0, 1), got {config.schedule.boundaries}.")
    targets = config.callbacks.time_to_accuracy
    if not isinstance(targets, list) or not all(isinstance(t, (int, float)) and 0 < t < 1 for t in targets):
        raise UserError(f"callbacks.time_to_accuracy must be a list of accuracies in (0, 1), like [0.99, 0.993]; got {targets}.")


def model_arguments(config, model_kwargs):
    """The builder arguments of `config`'s model: what the data fixes (`model_kwargs`: input shape,
    classes, vocabulary...) with the config's `model.args` over the rest.

    Raises:
        UserError: `model.args` sets a value the data fixes to another value.
    """
    for key, fixed in model_kwargs.items():
        given = config.model.args.get(key, fixed)
        if _plain(given) != _plain(fixed):
            raise UserError(
                f"model.args.{key}={given!r} contradicts the data: {config.data.name} gives {key}={_plain(fixed)!r}. "
                f"Remove model.args.{key}: the dataset sets it."
            )
    return {**model_kwargs, **config.model.args}


def _plain(value):
    """Tuples -> lists, recursively, so that YAML and JSON dumps stay plain."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def dump_config(config):
    """The config as YAML text."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


def save_config(config, path):
    """Write the resolved config as YAML (through a temporary file, then rename)."""
    runs.write_atomic(path, dump_config(config))


def load_run_config(run_dir):
    """The saved config of a finished run folder, set to the dataset the run really trained on.

    After a fallback (MNIST -> digits, say) the run's data is the fallback's, with
    just the options it takes; through the seed, data.limit_* then select the
    same subsets again.

    Raises:
        UserError: the folder has no config.yaml or metrics.json (not a finished run).
    """
    run_dir = pathlib.Path(run_dir)
    path = run_dir / runs.CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} is not a run folder: it has no {runs.CONFIG_FILE}.")
    config = config_from_dict(read_yaml(path), where=str(path))
    trained_on = runs.read_metrics(run_dir)["dataset"]["name"]
    if trained_on != config.data.name:
        known = DATASETS.defaults(trained_on)
        config.data.name, config.data.fallback = trained_on, None
        config.data.options = {k: v for k, v in config.data.options.items() if k in known}
    return config
