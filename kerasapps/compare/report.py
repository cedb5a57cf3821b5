"""The comparison's report: tables, a chart, and what the numbers say of the course notes' claims."""

import datetime
import os
import pathlib
import platform

import pandas as pd

from kerasapps.plots import plot_comparison
from kerasapps.runs import write_atomic, write_json

TRAINING_COLUMNS = {
    "side": "side", "runs": "what runs", "parameters": "parameters", "train_per_s": "train {unit}/s",
    "test_accuracy": "test accuracy", "peak_memory_mb": "peak memory MB", "time_to_first_step_s": "first step s",
}  # fmt: skip
DEPLOYMENT_COLUMNS = {
    "runtime": "runtime", "variant": "variant", "file": "file", "size_kb": "size KB", "test_accuracy": "test accuracy",
    "agreement": "agreement", "max_abs_diff": "max abs diff", "latency_ms": "ms/input", "runs_on": "runs on",
    "ops": "ops outside a delegate (ExecuTorch) / ops (LiteRT)", "needs": "needs",
}  # fmt: skip
PERCENT = {"test_accuracy", "agreement"}
RUNTIMES = {"tf-graph": "LiteRT", "torch-eager": "ExecuTorch"}


def write_report(results, target, files, *, config, dataset, job):
    """Write report.md, report.csv, report.png and the deployment files into `target`; returns the report dict."""
    training = [r for r in results if r["side"] != "notes"]
    deployment = [
        {"runtime": RUNTIMES[r["side"]], **row}  # a row of another runtime names its own
        for r in results
        if r["side"] in RUNTIMES
        for row in r.get("deployment", [])
    ]
    notes = next((r.get("notes", []) for r in results if r["side"] == "notes"), [])
    unit = "reviews" if dataset.preprocessing.get("kind") == "text" else "images"
    claims = judge_claims(training, deployment, unit)
    if job["steps_limited"]:
        length = (
            f"{job['steps']:,} training steps of batch {config.train.batch_size} only (--steps: one epoch over "
            f"the first {job['steps'] * config.train.batch_size:,} training examples; every row is {job['steps']:,} "
            "steps, not a full training)"
        )
    else:
        length = f"{config.train.epochs} epochs ({job['steps']:,} steps) of batch {config.train.batch_size}"
    header = (
        f"{config.model.name} on {dataset.name}, {length}, "
        f"{config.optimizer.name} (lr {config.optimizer.learning_rate}, schedule {config.schedule.name}), "
        f"seed {config.seed}; "
        f"{job['threads'] or 'default'} CPU threads per side; deployed files checked on the first "
        f"{job['deploy_examples']:,} test inputs, one at a time. Machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {datetime.date.today().isoformat()}."
    )
    if config.train.bucket_by_length:
        header += (
            " The TensorFlow rows train on batches of reviews of similar length, each cut to its longest "
            "(`train.bucket_by_length`, the suite's pipeline); the torch-backend and PyTorch rows run every padded "
            "step of every batch, as a script that copies the arrays would."
        )
    columns = {**TRAINING_COLUMNS, "train_per_s": TRAINING_COLUMNS["train_per_s"].format(unit=unit)}
    text = "\n\n".join([
        header,
        "Training (each side in its own process):\n" + _table(training, columns),
        "Deployment:\n" + _table(deployment, DEPLOYMENT_COLUMNS),
        "The course notes' PyTorch code, run:\n" + _table(notes, {"snippet": "snippet", "result": "result"}),
        "What the numbers say of the notes' table:\n" + "\n".join(f"- {c}" for c in claims),
    ])  # fmt: skip
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(pathlib.Path(files).rglob("*.*")):
        write_atomic(target / path.name, path.read_bytes())
    write_atomic(target / "report.md", f"# TensorFlow vs PyTorch: {config.name}\n\n{text}\n")
    rows = [{"section": "training", **r} for r in training] + [{"section": "deployment", **r} for r in deployment]
    write_atomic(
        target / "report.csv", pd.DataFrame(rows).drop(columns=["deployment"], errors="ignore").to_csv(index=False)
    )
    plot_comparison(
        {f"train {unit}/s": _bars(training, "side", "train_per_s"),
         "first step s": _bars(training, "side", "time_to_first_step_s"),
         "file size KB": _bars(deployment, None, "size_kb"), "ms/input": _bars(deployment, None, "latency_ms")},
        target / "report.png", title=f"TensorFlow vs PyTorch: {config.name}",
    )  # fmt: skip
    report = {"training": training, "deployment": deployment, "notes": notes, "claims": claims, "text": text}
    write_json(target / "report.json", report)
    return report


