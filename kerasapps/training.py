"""Train, evaluate and save one experiment: the library behind `python -m kerasapps.train`.

    config = load_config("lenet", overrides=["train.epochs=3"])
    run_dir, metrics = train_and_evaluate(config, data_dir="../shared/data")

A run writes into a fresh folder `saved_models/<experiment>/<run-id>/`:
config.yaml (resolved, written first), history.csv, tensorboard/, best.keras,
model.keras, metrics.json, curves.png, labels.txt and any dataset assets.
Files are written under temporary names and renamed, so an interrupted run
never leaves a half-written model; `resume=True` continues the newest
unfinished run of the experiment from its last completed epoch.
"""

import math
import os
import pathlib
import platform
import sys
import time

import keras
import numpy as np
import tensorflow as tf

import kerasapps
from kerasapps import runs
from kerasapps.cli import TrainingDiverged
from kerasapps.config import config_from_dict, read_yaml, save_config
from kerasapps.data import load_dataset, make_pipeline, split_validation
from kerasapps.errors import UserError
from kerasapps.plots import plot_history
from kerasapps.registry import build_model

# --- pieces that tune and export reuse --------------------------------------------


def seed_everything(seed):
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def prepare_data(config, *, data_dir=None, log=print):
    """Load the experiment's dataset and split off validation.

    `data.limit_train` / `data.limit_test` keep a random subset of each split.
    Returns (dataset, (x_train, y_train), (x_val, y_val)); the test arrays stay in
    `dataset` for the final evaluation only.
    """
    dataset = load_dataset(
        config.data.name,
        data_dir=data_dir,
        fallback=config.data.fallback,
        options=config.data.options,
        log=log,
    )
    rng = np.random.default_rng(config.seed)
    for split, limit in (("train", config.data.limit_train), ("test", config.data.limit_test)):
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if limit and limit < len(x):
            keep = np.sort(rng.choice(len(x), limit, replace=False))
            setattr(dataset, f"x_{split}", x[keep])
            setattr(dataset, f"y_{split}", y[keep])
    train, val = split_validation(dataset.x_train, dataset.y_train, config.data.validation_split, config.seed)
    return dataset, train, val


def prepare_run_data(run_dir, *, data_dir=None, log=print):
    """The saved config of run folder `run_dir` and its data, as `prepare_data` returns them.

    The dataset is the one the run actually trained on (a fallback, perhaps), with
    the same options and, through the seed, the same subsets if data.limit_* were set.
    Returns (config, dataset, (x_train, y_train), (x_val, y_val)).
    """
    from kerasapps.data import dataset_options

    run_dir = pathlib.Path(run_dir)
    config = config_from_dict(read_yaml(run_dir / "config.yaml"), where=str(run_dir / "config.yaml"))
    trained_on = runs.read_metrics(run_dir)["dataset"]["name"]
    if trained_on != config.data.name:
        config.data.name, config.data.fallback = trained_on, None
        config.data.options = {k: v for k, v in config.data.options.items() if k in dataset_options(trained_on)}
    dataset, train, val = prepare_data(config, data_dir=data_dir, log=log)
    return config, dataset, train, val


def build_experiment_model(config, dataset_info):
    """Build the config's model with the shapes the data fixes (input shape, classes...)."""
    if config.train.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        return build_model(config.model.name, **{**dataset_info.model_kwargs, **config.model.args})
    finally:
        keras.mixed_precision.set_global_policy("float32")


def make_learning_rate(config, steps_per_epoch):
    """The optimizer's learning rate: a float or a Keras schedule over training steps."""
    lr, sched = config.optimizer.learning_rate, config.schedule
    total = steps_per_epoch * config.train.epochs
    warmup = steps_per_epoch * sched.warmup_epochs
    if sched.name == "cosine":
        if warmup:
            return keras.optimizers.schedules.CosineDecay(
                0.0, max(total - warmup, 1), warmup_target=lr, warmup_steps=warmup
            )
        return keras.optimizers.schedules.CosineDecay(lr, total)
    if sched.name == "step":
        boundaries = [int(b * total) for b in sched.boundaries]
        values = [lr * sched.factor**i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    return lr


def make_optimizer(config, steps_per_epoch):
    """A Keras optimizer from the config's optimizer and schedule sections."""
    opt = config.optimizer
    common = {
        "learning_rate": make_learning_rate(config, steps_per_epoch),
        "clipnorm": opt.clipnorm,
        "clipvalue": opt.clipvalue,
        "weight_decay": opt.weight_decay or None,
    }
    if opt.name == "sgd":
        return keras.optimizers.SGD(momentum=opt.momentum, nesterov=opt.nesterov, **common)
    if opt.name == "rmsprop":
        return keras.optimizers.RMSprop(momentum=opt.momentum, **common)
    if opt.name == "adamw":
        common["weight_decay"] = opt.weight_decay
        return keras.optimizers.AdamW(**common)
    return keras.optimizers.Adam(**common)


def compile_model(model, config, steps_per_epoch):
    """Compile with the config's optimizer; the loss follows the output (1 unit: binary)."""
    binary = model.output_shape[-1] == 1
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=config.train.steps_per_execution,
    )
    return model


def predicted_classes(scores):
    """Class indices from model outputs: argmax, or a 0.5 threshold for one sigmoid unit."""
    scores = np.asarray(scores)
    return (scores[:, 0] > 0.5).astype(int) if scores.shape[-1] == 1 else scores.argmax(axis=-1)


def fit_verbosity():
    """A live progress bar on a terminal, one line per epoch in logs and CI."""
    return 1 if sys.stdout.isatty() else 2


