"""Benchmark: the default `lenet` experiment against plain `model.fit` on NumPy arrays.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_lenet.py

All train the same model with the same optimizer, schedule, batch size, epochs
and seed on the same MNIST split, in one process, one after the other:

- "numpy model.fit": what a tutorial script does, `model.fit(x, y)` on in-memory
  arrays with Keras's defaults (one batch per compiled call) and no callbacks;
- "numpy model.fit, same steps_per_execution": the same with the config's
  `train.steps_per_execution`, so that our pipeline is also compared with
  the arrays at equal settings (only when the config sets it above 1);
- "kerasapps.train": `train_and_evaluate`, with everything a run writes
  (best checkpoint, backup for --resume, TensorBoard, CSV history).

Appends one row per pipeline to bench/results/lenet.csv; `speed_vs_numpy_fit` is
the tutorial baseline's time over the row's time.
"""

import argparse
import copy
import datetime
import math
import pathlib
import sys
import tempfile
import time

import pandas as pd

from kerasapps import settings
from kerasapps.config import load_config
from kerasapps.data import load_experiment_data
from kerasapps.settings import import_tensorflow
from kerasapps.training import (
    build_experiment_model,
    compile_model,
    library_versions,
    seed_everything,
    train_and_evaluate,
)

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "lenet.csv"

import_tensorflow()  # once, quietly, before keras prints its start-up banner


def baseline_numpy_fit(config, steps_per_execution):
    """Plain model.fit on NumPy arrays. Returns (seconds, test accuracy, training examples)."""
    seed_everything(config.seed)
    dataset, (x, y), (x_val, y_val) = load_experiment_data(config, data_dir=settings.data_dir(), log=lambda _: None)
    model = build_experiment_model(config, dataset.info.model_kwargs)
    config = copy.deepcopy(config)
    config.train.steps_per_execution = steps_per_execution
    compile_model(model, config, math.ceil(len(x) / config.train.batch_size))
    start = time.perf_counter()
    model.fit(x, y, batch_size=config.train.batch_size, epochs=config.train.epochs,
              validation_data=(x_val, y_val), verbose=2)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(dataset.x_test, dataset.y_test, batch_size=config.train.batch_size, verbose=0)
    return seconds, accuracy, len(x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for both runs, e.g. train.epochs=2 for a quick check")
    parser.add_argument("--skip-baseline", action="store_true", help="time only our pipeline")
    args = parser.parse_args(argv)
    config = load_config("lenet", overrides=args.overrides)

    rows = []
    if not args.skip_baseline:
        rows.append(("numpy model.fit", *baseline_numpy_fit(config, steps_per_execution=1)))
        if config.train.steps_per_execution > 1:
            rows.append(("numpy model.fit, same steps_per_execution",
                         *baseline_numpy_fit(config, config.train.steps_per_execution)))
    with tempfile.TemporaryDirectory() as runs_dir:
        _, metrics = train_and_evaluate(config, data_dir=settings.data_dir(), runs_dir=runs_dir, verbose=2)
    rows.append(("kerasapps.train", metrics["train_time_s"], metrics["test_accuracy"], metrics["examples"]["train"]))

    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    versions = library_versions()
    frame = pd.DataFrame(
        [
            {
                "date": stamp,
                "pipeline": name,
                "overrides": " ".join(args.overrides),
                "epochs": config.train.epochs,
                "train_s": round(seconds, 1),
                "s_per_epoch": round(seconds / config.train.epochs, 2),
                "train_images_per_s": round(n * config.train.epochs / seconds),
                "test_accuracy": round(float(accuracy), 4),
                "machine": versions["machine"],
                "tensorflow": versions["tensorflow"],
            }
            for name, seconds, accuracy, n in rows
        ]
    )
    if not args.skip_baseline:
        frame["speed_vs_numpy_fit"] = [round(rows[0][1] / seconds, 3) for _, seconds, _, _ in rows]
    RESULTS.parent.mkdir(exist_ok=True)
    frame.to_csv(RESULTS, mode="a", header=not RESULTS.exists(), index=False)
    print(frame.to_string(index=False))
    print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