def _bars(rows, key, value):
    label = (lambda r: r[key]) if key else (lambda r: f"{r['runtime']} {r['variant']}")
    return {label(r): r[value] for r in rows if r.get(value) is not None}


def _cell(key, value):
    if value is None:
        return ""
    if key in PERCENT:
        return f"{value:.2%}"
    return f"{value:,.4g}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)


def _table(rows, columns):
    """A markdown table of `rows` under `columns` ({key: heading}); a row with an error or note says so."""
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_cell(key, row.get(key)) for key in columns]
        problem = row.get("error") or row.get("note")
        if problem:
            cells[-1] = f"{cells[-1]} {problem}".strip()
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- the notes' claims ------------------------------------------------------------


def judge_claims(training, deployment, unit="images"):
    """Plain sentences: which of the notes' "TensorFlow vs. PyTorch" claims these numbers support."""
    speed = {r["side"]: r.get("train_per_s") for r in training if r.get("train_per_s")}
    claims = []
    if {"tf-graph", "tf-eager"} <= speed.keys() and {"torch-eager", "torch-compile"} <= speed.keys():
        claims.append(
            '"PyTorch: dynamic graphs defined at run time; TensorFlow: static and dynamic graphs" is outdated: '
            f"both ran both here. TensorFlow trained at {speed['tf-graph']:,.0f} {unit}/s as a compiled graph and "
            f"{speed['tf-eager']:,.0f} eagerly; PyTorch at {speed['torch-eager']:,.0f} eagerly and "
            f"{speed['torch-compile']:,.0f} under torch.compile, which captures a static graph."
        )
    if speed:
        fastest = max(speed, key=speed.get)
        claims.append(
            f"The fastest trainer on this machine was {fastest} ({speed[fastest]:,.0f} {unit}/s)"
            + ("." if fastest == "tf-graph" else ": a row other than the suite's TensorFlow graph (tf-graph) won.")
        )
    ran = [r for r in deployment if r.get("latency_ms") is not None]
    pte = [r for r in ran if r["runtime"] == "ExecuTorch"]
    if pte:
        claims.append(
            '"PyTorch includes deployment features for mobile and embedded frameworks" is supported: the network '
            f"became {len(pte)} ExecuTorch file(s) that ran in ExecuTorch's runtime "
            f"({', '.join(r['variant'] for r in pte)})."
        )
    elif any(r["runtime"] == "ExecuTorch" for r in deployment):
        why = [r.get("note", "") for r in deployment if r["runtime"] == "ExecuTorch"]
        claims.append("No ExecuTorch file ran here, so the PyTorch deployment claim is not measured: " + why[-1])
    bridged = [r for r in ran if r["runtime"] == "LiteRT (litert-torch)"]
    if bridged:
        claims.append(
            "The line between the two is thinner than the table says: litert-torch turned the PyTorch model into a "
            f"LiteRT file ({bridged[0]['size_kb']:g} KB, {bridged[0]['latency_ms']:.3f} ms per input, "
            f"{bridged[0]['agreement']:.2%} agreement with PyTorch) that TensorFlow's runtime ran."
        )
    if ran:
        smallest, quickest = min(ran, key=lambda r: r["size_kb"]), min(ran, key=lambda r: r["latency_ms"])
        tf_wins = smallest["runtime"] == quickest["runtime"] == "LiteRT"
        claims.append(
            f'"TensorFlow works better for embedded frameworks": the smallest file was {smallest["runtime"]} '
            f"{smallest['variant']} ({smallest['size_kb']:g} KB) and the fastest "
            f"{quickest['runtime']} {quickest['variant']} "
            f"({quickest['latency_ms']:.3f} ms per input); "
            + (
                "the numbers support the claim on this network."
                if tf_wins
                else "the numbers do not support it on both counts here."
            )
        )
    return claims
