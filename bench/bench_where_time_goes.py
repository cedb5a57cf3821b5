"""Benchmark: where an epoch of `train lenet` goes, for each speed lever.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_where_time_goes.py --repeats 3

For each setting (float32 or bfloat16 compute, `steps_per_execution` 1 or the
config's, and with --layers the layers: "fast", `train.fast_layers` (`kerasapps.models.batch_norm`,
`kerasapps.models.full_map_conv`), or "keras", Keras's own) it times, on the experiment's real training split, in seconds per epoch:

- "input": the tf.data pipeline alone (every batch of an epoch gathered, nothing trained);
- "steps": the training steps alone, on one batch held in memory and repeated;
- "fit": a whole `fit` epoch through `kerasapps.training.fit` (pipeline, steps, validation): the
  second of two, so that it holds no tracing (the first retraces for the pipeline's batches);
- "validation": one pass over the validation split (`evaluate`).

If "fit" is about "steps" + "validation", the input pipeline is hidden behind the
steps and speed must come from the step itself. The settings run interleaved,
`--repeats` times; the CSV (bench/results/where_time_goes.csv) has every
repeat and the summary prints medians. "steps" and "fit" also get the process's CPU
seconds (both cores counted), which a noisy virtual machine disturbs less than the
wall clock. Run it alone on the machine.
"""

import argparse
import copy
import datetime
import itertools
import pathlib
import sys
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "where_time_goes.csv"


def epoch_timer_class():
    """A Keras callback class that records each epoch's seconds, validation included."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

            self.cpu_seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):  # Keras calls it after the validation pass
            self.seconds.append(time.perf_counter() - self.start)
            self.cpu_seconds.append(time.process_time() - self.cpu_start)

    return EpochTimer


def time_epoch(config, dataset, train, validation):
    """Seconds of each component (see the module docstring) for one setting of `config`."""
    import tensorflow as tf

    from kerasapps.data import make_pipeline
    from kerasapps.training import build_and_compile, fit, seed_everything

    EpochTimer = epoch_timer_class()

    (x, y), (x_val, y_val) = train, validation
    batch = config.train.batch_size
    steps = len(x) // batch
    seed_everything(config.seed)
    model = build_and_compile(config, dataset.info, len(x))
    fit(model, config, (x[:batch * 4], y[:batch * 4]), (x_val[:batch], y_val[:batch]), epochs=1, verbose=0)  # trace

    seconds = {}
    start = time.perf_counter()
    for _ in make_pipeline(x, y, batch_size=batch, shuffle=True, seed=config.seed, augment=dataset.augment):
        pass
    seconds["input"] = time.perf_counter() - start

    one_batch = tf.data.Dataset.from_tensors((x[:batch], y[:batch]))
    model.fit(one_batch.repeat(config.train.steps_per_execution), epochs=1, verbose=0)  # traced for this input
    one_batch = one_batch.repeat(steps)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(one_batch, epochs=1, verbose=0)
    seconds["steps"] = time.perf_counter() - start
    seconds["steps_cpu"] = time.process_time() - cpu_start

    timer = EpochTimer()
    fit(model, config, train, validation, augment=dataset.augment, epochs=2, callbacks=[timer], verbose=0)
    seconds["fit"], seconds["fit_cpu"] = timer.seconds[-1], timer.cpu_seconds[-1]

    start = time.perf_counter()
    model.evaluate(make_pipeline(x_val, y_val, batch_size=batch), verbose=0)
    seconds["validation"] = time.perf_counter() - start
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", nargs="?", default="lenet")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over all settings (default: 3)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every setting")
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"],
                        help="compute dtypes to time (default: both; bfloat16 is slow on CPUs without AVX512_BF16)")
    parser.add_argument("--layers", nargs="+", default=["fast"], choices=["fast", "keras"],
                        help="layers to time: ours (fast, train.fast_layers, the default) and/or Keras's own (keras)")
    args = parser.parse_args(argv)

    import pandas as pd

    from kerasapps import settings
    from kerasapps.config import load_config
    from kerasapps.data import load_experiment_data
    from kerasapps.settings import import_tensorflow
    from kerasapps.training.run import library_versions

    import_tensorflow()
    base = load_config(args.experiment, overrides=args.overrides)
    dataset, train, validation = load_experiment_data(base, data_dir=settings.data_dir(), log=lambda _: None)
    mixed_settings = [precision == "bfloat16" for precision in args.precisions]
    variants = list(itertools.product(mixed_settings, sorted({1, base.train.steps_per_execution}), args.layers))
    stamp, rows = datetime.datetime.now().isoformat(timespec="seconds"), []
    for repeat in range(args.repeats):
        for mixed, steps_per_execution, layers in variants if repeat % 2 == 0 else variants[::-1]:
            config = copy.deepcopy(base)
            config.train.mixed_precision, config.train.steps_per_execution = mixed, steps_per_execution
            config.train.fast_layers = layers == "fast"
            seconds = time_epoch(config, dataset, train, validation)
            setting = f"{'bfloat16' if mixed else 'float32'}, steps_per_execution={steps_per_execution}, {layers} layers"
            rows.append({"date": stamp, "experiment": args.experiment, "repeat": repeat + 1, "setting": setting,
                         **{f"{k}_s": round(v, 3) for k, v in seconds.items()}})  # fmt: skip
            print(f"repeat {repeat + 1}  {setting:36s}  " + "  ".join(f"{k} {v:5.2f} s" for k, v in seconds.items()),
                  flush=True)  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["machine"] = library_versions()["machine"]
    RESULTS.parent.mkdir(exist_ok=True)
    earlier = pd.read_csv(RESULTS) if RESULTS.exists() else None  # its rows may lack this run's newer columns
    pd.concat([earlier, frame], ignore_index=True).to_csv(RESULTS, index=False)
    print(f"\nmedian seconds per epoch over {args.repeats} repeats:")
    print(frame.groupby("setting", sort=False)[[f"{k}_s" for k in seconds]].median().to_string())
    print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
