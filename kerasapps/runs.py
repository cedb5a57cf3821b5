"""Run folders: `saved_models/<experiment>/<run-id>/`, how later commands name them, atomic writes.

A run folder is finished once it holds `metrics.json`. `saved_models/<experiment>/latest`
is a symbolic link to the newest finished run, and `resolve_run` accepts either a
folder or an experiment name (meaning its newest finished run).
"""

import datetime
import json
import os
import pathlib

import keras

from kerasapps.errors import UserError

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.keras"
EXPORTS_FILE = "exports.json"  # where `kerasapps export` wrote the run's files, newest last


def runs_root(root=None):
    """Where run folders go: `root`, or ./saved_models (commands pass `settings.runs_dir()`)."""
    return pathlib.Path(root or "saved_models")


def new_run_dir(experiment, root=None):
    """Create and return a fresh, timestamped run folder; never reuses one."""
    base = runs_root(root) / experiment
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for suffix in [""] + [f"-{i}" for i in range(2, 1000)]:
        path = base / f"{stamp}{suffix}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise UserError(f"Cannot create a new run folder under {base}.")


def is_finished(run_dir):
    return (pathlib.Path(run_dir) / METRICS_FILE).is_file()


def _run_dirs(experiment, root=None):
    base = runs_root(root) / experiment
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and (p / CONFIG_FILE).is_file())


def unfinished_run(experiment, root=None):
    """The newest run folder of `experiment` that has no metrics yet, or None."""
    pending = [p for p in _run_dirs(experiment, root) if not is_finished(p)]
    return pending[-1] if pending else None


def mark_latest(run_dir):
    """Point `<experiment>/latest` at `run_dir` (atomically: a new link, then rename)."""
    run_dir = pathlib.Path(run_dir)
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, link)


def resolve_run(run, root=None, *, experiments=()):
    """A run folder from `run`: a folder path, or an experiment name (its newest finished run).

    `experiments` (`config.list_experiments()`) lets the message say what works when there is no run.

    Raises:
        UserError: no such folder, or the experiment has no finished run.
    """
    path = pathlib.Path(run)
    if path.is_dir():
        missing = [name for name in (CONFIG_FILE, MODEL_FILE, METRICS_FILE) if not (path / name).is_file()]
        if missing:
            raise UserError(
                f"{path} is not a finished run folder: it has no {' or '.join(missing)}. "
                "Give a folder that `kerasapps train` completed, or an experiment name."
            )
        return path.resolve()
    finished = [p for p in _run_dirs(run, root) if is_finished(p) and (p / MODEL_FILE).is_file()]
    if finished:
        return finished[-1].resolve()
    if os.sep in run or "/" in run:
        raise UserError(f"No run folder {run}.")
    base = runs_root(root)
    done = sorted(p.name for p in base.glob("*/") if any(is_finished(d) for d in _run_dirs(p.name, root)))
    done_text = f"Experiments with finished runs: {', '.join(done)}." if done else f"No experiment has a finished run under {base}."
    if run in experiments:
        resume = f", or continue its interrupted run with `kerasapps train {run} --resume`" if unfinished_run(run, root) else ""
        raise UserError(
            f"No finished run of experiment {run!r} under {base}. Train one with `kerasapps train {run}`{resume}. {done_text}"
        )
    if done:
        advice = "Give one of those, a run folder, or --runs-dir DIR for runs elsewhere."
    else:
        advice = f"Train one with `kerasapps train EXPERIMENT` ({', '.join(experiments)}), or give --runs-dir DIR."
    raise UserError(f"No finished run of experiment {run!r} under {base}, and {run!r} is no experiment. {done_text} {advice}")


def read_metrics(run_dir):
    """The metrics.json of a finished run; raises `UserError` if the run has none or it is unreadable."""
    path = pathlib.Path(run_dir) / METRICS_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{run_dir} is not a finished run folder: it has no {METRICS_FILE}.") from None
    except (OSError, ValueError) as error:
        raise UserError(f"Cannot read {path}: {error}.") from None


# --- atomic writes ----------------------------------------------------------------


def write_atomic(path, content):
    """Write `content` (str or bytes) to `path` through a temporary file and a rename,
    so that a crash or an interruption leaves the old file or the new one, never half of one."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    if isinstance(content, str):
        tmp.write_text(content, encoding="utf-8")
    else:
        tmp.write_bytes(content)
    os.replace(tmp, path)


def write_json(path, data):
    """Write `data` as indented JSON, atomically."""
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def load_run_model(run_dir, name=MODEL_FILE):
    """The Keras model `name` of run folder `run_dir`, loaded as plain Keras loads it (safe mode on).

    Raises:
        UserError: the file is missing, or Keras refuses it (a Lambda layer's code, which safe mode
            never runs, or a file that is not a Keras model).
    """
    path = pathlib.Path(run_dir) / name
    if not path.is_file():
        raise UserError(f"{run_dir} has no {name}: train the run to the end first (kerasapps train --resume).")
    try:
        return keras.saving.load_model(path)
    except (ValueError, TypeError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"Keras cannot load {path}: {first[:300]} If the file runs code (a Lambda layer), Keras refuses it "
            "in safe mode; load it yourself with keras.saving.load_model(path, safe_mode=False) only if you trust it."
        ) from None


def save_model_atomic(model, path):
    """`model.save(path)` through a temporary file and a rename."""
    path = pathlib.Path(path)
    tmp = path.with_name(".partial-" + path.name)
    model.save(tmp)
    os.replace(tmp, path)
