"""Benchmark: the notes' claim that GRUs are faster to train and to deploy than LSTMs, measured.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_lstm_vs_gru.py               # small: minutes on a CPU
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_lstm_vs_gru.py --train 25000 --sequence-length 400 --repeats 5

The notes' model (Embedding(10000, 128, mask_zero) -> LSTM or GRU(128) -> Dense(64)
-> Dense(1)) on IMDB, the two cells interleaved within each repeat (the order
alternates) with the same seed, data and compile (Adam, binary cross-entropy,
batch 64). Per run: parameters, seconds of the second epoch (the first also
traces the graph), test accuracy after two epochs on the subset; once per cell,
the float32 LiteRT file's size and its median single-review latency (one
interpreter thread). Appends rows to bench/results/lstm_vs_gru.csv with a
`machine` column; on a shared machine only the ratios within a run mean much.
"""

import argparse
import datetime
import pathlib
import time

import numpy as np
import pandas as pd

from kerasapps import settings
from kerasapps.data import load_dataset
from kerasapps.deploy import convert
from kerasapps.deploy.interpreter import LiteModel
from kerasapps.models import build_model
from kerasapps.settings import import_tensorflow
from kerasapps.training import library_versions

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "lstm_vs_gru.csv"

import_tensorflow()  # once, quietly, before keras prints its start-up banner


def main(argv=None):
    import keras

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=2000, help="training reviews, a seeded sample (default 2000)")
    parser.add_argument("--test", type=int, default=2000, help="test reviews, a seeded sample (default 2000)")
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved LSTM/GRU pairs (default 3)")
    parser.add_argument("--machine-note", default="shared 2-core CPU", help="recorded beside every row")
    args = parser.parse_args(argv)

    data = load_dataset("imdb", data_dir=settings.data_dir(), options={"sequence_length": args.sequence_length, "vocab_size": 10000})
    # The splits are sorted by label: a seeded sample keeps both classes in each subset.
    rng = np.random.default_rng(0)
    train = rng.permutation(len(data.x_train))[: args.train]
    test = rng.permutation(len(data.x_test))[: args.test]
    x, y, x_test, y_test = data.x_train[train], data.y_train[train], data.x_test[test], data.y_test[test]
    rows = []
    for repeat in range(args.repeats):
        for cell in ("lstm", "gru") if repeat % 2 == 0 else ("gru", "lstm"):
            keras.utils.set_random_seed(repeat)
            model = build_model("lstm", cell=cell, vocab_size=10000, sequence_length=args.sequence_length, name=cell)
            model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
            ends = []
            timer = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(time.perf_counter()))
            start = time.perf_counter()
            model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[timer])
            row = {
                "repeat": repeat, "cell": cell, "params": model.count_params(),
                "epoch2_s": round(ends[1] - ends[0], 2), "epoch1_s": round(ends[0] - start, 2),
                "test_accuracy": round(float(model.evaluate(x_test, y_test, verbose=0)[1]), 4),
            }  # fmt: skip
            if repeat < 2:  # the file's size and speed do not depend on the weights
                content = convert.convert(model, "float32", representative=x[:32])
                row["tflite_mb"] = round(len(content) / 2**20, 2)
                row["tflite_latency_ms"] = round(LiteModel(content).latency_ms(x_test, repeats=100), 3)
            rows.append(row)
            print(row, flush=True)
            keras.backend.clear_session()
    frame = pd.DataFrame(rows)
    medians = frame.groupby("cell")[["params", "epoch2_s", "test_accuracy", "tflite_mb", "tflite_latency_ms"]].median()
    print(medians.to_string())
    ratio = medians.loc["gru"] / medians.loc["lstm"]
    print(f"GRU / LSTM (medians): epoch time {ratio['epoch2_s']:.2f}, LiteRT latency {ratio['tflite_latency_ms']:.2f}, "
          f"parameters {ratio['params']:.2f}")  # fmt: skip
    frame.insert(0, "date", datetime.datetime.now().isoformat(timespec="seconds"))
    frame.insert(1, "sequence_length", args.sequence_length)
    frame.insert(2, "train_reviews", args.train)
    frame["machine"] = f"{library_versions()['machine']} ({args.machine_note})"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(RESULTS, mode="a", header=not RESULTS.exists(), index=False)
    print(f"appended {len(frame)} rows to {RESULTS}")


if __name__ == "__main__":
    main()
