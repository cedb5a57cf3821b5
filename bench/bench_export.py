"""Benchmark: LeNet/MNIST as TFLite files in the LiteRT interpreter, against the Keras model.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_export.py
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_export.py --set train.epochs=3   # quicker
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_export.py --run saved_models/lenet/<run-id>

Trains the default `lenet` experiment (or takes a finished run), converts it to
each variant with `kerasapps.deploy`, and measures in one process: file size, test
accuracy over the whole MNIST test split, and single-image latency (median of
many calls, one interpreter thread, the variants interleaved round by round so
that the noise of a shared machine hits them alike). Beside them: Keras
`model.predict` on one image, and the model called directly (`model(x)`). Checks the issue's targets: int8 size <= 30% of
float32, accuracy drop <= 0.3 points, int8 latency <= float32. Appends one row
per variant to bench/results/export.csv.
"""

import argparse
import datetime
import pathlib
import sys
import tempfile

import numpy as np
import pandas as pd

from kerasapps import settings
from kerasapps.config import load_config, load_run_config
from kerasapps.data import load_experiment_data
from kerasapps.deploy import convert
from kerasapps.deploy.interpreter import LiteModel, keras_latency_ms
from kerasapps.runs import resolve_run
from kerasapps.scores import accuracy
from kerasapps.settings import import_tensorflow
from kerasapps.training import library_versions, train_and_evaluate

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "export.csv"

import_tensorflow()  # once, quietly, before keras prints its start-up banner


def measure(run_dir, *, rounds, repeats, log=print):
    """Rows of variant measurements for the run in `run_dir` (see the module docstring)."""
    import keras

    config = load_run_config(run_dir)
    dataset, (x_train, _), _ = load_experiment_data(config, data_dir=settings.data_dir(), log=lambda _: None)
    model = keras.saving.load_model(run_dir / "model.keras")
    x_test, y_test = dataset.x_test, dataset.y_test
    keras_scores = model.predict(x_test, batch_size=256, verbose=0)
    keras_accuracy = accuracy(keras_scores, y_test)
    representative = x_train[np.random.default_rng(config.seed).choice(len(x_train), config.export.representative_size, replace=False)]

    files = {}
    for variant, io in [("float32", "float"), ("float16", "float"), ("dynamic", "float"), ("int8", "float"), ("int8", "int8")]:
        files[f"{variant}" + (f" io={io}" if io != "float" else "")] = convert.convert(
            model, variant, representative=representative, io=io
        )
    lites = {name: LiteModel(content) for name, content in files.items()}
    latencies = {name: [] for name in lites}
    keras_methods = {"keras model.predict": "predict", "keras model(x)": "call"}
    latencies.update({name: [] for name in keras_methods})
    for r in range(rounds):
        for name, lite in lites.items():
            latencies[name].append(lite.latency_ms(x_test, repeats=repeats))
        for name, method in keras_methods.items():
            latencies[name].append(keras_latency_ms(model, x_test, repeats=max(repeats // 25, 5), method=method))
        log(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {v[-1]:.4f} ms" for n, v in latencies.items()))

    rows = [{"variant": name, "size_kb": None, "test_accuracy": keras_accuracy, "max_abs_diff": 0.0,
             "latency_ms": float(np.median(latencies[name]))} for name in keras_methods]
    for name, lite in lites.items():
        scores = lite.predict(x_test)
        rows.append({
            "variant": name,
            "size_kb": round(len(files[name]) / 1024, 1),
            "test_accuracy": accuracy(scores, y_test),
            "max_abs_diff": float(np.abs(scores - keras_scores).max()),
            "latency_ms": float(np.median(latencies[name])),
        })
    frame = pd.DataFrame(rows)
    float32 = frame.set_index("variant").loc["float32"]
    frame["size_vs_float32"] = (frame["size_kb"] / float32["size_kb"]).round(3)
    frame["speedup_vs_float32"] = (float32["latency_ms"] / frame["latency_ms"]).round(2)
    frame["accuracy_drop_points"] = (100 * (keras_accuracy - frame["test_accuracy"])).round(2)
    frame["latency_ms"] = frame["latency_ms"].round(4)
    return frame, config, len(x_test)


def targets(frame):
    """The issue's three targets for the int8 file with float I/O: name -> (value, passed)."""
    table = frame.set_index("variant")
    int8, float32 = table.loc["int8"], table.loc["float32"]
    return {
        "int8 size / float32 <= 0.30": (int8["size_vs_float32"], int8["size_vs_float32"] <= 0.30),
        "int8 accuracy drop <= 0.3 points": (int8["accuracy_drop_points"], int8["accuracy_drop_points"] <= 0.3),
        "int8 latency <= float32": (f"{int8['latency_ms']} vs {float32['latency_ms']} ms", int8["latency_ms"] <= float32["latency_ms"]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="measure this finished run (folder or experiment name) instead of training one")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for the training run, e.g. train.epochs=3")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved latency rounds (default 5)")
    parser.add_argument("--repeats", type=int, default=500, help="single-image calls per round and file (default 500)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as runs_dir:
        if args.run:
            run_dir = resolve_run(args.run)
        else:
            run_dir, _ = train_and_evaluate(
                load_config("lenet", overrides=args.overrides + ["callbacks.tensorboard=false"]),
                data_dir=settings.data_dir(), runs_dir=runs_dir, verbose=2,
            )
        frame, config, n_test = measure(run_dir, rounds=args.rounds, repeats=args.repeats)

    print(frame.to_string(index=False))
    checks = targets(frame)
    for name, (value, passed) in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {value}")
    versions = library_versions()
    frame.insert(0, "date", datetime.datetime.now().isoformat(timespec="seconds"))
    frame.insert(1, "command", "python bench/bench_export.py " + " ".join(sys.argv[1:]))
    frame.insert(2, "epochs", config.train.epochs)
    frame.insert(3, "test_examples", n_test)
    frame["int8_targets_met"] = all(passed for _, passed in checks.values())
    frame["machine"] = versions["machine"]
    frame["tensorflow"] = versions["tensorflow"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(RESULTS, mode="a", header=not RESULTS.exists(), index=False)
    print(f"appended {len(frame)} rows to {RESULTS}")


if __name__ == "__main__":
    main()
