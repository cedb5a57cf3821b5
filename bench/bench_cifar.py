"""Training speed on CIFAR-10: our tf.data pipeline next to plain `model.fit` on NumPy arrays.

A benchmark, not a test. Short mode (the default) times a few training steps of
each model twice in the same process, on the same data and compiled the same way
(SGD, momentum 0.9, L2 1e-4, batch 128):

    numpy     model.fit(x, y, batch_size=128, shuffle=True): Keras's own array adapter,
              no augmentation
    pipeline  model.fit(make_pipeline(..., augment=crop_flip)): what kerasapps.train runs

and appends images per second to bench/results/cifar_throughput.csv:

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_cifar.py --steps 20

Full mode trains the configs' whole recipe (182 epochs) through
`kerasapps.training.train_and_evaluate` and appends test accuracy and wall time
to bench/results/cifar_full.csv; it is meant for a machine with a GPU:

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_cifar.py --full --models resnet20 resnet56 vgg16_cifar
"""

import argparse
import csv
import datetime
import os
import pathlib
import platform
import time

import keras

from kerasapps import settings

BENCH_DIR = pathlib.Path(__file__).resolve().parent
RECIPE_LR, RECIPE_MOMENTUM, RECIPE_WEIGHT_DECAY = 0.1, 0.9, 1e-4


def machine():
    """One line describing where the numbers come from."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    accel = f"{len(gpus)} GPU" if gpus else "no GPU"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {accel}"


def append_rows(path, rows):
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)


class StepTimer(keras.callbacks.Callback):
    """Wall time of the training batches after the first `warmup` ones (tracing, caches)."""

    def __init__(self, warmup):
        super().__init__()
        self.warmup, self.batches, self.start, self.end = warmup, 0, None, None

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches == self.warmup:
            self.start = time.perf_counter()
        self.end = time.perf_counter()


def compiled(name, input_shape, num_classes, seed):
    from kerasapps.models import build_model

    keras.utils.set_random_seed(seed)
    model = build_model(name, input_shape=input_shape, num_classes=num_classes, weight_decay=RECIPE_WEIGHT_DECAY)
    model.compile(
        optimizer=keras.optimizers.SGD(RECIPE_LR, momentum=RECIPE_MOMENTUM),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def short(args):
    from kerasapps.data import load_dataset, make_pipeline

    data = load_dataset("cifar10", data_dir=args.data_dir)
    n = (args.warmup + args.steps) * args.batch_size
    x, y = data.x_train[:n], data.y_train[:n]
    rows = []
    for name in args.models:
        for mode in ("numpy", "pipeline"):
            model = compiled(name, x.shape[1:], len(data.info.class_names), args.seed)
            timer = StepTimer(args.warmup)
            if mode == "numpy":
                model.fit(x, y, batch_size=args.batch_size, epochs=1, shuffle=True, verbose=0, callbacks=[timer])
            else:
                ds = make_pipeline(x, y, batch_size=args.batch_size, shuffle=True, seed=args.seed, augment=data.augment)
                model.fit(ds, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
            measured = timer.batches - args.warmup
            seconds = timer.end - timer.start
            row = {
                "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                "machine": machine(),
                "model": name,
                "input": mode,
                "batch_size": args.batch_size,
                "steps": measured,
                "seconds": round(seconds, 2),
                "images_per_s": round(measured * args.batch_size / seconds, 1),
            }
            print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            rows.append(row)
    append_rows(BENCH_DIR / "results" / "cifar_throughput.csv", rows)


def full(args):
    from kerasapps.config import load_config
    from kerasapps.training import train_and_evaluate

    rows = []
    for name in args.models:
        config = load_config(name, overrides=args.overrides)
        start = time.perf_counter()
        run_dir, metrics = train_and_evaluate(config, data_dir=args.data_dir)
        row = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "machine": machine(),
            "experiment": name,
            "epochs": config.train.epochs,
            "test_accuracy": round(float(metrics["test_accuracy"]), 4),
            "hours": round((time.perf_counter() - start) / 3600, 3),
            "run": str(run_dir),
        }
        print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        rows.append(row)
        append_rows(BENCH_DIR / "results" / "cifar_full.csv", rows[-1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet20", "vgg16_cifar"])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per model and input (short mode)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps (short mode)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=settings.data_dir(), help="default: $KERASAPPS_DATA_DIR")
    parser.add_argument("--full", action="store_true", help="train the configs' full recipe; record accuracy and time")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override (full mode)")
    args = parser.parse_args()
    full(args) if args.full else short(args)


if __name__ == "__main__":
    main()