# --- the run ----------------------------------------------------------------------


def train_and_evaluate(config, *, data_dir=None, runs_dir=None, resume=False, verbose=None, log=print):
    """Train `config`'s model, evaluate it on the test split and save the run.

    Args:
        config: a validated `ExperimentConfig`.
        data_dir: local dataset folder (else $KERASAPPS_DATA_DIR, then TFDS).
        runs_dir: root of run folders (else $KERASAPPS_RUNS_DIR or ./saved_models).
        resume: continue the newest unfinished run of this experiment, with its saved config.
        verbose: Keras fit verbosity (default: progress bar on a terminal, else a line per epoch).
        log: where progress lines go.

    Returns:
        (run_dir, metrics dict) - the same metrics as run_dir/metrics.json.

    Raises:
        UserError: bad config or data, or nothing to resume.
        TrainingDiverged: the loss became NaN.
    """
    if resume:
        run_dir = runs.unfinished_run(config.name, runs_dir)
        if run_dir is None:
            raise UserError(
                f"Nothing to resume: experiment {config.name!r} has no unfinished run under {runs.runs_root(runs_dir)}."
            )
        config = config_from_dict(read_yaml(run_dir / "config.yaml"), where=str(run_dir / "config.yaml"))
        log(f"Resuming {run_dir} with its saved config.")
    else:
        run_dir = runs.new_run_dir(config.name, runs_dir)
        save_config(config, run_dir / "config.yaml")

    seed_everything(config.seed)
    dataset, (x_train, y_train), (x_val, y_val) = prepare_data(config, data_dir=data_dir, log=log)
    model = build_experiment_model(config, dataset.info)
    steps_per_epoch = math.ceil(len(x_train) / config.train.batch_size)
    compile_model(model, config, steps_per_epoch)
    log(
        f"Training {config.model.name} ({model.count_params():,} parameters) on {dataset.info.name} "
        f"[{dataset.info.source}]: {len(x_train):,} train / {len(x_val):,} validation / "
        f"{len(dataset.x_test):,} test examples, {config.train.epochs} epochs. Run folder: {run_dir}"
    )

    train_ds = make_pipeline(
        x_train, y_train, batch_size=config.train.batch_size, shuffle=True, seed=config.seed,
        augment=dataset.augment,
    )
    val_ds = make_pipeline(x_val, y_val, batch_size=config.train.batch_size) if len(x_val) else None
    start = time.perf_counter()
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.train.epochs,
        callbacks=make_callbacks(config, run_dir, has_validation=val_ds is not None, resume=resume),
        verbose=fit_verbosity() if verbose is None else verbose,
        shuffle=False,  # the pipeline shuffles; Keras would only warn
    )
    train_time = time.perf_counter() - start
    _raise_if_diverged(history, config, run_dir)

    test_loss, test_accuracy = model.evaluate(
        make_pipeline(dataset.x_test, dataset.y_test, batch_size=config.train.batch_size), verbose=0
    )
    _save_model(model, run_dir / runs.MODEL_FILE)
    epochs_done = len(history.epoch)
    metrics = {
        "experiment": config.name,
        "run_dir": str(run_dir),
        "model": config.model.name,
        "parameters": int(model.count_params()),
        "dataset": dataset.info.to_dict(),
        "examples": {"train": len(x_train), "validation": len(x_val), "test": len(dataset.x_test)},
        "epochs": _completed_epochs(run_dir),
        "epochs_this_session": epochs_done,
        "train_time_s": round(train_time, 2),
        "train_examples_per_s": round(len(x_train) * epochs_done / train_time, 1) if epochs_done else None,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "seed": config.seed,
        "versions": library_versions(),
    }
    _write_outputs(run_dir, metrics, dataset)
    log(f"Test accuracy: {test_accuracy:.2%} (loss {test_loss:.4f}). Saved {run_dir}")
    return run_dir, metrics


def make_callbacks(config, run_dir, *, has_validation, resume):
    """Backup for --resume, CSV history, stop on NaN, and the optional ones from the config."""
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resume),
        StopOnNaN(),
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
    loss: that costs LeNet about 15% of its speed. One check an epoch is enough
    to stop a diverged run and say so.
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.model.stop_training = True


def _raise_if_diverged(history, config, run_dir):
    losses = history.history.get("loss", [])
    if any(not np.isfinite(v) for v in losses):
        raise TrainingDiverged(
            f"training stopped at epoch {len(losses)}: the loss became NaN. Lower optimizer.learning_rate "
            f"(now {config.optimizer.learning_rate}) or set optimizer.clipnorm; {run_dir} keeps the history."
        )


def _completed_epochs(run_dir):
    with open(run_dir / "history.csv") as f:
        return max(sum(1 for _ in f) - 1, 0)


def _save_model(model, path):
    tmp = path.with_name(".partial-" + path.name)
    model.save(tmp)
    os.replace(tmp, path)


def _write_outputs(run_dir, metrics, dataset):
    (run_dir / "labels.txt").write_text("\n".join(dataset.info.class_names) + "\n")
    for name, text in dataset.assets.items():
        (run_dir / name).write_text(text, encoding="utf-8")
    plot_history(run_dir / "history.csv", run_dir / "curves.png", title=f"{metrics['experiment']}: {metrics['model']}")
    runs.write_json(run_dir / runs.METRICS_FILE, metrics)
    runs.mark_latest(run_dir)


def library_versions():
    """Versions that make a result reproducible, and the machine it ran on."""
    return {
        "kerasapps": kerasapps.__version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
    }
