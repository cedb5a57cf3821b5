"""Hyperparameter search over an experiment's own config: the library behind `python -m kerasapps.tune`.

    config = load_config("lenet", overrides=["tune.max_trials=5"])
    result = search(config, data_dir="../shared/data")
    result.best_config_path   # a complete config: python -m kerasapps.train --config PATH

The space is the `tune.space` section of the experiment's YAML, keyed by the
experiment's own dotted config keys. Each entry is one of

    model.args.c1_filters: {min: 4, max: 16, step: 2}          # int range (the key holds an int)
    optimizer.learning_rate: {min: 1.0e-4, max: 1.0e-2, sampling: log}   # float range
    model.args.dropout: {min: 0.0, max: 0.5, step: 0.25}       # float range on a grid
    train.batch_size: {values: [32, 64, 128]}                  # a choice (ints, floats, strings, bools)
    model.args.kernel_size: {values: [5, 9], when: {model.args.c5: [dense]}}   # conditional

Whether a range is of ints or floats follows the value the key holds. Every entry
starts from the experiment's own value, which must lie in its space, so the
default hyperparameters are the experiment itself. A trial is the experiment
config with the trial's values set through `config.set_value` (the `--set`
path) and built through the registry. The space is checked before any trial:
unknown keys, empty ranges, wrong types and values whose feature maps vanish
are errors naming the entry.

A search lives in `saved_models/<experiment>/tune/<name>/`: keras-tuner's state
(oracle.json, trial_*/), search_config.yaml, trials.csv, best_config.yaml and
objective.png. Running the same search again continues it.
"""

import contextlib
import copy
import dataclasses
import logging
import math
import os
import pathlib
import socket
import time
import warnings

import keras
import keras_tuner
import numpy as np
import pandas as pd

from kerasapps import runs
from kerasapps.config import OBJECTIVES, get_value, load_config, read_yaml, save_config, set_value, validate
from kerasapps.data import make_pipeline
from kerasapps.errors import UserError
from kerasapps.plots import plot_trials
from kerasapps.training import (
    StopOnNaN,
    build_experiment_model,
    compile_model,
    prepare_data,
    seed_everything,
    train_and_evaluate,
)

TUNER_CLASSES = {  # one per name in config.TUNERS
    "random": keras_tuner.RandomSearch,
    "hyperband": keras_tuner.Hyperband,
    "bayesian": keras_tuner.BayesianOptimization,
    "grid": keras_tuner.GridSearch,
}
ENTRY_KEYS = ("values", "min", "max", "step", "sampling", "when")
SAMPLINGS = ("linear", "log", "reverse_log")
ROLES = ("chief", "worker")
TRIALS_FILE = "trials.csv"
BEST_CONFIG_FILE = "best_config.yaml"
SEARCH_CONFIG_FILE = "search_config.yaml"
PLOT_FILE = "objective.png"
CHIEF_WAIT_S = 120  # how long a worker waits for the chief oracle to listen


# --- the space --------------------------------------------------------------------


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
        if entry.key in values and _is_active(entry, values):
            set_value(trial, entry.key, values[entry.key])
    validate(trial)
    return trial


def _is_active(entry, values):
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
                        build_experiment_model(trial, dataset_info)
                except UserError as error:
                    settings = ", ".join(f"{k}={v!r}" for k, v in values.items())
                    raise UserError(f"tune.space {entry.key!r}: the trial with {settings} cannot run: {error}") from None
    keras.backend.clear_session()


# --- the hypermodel ---------------------------------------------------------------


