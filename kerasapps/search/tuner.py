"""Hyperparameter search over an experiment's own config: the library behind `kerasapps tune`.

    config = load_config("lenet", overrides=["tune.max_trials=5"])
    result = search(config, data_dir="../shared/data")
    result.best_config_path   # a complete config: kerasapps train --config PATH

The space is the `tune.space` section of the experiment's YAML (see
`kerasapps.search.space`); it is checked before any trial runs.

A search lives in `saved_models/<experiment>/tune/<name>/`: keras-tuner's state
(oracle.json, trial_*/), search_config.yaml, trials.csv, best_config.yaml and
objective.png. Running the same search again continues it.
"""

import contextlib
import dataclasses
import logging
import os
import pathlib
import socket
import time
import warnings

import keras_tuner
import pandas as pd

from kerasapps import runs, settings
from kerasapps.config import OBJECTIVES, get_value, load_config, read_yaml, save_config, set_value
from kerasapps.data import load_experiment_data
from kerasapps.errors import UserError, check_choice
from kerasapps.plots import plot_trials
from kerasapps.search.hypermodel import ExperimentHyperModel
from kerasapps.search.space import check_space, config_for, is_active, parse_space
from kerasapps.search.trials import tuner_class
from kerasapps.training import seed_everything, set_inter_op_threads, train_and_evaluate

TUNER_CLASSES = {  # one per name in config.TUNERS
    "random": keras_tuner.RandomSearch,
    "hyperband": keras_tuner.Hyperband,
    "bayesian": keras_tuner.BayesianOptimization,
    "grid": keras_tuner.GridSearch,
}
ROLES = ("chief", "worker")
TRIALS_FILE = "trials.csv"
BEST_CONFIG_FILE = "best_config.yaml"
DATA_LIMITS = ("data.limit_train", "data.limit_test")  # a search's, not the final model's
SEARCH_CONFIG_FILE = "search_config.yaml"
PLOT_FILE = "objective.png"
CHIEF_WAIT_S = 120  # how long a worker waits for the chief oracle to listen

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
           distributed=None, oracle=None, verbose=0, trial_processes=True, log=print):
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
        trial_processes: run each trial in a fresh process (`search.trials`): flat memory, and a
            crashed or killed trial fails alone. False trains every trial in this process.
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

    set_inter_op_threads(config.train.inter_op_threads, log=log)  # before TensorFlow runs an op
    seed_everything(config.seed)
    dataset, train, validation = load_experiment_data(config, data_dir=data_dir, log=log)
    check_space(config, entries, dataset.info)
    hypermodel = ExperimentHyperModel(config, entries, dataset, len(train[0]), log=log)
    log(f"Searching {len(entries)} hyperparameters of {config.name!r} with {config.tune.tuner} "
        f"({_budget(config)}) on {len(train[0]):,} train / {len(validation[0]):,} validation examples. "
        f"Folder: {folder}")
    with _distributed_env(distributed, address), _expected_warnings_silenced():
        tuner = _make_tuner(config, hypermodel, folder, overwrite=overwrite, trial_processes=trial_processes)
        tuner.trial_data_dir = data_dir
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
    log(f"Best config: {result.best_config_path}  (kerasapps train --config {result.best_config_path})")
    limits = [f"{key}={get_value(config, key)}" for key in DATA_LIMITS if get_value(config, key) is not None]
    if limits:
        log(f"It trains on the whole dataset: the search's {', '.join(limits)} are left out.")
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


def _make_tuner(config, hypermodel, folder, *, overwrite, trial_processes):
    tune = config.tune
    tuner_cls = tuner_class(TUNER_CLASSES[tune.tuner]) if trial_processes else TUNER_CLASSES[tune.tuner]
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
        tuner = tuner_cls(max_epochs=config.train.epochs, factor=tune.hyperband_factor, **kwargs)
        tuner.oracle.max_trials = tune.max_trials  # Hyperband counts brackets, not trials: cap them too
        return tuner
    return tuner_cls(max_trials=tune.max_trials, **kwargs)


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
    check_choice("--distributed", role, ROLES)
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
                    f"`kerasapps tune EXPERIMENT --distributed chief --oracle {host}:{port}` first."
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
    with settings.environment(env):
        yield


# --- results ----------------------------------------------------------------------


def trials_table(oracle, config, entries):
    """One row per trial: its number (from 1, as keras-tuner's "Trial #N" counts), its folder, status,
    objective, epochs, seconds, every hyperparameter, metrics, message."""
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
            "trial": int(trial_id) + 1,
            "folder": f"trial_{trial_id}",
            "status": trial.status,
            objective: metrics.pop(objective, None),
            "epochs": metrics.pop("epochs", None),
            "seconds": metrics.pop("seconds", None),
            **{k: values.get(k) if k in values and is_active(e, values) else None for e, k in zip(entries, hp_names)},
            **{k: values[k] for k in extra},
            **metrics,
            "message": message[-1] if message else "",
        })
    table = pd.DataFrame(rows)
    if len(table):
        # a mean over executions; a column of None only where every trial failed
        table["epochs"] = pd.to_numeric(table["epochs"]).round().astype("Int64")
    return table


def write_trials(oracle, config, entries, folder):
    """Write trials.csv and objective.png; returns the table."""
    trials = trials_table(oracle, config, entries)
    runs.write_atomic(folder / TRIALS_FILE, trials.to_csv(index=False))
    if len(trials):
        objective = config.tune.objective
        plot_trials(trials, folder / PLOT_FILE, objective, OBJECTIVES[objective],
                    title=f"{config.name}: {config.tune.tuner} search")
    return trials


def write_best_config(oracle, config, entries, folder):
    """Write the best trial's complete config as best_config.yaml and return its path: the config
    to train the final model with, so the search's `data.limit_train` and `limit_test` (a quick
    search on part of the data) are left out: it trains and tests on the whole dataset.

    Raises:
        UserError: no trial completed.
    """
    best = oracle.get_best_trials(1)
    if not best:
        raise UserError(f"No trial of the search in {folder} completed; trials.csv says why.")
    path = folder / BEST_CONFIG_FILE
    best_config = config_for(config, best[0].hyperparameters.values, entries)
    for key in DATA_LIMITS:
        set_value(best_config, key, None)
    save_config(best_config, path)
    return path


def _log_best(trials, config, entries, log, count=5):
    objective = config.tune.objective
    done = trials[trials["status"] == "COMPLETED"]
    best = done.sort_values(objective, ascending=OBJECTIVES[objective] == "min").head(count)
    failed = int((trials["status"] != "COMPLETED").sum())
    columns = [c for c in ["trial", objective, "epochs", "seconds", *(e.key for e in entries)] if c in best]
    log(f"{len(done)} trials completed, {failed} failed. Best {len(best)}:")
    log(best[columns].to_string(index=False))
