"""Benchmark: the exported files as a phone runs them, for LeNet, a CIFAR CNN (ResNet-20) and the LSTM.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_phones.py                 # small runs
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_phones.py --old-python /tmp/old/bin/python

Trains each experiment small (the sizes are in SMALL below and in every CSV row),
exports every variant with `kerasapps.deploy.export_run` and writes one row per
file to bench/results/phones.csv: size, test accuracy and agreement with Keras
(the export's report), MediaPipe Tasks' agreement with Keras on the same test
slice (ImageClassifier on RGB test images, TextClassifier on raw IMDB reviews),
latency from our interpreter (median single-input call, 1 thread, XNNPACK) and
from LiteRT's benchmark tool (`ai_edge_litert.tools.benchmark_litert_model`,
CPU, 1 thread, median), and, with --old-python (a venv with tflite-runtime 2.14,
see bench/old_runtime.py), whether tflite-runtime 2.14 runs the file and how far
its outputs are from LiteRT's. The LSTM is exported both ways (`--recurrent fused` and
`unrolled`, column `recurrent`). All latencies are host x86 (column `machine`), not a phone.
Run it alone: MediaPipe runs in a child process per file, with a time limit.
"""

import argparse
import datetime
import json
import pathlib
import subprocess
import sys
import tempfile

import keras
import numpy as np
import pandas as pd

from kerasapps import runs, settings
from kerasapps.config import load_config, load_run_config
from kerasapps.data import load_experiment_data
from kerasapps.data.imdb import find_imdb_source, read_aclimdb
from kerasapps.data.text_preprocessing import read_vocabulary, vectorize
from kerasapps.deploy import export_run
from kerasapps.deploy.app_graph import app_inputs
from kerasapps.deploy.interpreter import LiteModel
from kerasapps.scores import predicted_classes
from kerasapps.settings import import_tensorflow
from kerasapps.training import library_versions, train_and_evaluate

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "phones.csv"
COMMON = ["callbacks.tensorboard=false", "export.representative_size=200"]
SMALL = {
    "lenet": ["data.limit_train=10000", "data.limit_test=1000", "train.epochs=2"],
    "resnet20": ["data.limit_train=5000", "data.limit_test=500", "train.epochs=2"],
    "lstm": [
        "data.limit_train=5000", "data.limit_test=500", "data.options.sequence_length=128", "data.options.truncate=end",
        "train.epochs=2",
    ],
}
TEST_REVIEWS = 500

import_tensorflow()