class ExperimentHyperModel(keras_tuner.HyperModel):
    """Builds and trains the experiment's model for keras-tuner, from its config.

    `build` maps the trial's hyperparameters onto a copy of the config and builds
    through the registry; `fit` trains it on the same tf.data pipeline as
    `kerasapps.train` with the trial's batch size and epochs, and returns the best
    epoch's metrics plus the epochs run and seconds taken, so that keras-tuner
    stores them with the trial (also when a worker runs it).
    """

    def __init__(self, config, entries, dataset, num_train, *, log=print):
        super().__init__(name=config.name)
        self.config = config
        self.entries = entries
        self.dataset_info = dataset.info
        self.augment = dataset.augment
        self.num_train = num_train
        self.objective = keras_tuner.Objective(config.tune.objective, OBJECTIVES[config.tune.objective])
        self.log = log

    def declare_hyperparameters(self, hp):
        """Register every entry of the space in `hp` (keras-tuner calls this before the first trial)."""
        for entry in self.entries:
            entry.declare(hp)

    def trial_config(self, hp):
        """The experiment config with this trial's values."""
        self.declare_hyperparameters(hp)
        return config_for(self.config, hp.values, self.entries)

    def build(self, hp):
        """The compiled model of this trial's config."""
        config = self.trial_config(hp)
        model = build_experiment_model(config, self.dataset_info)
        return compile_model(model, config, math.ceil(self.num_train / config.train.batch_size))

    def fit(self, hp, model, *, train, validation, epochs=None, initial_epoch=0, callbacks=(), fit_verbose=0):
        """Train one trial; Hyperband passes `epochs`/`initial_epoch`, else the config's `train.epochs`.

        Raises:
            keras_tuner.errors.FailedTrialError: the loss became NaN (the trial is recorded as failed).
        """
        config = self.trial_config(hp)
        (x, y), (x_val, y_val) = train, validation
        batch = config.train.batch_size
        start = time.perf_counter()
        history = model.fit(
            make_pipeline(x, y, batch_size=batch, shuffle=True, seed=config.seed, augment=self.augment),
            validation_data=make_pipeline(x_val, y_val, batch_size=batch) if len(x_val) else None,
            epochs=epochs or config.train.epochs,
            initial_epoch=initial_epoch,
            callbacks=[*callbacks, StopOnNaN()],
            verbose=fit_verbose,
            shuffle=False,  # the pipeline shuffles
        )
        seconds = time.perf_counter() - start
        logs = history.history
        if not all(np.isfinite(logs.get("loss", [np.nan]))):
            raise keras_tuner.errors.FailedTrialError(
                f"the loss became NaN after {len(logs.get('loss', []))} epoch(s) "
                f"(optimizer.learning_rate={config.optimizer.learning_rate})"
            )
        if self.objective.name not in logs:
            raise keras_tuner.errors.FatalValueError(
                f"objective {self.objective.name!r} is not among the logged metrics {sorted(logs)}."
            )
        values = logs[self.objective.name]
        best = int(np.argmax(values) if self.objective.direction == "max" else np.argmin(values))
        results = {name: float(series[best]) for name, series in logs.items() if name != "learning_rate"}
        results.update(epochs=len(history.epoch), seconds=round(seconds, 2))
        settings = ", ".join(f"{e.key}={hp.values[e.key]}" for e in self.entries if e.key in hp.values and _is_active(e, hp.values))
        self.log(f"trial done: {self.objective.name}={results[self.objective.name]:.4f} "
                 f"({results['epochs']} epochs, {seconds:.1f} s) with {settings}")
        return results


# --- the search -------------------------------------------------------------------


@dataclasses.dataclass
class SearchResult:
    """What a search leaves: its folder, the trials table, the best config, the retrained run."""

    tune_dir: pathlib.Path
    trials: pd.DataFrame | None = None  # None on a worker: the chief writes the results
    best_config_path: pathlib.Path | None = None
    retrain_run: pathlib.Path | None = None
    retrain_metrics: dict | None = None


def tune_dir(config, name=None, runs_dir=None):
    """`saved_models/<experiment>/tune/<name>/`; `name` defaults to the tuner's."""
    return runs.runs_root(runs_dir) / config.name / "tune" / (name or config.tune.tuner)


