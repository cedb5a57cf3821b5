"""Every command's main path through the console script, as a user types it: `kerasapps COMMAND ...`.

Each test runs the installed `kerasapps` script in a subprocess, with KERASAPPS_DATA_DIR set, in a
temporary working folder and with a temporary --runs-dir, and checks what the command says it did:
its exit code, the files it says it wrote, the numbers it prints. The lists come from the tables
they test (`kerasapps.__main__.COMMANDS`, `MODELS`, `lab.EXAMPLES`, export's --format choices), so a
new command, model or format is tested without editing this file. The tiny runs are trained once a
module, by `kerasapps train` itself; the other files test the library behind each command in-process.
"""

import gzip
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from kerasapps.__main__ import COMMANDS
from kerasapps.commands.models import human
from kerasapps.models import MODELS
from tests.conftest import SMALL_LENET, TINY_LSTM

pytestmark = pytest.mark.slow

SCRIPT = shutil.which("kerasapps", path=os.pathsep.join([str(pathlib.Path(sys.executable).parent), os.environ["PATH"]]))
HEAVY_LIBRARIES = ("tensorflow", "keras", "torch", "jax")  # what --help must not import
REVIEWS = ["a quietly brilliant film with a moving ending", "the worst movie i have ever seen, dull and far too long"]


def _sets(overrides):
    return [a for s in overrides for a in ("--set", s)]


def _needs(module, extra):
    """Skip unless `module` is installed (found, not imported: PyTorch alone takes seconds to import)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"the [{extra}] extra: pip install -e '.[{extra}]'")


@pytest.fixture(scope="module")
def kerasapps(data_dir, tmp_path_factory):
    """kerasapps(*args, timeout=, env=) -> the finished `kerasapps ARGS...` process, asserted to have
    exited 0; it runs in a working folder of this module, with $KERASAPPS_DATA_DIR set and neither
    $KERASAPPS_RUNS_DIR nor $KERAS_BACKEND (the defaults a user starts from)."""
    if SCRIPT is None:
        pytest.fail("the `kerasapps` console script is not installed: pip install -e .")
    cwd = tmp_path_factory.mktemp("cwd")
    base = {k: v for k, v in os.environ.items() if k not in ("KERASAPPS_RUNS_DIR", "KERAS_BACKEND")}
    base["KERASAPPS_DATA_DIR"] = str(data_dir)

    def run(*args, timeout=600, env=None):
        args = [str(a) for a in args]
        result = subprocess.run(
            [SCRIPT, *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, (
            f"`kerasapps {' '.join(args)}` exited {result.returncode}\n"
            f"--- stdout (end)\n{result.stdout[-3000:]}\n--- stderr (end)\n{result.stderr[-5000:]}"
        )
        return result

    return run


def _trained(kerasapps, experiment, overrides, runs_dir):
    """`kerasapps train EXPERIMENT --runs-dir D --set ...`: the run folder it names, checked against what it printed."""
    out = kerasapps("train", experiment, "--runs-dir", runs_dir, *_sets(overrides)).stdout
    accuracy, loss, saved = re.search(r"Test accuracy: ([\d.]+)% \(loss ([\d.]+)\)\. Saved (\S+)", out).groups()
    run_dir = pathlib.Path(saved)
    assert run_dir.parent == runs_dir / experiment and f"Run folder: {run_dir}" in out
    for name in ("model.keras", "config.yaml", "history.csv", "metrics.json", "labels.txt", "curves.png"):
        assert (run_dir / name).stat().st_size > 0, name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert float(accuracy) == pytest.approx(100 * metrics["test_accuracy"], abs=0.006)
    assert float(loss) == pytest.approx(metrics["test_loss"], abs=6e-5)
    assert (runs_dir / experiment / "latest").resolve() == run_dir.resolve()
    return run_dir


@pytest.fixture(scope="module")
def lenet_run(kerasapps, tmp_path_factory):
    """A LeNet trained one epoch on 1,800 MNIST digits by `kerasapps train lenet` (SMALL_LENET)."""
    return _trained(kerasapps, "lenet", SMALL_LENET, tmp_path_factory.mktemp("saved_models"))


@pytest.fixture(scope="module")
def lstm_run(kerasapps, tmp_path_factory):
    """A small LSTM trained two epochs on 900 IMDB reviews by `kerasapps train lstm` (TINY_LSTM)."""
    return _trained(kerasapps, "lstm", TINY_LSTM, tmp_path_factory.mktemp("saved_models"))


@pytest.fixture(scope="module")
def digits(data_dir, tmp_path_factory):
    """The first four MNIST test digits as PNG files (read from the IDX file itself, not through kerasapps)."""
    with gzip.open(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:4]
    folder = tmp_path_factory.mktemp("digits")
    paths = []
    for i, image in enumerate(images):
        paths.append(folder / f"digit{i}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def _wrote(out):
    """The files a command's 'Wrote A, B and C in DIR' line names, each asserted to exist."""
    names, folder = re.search(r"^Wrote (.+) in (\S+)$", out, re.MULTILINE | re.IGNORECASE).groups()
    paths = [pathlib.Path(folder) / name for name in re.split(r", | and ", names)]
    for path in paths:
        assert path.exists(), path
    return paths


