"""The keras-tuner HyperModel of an experiment: a trial is the experiment's config with the trial's values."""

import time

import keras_tuner
import numpy as np

from kerasapps.config import OBJECTIVES
from kerasapps.errors import TrainingDiverged
from kerasapps.search.space import config_for, is_active
from kerasapps.training import build_and_compile, fit


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
        return build_and_compile(self.trial_config(hp), self.dataset_info, self.num_train)

    def fit(self, hp, model, *, train, validation, epochs=None, initial_epoch=0, callbacks=(), fit_verbose=0):
        """Train one trial; Hyperband passes `epochs`/`initial_epoch`, else the config's `train.epochs`.

        Raises:
            keras_tuner.errors.FailedTrialError: the loss became NaN (the trial is recorded as failed).
        """
        config = self.trial_config(hp)
        start = time.perf_counter()
        try:
            history = fit(
                model, config, train, validation, augment=self.augment, callbacks=callbacks, epochs=epochs,
                initial_epoch=initial_epoch, verbose=fit_verbose,
            )
        except TrainingDiverged as error:
            raise keras_tuner.errors.FailedTrialError(str(error)) from None
        seconds = time.perf_counter() - start
        logs = history.history
        if self.objective.name not in logs:
            raise keras_tuner.errors.FatalValueError(
                f"objective {self.objective.name!r} is not among the logged metrics {sorted(logs)}."
            )
        values = logs[self.objective.name]
        best = int(np.argmax(values) if self.objective.direction == "max" else np.argmin(values))
        results = {name: float(series[best]) for name, series in logs.items() if name != "learning_rate"}
        results.update(epochs=len(history.epoch), seconds=round(seconds, 2))
        self.report(hp, results)
        return results

    def report(self, hp, results):
        """Log one line for a finished trial: its objective, epochs, time and settings."""
        settings = ", ".join(f"{e.key}={hp.values[e.key]}" for e in self.entries if e.key in hp.values and is_active(e, hp.values))
        self.log(f"trial done: {self.objective.name}={results[self.objective.name]:.4f} "
                 f"({results['epochs']} epochs, {results['seconds']:.1f} s) with {settings}")