def search(config, *, name=None, data_dir=None, runs_dir=None, overwrite=False, retrain=False,
           distributed=None, oracle=None, verbose=0, log=print):
    """Search `config.tune.space` with `config.tune.tuner`, then write the results.

    Args:
        config: a validated `ExperimentConfig` with a `tune.space`.
        name: the search's folder name under saved_models/<experiment>/tune/ (default: the tuner's name).
        data_dir, runs_dir: as for `train_and_evaluate`.
        overwrite: delete an earlier search of that name and start afresh (else continue it).
        retrain: train the best config afterwards into a normal run folder.
        distributed: None, "chief" (serves the oracle, trains nothing) or "worker" (runs trials).
        oracle: "HOST:PORT" of the chief, with `distributed`.
        verbose: Keras fit verbosity within trials.
        log: where progress lines go.

    Returns:
        A `SearchResult`.

    Raises:
        UserError: a bad space, objective or address, a changed config on resume,
            or a search that stopped because trials kept failing.
    """
    objective = config.tune.objective
    if objective.startswith("val_") and config.data.validation_split == 0:
        raise UserError(f"tune.objective={objective} needs a validation split: set data.validation_split > 0.")
    entries = parse_space(config)
    if config.tune.tuner == "hyperband" and any(e.key == "train.epochs" for e in entries):
        raise UserError("tune.space 'train.epochs': Hyperband chooses the epochs itself, up to train.epochs; remove the entry.")
    address = _check_distributed(distributed, oracle, overwrite)
    folder = tune_dir(config, name, runs_dir)
    if not overwrite:
        _check_same_search(folder, config)

    seed_everything(config.seed)
    dataset, train, validation = prepare_data(config, data_dir=data_dir, log=log)
    check_space(config, entries, dataset.info)
    hypermodel = ExperimentHyperModel(config, entries, dataset, len(train[0]), log=log)
    log(f"Searching {len(entries)} hyperparameters of {config.name!r} with {config.tune.tuner} "
        f"({_budget(config)}) on {len(train[0]):,} train / {len(validation[0]):,} validation examples. "
        f"Folder: {folder}")
    with _distributed_env(distributed, address), _expected_warnings_silenced():
        tuner = _make_tuner(config, hypermodel, folder, overwrite=overwrite)
        if distributed != "worker":
            folder.mkdir(parents=True, exist_ok=True)  # overwrite=True has just deleted it
            save_config(config, folder / SEARCH_CONFIG_FILE)
        try:
            # `verbose` would silence keras-tuner's per-trial display too; fit gets its own.
            tuner.search(train=train, validation=validation, fit_verbose=verbose)
        except RuntimeError as error:
            if "consecutive failures" not in str(error):
                raise
            raise UserError(f"The search stopped: {str(error).splitlines()[0]} See {folder / TRIALS_FILE}.") from None
        finally:
            if distributed != "worker":
                trials = write_trials(tuner.oracle, config, entries, folder)
    if distributed == "worker":
        log(f"Worker finished; the chief writes the results to {folder}.")
        return SearchResult(folder)

    result = SearchResult(folder, trials, write_best_config(tuner.oracle, config, entries, folder))
    _log_best(trials, config, entries, log)
    log(f"Best config: {result.best_config_path}  (python -m kerasapps.train --config {result.best_config_path})")
    if retrain:
        best = load_config(path=result.best_config_path)
        result.retrain_run, result.retrain_metrics = train_and_evaluate(best, data_dir=data_dir, runs_dir=runs_dir, log=log)
    return result


@contextlib.contextmanager
def _expected_warnings_silenced():
    """Hide two warnings that every search triggers and no user can act on.

    TensorFlow warns about retracing because each trial is a new model with new
    tf.functions; Keras warns that Hyperband's continued trials load the weights
    but not the optimizer state of the trial they continue (keras-tuner saves both).
    """
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            yield
    finally:
        tf_logger.setLevel(level)


def _budget(config):
    tune = config.tune
    if tune.tuner == "hyperband":
        return f"up to {config.train.epochs} epochs a trial, factor {tune.hyperband_factor}, at most {tune.max_trials} trials"
    return f"{tune.max_trials} trials"


def _make_tuner(config, hypermodel, folder, *, overwrite):
    tune = config.tune
    kwargs = {
        "hypermodel": hypermodel,
        "objective": hypermodel.objective,
        "seed": config.seed if tune.seed is None else tune.seed,
        "executions_per_trial": tune.executions_per_trial,
        "directory": str(folder.parent),
        "project_name": folder.name,
        "overwrite": overwrite,
    }
    if tune.tuner == "hyperband":
        tuner = keras_tuner.Hyperband(max_epochs=config.train.epochs, factor=tune.hyperband_factor, **kwargs)
        tuner.oracle.max_trials = tune.max_trials  # Hyperband counts brackets, not trials: cap them too
        return tuner
    return TUNER_CLASSES[tune.tuner](max_trials=tune.max_trials, **kwargs)


def _check_same_search(folder, config):
    """On resume, the config must be the one the search started with (the trial budget may grow)."""
    saved_path = folder / SEARCH_CONFIG_FILE
    if not saved_path.is_file():
        return
    saved, current = _flatten(read_yaml(saved_path)), _flatten(config.to_dict())
    changed = sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k) and k != "tune.max_trials")
    if changed:
        key = changed[0]
        raise UserError(
            f"The search in {folder} was started with another config ({key}: {saved.get(key)!r} then, "
            f"{current.get(key)!r} now). Use --overwrite to start it afresh, or --name for a new search."
        )


