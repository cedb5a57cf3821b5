"""Export a trained run for phones and boards: the library behind `kerasapps export`.

    report = export_run("lenet", quantize="all", io="int8", data_dir="../shared/data")

writes into `tflite/<experiment>/`:

    saved_model/                 TensorFlow SavedModel, `serve` endpoint and serving_default signature
    float32.tflite ...           one file per variant (float32, float16, dynamic, int8), each
                                 with TFLite metadata: name, input description, labels,
                                 and for text the regex tokenizer and its vocabulary
    labels.txt                   class names, one per line (line 1 = class 0)
    preprocessing.json           how training turned a raw input into the model's input (the run's spec)
    vocabulary.txt               text models only: the token ids' vocabulary
    report.json, report.csv      per variant: size, test accuracy, agreement with Keras, latency, ops

A .tflite file holds the graph an app feeds (`app_graph`): RGB pixels 0..255 for
an image model, one probability per class out, so a phone's MediaPipe Tasks
classifier loads it alone (docs/phones.md). Every file is checked by running it
over the whole test split against the same graph in Keras. Everything is
written into a hidden staging folder beside the target and moved into place
only once all of it succeeded, so a failed export leaves earlier ones intact.
The run folder's `exports.json` lists what was exported, when and where.
"""

import datetime
import json
import os
import pathlib
import shutil
import tempfile

import numpy as np
import pandas as pd
import tensorflow as tf

from kerasapps import runs
from kerasapps.config import apply_override, list_experiments, load_run_config, validate
from kerasapps.data import load_experiment_data
from kerasapps.data.text_preprocessing import read_vocabulary
from kerasapps.deploy import convert, metadata, web
from kerasapps.deploy.app_graph import TEXT_DELIMITER, app_inputs, app_model, reads_text
from kerasapps.deploy.c_array import arena_bytes, c_array_files
from kerasapps.deploy.interpreter import LiteModel, keras_latency_ms
from kerasapps.errors import UserError, check_choice
from kerasapps.scores import accuracy, predicted_classes

QUANTIZE = {"none": ("float32",), "float16": ("float16",), "dynamic": ("dynamic",), "int8": ("int8",), "all": convert.VARIANTS}
DEFAULT_OUT = "tflite"
CONVERTED_FROM = {
    None: "model",
    "fused": "fused LSTM twin (UNIDIRECTIONAL_SEQUENCE_LSTM, one input per call; float16 unrolled)",
    "unrolled": "unrolled twin (recurrent layers, unroll=True)",
}
REPORT_COLUMNS = [
    "variant", "file", "size_kb", "test_accuracy", "accuracy_drop_points", "agreement", "max_abs_diff",
    "latency_ms", "xnnpack", "io", "ops", "note",
]
# The int8 fused LSTM file (`convert.keeps_state`): said in its row and in its metadata description.
KEEPS_STATE = (
    "keeps its LSTM state from one call to the next: reset the interpreter's variable tensors before each input "
    "(MediaPipe's TextClassifier does not; docs/phones.md)"
)


def variants_for(quantize, io="float"):
    """The variants `--quantize` asks for, after checking that `io` fits them.

    Raises:
        UserError: an unknown `quantize` or `io`, or integer I/O without the int8 variant.
    """
    check_choice("--quantize", quantize, tuple(QUANTIZE))
    variants = QUANTIZE[quantize]
    convert.check_variant("int8" if "int8" in variants else variants[0], io)
    return variants


