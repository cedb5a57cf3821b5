"""Train and deploy one experiment's network with TensorFlow and with PyTorch, and report: the library
behind `kerasapps compare`.

    config = load_config("lenet", overrides=["train.epochs=2"])
    report = compare_experiment(config, data_dir="../shared/data")

The parent loads the experiment's data once (the same split, seed and limits as
`train`), hands the arrays to one worker process per side
(`kerasapps.compare.worker`: Keras's backend is fixed per process, so each side
gets its own, with KERAS_BACKEND set in that child's environment only), and
writes into `compare/<experiment>/`: report.md, report.csv, report.png and the
deployment files (.tflite, .pte). Files are written under temporary names and
renamed one by one, so an interrupted comparison leaves no half-written file.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

from kerasapps.compare.report import write_report
from kerasapps.compare.timing import DEFAULT_DEPLOY_TIME_LIMIT
from kerasapps.compare.worker import ARRAYS, SIDES
from kerasapps.config import model_arguments, set_value
from kerasapps.data import load_experiment_data
from kerasapps.deploy.bundle import representative_set
from kerasapps.errors import UserError, check_at_least
from kerasapps.models import MODELS

DEFAULT_OUT = "compare"
# read by TensorFlow's and PyTorch's (OpenMP, MKL) thread pools when the child starts
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
INSTALL = (
    'PyTorch is not installed: pip install -e ".[torch]" (docs/tf-vs-pytorch.md shows how to get the CPU-only build)'
)


def check_torch_installed():
    """Raise `UserError` naming the install command unless PyTorch can be imported."""
    if importlib.util.find_spec("torch") is None:
        raise UserError(INSTALL)


def compare_experiment(
    config, *, out=None, data_dir=None, steps=None, deploy_examples=2000, deploy_time_limit=DEFAULT_DEPLOY_TIME_LIMIT,
    threads=None, sides=tuple(SIDES), log=print,
):  # fmt: skip
    """Train and deploy the experiment `config` (a validated `ExperimentConfig`) on every side; write and
    return the report.

    Args:
        out: root folder; the report goes to `<out>/<experiment>/` (default `compare/`).
        data_dir: the local dataset folder the user named (None: TFDS).
        steps: train every side for this many batches only: one epoch over the first `steps` x batch size
            training examples (they are already shuffled); default: the experiment's epochs.
        deploy_examples: test inputs each deployed file runs on (0 = the whole test split).
        deploy_time_limit: seconds each ExecuTorch or litert-torch file may take to lower or convert; past
            it, the row says "timed out" (0 = no limit).
        threads: CPU threads of every side (TensorFlow's and PyTorch's thread pools); default: each
            framework's own choice. 1 keeps a shared machine's numbers steady.
        sides: which of `worker.SIDES` to run.
        log: where progress lines and the table go.

    Returns:
        The report dict (`training`, `deployment` and `notes` rows, and `claims`).

    Raises:
        UserError: PyTorch missing, an unknown side, a model without a PyTorch twin.
    """
    check_torch_installed()
    check_at_least("--deploy-examples", deploy_examples, 0)
    check_at_least("--deploy-time-limit", deploy_time_limit, 0)
    if steps is not None:
        check_at_least("--steps", steps, 1)
    if threads is not None:
        check_at_least("--threads", threads, 1)
    for side in sides:
        if side not in SIDES:
            raise UserError(f"Unknown side {side!r}. Sides are: {', '.join(SIDES)}.")
    dataset, (x_train, y_train), _ = load_experiment_data(config, data_dir=data_dir, log=log)
    if steps is not None:
        set_value(config, "train.epochs", 1)
        x_train, y_train = x_train[: steps * config.train.batch_size], y_train[: steps * config.train.batch_size]
    twin = twin_arguments(config, dataset.info.model_kwargs)
    build_twin(config.model.name, **twin["arguments"])  # no twin: fail before training
    # shuffled once, so that the first --deploy-examples are a fair sample (IMDB's test split is sorted by label)
    order = np.random.default_rng(config.seed).permutation(len(dataset.x_test))
    arrays = {
        "x_train": x_train, "y_train": y_train, "x_test": dataset.x_test[order], "y_test": dataset.y_test[order],
        "x_representative": representative_set(x_train, config.export.representative_size, config.seed),
    }  # fmt: skip
    target = pathlib.Path(out or DEFAULT_OUT) / config.name
    job = {
        "config": config.to_dict(),
        "model_kwargs": dataset.info.model_kwargs,
        "twin": twin,
        "deploy_examples": deploy_examples or len(dataset.x_test),
        "deploy_time_limit_s": deploy_time_limit or None,
        "steps": config.train.epochs * -(-len(x_train) // config.train.batch_size),
        "steps_limited": steps is not None,
        "threads": threads,
    }
    log(
        f"Comparing {config.model.name} on {dataset.info.name}: {len(x_train):,} training / "
        f"{len(dataset.x_test):,} test "
        f"examples, {config.train.epochs} epochs = {job['steps']:,} steps of batch {config.train.batch_size}, "
        f"{config.optimizer.name}; "
        f"each side in its own process. Report: {target}"
    )
    with tempfile.TemporaryDirectory(prefix="kerasapps-compare-") as work:
        work = pathlib.Path(work)
        (work / "job.json").write_text(json.dumps(job, default=list))
        for name in ARRAYS:
            np.save(work / f"{name}.npy", arrays[name])
        results = [_run_worker(side, work, i, len(sides), threads, log) for i, side in enumerate(sides, start=1)]
        report = write_report(results, target, work / "files", config=config, dataset=dataset.info, job=job)
    log(report["text"])
    log(f"Wrote {target}/report.md, report.csv and report.png")
    return report


def twin_arguments(config, model_kwargs):
    """The family of `config`'s model and all its builder arguments (the registered defaults, the
    data's, then `model.args`): what `torch_twins.make_twin` takes, written into job.json."""
    entry = MODELS.get(config.model.name)
    return {"family": entry.family, "arguments": {**entry.defaults(), **model_arguments(config, model_kwargs)}}


def build_twin(model_name, **arguments):
    """The PyTorch twin of registered model `model_name`, built with Keras builder `arguments` (the
    registered defaults fill the rest).

    Raises:
        UserError: a model without a twin, or a setting the twin does not cover.
    """
    from kerasapps.compare.torch_twins import make_twin  # imports PyTorch, an extra: after the cheap checks

    entry = MODELS.get(model_name)
    return make_twin(entry.family, {**entry.defaults(), "name": model_name, **arguments})


def _run_worker(side, work, index, count, threads, log):
    """Run one side in a child process; a side that fails gets a result saying why.

    The child's environment alone carries KERAS_BACKEND (and the thread counts), so nothing
    the user's other commands read changes."""
    backend, what = SIDES[side]
    log(f"[{index}/{count}] {side}: {what} ...")
    env = {**os.environ, "KERAS_BACKEND": backend}
    if threads:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "kerasapps.compare.worker", side, str(work)], env=env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        log(f"      {side} failed after {seconds:.0f} s: {reason}")
        return {"side": side, "runs": what, "error": reason}
    result = json.loads((work / f"{side}.json").read_text())
    log(f"      done in {seconds:.0f} s")
    return result
