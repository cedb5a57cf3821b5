"""Each trial in a fresh process: memory stays flat over a long search, and a crashed or killed trial fails alone.

TensorFlow keeps every trial's traced graphs for the life of the process (14.5 MiB
a LeNet trial, `bench/bench_tune.py memory`). Here the search process keeps only
keras-tuner's oracle, and each trial builds, trains and checkpoints its model in a
child process that exits afterwards. Children fork from a server process that
imported TensorFlow once (multiprocessing's "forkserver"), so a trial starts in
milliseconds rather than the seconds an import takes.
"""

import dataclasses
import multiprocessing
import os
import signal
import traceback

import keras_tuner
from keras_tuner.src import utils as tuner_file_utils
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

from kerasapps.data import load_experiment_data, resolve_data_dir
from kerasapps.search.hypermodel import ExperimentHyperModel
from kerasapps.training import seed_everything

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload([__name__])  # the server imports TensorFlow and keras-tuner once


@dataclasses.dataclass
class TrialJob:
    """What a trial's process needs: everything is re-read from files, nothing shared."""

    config: object
    entries: list
    data_dir: str | None
    hyperparameters: dict  # keras_tuner.HyperParameters.get_config()
    fit_kwargs: dict  # epochs, initial_epoch, fit_verbose
    checkpoint: str  # where the best epoch's weights go (Hyperband continues from them)
    build_config: str
    previous: tuple | None  # (checkpoint, build_config) of the trial Hyperband continues


class TrialsInProcesses:
    """A keras-tuner `Tuner` mixin: each `_build_and_fit_model` runs in its own process.

    Set `trial_data_dir` (the data folder the trials load from) before searching.
    keras-tuner's per-epoch callbacks stay out of the child (they talk to the oracle,
    which lives here): the trial reports its results once, at its end.
    """

    trial_data_dir = None

    def _build_and_fit_model(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        fit_kwargs = {k: v for k, v in kwargs.items() if k in ("epochs", "initial_epoch", "fit_verbose")}
        previous = None
        if "tuner/trial_id" in hp.values:
            past = hp.values["tuner/trial_id"]
            previous = (_absolute(self._get_checkpoint_fname(past)), _absolute(self._get_build_config_fname(past)))
        job = TrialJob(
            config=self.hypermodel.config, entries=self.hypermodel.entries,
            data_dir=_absolute(resolve_data_dir(self.trial_data_dir)),
            hyperparameters=hp.get_config(), fit_kwargs=fit_kwargs,
            checkpoint=_absolute(self._get_checkpoint_fname(trial.trial_id)),
            build_config=_absolute(self._get_build_config_fname(trial.trial_id)), previous=previous,
        )
        results = run_in_process(job)
        self.hypermodel.report(hp, results)
        return results


def _absolute(path):
    """The trial's process started in the server's folder and with its environment: pass absolute paths."""
    return None if path is None else os.path.abspath(path)


def tuner_class(base):
    """`base` (a keras-tuner Tuner class) with its trials in fresh processes."""
    return type(f"{base.__name__}InProcesses", (TrialsInProcesses, base), {})


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
            model.build_from_config(tuner_file_utils.load_json(build_config))
            model.load_weights(checkpoint)
        results = hypermodel.fit(
            hp, model, train=train, validation=validation,
            callbacks=[SaveBestEpoch(hypermodel.objective, job.checkpoint)], **job.fit_kwargs,
        )
        tuner_file_utils.save_json(job.build_config, model.get_build_config())
        send.send(("ok", results))
    except keras_tuner.errors.FailedTrialError as error:
        send.send(("failed", str(error)))
    except keras_tuner.errors.FatalError as error:
        send.send(("fatal", str(error)))
    except Exception:  # any other error fails this trial only; the search reports it
        send.send(("error", traceback.format_exc()))
    finally:
        send.close()
