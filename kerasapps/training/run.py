"""Train, evaluate and save one experiment: a run, the library behind `kerasapps train`.

    config = load_config("lenet", overrides=["train.epochs=3"])
    run_dir, metrics = train_and_evaluate(config, data_dir="../shared/data")

A run writes into a fresh folder `saved_models/<experiment>/<run-id>/`:
config.yaml (resolved, written first), history.csv, tensorboard/, best.keras,
model.keras, metrics.json, curves.png, labels.txt and any dataset assets.
Files are written under temporary names and renamed, so an interrupted run
never leaves a half-written model; `resume=True` continues the newest
unfinished run of the experiment from its last completed epoch.
"""

import os
import platform
import time

import keras
import numpy as np
import tensorflow as tf

import kerasapps
from kerasapps import runs, settings
from kerasapps.config import apply_override, config_from_dict, read_yaml, save_config, validate
from kerasapps.data import load_experiment_data, make_pipeline
from kerasapps.errors import TrainingDiverged, UserError
from kerasapps.plots import plot_history
from kerasapps.processes import check_batch_size
from kerasapps.training.callbacks import TimeToAccuracy, run_callbacks
from kerasapps.training.distribution import broadcast_path, process_folder, start_cluster, stop_distributing
from kerasapps.training.fit import build_and_compile, cpu, fit, seed_everything, set_inter_op_threads
from kerasapps.training.saving import PlainKerasCopy

# --- the run ----------------------------------------------------------------------


# What --set may change in a run being resumed: how long it trains, what it reports, how it exports.
# The rest (the model, the data it trains on, the optimizer) is the run's and stays as it started.
RESUMABLE = ("train.epochs", "data.limit_test", "callbacks.tensorboard", "callbacks.early_stopping_patience", "export.")


def train_and_evaluate(
    config, *, data_dir=None, runs_dir=None, resume=False, overrides=(), verbose=None, log=print, started=None
):  # fmt: skip
    """Train `config`'s model, evaluate it on the test split and save the run.

    Args:
        config: a validated `ExperimentConfig`.
        data_dir: the local dataset folder the user named (None: TFDS, then `data.fallback`).
        runs_dir: root of run folders (None: ./saved_models).
        resume: continue the newest unfinished run of this experiment, with its saved config.
        overrides: `--set key=value` for a resumed run's config: only the `RESUMABLE` keys.
        verbose: Keras fit verbosity (default: progress bar on a terminal, else a line per epoch).
        log: where progress lines go.
        started: `time.perf_counter()` when the command started, for the time the last line reports
            (None: now).

    Returns:
        (run_dir, metrics dict) - the same metrics as run_dir/metrics.json; across processes
        (`training.distribution`) the others return (run_dir, None): process 0 evaluates and writes.

    Raises:
        UserError: bad config or data, or nothing to resume.
        TrainingDiverged: the loss became NaN or exploded; the run folder is left unfinished.
    """
    started = time.perf_counter() if started is None else started
    set_inter_op_threads(config.train.inter_op_threads, log=log)  # before TensorFlow runs an op
    cluster = start_cluster()
    run_dir = None
    if resume:
        run_dir = broadcast_path(runs.unfinished_run(config.name, runs_dir) if cluster.is_chief else None, cluster)
        if run_dir is None:
            raise UserError(
                f"Nothing to resume: experiment {config.name!r} has no unfinished run under {runs.runs_root(runs_dir)}."
            )
        config = _resumed_config(run_dir, overrides)
        log(f"Resuming {run_dir} with its saved config{''.join(f', {o}' for o in overrides)}.")

    check_batch_size(config.train.batch_size, cluster.processes)
    seed_everything(config.seed)
    # The data and the model first: a bad folder or argument is an error before any run folder exists.
    dataset, (x_train, y_train), (x_val, y_val) = load_experiment_data(config, data_dir=data_dir, log=log)
    model = build_and_compile(config, dataset.info, len(x_train))
    if run_dir is None:
        run_dir = broadcast_path(_new_run(config, runs_dir) if cluster.is_chief else None, cluster)
    log(
        f"Training {config.model.name} ({model.count_params():,} parameters) on {dataset.info.name} "
        f"[{dataset.info.source}]: {len(x_train):,} train / {len(x_val):,} validation / "
        f"{len(dataset.x_test):,} test examples, {config.train.epochs} epochs, {_where(cluster)}. Run folder: {run_dir}"
    )

    saver = PlainKerasCopy(config, dataset.info)
    test = make_pipeline(
        dataset.x_test, dataset.y_test, batch_size=config.train.batch_size, bucket_by_length=config.train.bucket_by_length
    )
    start = time.perf_counter()
    with process_folder(run_dir, cluster) as folder:
        if cluster.distributed and config.callbacks.time_to_accuracy:
            log("callbacks.time_to_accuracy is measured in one process only: this run leaves it out.")
        callbacks = run_callbacks(
            config, folder, has_validation=len(x_val) > 0, resume=resume, save=saver.save,
            test=None if cluster.distributed else test,
        )  # fmt: skip
        try:
            history = fit(
                model, config, (x_train, y_train), (x_val, y_val), augment=dataset.augment, callbacks=callbacks,
                verbose=verbose,
            )
        except TrainingDiverged as error:
            raise TrainingDiverged(
                f"training stopped: {error}, in a new run ({run_dir} keeps the history and is not marked "
                "finished; --resume would go on from its diverged weights)."
            ) from None
        train_time = time.perf_counter() - start
        saver.save(model, folder / runs.MODEL_FILE)  # every process: saving is collective
    if cluster.distributed:
        # predict does not work across processes: process 0 evaluates its saved model alone.
        stop_distributing()
        if not cluster.is_chief:
            return run_dir, None
        model = runs.load_run_model(run_dir)

    test_loss, test_accuracy = model.evaluate(test, verbose=0)
    epochs_done = len(history.epoch)
    clock = next((c for c in callbacks if isinstance(c, TimeToAccuracy)), None)
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
        "compute_dtype": model.dtype_policy.compute_dtype,
        "fast_layers": config.train.fast_layers,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "best_epoch": _best_epoch(history, monitor="val_accuracy" if len(x_val) else "accuracy"),
        # This session's epochs: {"0.99": {"epoch": 3, "train_s": 12.1}, ...}, null for a target not reached.
        "time_to_accuracy": {f"{t:g}": clock.reached.get(t) for t in clock.targets} if clock else None,
        "test_accuracy_by_epoch": clock.epochs if clock else None,
        "seed": config.seed,
        "backend": keras.backend.backend(),
        "processes": cluster.processes,
        "versions": library_versions(),
    }
    _write_outputs(run_dir, metrics, dataset)
    log(f"Test accuracy: {test_accuracy:.2%} (loss {test_loss:.4f}). Saved {run_dir}")
    log(_time_line(metrics, time.perf_counter() - started, config.callbacks.checkpoint))
    return run_dir, metrics