def _is_png(path):
    return pathlib.Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _predictions(out):
    """predict's lines 'probability<TAB>class<TAB>input' as (float, class, input)."""
    rows = [line.split("\t") for line in out.strip().splitlines()]
    assert all(len(row) == 3 for row in rows), out
    return [(float(p), label, source) for p, label, source in rows]


# --- the table of commands --------------------------------------------------------


def test_help_lists_every_command(kerasapps):
    out = kerasapps("--help").stdout
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and line.strip()]
    assert listed == list(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_fast_help(kerasapps, command):
    """--help answers before TensorFlow, Keras, PyTorch or JAX is imported (each takes seconds)."""
    result = kerasapps(command, "--help", env={"PYTHONPROFILEIMPORTTIME": "1"}, timeout=60)
    assert result.stdout.startswith(f"usage: kerasapps {command}")
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert imported, "PYTHONPROFILEIMPORTTIME printed nothing"
    assert not imported & set(HEAVY_LIBRARIES)


# --- models -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def models_table(kerasapps):
    """`kerasapps models`: name -> its row (family, api, input, params, MACs as printed)."""
    lines = kerasapps("models").stdout.splitlines()
    assert lines[0].split()[:6] == ["name", "family", "API", "input", "params", "MACs"]
    rows = {}
    for line in lines[1:]:
        name, family, api, input_shape, params, macs = line.split()[:6]
        params = int(params.replace(",", ""))
        rows[name] = {"family": family, "api": api, "input": input_shape, "params": params, "macs": macs}
    return rows


def _from_human(text):
    return float(text[:-1]) * {"K": 1e3, "M": 1e6, "G": 1e9}[text[-1]] if text[-1] in "KMG" else float(text)


def test_models_table_has_a_row_for_every_registered_model(models_table):
    assert sorted(models_table) == MODELS.names()
    for name, row in models_table.items():
        assert row["family"] == MODELS.get(name).family, name
        assert row["api"] in ("Sequential", "Functional"), name
        assert row["params"] > 0 and _from_human(row["macs"]) > 0, (name, row)


def _described(kerasapps, *args):
    """`kerasapps models --name X [ARGS]`: (input, MACs, the configuration line, {layer: params}, total)."""
    name = args[0]
    lines = kerasapps("models", "--name", *args).stdout.splitlines()
    first = re.match(rf"{name}: input \((.*)\), ([\d,]+) multiply-accumulates per example", lines[0])
    input_shape, macs = first.groups()
    assert lines[2].split()[:2] == ["layer", "type"] and lines[-1].split()[0] == "total"
    layers = {line.split()[0]: int(line.split()[-1].replace(",", "")) for line in lines[3:-1]}
    total = int(lines[-1].split()[-1].replace(",", ""))
    assert total == sum(layers.values())
    return input_shape, int(macs.replace(",", "")), lines[1], layers, total


RNN_MODELS = [n for n in MODELS.names() if MODELS.get(n).family == "rnn"]


@pytest.mark.parametrize("name", RNN_MODELS)
def test_models_name_of_every_recurrent_model(kerasapps, models_table, name):
    _, macs, note, layers, total = _described(kerasapps, name)
    assert total == models_table[name]["params"] and human(macs) == models_table[name]["macs"]
    assert "built with the builder's defaults" in note and "--print-config" in note
    assert any(kind in layer for layer in layers for kind in ("lstm", "gru", "simplernn")), layers


def test_models_family_rnn_lists_the_recurrent_models(kerasapps, models_table):
    lines = kerasapps("models", "--family", "rnn").stdout.splitlines()[1:]
    rows = {line.split()[0]: line.split() for line in lines}
    assert sorted(rows) == RNN_MODELS
    for name, fields in rows.items():
        assert int(fields[4].replace(",", "")) == models_table[name]["params"], name
        assert fields[5] == models_table[name]["macs"], name


def test_models_name_counts_every_time_step_of_a_fixed_length_sequence(kerasapps, models_table):
    """notes_lstm reads 10 steps of 256 features: its LSTM(128) does 4 x 128 x (256 + 128) MACs a step."""
    input_shape, macs, *_ = _described(kerasapps, "notes_lstm")
    assert input_shape == "10, 256"
    assert macs == 10 * 4 * 128 * (256 + 128) + 128 * 64 + 64 * 1 == 1_974_336
    assert human(macs) == models_table["notes_lstm"]["macs"]


def test_models_name_lenet5_modern_says_the_lenet_experiment_sets_other_args(kerasapps, models_table, lenet_run):
    input_shape, macs, note, layers, total = _described(kerasapps, "lenet5_modern")
    assert input_shape == "32, 32, 1" and total == models_table["lenet5_modern"]["params"] == 61_706
    assert human(macs) == models_table["lenet5_modern"]["macs"]
    assert "built with the builder's defaults" in note and "kerasapps train lenet --print-config" in note
    # ... and that is why the lenet experiment trains another count: its config turns batch norm on
    assert json.loads((lenet_run / "metrics.json").read_text())["parameters"] == 62_132
    config = yaml.safe_load(kerasapps("train", "lenet", "--print-config").stdout)
    assert config["model"]["name"] == "lenet5_modern" and config["model"]["args"]["batch_norm"] is True


def test_models_notes_beside_the_suite_counts(kerasapps, models_table):
    lines = kerasapps("models", "--notes").stdout.splitlines()
    assert "suite model" in lines[0]
    suite = [line.split("|")[1].split() for line in lines[1:] if line.count("|") == 2]
    assert len(suite) >= 5
    for name, params, depth in suite:
        assert int(params.replace(",", "")) == models_table[name]["params"], name
        assert int(depth) > 0


# --- lab --------------------------------------------------------------------------


def test_lab_all_prints_and_draws_every_example(kerasapps, tmp_path):
    from kerasapps.commands.lab import EXAMPLES

    out = kerasapps("lab", "all", "--out", tmp_path / "lab", "--models", "lenet5").stdout
    # `all` is every example but `gradients`, which trains two networks
    assert len(re.findall(r"^== ", out, re.MULTILINE)) == len(EXAMPLES) - 1
    figures = re.findall(r"^figure: (\S+)$", out, re.MULTILINE)
    assert figures and all(_is_png(path) and pathlib.Path(path).parent == tmp_path / "lab" for path in figures)
    assert re.search(r"^lenet5 +[\d,]+ +[\d,]+ +[\d,]+ +[\d,]+x$", out, re.MULTILINE)  # the sharing table


# --- evaluate, visualize, predict -------------------------------------------------


def test_evaluate_writes_the_confusion_matrix_and_a_row_per_class(kerasapps, lenet_run):
    run_dir = lenet_run  # the image run; test_predict.py evaluates a text run
    out = kerasapps("evaluate", run_dir).stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    accuracy, examples = re.search(
        rf"^{re.escape(str(run_dir))}: test accuracy ([\d.]+)% .* on (\d+) ", out, re.MULTILINE
    ).groups()
    assert float(accuracy) == pytest.approx(100 * metrics["test_accuracy"], abs=0.006)
    assert int(examples) == metrics["examples"]["test"]
    written = _wrote(out)
    assert {p.name for p in written} >= {"confusion_matrix.csv", "confusion_matrix.png", "classification_report.csv"}
    labels = (run_dir / "labels.txt").read_text().splitlines()
    report = pd.read_csv(run_dir / "classification_report.csv", index_col=0)
    assert [str(i) for i in report.index[: len(labels)]] == labels
    assert report["support"].iloc[: len(labels)].sum() == int(examples)
    confusion = pd.read_csv(run_dir / "confusion_matrix.csv", index_col=0)
    assert confusion.shape == (len(labels), len(labels)) and confusion.to_numpy().sum() == int(examples)
    assert np.trace(confusion.to_numpy()) == round(metrics["test_accuracy"] * int(examples))


def test_visualize_an_image_run_draws_its_feature_maps(kerasapps, lenet_run):
    out = kerasapps("visualize", lenet_run).stdout
    (path,) = re.findall(r"^wrote (\S+)$", out, re.MULTILINE)
    assert pathlib.Path(path) == lenet_run / "visualize.png" and _is_png(path)


def test_visualize_a_text_run_draws_the_hidden_state_over_a_review(kerasapps, lstm_run, tmp_path):
    out = kerasapps("visualize", lstm_run, REVIEWS[0], "--out", tmp_path / "state.png").stdout
    assert re.findall(r"^wrote (\S+)$", out, re.MULTILINE) == [str(tmp_path / "state.png")]
    assert _is_png(tmp_path / "state.png")


@pytest.fixture(scope="module")
def run_predictions(kerasapps, lenet_run, digits):
    """`kerasapps predict RUN digit0.png ...`, parsed."""
    return _predictions(kerasapps("predict", lenet_run, *digits).stdout)


def test_predict_image_files_with_the_run(run_predictions, lenet_run, digits):
    labels = (lenet_run / "labels.txt").read_text().splitlines()
    assert [source for _, _, source in run_predictions] == [str(p) for p in digits]
    assert all(1 / len(labels) <= p <= 1 and label in labels for p, label, _ in run_predictions)


def test_predict_texts_with_the_text_run(kerasapps, lstm_run):
    predictions = _predictions(kerasapps("predict", lstm_run, *REVIEWS).stdout)
    assert [source for _, _, source in predictions] == REVIEWS
    for p, label, _ in predictions:  # P(positive) to 4 decimals, and the class it gives
        assert 0 <= p <= 1 and label in ("neg", "pos")
        assert abs(p - 0.5) <= 1e-4 or label == ("pos" if p > 0.5 else "neg"), (p, label)


# --- export, then predict with a .tflite alone -------------------------------------


def _export_formats():
    from kerasapps.commands.export import build_parser

    (action,) = [a for a in build_parser()._actions if "--format" in a.option_strings]
    return list(action.choices)


@pytest.fixture(scope="module")
def exported(kerasapps, lenet_run, tmp_path_factory):
    """exported(format) -> (the export folder, the command's output) of `kerasapps export RUN --format F`, run once."""
    done = {}

    def export(fmt):
        if fmt not in done:
            out_root = tmp_path_factory.mktemp(f"export_{fmt}")
            out = kerasapps("export", lenet_run, "--format", fmt, "--out", out_root).stdout
            folder = out_root / "lenet"
            assert {p.parent for p in _wrote(out)} == {folder}
            done[fmt] = folder, out
        return done[fmt]

    return export


@pytest.mark.parametrize("fmt", _export_formats())
def test_export_every_format_writes_and_checks_each_variant(exported, fmt):
    folder, out = exported(fmt)
    variants = re.search(r"^Exporting .*: (.+); checking each file on (\d+) ", out, re.MULTILINE).group(1).split(", ")
    assert "float32" in variants and "int8" in variants
    report = pd.read_csv(folder / "report.csv").set_index("variant")
    for variant in variants:
        printed = re.search(rf"^{variant} +[\d.]+ +([\d.]+)% ", out, re.MULTILINE).group(1)
        assert float(printed) == pytest.approx(100 * report.loc[variant, "test_accuracy"], abs=0.006), variant
        assert (folder / report.loc[variant, "file"]).stat().st_size > 0
    assert report.loc["float32", "agreement"] == 1.0
    assert (folder / "saved_model" / "saved_model.pb").is_file()
    if fmt == "c":  # the int8 model as a C array for TensorFlow Lite Micro
        assert (folder / "model_data.cc").stat().st_size > (folder / "int8.tflite").stat().st_size


def test_predict_with_an_exported_tflite_alone_agrees_with_the_run(kerasapps, exported, run_predictions, digits):
    folder, _ = exported("tflite")
    from_file = _predictions(kerasapps("predict", folder / "float32.tflite", *digits).stdout)
    from_run = run_predictions
    assert [source for _, _, source in from_file] == [str(p) for p in digits]
    assert [label for _, label, _ in from_file] == [label for _, label, _ in from_run]
    # the file turns RGB into gray in its graph; the run decodes the PNG as gray: rounding differs a little
    np.testing.assert_allclose([p for p, _, _ in from_file], [p for p, _, _ in from_run], atol=2e-3)


# --- tune, launch (compare runs through the console script in test_compare.py) -------------

TINY_TUNE = ["tune.max_trials=2", "data.limit_train=300", "data.limit_test=100", "train.epochs=1",
             "callbacks.tensorboard=false"]  # fmt: skip


def test_tune_lenet_with_a_tiny_budget(kerasapps, tmp_path):
    runs_dir = tmp_path / "saved_models"
    out = kerasapps("tune", "lenet", "--runs-dir", runs_dir, *_sets(TINY_TUNE)).stdout
    completed, failed = map(int, re.search(r"^(\d+) trials completed, (\d+) failed", out, re.MULTILINE).groups())
    assert 1 <= completed <= 2 and failed == 0
    assert out.count("trial done: val_accuracy=") == completed
    best = pathlib.Path(re.search(r"^Best config: (\S+)", out, re.MULTILINE).group(1))
    assert best.parent.parent == runs_dir / "lenet" / "tune"
    trials = pd.read_csv(best.parent / "trials.csv")
    assert len(trials) == completed and set(trials["status"]) == {"COMPLETED"}
    assert trials["val_accuracy"].between(0, 1).all()
    saved = yaml.safe_load(best.read_text())
    assert saved["data"]["limit_train"] is None and saved["model"]["name"] == "lenet5_modern"  # the whole dataset
    assert _is_png(best.parent / "objective.png")


def test_launch_two_jax_processes_train_one_lenet(kerasapps, tmp_path):
    _needs("jax", "jax")
    runs_dir = tmp_path / "saved_models"
    # 360 training and 40 validation digits in batches of 10: both processes take a share of every batch
    settings = ["data.limit_train=400", "data.limit_test=100", "train.epochs=1", "train.batch_size=10",
                "callbacks.tensorboard=false"]  # fmt: skip
    out = kerasapps(
        "launch", "--processes", "2", "train", "lenet", "--backend", "jax", "--runs-dir", runs_dir, *_sets(settings),
        timeout=300,
    ).stdout  # fmt: skip
    assert "2 processes (jax)" in out
    accuracy, saved = re.search(r"Test accuracy: ([\d.]+)% .*Saved (\S+)", out).groups()
    (run_dir,) = [p for p in (runs_dir / "lenet").iterdir() if not p.is_symlink()]  # process 0 alone writes
    assert pathlib.Path(saved) == run_dir
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["backend"] == "jax" and metrics["epochs"] == 1
    assert float(accuracy) == pytest.approx(100 * metrics["test_accuracy"], abs=0.006)
    assert (run_dir / "model.keras").stat().st_size > 0
