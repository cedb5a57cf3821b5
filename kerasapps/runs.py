"""Run folders: `saved_models/<experiment>/<run-id>/` and how later commands name them.

A run folder is finished once it holds `metrics.json`. `saved_models/<experiment>/latest`
is a symbolic link to the newest finished run, and `resolve_run` accepts either a
folder or an experiment name (meaning its newest finished run).
"""

import datetime
import json
import os
import pathlib

from kerasapps.errors import UserError

RUNS_ROOT_ENV = "KERASAPPS_RUNS_DIR"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.keras"


def runs_root(root=None):
    """Where run folders go: the argument, $KERASAPPS_RUNS_DIR, or ./saved_models."""
    return pathlib.Path(root or os.environ.get(RUNS_ROOT_ENV) or "saved_models")


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
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and (p / "config.yaml").is_file())


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


def resolve_run(run, root=None):
    """A run folder from `run`: a folder path, or an experiment name (its newest finished run).

    Raises:
        UserError: no such folder, or the experiment has no finished run.
    """
    path = pathlib.Path(run)
    if path.is_dir():
        if not (path / MODEL_FILE).is_file():
            raise UserError(f"{path} is not a finished run folder: it has no {MODEL_FILE}.")
        return path.resolve()
    finished = [p for p in _run_dirs(run, root) if is_finished(p) and (p / MODEL_FILE).is_file()]
    if finished:
        return finished[-1].resolve()
    if os.sep in run or "/" in run:
        raise UserError(f"No run folder {run}.")
    known = sorted(p.name for p in runs_root(root).glob("*/") if p.is_dir()) if runs_root(root).is_dir() else []
    raise UserError(
        f"No finished run of experiment {run!r} under {runs_root(root)}. "
        f"Train one with `python -m kerasapps.train {run}`"
        + (f"; experiments with runs: {', '.join(known)}." if known else ".")
    )


def read_metrics(run_dir):
    with open(pathlib.Path(run_dir) / METRICS_FILE) as f:
        return json.load(f)


def write_json(path, data):
    """Write JSON through a temporary file and a rename, so a crash leaves no half file."""
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, default=str)
        f.write("\n")
    os.replace(tmp, path)