def _best_epoch(history, monitor):
    """{"epoch", "monitor", "value"} of this session's epoch with the highest `monitor` (None without epochs)."""
    values = history.history.get(monitor, [])
    if not values:
        return None
    best = max(range(len(values)), key=values.__getitem__)
    return {"epoch": history.epoch[best] + 1, "monitor": monitor, "value": float(values[best])}


def _time_line(metrics, total_s, kept_best):
    """'Took 29.1 s (training 20.3 s); 99.0% test accuracy after 9.8 s (epoch 2) ...; best epoch 4 ...'."""
    parts = [f"Took {total_s:.1f} s (training {metrics['train_time_s']:.1f} s)"]
    for target, reached in (metrics["time_to_accuracy"] or {}).items():
        at = f"after {reached['train_s']:.1f} s (epoch {reached['epoch']})" if reached else "not reached"
        parts.append(f"{float(target):.1%} test accuracy {at}")
    best = metrics["best_epoch"]
    if best:
        kept = ", saved as best.keras" if kept_best else ""
        parts.append(f"best epoch {best['epoch']} ({best['monitor']} {best['value']:.2%}{kept})")
    return "; ".join(parts) + "."


def _resumed_config(run_dir, overrides):
    """The run's saved config with `overrides` applied (and saved), each one of the `RESUMABLE` keys."""
    path = run_dir / runs.CONFIG_FILE
    config = config_from_dict(read_yaml(path), where=str(path))
    for override in overrides:
        key = override.partition("=")[0].strip()
        if not key.startswith(RESUMABLE):
            raise UserError(
                f"--set {override} cannot change a run being resumed: its model, data and optimizer are the "
                f"run's. --resume takes {', '.join(k + ('*' if k.endswith('.') else '') for k in RESUMABLE)}; "
                "start a new run (without --resume) for the rest."
            )
        apply_override(config, override)
    if overrides:
        validate(config)
        save_config(config, path)
    return config


def _new_run(config, runs_dir):
    run_dir = runs.new_run_dir(config.name, runs_dir)
    save_config(config, run_dir / runs.CONFIG_FILE)
    return run_dir


def _where(cluster):
    backend = keras.backend.backend()
    return f"{cluster.processes} processes ({backend})" if cluster.distributed else f"one process ({backend})"


def _completed_epochs(run_dir):
    with open(run_dir / "history.csv") as f:
        return max(sum(1 for _ in f) - 1, 0)


def _write_outputs(run_dir, metrics, dataset):
    runs.write_atomic(run_dir / "labels.txt", "".join(f"{name}\n" for name in dataset.info.class_names))
    for name, text in dataset.assets.items():
        runs.write_atomic(run_dir / name, text)
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
        "cpu": host_cpu(),
        "onednn": settings.onednn(),
    }


def host_cpu():
    """The CPU's model and the flags that pick TensorFlow's kernels: "Intel Xeon (avx2 avx512f ...)"."""
    model, flags = cpu()
    return f"{model or platform.processor() or 'unknown CPU'} ({' '.join(flags) or 'no AVX2'})"
