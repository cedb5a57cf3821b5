"""Training on the JAX backend, in one process and data-parallel across two (issue 12).

The JAX runs are subprocesses: the backend is fixed when Keras is imported, and
this process runs Keras on TensorFlow. The one-process reference runs beside the
two-process launch, so that the module costs about one run's time.
"""

import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from kerasapps import runs
from kerasapps.commands.cli import run_main
from kerasapps.commands.launch import main as launch_main
from kerasapps.deploy import export_run
from kerasapps.deploy.app_graph import app_inputs
from kerasapps.deploy.interpreter import LiteModel
from kerasapps.errors import UserError
from kerasapps.processes import ProcessGroup, check_batch_size
from kerasapps.training.distribution import distribution_requested

pytestmark = pytest.mark.slow  # trains or converts models: the full suite's tier

pytest.importorskip("jax", reason="the [jax] extra: pip install -e '.[test,jax]'")

# 360 training and 40 validation examples in batches of 10: 36 steps an epoch, 72 in all. The
# batch divides both: 2 processes drop a last partial batch, and one process would use it.
SETTINGS = ["train.epochs=2", "data.limit_train=400", "data.limit_test=100", "train.batch_size=10",
            "callbacks.tensorboard=false"]
TRAIN = ["train", "lenet", *[a for s in SETTINGS for a in ("--set", s)]]
# Two processes sum each gradient in two halves where one process sums it whole: the same sum in
# another order, which float32 rounds differently by up to about n * 2**-24 of it (n = 10 examples a
# batch). 72 steps of such differences, added up without growing, come to 72 * 10 * 2**-24 = 4.3e-5
# of the loss (1.5e-5 seen on an AVX512 host); a wrong split of the batch changes it by over 1e-2.
# Accuracies move only where a prediction sits at a tie: one example of the split.
LOSS_RTOL = 72 * 10 * 2**-24

# One process on JAX: train, then the JAX model's scores on the first test images.
REFERENCE = textwrap.dedent(
    """
    import os, sys
    os.environ["KERAS_BACKEND"] = "jax"
    import numpy as np
    from kerasapps.config import load_config
    from kerasapps.data import load_experiment_data
    from kerasapps.training import train_and_evaluate
    import keras

    config = load_config("lenet", overrides=sys.argv[2:])
    data_dir = os.environ["KERASAPPS_DATA_DIR"]
    run_dir, metrics = train_and_evaluate(config, data_dir=data_dir, runs_dir=os.environ["KERASAPPS_RUNS_DIR"], verbose=2)
    dataset, _, _ = load_experiment_data(config, data_dir=data_dir)
    x = dataset.x_test[:64]
    scores = keras.saving.load_model(run_dir / "model.keras").predict(x, verbose=0)
    np.savez(sys.argv[1], x=x, scores=scores, backend=keras.backend.backend(), run_dir=str(run_dir))
    """
)


def _epoch_lines(output):
    """Keras's per-epoch lines ("... - loss: 0.1234 ..."), without the timing that differs."""
    return [re.sub(r"^.*?step - ", "", line.strip()) for line in output if "step - " in line]


