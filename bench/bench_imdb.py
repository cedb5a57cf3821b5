"""Benchmark: the `lstm`, `gru` and `bilstm` experiments on the full IMDB splits.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_imdb.py lstm gru bilstm

Each experiment is trained with `kerasapps.training.train_and_evaluate` exactly as
`kerasapps train EXPERIMENT` does (22,500 training reviews, 2,500 for
validation), evaluated on all 25,000 test reviews, then timed on raw text with
`kerasapps.deploy.classify.classify` (cleaning and vectorizing included). Appends
one row per experiment to bench/results/imdb.csv. Not a test.
"""

import argparse
import datetime
import pathlib
import sys
import tempfile
import time

import pandas as pd

from kerasapps import settings
from kerasapps.config import load_config
from kerasapps.data.imdb import find_imdb_source, read_aclimdb
from kerasapps.deploy.classify import classify, open_run
from kerasapps.errors import UserError
from kerasapps.settings import import_tensorflow
from kerasapps.training import library_versions, train_and_evaluate

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "imdb.csv"

import_tensorflow()  # once, quietly, before keras prints its start-up banner


def bench_experiment(name, overrides, data_dir, predict_reviews):
    """Train and evaluate one experiment; time predict on raw test reviews. Returns a CSV row."""
    config = load_config(name, overrides=overrides)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as runs_dir:
        run_dir, metrics = train_and_evaluate(config, data_dir=data_dir, runs_dir=runs_dir, verbose=2)
        wall = time.perf_counter() - start
        classifier = open_run(run_dir)
        classify(classifier, predict_reviews[:256])  # warm-up: traces the model
        t = time.perf_counter()
        classify(classifier, predict_reviews)
        predict_s = time.perf_counter() - t
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "experiment": name,
        "model": config.model.name,
        "overrides": " ".join(overrides),
        "parameters": metrics["parameters"],
        "epochs": metrics["epochs"],
        "sequence_length": config.data.options.get("sequence_length"),
        "train_reviews": metrics["examples"]["train"],
        "test_reviews": metrics["examples"]["test"],
        "test_accuracy": round(metrics["test_accuracy"], 4),
        "wall_s": round(wall, 1),
        "train_s": metrics["train_time_s"],
        "train_reviews_per_s": metrics["train_examples_per_s"],
        "predict_reviews_per_s": round(len(predict_reviews) / predict_s, 1),
        "machine": library_versions()["machine"],
        "tensorflow": library_versions()["tensorflow"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="*", default=["lstm", "gru", "bilstm"])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every experiment, e.g. train.epochs=1 for a quick check")
    parser.add_argument("--data-dir", default=settings.data_dir(), help="folder holding aclImdb.tar.gz (default: $KERASAPPS_DATA_DIR)")
    parser.add_argument("--predict-reviews", type=int, default=5000,
                        help="raw test reviews timed through predict_texts (default 5000)")
    args = parser.parse_args(argv)
    data_dir = args.data_dir
    source = find_imdb_source(data_dir)
    if source is None:
        raise UserError(f"No aclImdb/ or aclImdb.tar.gz under {data_dir!r}: set --data-dir or KERASAPPS_DATA_DIR.")
    reviews = read_aclimdb(source)["test"][0][:: max(1, 25_000 // args.predict_reviews)][: args.predict_reviews]

    RESULTS.parent.mkdir(exist_ok=True)
    for name in args.experiments:
        row = bench_experiment(name, args.overrides, data_dir, reviews)
        frame = pd.DataFrame([row])
        frame.to_csv(RESULTS, mode="a", header=not RESULTS.exists(), index=False)
        print(frame.to_string(index=False), flush=True)
    print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
