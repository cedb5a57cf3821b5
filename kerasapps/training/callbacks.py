"""The callbacks of a run: backup for --resume, CSV history, the NaN check, and the config's optional ones.

Subclassing a Keras callback reads `keras.callbacks`, so importing this module loads TensorFlow.
"""

import math

from kerasapps.lazy import keras


def run_callbacks(config, run_dir, *, has_validation, resume):
    """Backup for --resume, CSV history, and the optional ones the config asks for.

    The NaN check is not among them: `training.fit.fit` adds it to every fit.
    """
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resume),
    ]
    monitor = "val_accuracy" if has_validation else "accuracy"
    if config.callbacks.checkpoint:
        callbacks.append(
            keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), monitor=monitor, mode="max", save_best_only=True)
        )
    if config.callbacks.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode="max", patience=config.callbacks.early_stopping_patience, restore_best_weights=True
            )
        )
    if config.callbacks.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return callbacks


class StopOnNaN(keras.callbacks.Callback):
    """Stop training after an epoch whose loss is NaN or infinite.

    Keras's TerminateOnNaN checks every batch, which makes each step wait for its
    loss: that cost LeNet about 15% of its speed. One check an epoch is enough
    to stop a diverged run and say so.
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.model.stop_training = True