@pytest.fixture(scope="module")
def jax_runs(data_dir, tmp_path_factory):
    """A 2-process launch and a 1-process JAX run of the same LeNet settings, run side by side."""
    root = tmp_path_factory.mktemp("jax")
    env = {**os.environ, "KERASAPPS_RUNS_DIR": str(root / "one"), "KERASAPPS_DATA_DIR": str(data_dir)}
    reference = subprocess.Popen(
        [sys.executable, "-c", REFERENCE, str(root / "one.npz"), *SETTINGS], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    (root / "tmp").mkdir()
    out, err = io.StringIO(), io.StringIO()
    group = ProcessGroup(
        TRAIN, processes=2, out=out, err=err, keep_output=True,
        env={"KERASAPPS_RUNS_DIR": str(root / "two"), "TMPDIR": str(root / "tmp")},
    )
    code = group.run(timeout=240)
    stdout, stderr = reference.communicate(timeout=240)
    assert reference.returncode == 0, stderr
    assert code == 0, err.getvalue() + "".join(group.outputs[1])
    return {"root": root, "group": group, "out": out.getvalue(), "one": np.load(root / "one.npz")}


def test_two_processes_train_like_one_with_the_same_global_batch(jax_runs):
    root, group = jax_runs["root"], jax_runs["group"]
    first, second = _epoch_lines(group.outputs[0]), _epoch_lines(group.outputs[1])
    assert len(first) == 2 and first == second  # both processes saw the same losses
    (two_run,) = [p for p in (root / "two" / "lenet").iterdir() if not p.is_symlink()]
    one_run = runs.resolve_run(str(jax_runs["one"]["run_dir"]))
    two, one = pd.read_csv(two_run / "history.csv"), pd.read_csv(one_run / "history.csv")
    assert len(two) == 2
    for column in ("loss", "val_loss"):
        np.testing.assert_allclose(two[column], one[column], rtol=LOSS_RTOL, err_msg=column)
    for column, examples in (("accuracy", 360), ("val_accuracy", 40)):
        np.testing.assert_allclose(two[column], one[column], atol=1 / examples, err_msg=column)  # one tie may flip
    metrics = runs.read_metrics(two_run)
    assert metrics["processes"] == 2 and metrics["backend"] == "jax" and metrics["epochs"] == 2
    assert "Test accuracy" in jax_runs["out"] and "2 processes (jax)" in jax_runs["out"]


def test_only_process_zero_writes(jax_runs):
    root = jax_runs["root"]
    assert sorted(p.name for p in (root / "two").iterdir()) == ["lenet"]
    assert len([p for p in (root / "two" / "lenet").iterdir() if not p.is_symlink()]) == 1
    assert list((root / "tmp").iterdir()) == []  # process 1's private saves are gone
    assert not any("Test accuracy" in line for line in jax_runs["group"].outputs[1])


def test_a_jax_trained_run_exports_to_litert_and_agrees(jax_runs, data_dir, tmp_path):
    one = jax_runs["one"]
    assert str(one["backend"]) == "jax"
    export_run(str(one["run_dir"]), quantize="none", out=tmp_path, data_dir=data_dir, log=lambda _: None)
    (tflite,) = (tmp_path / "lenet").glob("float32.tflite")
    spec = runs.read_metrics(str(one["run_dir"]))["dataset"]["preprocessing"]
    pixels = app_inputs(one["x"], spec)  # the exported file takes RGB pixels, as a camera gives them
    # its graph turns RGB back into gray: float rounding of the gray weights, well below any class change
    np.testing.assert_allclose(LiteModel(tflite).predict(pixels), one["scores"], atol=1e-3)


def test_killing_one_process_stops_the_launch(data_dir, runs_dir):
    out, err = io.StringIO(), io.StringIO()
    group = ProcessGroup(TRAIN, processes=2, out=out, err=err, keep_output=True).start()
    try:
        deadline = time.monotonic() + 120
        while not any(line.startswith("Training ") for line in group.outputs[1]):
            assert time.monotonic() < deadline and group.popens[1].poll() is None, "".join(group.outputs[1])
            time.sleep(0.2)
        group.popens[1].send_signal(signal.SIGKILL)
        start = time.monotonic()
        code = group.wait(timeout=60)
    finally:
        group.stop()
    assert code == 1 and time.monotonic() - start < 30
    assert "process 1 of 2 was killed by signal 9; stopped the others" in err.getvalue()
    assert all(p.poll() is not None for p in group.popens)


def test_launch_refuses_other_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_main(launch_main, ["--processes", "2", "evaluate", "lenet"])
    assert exit_info.value.code == 2
    assert "launch runs `train` across processes" in capsys.readouterr().err


@pytest.mark.parametrize("environ, expected", [
    ({}, False),
    ({"KERAS_DISTRIBUTION_NUM_PROCESSES": "2"}, True),
    ({"KERASAPPS_DISTRIBUTED": "1"}, True),
    ({"SLURM_PROCID": "0", "SLURM_NTASKS": "4"}, True),
    ({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}, False),  # a one-task job trains alone
    ({"SLURM_NTASKS": "4"}, False),  # inside an allocation, but not started by srun
])
def test_which_environments_ask_for_distribution(environ, expected):
    assert distribution_requested(environ) is expected


def test_the_global_batch_must_divide_by_the_processes():
    check_batch_size(64, 4)
    with pytest.raises(UserError, match=r"train.batch_size=30 does not divide by the 4 processes: set it to a multiple of 4"):
        check_batch_size(30, 4)
