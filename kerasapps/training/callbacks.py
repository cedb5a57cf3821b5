"""The callbacks of a run: backup for --resume, CSV history, the best model, the divergence check, and the
config's optional ones.

Subclassing a Keras callback reads `keras.callbacks`, so importing this module loads TensorFlow.
"""

import math
import time

import keras

# A loss past this many times the loss of a uniform guess (ln of the number of classes, ln 2 for
# one sigmoid output) means training diverged: a model that guesses does 100 times better.
DIVERGED_FACTOR = 100


def run_callbacks(config, run_dir, *, has_validation, resume, save, test=None):
    """Backup for --resume, CSV history, and the optional ones the config asks for.

    `save(model, path)` writes a model file (`training.saving.PlainKerasCopy.save`); `test` is the
    test split's pipeline, which `callbacks.time_to_accuracy` evaluates after each epoch (None: not). The
    divergence check is not among them: `training.fit.fit` adds it to every fit.
    """
    targets = config.callbacks.time_to_accuracy
    callbacks = [TimeToAccuracy(test, targets)] if targets and test is not None else []
    callbacks += [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resume),
    ]
    monitor = "val_accuracy" if has_validation else "accuracy"
    if config.callbacks.checkpoint:
        callbacks.append(SaveBest(save, run_dir / "best.keras", monitor))
    if config.callbacks.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode="max", patience=config.callbacks.early_stopping_patience, restore_best_weights=True
            )
        )
    if config.callbacks.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return callbacks


class SaveBest(keras.callbacks.Callback):
    """`save(model, path)` after each epoch whose `monitor` beats every earlier epoch's (Keras's
    ModelCheckpoint saves the model as it trains; ours saves what plain Keras can load)."""

    def __init__(self, save, path, monitor):
        super().__init__()
        self.save, self.path, self.monitor = save, path, monitor
        self.best = -math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value > self.best:
            self.best = value
            self.save(self.model, self.path)


class TimeToAccuracy(keras.callbacks.Callback):
    """After each epoch, the test split's accuracy (logged as `test_accuracy`) against the seconds
    of training so far; `reached` maps each of `targets` to the first (epoch, seconds) at or past it.

    The seconds run from the start of `fit` and leave out these evaluations, so they are the
    time the run would take without them. The test split never chooses anything: the best model is
    still chosen on the validation split. First among a run's callbacks, so that the CSV history
    gets the column.
    """

    def __init__(self, test, targets):
        super().__init__()
        self.test, self.targets = test, sorted(targets)
        self.epochs, self.reached = [], {}

    def on_train_begin(self, logs=None):
        self.start, self.paused = time.perf_counter(), 0.0

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.start - self.paused
        accuracy = float(self.model.evaluate(self.test, verbose=0, return_dict=True)["accuracy"])
        self.paused = time.perf_counter() - self.start - seconds
        self.epochs.append({"epoch": epoch + 1, "train_s": round(seconds, 2), "test_accuracy": accuracy})
        for target in self.targets:
            if accuracy >= target and target not in self.reached:
                self.reached[target] = {"epoch": epoch + 1, "train_s": round(seconds, 2)}
        if logs is not None:
            logs["test_accuracy"] = accuracy


def divergence_bound(num_outputs):
    """The loss past which a run has diverged: `DIVERGED_FACTOR` times a uniform guess's loss."""
    return DIVERGED_FACTOR * math.log(num_outputs if num_outputs > 1 else 2)


class StopOnDivergence(keras.callbacks.Callback):
    """Stop training after an epoch whose loss is NaN, infinite or past `bound`; `diverged` then
    holds (epoch, loss).

    Keras's TerminateOnNaN checks every batch, which makes each step wait for its
    loss: that cost LeNet about 15% of its speed. One check an epoch is enough
    to stop a diverged run and say so.
    """

    def __init__(self, bound):
        super().__init__()
        self.bound = bound
        self.diverged = None

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not (math.isfinite(loss) and loss <= self.bound):
            self.diverged = (epoch, loss)
            self.model.stop_training = True