def export_run(
    run, *, quantize="all", io="float", recurrent="fused", allow_flex=False, c_array=False, out=None, data_dir=None, runs_dir=None,
    overrides=(), log=print,
):
    """Export run `run` (a folder, or an experiment name for its newest run).

    Args:
        quantize: "none" (float32), "float16", "dynamic", "int8" or "all".
        io: input/output type of the int8 file: "float", "int8" or "uint8".
        recurrent: "fused" (LSTM models as the fused kernel) or "unrolled" (`convert.recurrent_route`).
        allow_flex: keep a file that needs Select TF (Flex) ops instead of refusing it.
        c_array: also write the int8 model as a C array for TensorFlow Lite Micro
            (model_data.cc/.h, with its tensor-arena size).
        out: root folder; files go to `<out>/<experiment>/` (default `tflite/`).
        data_dir: the local dataset folder the user named (None: TFDS).
        runs_dir: root of run folders.
        overrides: `export.KEY=VALUE` settings over the run's saved config.
        log: where progress lines and the table go.

    Returns:
        The report dict, as written to report.json.

    Raises:
        UserError: no such run or no model in it, a variant that cannot be produced,
            an `io` that does not fit, an empty representative set, an output folder
            that cannot be written.
    """
    variants = variants_for(quantize, io)
    check_choice("--recurrent", recurrent, convert.RECURRENT)
    if c_array and "int8" not in variants:
        raise UserError(f"--format c writes the int8 model for microcontrollers: use --quantize int8 or all, not {quantize}.")
    run_dir = runs.resolve_run(run, runs_dir, experiments=list_experiments())
    config = load_run_config(run_dir)
    dataset, (x_train, _), _ = load_experiment_data(config, data_dir=data_dir, log=log)
    for override in overrides:
        if not override.startswith("export."):
            raise UserError(f"export --set takes export.* keys only (the run's other settings are fixed), got {override!r}.")
        apply_override(config, override)
    validate(config)
    spec = dataset.info.preprocessing
    target = pathlib.Path(out or DEFAULT_OUT) / config.name
    stage = _staging_folder(target)
    try:
        model = runs.load_run_model(run_dir)
        representative = None
        if "int8" in variants:
            convert.check_io_fits(app_model(model, spec), io)
            representative = app_inputs(representative_set(x_train, config.export.representative_size, config.seed), spec)
        log(
            f"Exporting {run_dir} ({config.model.name}) to {target}: {', '.join(variants)}; checking each file on "
            f"{len(dataset.x_test):,} {dataset.info.name} test examples."
        )
        assets = _assets(run_dir, spec, dataset.info.class_names)
        describe = _describer(config.name, model, dataset.info, spec)
        packed = _packed(run_dir, spec, assets)
        report = _export_into(
            stage, model, variants, io=io, recurrent=recurrent, allow_flex=allow_flex, representative=representative,
            x_test=dataset.x_test, y_test=dataset.y_test, spec=spec, c_array=c_array,
            with_metadata=lambda content, file_io, note: metadata.with_metadata(content, describe(file_io, note), packed),
        )
        for name, data in assets.items():
            (stage / name).write_bytes(data)
        web.write_web_app(
            stage / web.WEB_FOLDER, experiment=config.name, kind="text" if reads_text(spec) else "image",
            labels=dataset.info.class_names, files={row["variant"]: row["file"] for row in report["variants"]},
            size=spec.get("size"), layout=spec.get("layout", "resize"),
        )  # fmt: skip
        report.update(
            experiment=config.name, run_dir=os.path.relpath(run_dir), dataset=dataset.info.name, test_examples=len(dataset.x_test),
            representative_examples=0 if representative is None else len(representative), date=datetime.datetime.now().isoformat(timespec="seconds"),
        )
        runs.write_json(stage / "report.json", report)
        pd.DataFrame(report["variants"], columns=REPORT_COLUMNS).assign(
            ops=lambda f: f["ops"].map(" ".join)
        ).to_csv(stage / "report.csv", index=False)
        moved = _move_into_place(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    _record_export(run_dir, target, variants, io, moved, report["date"])
    log(format_table(report))
    log(f"Wrote {', '.join(moved)} in {target}")
    return report


# --- the files --------------------------------------------------------------------


def _staging_folder(target):
    if target.exists() and not target.is_dir():
        raise UserError(f"Cannot write to the output folder {target}: it is a file.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    except OSError as error:
        raise UserError(f"Cannot write to the output folder {target.parent}: {error.strerror or error}.") from None


def representative_set(x_train, size, seed):
    """Up to `size` training examples, drawn with the run's seed."""
    if len(x_train) == 0:
        raise UserError("The representative set is empty: the run's training split has no examples to calibrate int8 on.")
    keep = np.sort(np.random.default_rng(seed).choice(len(x_train), min(size, len(x_train)), replace=False))
    return x_train[keep]


def _export_into(stage, model, variants, *, io, recurrent, allow_flex, representative, x_test, y_test, spec, c_array, with_metadata):
    """SavedModel and .tflite files into `stage`, each run on the test split; returns the report.

    The files are compared with the app graph in Keras on the app's inputs
    (`app_graph`); `with_metadata(content, io, note)` packs a file's metadata in,
    `note` added to its description.
    """
    keras_scores = model.predict(x_test, batch_size=256, verbose=0)
    x_app = app_inputs(x_test, spec)
    app_scores = app_model(model, spec).predict(x_app, batch_size=256, verbose=0)
    # The files take the app's inputs (RGB 0..255, raw token ids...), so the row they are measured
    # against, accuracy and agreement alike, is the Keras model behind the same input steps: on a
    # weak model the app inputs' rounding alone can move a few predictions from the run's own.
    keras_accuracy = accuracy(app_scores, y_test)
    convert.export_saved_model(model, stage / "saved_model")
    reloaded = tf.saved_model.load(str(stage / "saved_model"))  # keep a reference: it owns the variables
    served = reloaded.serve(tf.constant(x_test[:256])).numpy()
    report = {
        "keras": {
            "test_accuracy": keras_accuracy,
            "latency_ms": keras_latency_ms(model, x_test),
            "parameters": int(model.count_params()),
        },
        "saved_model": {"path": "saved_model", "max_abs_diff": float(np.abs(served - keras_scores[:256]).max())},
        "converted_from": CONVERTED_FROM[convert.recurrent_route(model, recurrent)],
        "variants": [],
    }
    for variant in variants:
        variant_io = io if variant == "int8" else "float"
        options = dict(
            representative=representative, io=variant_io, sequence_length=spec.get("sequence_length"), recurrent=recurrent,
            select_tf_ops=allow_flex, spec=spec,
        )
        note = KEEPS_STATE if convert.keeps_state(model, variant, recurrent) else ""
        content = with_metadata(convert.convert(model, variant, **options), variant_io, note)
        if c_array and variant == "int8":
            # Batch 1 and no metadata: TFLM lacks the ops an open batch needs (SHAPE, REDUCE_PROD) and reads no metadata.
            micro = convert.convert(model, variant, **options, batch_size=1)
            arena, how = arena_bytes(micro)
            for name, text in c_array_files(micro, arena_bytes=arena, arena_note=how).items():
                (stage / name).write_text(text)
            report["c_array"] = {
                "files": ["model_data.cc", "model_data.h"], "bytes": len(micro), "tensor_arena_bytes": arena,
                "tensor_arena": how,
            }
        ops = convert.op_names(content)
        convert.check_ops(ops, allow_flex=allow_flex, what=f"The {variant} file")
        name = f"{variant}.tflite"
        (stage / name).write_bytes(content)
        # The web app's copy: a static batch of 1, which MediaPipe's GPU (WebGL) delegate needs.
        (stage / web.WEB_FOLDER).mkdir(exist_ok=True)
        (stage / web.WEB_FOLDER / name).write_bytes(
            with_metadata(convert.convert(model, variant, **options, batch_size=1), variant_io, note)
        )
        row = {"variant": variant, "file": name, "size_kb": round(len(content) / 1024, 1), "io": variant_io, "ops": ops}
        if note:
            row["note"] = note
        if any(op.startswith("Flex") for op in ops):
            row["note"] = "needs the Flex delegate: not run by the plain interpreter"
        else:
            row.update(check_tflite(content, x_app, y_test, app_scores, keras_accuracy))
        report["variants"].append(row)
    return report


def check_tflite(content, x_test, y_test, keras_scores, keras_accuracy):
    """Run a .tflite file over the test split: accuracy, agreement with Keras, latency."""
    lite = LiteModel(content)
    scores = lite.predict(x_test)
    file_accuracy = accuracy(scores, y_test)
    return {
        "test_accuracy": file_accuracy,
        "accuracy_drop_points": round(100 * (keras_accuracy - file_accuracy), 2),
        "agreement": float(np.mean(predicted_classes(scores) == predicted_classes(keras_scores))),
        "max_abs_diff": float(np.abs(scores - keras_scores).max()),
        "latency_ms": lite.latency_ms(x_test),
        "xnnpack": lite.xnnpack,  # False: the XNNPACK delegate refused the graph; builtin kernels ran it
    }


def _assets(run_dir, spec, class_names):
    """The files written beside the .tflite files, {name: bytes}."""
    assets = {
        metadata.LABELS_FILE: "".join(f"{name}\n" for name in class_names).encode(),
        "preprocessing.json": (json.dumps(spec, indent=2) + "\n").encode(),
    }
    if spec.get("vocabulary_file"):
        assets[spec["vocabulary_file"]] = (run_dir / spec["vocabulary_file"]).read_bytes()
    return assets


def _packed(run_dir, spec, assets):
    """The associated files packed into each .tflite: labels, and the tokenizer's vocabulary."""
    packed = {metadata.LABELS_FILE: assets[metadata.LABELS_FILE]}
    if reads_text(spec):
        vocabulary = read_vocabulary(run_dir / spec["vocabulary_file"])
        packed[metadata.VOCABULARY_FILE] = metadata.vocabulary_lines(vocabulary).encode()
    return packed


def _describer(experiment, model, info, spec):
    """`describe(io, note)`: the metadata of the run's file whose input/output type is `io`, `note`
    (if any) ending its description."""
    classes = ", ".join(info.class_names[:10]) + (", ..." if len(info.class_names) > 10 else "")
    if reads_text(spec):
        description = f"{model.name} trained on {info.name}: a text in, the probability of each class ({classes}) out."
        return lambda io, note: metadata.describe_text_classifier(
            name=experiment, description=_with_note(description, note), delimiter=TEXT_DELIMITER
        )
    height, width = spec["size"]
    description = f"{model.name} trained on {info.name}: an RGB image {height}x{width} in, the probability of each class ({classes}) out."
    return lambda io, note: metadata.describe_image_classifier(
        name=experiment, description=_with_note(description, note), size=spec["size"],
        layout=spec.get("layout", "resize"), io=io,
    )


def _with_note(description, note):
    return f"{description} It {note}." if note else description


def _move_into_place(stage, target):
    """Move every file of `stage` into `target`, replacing older ones; returns their names."""
    target.mkdir(exist_ok=True)
    names = sorted(p.name for p in stage.iterdir())
    for name in names:
        destination = target / name
        if destination.is_dir():  # a directory cannot be replaced in one rename
            old = stage / f".old-{name}"
            os.replace(destination, old)
        os.replace(stage / name, destination)
    return names


def _record_export(run_dir, target, variants, io, files, date):
    path = run_dir / runs.EXPORTS_FILE
    history = json.loads(path.read_text()) if path.is_file() else []
    history.append({"date": date, "out_dir": str(target.resolve()), "variants": list(variants), "io": io, "files": files})
    runs.write_json(path, history)


# --- the table --------------------------------------------------------------------


def format_table(report):
    """The report as a text table: one line per file, Keras first."""
    keras_row = report["keras"]
    lines = [
        f"{'variant':<10} {'size KB':>9} {'accuracy':>9} {'drop pts':>9} {'agree':>7} {'max diff':>9} {'ms/input':>9}  ops",
        f"{'keras':<10} {'':>9} {keras_row['test_accuracy']:>9.2%} {'':>9} {'':>7} {'':>9} {keras_row['latency_ms']:>9.3f}  (model.predict, app inputs)",
    ]
    for row in report["variants"]:
        if "test_accuracy" not in row:
            lines.append(f"{row['variant']:<10} {row['size_kb']:>9.1f}  {row['note']}")
            continue
        lines.append(
            f"{row['variant']:<10} {row['size_kb']:>9.1f} {row['test_accuracy']:>9.2%} {row['accuracy_drop_points']:>9.2f} "
            f"{row['agreement']:>7.2%} {row['max_abs_diff']:>9.2g} {row['latency_ms']:>9.3f}  {len(row['ops'])} ops"
            + (f", io {row['io']}" if row["io"] != "float" else "")
            + (f"; {row['note']}" if row.get("note") else "")
        )
    lines.append(f"saved_model/ serves the Keras outputs to max abs diff {report['saved_model']['max_abs_diff']:.2g}")
    return "\n".join(lines)