def _flatten(data, prefix=""):
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "space":
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


# --- distributed mode -------------------------------------------------------------


def parse_address(address):
    """("HOST", "PORT") from "HOST:PORT"; raises `UserError` echoing a bad one."""
    host, sep, port = (address or "").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--oracle takes HOST:PORT (for example 127.0.0.1:8000), got {address!r}.")
    return host, port


def _check_distributed(role, address, overwrite):
    if role is None:
        if address:
            raise UserError("--oracle goes with --distributed chief|worker.")
        return None
    if role not in ROLES:
        raise UserError(f"Unrecognized --distributed={role!r}. Supported roles are: {', '.join(ROLES)}.")
    host, port = parse_address(address)
    if role == "worker" and overwrite:
        raise UserError("--overwrite is for the chief: a worker would delete the search the chief is running.")
    if role == "chief":
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, int(port)))
            except OSError as error:
                raise UserError(f"The chief cannot listen on {host}:{port}: {error.strerror}.") from None
    else:
        _wait_for_chief(host, int(port))
    return host, port


def _wait_for_chief(host, port, timeout=CHIEF_WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise UserError(
                    f"No chief oracle answers at {host}:{port} after {timeout} s. Start "
                    f"`python -m kerasapps.tune EXPERIMENT --distributed chief --oracle {host}:{port}` first."
                ) from None
            time.sleep(1)


@contextlib.contextmanager
def _distributed_env(role, address):
    """Set keras-tuner's KERASTUNER_* variables for the tuner's lifetime."""
    if role is None:
        yield
        return
    tuner_id = "chief" if role == "chief" else f"worker-{socket.gethostname()}-{os.getpid()}"
    env = {"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": address[0], "KERASTUNER_ORACLE_PORT": address[1]}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- results ----------------------------------------------------------------------


def trials_table(oracle, config, entries):
    """One row per trial: id, status, objective, epochs, seconds, every hyperparameter, metrics, message."""
    objective = config.tune.objective
    hp_names = [e.key for e in entries]
    rows = []
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        metrics = {name: trial.metrics.get_last_value(name) for name in trial.metrics.metrics}
        values = trial.hyperparameters.values
        extra = sorted(k for k in values if k not in hp_names)  # tuner/epochs ... from Hyperband
        message = (trial.message or "").strip().splitlines()
        rows.append({
            "trial": trial_id,
            "status": trial.status,
            objective: metrics.pop(objective, None),
            "epochs": metrics.pop("epochs", None),
            "seconds": metrics.pop("seconds", None),
            **{k: values.get(k) if k in values and _is_active(e, values) else None for e, k in zip(entries, hp_names)},
            **{k: values[k] for k in extra},
            **metrics,
            "message": message[-1] if message else "",
        })
    table = pd.DataFrame(rows)
    if len(table):
        table["epochs"] = table["epochs"].round().astype("Int64")  # a mean over executions
    return table


def write_trials(oracle, config, entries, folder):
    """Write trials.csv and objective.png; returns the table."""
    trials = trials_table(oracle, config, entries)
    tmp = folder / f".{TRIALS_FILE}.tmp"
    trials.to_csv(tmp, index=False)
    os.replace(tmp, folder / TRIALS_FILE)
    if len(trials):
        objective = config.tune.objective
        plot_trials(trials, folder / PLOT_FILE, objective, OBJECTIVES[objective],
                    title=f"{config.name}: {config.tune.tuner} search")
    return trials


def write_best_config(oracle, config, entries, folder):
    """Write the best trial's complete config as best_config.yaml and return its path.

    Raises:
        UserError: no trial completed.
    """
    best = oracle.get_best_trials(1)
    if not best:
        raise UserError(f"No trial of the search in {folder} completed; trials.csv says why.")
    path = folder / BEST_CONFIG_FILE
    save_config(config_for(config, best[0].hyperparameters.values, entries), path)
    return path


def _log_best(trials, config, entries, log, count=5):
    objective = config.tune.objective
    done = trials[trials["status"] == "COMPLETED"]
    best = done.sort_values(objective, ascending=OBJECTIVES[objective] == "min").head(count)
    failed = int((trials["status"] != "COMPLETED").sum())
    columns = [c for c in ["trial", objective, "epochs", "seconds", *(e.key for e in entries)] if c in best]
    log(f"{len(done)} trials completed, {failed} failed. Best {len(best)}:")
    log(best[columns].to_string(index=False))
