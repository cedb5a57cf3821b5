"""Benchmark: the course notes' LSTM as TFLite files (fused kernel or unrolled twin), without training.

    python bench/bench_export_rnn.py                      # sequence length 400, as configs/lstm.yaml; fused
    python bench/bench_export_rnn.py --recurrent unrolled --sequence-length 100

Embedding(10000, 128, mask_zero) -> LSTM(128) -> Dense(64) -> Dense(1, sigmoid) with
random weights: size, conversion time, agreement with Keras and latency do not
depend on training. Inputs are random token ids with 50 to 365 real ids and
padding after them. Per variant: conversion seconds, file size, max abs
difference from Keras over 64 inputs, median single-input latency (one
interpreter thread). Appends rows to bench/results/export_rnn.csv.
"""

import argparse
import datetime
import pathlib
import time

import numpy as np
import pandas as pd

from kerasapps.deploy import convert
from kerasapps.deploy.interpreter import LiteModel, keras_latency_ms
from kerasapps.settings import import_tensorflow
from kerasapps.training import library_versions

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "export_rnn.csv"

import_tensorflow()  # once, quietly, before keras prints its start-up banner


def main(argv=None):
    import keras

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequence-length", type=int, default=400)
    parser.add_argument("--recurrent", default="fused", choices=["fused", "unrolled"])
    parser.add_argument("--repeats", type=int, default=50, help="single-input calls per file (default 50)")
    args = parser.parse_args(argv)
    length = args.sequence_length

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((length,), dtype="int32"),
        keras.layers.Embedding(10000, 128, mask_zero=True),
        keras.layers.LSTM(128),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    x = np.random.default_rng(0).integers(2, 10000, (64, length)).astype(np.int32)
    for i in range(len(x)):
        x[i, min(50 + 5 * i, length - 1):] = 0
    reference = model.predict(x, verbose=0)

    rows = [{"variant": "keras model(x)", "latency_ms": keras_latency_ms(model, x, repeats=10, method="call")}]
    for variant in ("float32", "dynamic", "int8"):
        start = time.perf_counter()
        content = convert.convert(model, variant, representative=x[:32], recurrent=args.recurrent)
        seconds = time.perf_counter() - start
        lite = LiteModel(content)
        ops = convert.op_names(content)
        rows.append({
            "variant": variant,
            "convert_s": round(seconds, 1),
            "size_mb": round(len(content) / 2**20, 2),
            "max_abs_diff": float(np.abs(lite.predict(x) - reference).max()),
            "latency_ms": lite.latency_ms(x, repeats=args.repeats),
            "flex_ops": " ".join(op for op in ops if op.startswith("Flex")) or "none",
            "ops": len(ops),
        })
        print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    frame["latency_ms"] = frame["latency_ms"].round(3)
    print(frame.to_string(index=False))
    frame.insert(0, "date", datetime.datetime.now().isoformat(timespec="seconds"))
    frame.insert(1, "sequence_length", length)
    frame.insert(2, "recurrent", args.recurrent)
    frame["machine"] = library_versions()["machine"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    earlier = pd.read_csv(RESULTS) if RESULTS.exists() else None  # older rows keep their columns
    pd.concat([earlier, frame]).to_csv(RESULTS, index=False)
    print(f"appended {len(frame)} rows to {RESULTS}")


if __name__ == "__main__":
    main()
