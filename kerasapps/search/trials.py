"""Each trial in a fresh process: memory stays flat over a long search, and a crashed or killed trial fails alone.

TensorFlow keeps every trial's traced graphs for the life of the process (14.5 MiB
a LeNet trial, `bench/bench_tune.py memory`). Here the search process keeps only
keras-tuner's oracle, and each trial builds, trains and checkpoints its model in a
child process that exits afterwards. Children fork from a server process that
imported TensorFlow once (multiprocessing's "forkserver"), so a trial starts in
milliseconds rather than the seconds an import takes.
"""

import dataclasses
import json
import multiprocessing
import os
import pathlib
import signal
import traceback

import keras
import keras_tuner

from kerasapps.data import load_experiment_data
from kerasapps.search.hypermodel import ExperimentHyperModel
from kerasapps.training import seed_everything

_CONTEXT = multiprocessing.get_context("forkserver")
# The server imports TensorFlow (quietly: it starts by importing modules by name, not through a command)
# and keras-tuner once.
_CONTEXT.set_forkserver_preload(["kerasapps.quiet_tensorflow", __name__])


@dataclasses.dataclass
class TrialJob:
    """What a trial's process needs: everything is re-read from files, nothing shared."""

    config: object
    entries: list
    data_dir: str | None
    hyperparameters: dict  # keras_tuner.HyperParameters.get_config()
    fit_kwargs: dict  # fit_verbose; epochs and initial_epoch from Hyperband
    files: tuple  # (checkpoint, build config) this trial writes: its best epoch's weights, its input shapes
    previous: tuple | None  # the files of the trial Hyperband continues


class TrialsInProcesses:
    """A keras-tuner `Tuner` mixin: each execution of a trial runs in its own process.

    It overrides `Tuner.run_trial`, which keras-tuner documents for custom training,
    and so handles Hyperband's "tuner/epochs", "tuner/initial_epoch" and "tuner/trial_id"
    itself, as `keras_tuner.oracles.HyperbandOracle` asks of such a `run_trial`.
    Set `trial_data_dir` (the data folder the trials load from) before searching.
    keras-tuner's per-epoch callbacks stay out of the child (they talk to the oracle,
    which lives here): the trial reports its results once, at its end.
    """

    trial_data_dir = None

    def run_trial(self, trial, *, fit_verbose=0, **_data):
        """Train `trial` `executions_per_trial` times, each in a fresh process; returns their results dicts.

        `_data` (search's train and validation arrays) stays here: the trial's process loads its own.
        """
        hp = trial.hyperparameters
        fit_kwargs = {"fit_verbose": fit_verbose}
        if "tuner/epochs" in hp.values:
            fit_kwargs.update(epochs=hp.values["tuner/epochs"], initial_epoch=hp.values["tuner/initial_epoch"])
        job = TrialJob(
            config=self.hypermodel.config, entries=self.hypermodel.entries,
            data_dir=_absolute(self.trial_data_dir),
            hyperparameters=hp.get_config(), fit_kwargs=fit_kwargs, files=trial_files(self, trial.trial_id),
            previous=trial_files(self, hp.values["tuner/trial_id"]) if "tuner/trial_id" in hp.values else None,
        )
        executions = []
        for _ in range(self.executions_per_trial):
            executions.append(run_in_process(job))
            self.hypermodel.report(hp, executions[-1])
        return executions


def tuner_class(base):
    """`base` (a keras-tuner Tuner class) with its trials in fresh processes."""
    return type(f"{base.__name__}InProcesses", (TrialsInProcesses, base), {})


def _absolute(path):
    """The trial's process started in the server's folder and with its environment: pass absolute paths."""
    return None if path is None else os.path.abspath(path)


# --- keras-tuner beyond its documented API -------------------------------------------
# Where a trial's files go is the one thing these trials take from keras-tuner that it
# does not document: the folder is `Tuner.get_trial_dir`'s (public in name, absent from
# the docs), and the names are those keras-tuner's own `Tuner` uses (its private
# `_get_checkpoint_fname` and `_get_build_config_fname`), so that its `load_model` and
# `get_best_models`, in-process trials and search folders written before read the same files.
# test_tune.py's test_the_keras_tuner_internals_trials_rely_on fails the day they change.
CHECKPOINT_FILE = "checkpoint.weights.h5"
BUILD_CONFIG_FILE = "build_config.json"


def trial_files(tuner, trial_id):
    """The absolute (checkpoint, build config) paths of a trial of `tuner`; creates the trial's folder."""
    folder = os.path.abspath(tuner.get_trial_dir(trial_id))
    return os.path.join(folder, CHECKPOINT_FILE), os.path.join(folder, BUILD_CONFIG_FILE)


# --- the trial's process ------------------------------------------------------------


def run_in_process(job):
    """Run `job` in a child process and return its results dict.

    Raises:
        keras_tuner.errors.FailedTrialError: the trial failed (NaN loss), or its process died or was killed.
        keras_tuner.errors.FatalValueError: the trial cannot work (a missing objective).
        RuntimeError: any other error in the trial, with its traceback.
    """
    receive, send = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=_trial_main, args=(job, send), daemon=True)
    process.start()
    send.close()
    try:
        kind, value = receive.recv()
    except EOFError:
        process.join()
        code = process.exitcode
        how = f"was killed by signal {-code}" if code and code < 0 else f"exited with code {code}"
        raise keras_tuner.errors.FailedTrialError(f"the trial's process {how}.") from None
    except BaseException:  # Ctrl-C in the search: the trial goes with it
        process.terminate()
        raise
    finally:
        process.join()
        receive.close()
    if kind == "failed":
        raise keras_tuner.errors.FailedTrialError(value)
    if kind == "fatal":
        raise keras_tuner.errors.FatalValueError(value)
    if kind == "error":
        raise RuntimeError(value)
    return value


def _trial_main(job, send):
    """The child: build the trial's model, train it, checkpoint its best epoch, send the results."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the search's to handle: it stops this process
    try:
        seed_everything(job.config.seed)
        dataset, train, validation = load_experiment_data(job.config, data_dir=job.data_dir, log=lambda _: None)
        hypermodel = ExperimentHyperModel(job.config, job.entries, dataset, len(train[0]), log=lambda _: None)
        hp = keras_tuner.HyperParameters.from_config(job.hyperparameters)
        model = hypermodel.build(hp)
        if job.previous:
            checkpoint, build_config = job.previous
            model.build_from_config(json.loads(pathlib.Path(build_config).read_text()))
            model.load_weights(checkpoint)
        checkpoint, build_config = job.files
        objective = hypermodel.objective  # the best epoch's weights, as keras-tuner's own Tuner keeps them
        save_best = keras.callbacks.ModelCheckpoint(
            checkpoint, monitor=objective.name, mode=objective.direction, save_best_only=True, save_weights_only=True,
        )
        results = hypermodel.fit(hp, model, train=train, validation=validation, callbacks=[save_best], **job.fit_kwargs)
        pathlib.Path(build_config).write_text(json.dumps(model.get_build_config()))
        send.send(("ok", results))
    except keras_tuner.errors.FailedTrialError as error:
        send.send(("failed", str(error)))
    except keras_tuner.errors.FatalError as error:
        send.send(("fatal", str(error)))
    except Exception:  # any other error fails this trial only; the search reports it
        send.send(("error", traceback.format_exc()))
    finally:
        send.close()
