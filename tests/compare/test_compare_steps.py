"""`kerasapps compare` on the LSTM and with --steps, tiny, and the deployment time limit.

Apart from tests/compare/test_compare.py so that the two whole tiny comparisons run in different test workers.
Needs the `[torch]` extra (PyTorch and ExecuTorch), as CI installs it.
"""

import numpy as np
import pytest

from kerasapps.commands.cli import run_main
from kerasapps.commands.compare import main
from kerasapps.compare.run import build_twin

pytestmark = pytest.mark.slow  # trains or converts models: the full suite's tier

RNG = np.random.default_rng(0)


# --- the LSTM and --steps, tiny; the deployment time limit ------------------------


def test_time_limit_stops_a_python_loop_and_then_leaves_no_timer():
    from kerasapps.compare.timing import TimedOut, time_limit

    with pytest.raises(TimedOut, match="timed out after 0.2 s"):
        with time_limit(0.2):
            while True:
                pass
    with time_limit(5):
        total = sum(range(1000))
    assert total == 499500
    import signal

    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_worker_reports_its_own_peak_memory_not_its_parents():
    """Linux's ru_maxrss carries the parent's peak across fork and exec; a worker of a parent holding
    the dataset read the parent's 1,404 MB on every side."""
    import subprocess
    import sys

    held = np.ones(400 * 2**20 // 8)  # 400 MB touched in this (the parent) process
    code = "from kerasapps.compare.timing import peak_memory_mb; print(peak_memory_mb())"
    child_mb = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 0 < child_mb < 200, child_mb
    assert held.sum() == len(held)


def test_a_time_out_that_a_library_rewrapped_still_reads_as_one_line():
    """torch.fx appends its graph to a passing exception's args; the row's note must stay one line."""
    from kerasapps.compare.timing import TimedOut
    from kerasapps.compare.torch_side import _failure

    late = TimedOut(0.5)
    late.args = (late.args[0] + "\n\nWhile executing %lstm : [num_users=1] = call_module[target=lstm]",)
    try:
        try:
            raise late
        except TimedOut as error:
            raise RuntimeError("export failed") from error
    except RuntimeError as error:
        assert _failure(error) == "timed out after 0.5 s (--deploy-time-limit)"
    assert _failure(ValueError("bad op\nmore")) == "failed: bad op"


@pytest.fixture(scope="module")
def tiny_lstm(data_dir, tmp_path_factory):
    """`compare lstm` on 16-token reviews, 3 training steps, the two sides that deploy."""
    from kerasapps.compare.run import compare_experiment
    from kerasapps.config import load_config

    out = tmp_path_factory.mktemp("compare")
    config = load_config(
        "lstm",
        overrides=[
            "data.limit_train=512", "data.limit_test=64", "data.options.sequence_length=16",
            "data.options.vocab_size=500",
        ],
    )  # fmt: skip
    report = compare_experiment(
        config, out=out, data_dir=str(data_dir), steps=3, deploy_examples=16, threads=1,
        sides=("tf-graph", "torch-eager"), log=lambda *_: None,
    )  # fmt: skip
    return out / "lstm", report


def test_tiny_lstm_compare_deploys_both_ways_and_says_its_rows_are_steps(tiny_lstm):
    folder, report = tiny_lstm
    for name in ("report.md", "report.csv", "report.png", "float32.pte", "int8.pte", "litert_torch_float32.tflite"):
        assert (folder / name).stat().st_size > 0, name
    training = {row["side"]: row for row in report["training"]}
    assert set(training) == {"tf-graph", "torch-eager"}
    assert all("error" not in row for row in training.values()), training
    text = (folder / "report.md").read_text()
    assert "3 training steps of batch 64 only" in text and "every row is 3 steps" in text
    rows = {(row["runtime"], row["variant"]): row for row in report["deployment"]}
    assert set(rows) == {
        ("LiteRT", "float32"), ("LiteRT", "int8"), ("ExecuTorch", "float32"), ("ExecuTorch", "int8"),
        ("LiteRT (litert-torch)", "float32"),
    }  # fmt: skip
    pte = rows["ExecuTorch", "float32"]
    # the unrolled LSTM runs on portable kernels, and gives the trained twin's scores
    assert pte["runs_on"].startswith("portable kernels") and "lstm" not in pte["ops"]
    assert pte["max_abs_diff"] < 1e-5 and pte["agreement"] == 1.0
    assert rows["ExecuTorch", "int8"]["agreement"] >= 0.9
    assert "quantized kernels" in rows["ExecuTorch", "int8"]["needs"]
    bridged = rows["LiteRT (litert-torch)", "float32"]
    assert bridged["max_abs_diff"] < 1e-4 and bridged["agreement"] == 1.0 and bridged["latency_ms"] > 0


def test_an_executorch_row_past_its_time_limit_says_it_timed_out(tmp_path):
    from kerasapps.compare.torch_side import deploy_executorch, predict
    from kerasapps.config import load_config

    twin = build_twin("lstm", vocab_size=100, embedding_dim=8, units=4, dense_units=0).eval()
    x = np.where(np.arange(24) < RNG.integers(1, 25, (8, 1)), RNG.integers(1, 100, (8, 24)), 0).astype("int32")
    arrays = {"x_train": x, "y_train": np.arange(8) % 2, "x_test": x, "y_test": np.arange(8) % 2, "x_representative": x[:4]}
    config = load_config("lstm", overrides=["export.representative_size=4"])
    rows = deploy_executorch(twin, config, arrays, predict(twin, x), examples=4, out_dir=tmp_path, time_limit_s=0.5)
    assert [row["variant"] for row in rows] == ["float32", "int8"]
    assert all(row["note"] == "timed out after 0.5 s (--deploy-time-limit)" for row in rows), rows
    assert not list(tmp_path.glob("*.pte"))


def test_steps_and_epochs_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as raised:
        run_main(main, ["resnet20", "--steps", "3", "--epochs", "1"])
    assert raised.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