def mediapipe_classes(path, kind, inputs, work):
    """(top-1 class indices, "") of MediaPipe Tasks' classifier on `inputs` (RGB uint8 images or
    raw texts), or (None, why not); run in a child process (bench/mediapipe_classes.py says why)."""
    case = work / f"mediapipe-{path.parent.parent.name}-{path.stem}.npz"
    np.savez(case, kind=kind, inputs=np.asarray(inputs))
    script = pathlib.Path(__file__).with_name("mediapipe_classes.py")
    try:
        done = subprocess.run([sys.executable, str(script), str(path), str(case)], capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return None, "MediaPipe: no answer in 900 s"
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not answers:
        return None, f"MediaPipe: exit {done.returncode}, " + (done.stderr.strip().splitlines() or [""])[-1][:200]
    if "error" in answers[-1]:
        return None, "MediaPipe: " + answers[-1]["error"]
    return np.array(answers[-1]["classes"]), ""


def benchmark_tool_ms(path, threads=1):
    """(median ms, "") of LiteRT's benchmark tool on `path` (CPU, `threads` threads), or
    (None, its error line): its CompiledModel loader refuses the fused LSTM files."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        done = subprocess.run(
            [sys.executable, "-m", "ai_edge_litert.tools.benchmark_litert_model", f"--model={path}", "--num_runs=200",
             "--warmup_runs=20", f"--num_threads={threads}", f"--result_json={out.name}"],
            capture_output=True, text=True, timeout=300,
        )
        if done.returncode:
            errors = [line for line in done.stderr.splitlines() if line.startswith(("ERROR", "RuntimeError"))]
            return None, "benchmark tool: " + (errors[0] if errors else f"exit {done.returncode}")[:200]
        result = json.loads(pathlib.Path(out.name).read_text())
    return result["latency"]["median_ms"], ""


def old_runtime(old_python, files, inputs, folder):
    """{file: (loads, max_abs_diff)} from tflite-runtime 2.14 in its own venv."""
    cases = []
    for path in files:
        lite = LiteModel(path)
        x = lite.quantize_input(inputs[:32])
        case = folder / f"{path.parent.name}-{path.stem}.npz"
        expected = np.concatenate([lite.invoke(example[None]) for example in x])  # one by one, as old_runtime.py runs
        np.savez(case, model=np.frombuffer(str(path).encode(), np.uint8), inputs=x, expected=expected)
        cases.append(str(case))
    result = subprocess.run([old_python, str(pathlib.Path(__file__).with_name("old_runtime.py")), *cases],
                            capture_output=True, text=True, timeout=600, check=True)
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {r["file"]: (r["loads"], r.get("max_abs_diff")) for r in rows}


def measure(experiment, data_dir, work, old_python):
    overrides = SMALL[experiment] + COMMON
    config = load_config(experiment, overrides=overrides)
    run_dir, _ = train_and_evaluate(config, data_dir=data_dir, runs_dir=work / "runs", verbose=0, log=lambda _: None)
    spec = runs.read_metrics(run_dir)["dataset"]["preprocessing"]
    model = keras.saving.load_model(run_dir / "model.keras")
    if spec.get("kind") == "text":
        texts, labels = read_aclimdb(find_imdb_source(data_dir))["test"]
        pick = np.linspace(0, len(texts) - 1, TEST_REVIEWS).astype(int)
        inputs = [texts[i] for i in pick]
        file_inputs = vectorize(inputs, spec, read_vocabulary(run_dir / "vocabulary.txt"))
        keras_classes = predicted_classes(model.predict(file_inputs, verbose=0))
        kind = "text"
    else:
        dataset, _, _ = load_experiment_data(load_run_config(run_dir), data_dir=data_dir, log=lambda _: None)
        inputs = app_inputs(dataset.x_test, spec).astype(np.uint8)
        keras_classes = predicted_classes(model.predict(dataset.x_test, verbose=0))
        file_inputs = inputs.astype(np.float32)
        kind = "image"
    rows = []
    for recurrent in ("fused", "unrolled") if kind == "text" else ("fused",):
        rows += measure_export(run_dir, recurrent, kind, inputs, file_inputs, keras_classes, data_dir, work, old_python)
        for row in rows:
            row["settings"] = " ".join(overrides)
    RESULTS.parent.mkdir(exist_ok=True)  # each experiment's rows as soon as they exist; older rows keep their columns
    earlier = pd.read_csv(RESULTS) if RESULTS.exists() else None
    pd.concat([earlier, pd.DataFrame(rows)]).to_csv(RESULTS, index=False)
    return rows


def measure_export(run_dir, recurrent, kind, inputs, file_inputs, keras_classes, data_dir, work, old_python):
    """Export every variant of `run_dir` (LSTMs as `recurrent`) and measure each file."""
    out = work / f"tflite-{recurrent}"
    report = export_run(run_dir, quantize="all", recurrent=recurrent, out=out, data_dir=data_dir)
    experiment = report["experiment"]
    files = [out / experiment / row["file"] for row in report["variants"]]
    old = old_runtime(old_python, files, file_inputs, work) if old_python else {}
    rows = []
    for row, path in zip(report["variants"], files):
        classes, note = mediapipe_classes(path, kind, inputs, work)
        mediapipe_agreement = None if classes is None else float(np.mean(classes == keras_classes))
        tool_ms, tool_note = benchmark_tool_ms(path)
        rows.append({
            "experiment": experiment, "variant": row["variant"], "recurrent": recurrent if kind == "text" else "",
            "size_kb": row["size_kb"],
            "test_accuracy": row["test_accuracy"], "agreement": row["agreement"],
            "mediapipe_agreement": mediapipe_agreement, "note": "; ".join(filter(None, [note, tool_note])),
            "mediapipe_inputs": f"{len(inputs)} {'raw reviews' if kind == 'text' else 'RGB test images'}",
            "latency_ms_ours": round(row["latency_ms"], 4), "latency_ms_benchmark_tool": tool_ms,
            "threads": 1, "delegate": "XNNPACK (CPU)" if row["xnnpack"] else "builtin CPU kernels",
            "tflite_runtime_2_14": old.get(str(path), (None, None))[0],
            "tflite_runtime_max_abs_diff": old.get(str(path), (None, None))[1],
            "keras_accuracy": report["keras"]["test_accuracy"], "converted_from": report["converted_from"],
            "machine": library_versions()["machine"],
            "date": datetime.date.today().isoformat(),
        })
        print(rows[-1], flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", default=list(SMALL), choices=list(SMALL))
    parser.add_argument("--old-python", help="python of a venv with tflite-runtime 2.14 (see bench/old_runtime.py)")
    parser.add_argument("--data-dir", default=settings.data_dir(), help="default: $KERASAPPS_DATA_DIR")
    args = parser.parse_args()
    data_dir = args.data_dir
    with tempfile.TemporaryDirectory(prefix="bench-phones-") as tmp:
        rows = [row for experiment in args.experiments for row in measure(experiment, data_dir, pathlib.Path(tmp), args.old_python)]
    print(pd.DataFrame(rows).drop(columns=["settings", "machine", "date", "converted_from"]).to_string(index=False))


if __name__ == "__main__":
    main()
