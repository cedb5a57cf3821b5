"""Benchmark: data-parallel scaling over local processes, JAX against TensorFlow, and tuner memory.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_distributed.py scaling --processes 1 2 4
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_distributed.py backends --repeats 3
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_distributed.py tune-memory --trials 100

`scaling`: ResNet-20 on CIFAR-10 trained by `kerasapps launch --processes N` (JAX backend),
for each N; images/s is the last epoch's training images over its time, as Keras prints
it (whole seconds; the first epoch's compilation is left out, so use --epochs 2 or more).
Both experiments hold out 10% for validation. Scaling on localhost is bounded by the
cores: every process computes on the same CPU.

`backends`: one process, `--backend jax` against `--backend tensorflow`, on LeNet and
ResNet-20, interleaved (A B A B ...) `--repeats` times; the median images/s of each.

`tune-memory`: a random search over lenet.yaml's space with each trial in a fresh
process (the default); the search process's resident set size after every trial.

Each appends rows to bench/results/distributed_<what>.csv with the machine and its core count.
"""

import argparse
import datetime
import io
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile

import pandas as pd

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
EPOCH = re.compile(r" - (\d+)s - ")
MACHINE = f"{platform.machine()}, {os.cpu_count()} CPUs (shared)"


def last_epoch_seconds(lines):
    """Seconds of the last epoch Keras reported (verbose=2 lines: "18/18 - 40s - 2s/step - ...")."""
    epochs = [m for m in map(EPOCH.search, lines) if m]
    if not epochs:
        raise SystemExit("no epoch line in the output:\n" + "".join(lines)[-2000:])
    return max(int(epochs[-1].group(1)), 1)


def train_args(experiment, args):
    sets = [f"train.epochs={args.epochs}", f"data.limit_train={args.limit_train}", "data.limit_test=256",
            f"train.batch_size={args.batch_size}", "callbacks.tensorboard=false", *args.overrides]
    return ["train", experiment, *[a for s in sets for a in ("--set", s)]]


def images_per_s(lines, args):
    """Training images of the last epoch (batches drop the remainder) over its seconds."""
    steps = int(args.limit_train * 0.9) // args.batch_size
    return round(steps * args.batch_size / last_epoch_seconds(lines), 1)


def bench_scaling(args, runs_dir):
    from kerasapps.processes import ProcessGroup

    rows = []
    for processes in args.processes:
        out = io.StringIO()
        group = ProcessGroup(train_args("resnet20", args), processes=processes, out=out, err=out,
                             env={"KERASAPPS_RUNS_DIR": runs_dir}, keep_output=True)
        if group.run(timeout=args.timeout) != 0:
            raise SystemExit(out.getvalue()[-3000:])
        rows.append({"processes": processes, "images_per_s": images_per_s(group.outputs[0], args)})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def bench_backends(args, runs_dir):
    rows = []
    for repeat in range(args.repeats):
        for experiment in ("lenet", "resnet20"):
            for backend in ("tensorflow", "jax"):
                result = subprocess.run(
                    [sys.executable, "-m", "kerasapps", *train_args(experiment, args), "--backend", backend],
                    env={**os.environ, "KERASAPPS_RUNS_DIR": runs_dir}, capture_output=True, text=True,
                    timeout=args.timeout,
                )
                if result.returncode:
                    raise SystemExit(result.stderr[-3000:])
                rows.append({"repeat": repeat, "experiment": experiment, "backend": backend,
                             "images_per_s": images_per_s(result.stdout.splitlines(), args)})
                print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    medians = frame.groupby(["experiment", "backend"], as_index=False)["images_per_s"].median()
    print("medians:\n" + medians.to_string(index=False))
    return frame


def bench_tune_memory(args, runs_dir):
    from kerasapps.config import load_config
    from kerasapps.search import search

    config = load_config("lenet", overrides=[
        "data.limit_train=500", "data.limit_test=100", "train.epochs=1", "tune.tuner=random",
        f"tune.max_trials={args.trials}", *args.overrides,
    ])
    rows = []

    def log(line):
        if line.startswith("trial done:"):
            status = pathlib.Path("/proc/self/status").read_text()
            rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
            rows.append({"trial": len(rows) + 1, "rss_mib": round(rss, 1)})
            print(rows[-1], flush=True)

    search(config, runs_dir=runs_dir, log=log)
    return pd.DataFrame(rows)


BENCHES = {"scaling": bench_scaling, "backends": bench_backends, "tune-memory": bench_tune_memory}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=list(BENCHES))
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit-train", type=int, default=2560)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs_dir:
        frame = BENCHES[args.what](args, runs_dir)
    frame = frame.assign(date=datetime.datetime.now().isoformat(timespec="seconds"), machine=MACHINE,
                         epochs=args.epochs, limit_train=args.limit_train, batch_size=args.batch_size)
    path = RESULTS / f"distributed_{args.what.replace('-', '_')}.csv"
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(path, mode="a", header=not path.exists(), index=False)
    print(f"appended to {path}")


if __name__ == "__main__":
    main()
