"""The callbacks of a run: backup for --resume, CSV history, the best model, the divergence check, and the
config's optional ones.

Subclassing a Keras callback reads `keras.callbacks`, so importing this module loads TensorFlow.
"""

import math

import keras

# A loss past this many times the loss of a uniform guess (ln of the number of classes, ln 2 for
# one sigmoid output) means training diverged: a model that guesses does 100 times better.
DIVERGED_FACTOR = 100


def run_callbacks(config, run_dir, *, has_validation, resume, save):
    """Backup for --resume, CSV history, and the optional ones the config asks for.

    `save(model, path)` writes a model file (`training.saving.PlainKerasCopy.save`). The
    divergence check is not among them: `training.fit.fit` adds it to every fit.
    """
    callbacks = [
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
