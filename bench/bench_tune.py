"""Benchmark: memory over a long search, and what a Hyperband search buys on LeNet/MNIST.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_tune.py memory --trials 20
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_tune.py keras-loop --trials 20
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_tune.py hyperband --set data.limit_train=10000 --set train.epochs=3

`memory`: a random search of `--trials` trials over lenet.yaml's space, one process;
the resident set size (VmRSS) is read after every trial. keras-tuner clears the
Keras session before building each trial; a leak would show as RSS growing with
the trial count. Appends one row per trial to bench/results/tune_memory.csv.

`keras-loop`: the baseline for `memory`: the same number of LeNet models built,
compiled and fitted one epoch on the same data in a plain loop, with
`keras.backend.clear_session()` and `gc.collect()` between them, no keras-tuner.
Rows go to the same CSV.

`hyperband`: a Hyperband search over lenet.yaml's space (train.epochs is its
max_epochs), then the best config and the default config are each retrained
from scratch with `train_and_evaluate` (same data, same epochs, same seed) and
evaluated on the test split. Appends one row to bench/results/tune_hyperband.csv
with the budget, the trials and both test accuracies.
"""

import argparse
import datetime
import gc
import math
import pathlib
import sys
import tempfile
import time

import keras
import pandas as pd

from kerasapps import settings
from kerasapps.config import load_config
from kerasapps.data import load_experiment_data, make_pipeline
from kerasapps.search import search
from kerasapps.training import (
    build_experiment_model,
    compile_model,
    library_versions,
    seed_everything,
    train_and_evaluate,
)

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def rss_mb():
    """(current, peak) resident set size of this process in MiB, from /proc/self/status."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return round(fields["VmRSS"], 1), round(fields["VmHWM"], 1)


def append(frame, name):
    path = RESULTS / name
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(path, mode="a", header=not path.exists(), index=False)
    print(frame.to_string(index=False))
    print(f"appended to {path}")


def memory_overrides(args):
    return ["data.limit_train=500", "data.limit_test=100", "train.epochs=1", "tune.tuner=random",
            f"tune.max_trials={args.trials}", *args.overrides]


def bench_memory(args, runs_dir, stamp):
    overrides = memory_overrides(args)
    config = load_config("lenet", overrides=overrides)
    rows = []
    before = rss_mb()[0]

    def log(line):
        print(line, flush=True)
        if line.startswith("trial done"):
            current, peak = rss_mb()
            rows.append({"trial": len(rows), "rss_mib": current, "peak_rss_mib": peak})

    start = time.perf_counter()
    search(config, runs_dir=runs_dir, overwrite=True, log=log)
    report_memory("tune random search", rows, before, overrides, time.perf_counter() - start, stamp)


def bench_keras_loop(args, runs_dir, stamp):
    overrides = memory_overrides(args)
    config = load_config("lenet", overrides=overrides)
    seed_everything(config.seed)
    dataset, (x, y), (x_val, y_val) = load_experiment_data(config, data_dir=settings.data_dir(), log=lambda _: None)
    rows = []
    before = rss_mb()[0]
    start = time.perf_counter()
    for _ in range(args.trials):
        keras.backend.clear_session()
        gc.collect()
        model = build_experiment_model(config, dataset.info.model_kwargs)
        compile_model(model, config, math.ceil(len(x) / config.train.batch_size))
        model.fit(make_pipeline(x, y, batch_size=config.train.batch_size, shuffle=True),
                  validation_data=make_pipeline(x_val, y_val, batch_size=config.train.batch_size), epochs=1, verbose=0)
        del model
        current, peak = rss_mb()
        rows.append({"trial": len(rows), "rss_mib": current, "peak_rss_mib": peak})
    report_memory("plain keras loop", rows, before, overrides, time.perf_counter() - start, stamp)


def report_memory(what, rows, before, overrides, seconds, stamp):
    frame = pd.DataFrame(rows)
    frame.insert(0, "date", stamp)
    frame.insert(1, "what", what)
    frame["rss_before_first_mib"] = before
    frame["overrides"] = " ".join(overrides)
    frame["search_s"] = round(seconds, 1)
    frame["machine"] = library_versions()["machine"]
    append(frame, "tune_memory.csv")
    first, last = frame["rss_mib"].iloc[0], frame["rss_mib"].iloc[-1]
    print(f"RSS after trial 1: {first} MiB, after trial {len(frame)}: {last} MiB, "
          f"peak {frame['peak_rss_mib'].max()} MiB; growth over trials 2..{len(frame)}: "
          f"{frame['rss_mib'].iloc[-1] - frame['rss_mib'].iloc[1]:+.1f} MiB")


def bench_hyperband(args, runs_dir, stamp):
    overrides = ["tune.tuner=hyperband", "callbacks.tensorboard=false", *args.overrides]
    config = load_config("lenet", overrides=overrides)
    start = time.perf_counter()
    result = search(config, runs_dir=runs_dir, overwrite=True)
    search_s = time.perf_counter() - start
    trials = result.trials
    best = load_config(path=result.best_config_path)
    _, tuned = train_and_evaluate(best, data_dir=settings.data_dir(), runs_dir=runs_dir, verbose=2)
    _, default = train_and_evaluate(config, data_dir=settings.data_dir(), runs_dir=runs_dir, verbose=2)
    total_s = time.perf_counter() - start
    changed = {
        key: value for key, value in trials.loc[trials["val_accuracy"].idxmax()].items()
        if key.startswith(("model.", "optimizer.", "train.")) and pd.notna(value)
    }
    frame = pd.DataFrame([{
        "date": stamp,
        "overrides": " ".join(overrides),
        "max_epochs": config.train.epochs,
        "factor": config.tune.hyperband_factor,
        "max_trials": config.tune.max_trials,
        "trials": len(trials),
        "completed": int((trials["status"] == "COMPLETED").sum()),
        "trial_epochs": int(trials["epochs"].sum()),
        "train_examples": tuned["examples"]["train"],
        "test_examples": tuned["examples"]["test"],
        "search_s": round(search_s, 1),
        "search_plus_retrains_s": round(total_s, 1),
        "best_val_accuracy": round(float(trials["val_accuracy"].max()), 4),
        "best_hyperparameters": " ".join(f"{k}={v}" for k, v in changed.items()),
        "tuned_test_accuracy": round(tuned["test_accuracy"], 4),
        "default_test_accuracy": round(default["test_accuracy"], 4),
        "tuned_beats_default": tuned["test_accuracy"] > default["test_accuracy"],
        "machine": library_versions()["machine"],
    }])
    append(frame, "tune_hyperband.csv")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["memory", "keras-loop", "hyperband"])
    parser.add_argument("--trials", type=int, default=20, help="memory: trials in the search")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config overrides, e.g. data.limit_train=10000 train.epochs=3")
    args = parser.parse_args(argv)
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory() as runs_dir:
        {"memory": bench_memory, "keras-loop": bench_keras_loop, "hyperband": bench_hyperband}[args.part](
            args, runs_dir, stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
