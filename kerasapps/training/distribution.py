"""Data-parallel training across processes and hosts: Keras 3's `keras.distribution` on the JAX backend.

    cluster = start_cluster()          # before any JAX computation
    if cluster.is_chief: ...           # process 0 writes the run folder

A run is distributed when `KERAS_DISTRIBUTION_NUM_PROCESSES` is set (with
`KERAS_DISTRIBUTION_JOB_ADDRESSES`, the coordinator's HOST:PORT, and
`KERAS_DISTRIBUTION_PROCESS_ID`), when Slurm's `srun` started more than one task,
or when `KERASAPPS_DISTRIBUTED=1` asks JAX to find the cluster itself (Cloud TPU,
Kubernetes with `jax[k8s]`). Each process then feeds the whole global batch
pipeline and Keras hands each its share; the model's variables are replicated and
the gradients averaged, so every process sees the same weights and the same losses.

What the processes must do together (measured with Keras 3.15 and jax 0.10):
`model.save` and `model.fit`'s callbacks that save are collective, so every process
saves (the others into a private folder); `model.predict` does not work across
processes, so evaluation runs afterwards in process 0 alone; a partial last batch
makes the processes diverge, so batches drop the remainder and the global batch
must divide by the number of processes.
"""

import contextlib
import dataclasses
import os
import pathlib
import shutil
import tempfile

import keras
import numpy as np

from kerasapps import settings
from kerasapps.errors import UserError
from kerasapps.settings import ADDRESSES_ENV, DISTRIBUTED_ENV, PROCESS_ID_ENV, PROCESSES_ENV

PATH_BYTES = 4096  # room for a run folder's path when process 0 tells the others


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Where this process stands: its index and how many processes train together."""

    process_id: int = 0
    processes: int = 1

    @property
    def is_chief(self):
        """Process 0: the one that writes the run folder and logs."""
        return self.process_id == 0

    @property
    def distributed(self):
        return self.processes > 1


SINGLE = Cluster()


def distribution_requested(environ):
    """True when `environ` (`settings.distribution()`) asks for a run across processes (see the module docstring)."""
    slurm_tasks = environ.get("SLURM_STEP_NUM_TASKS") or environ.get("SLURM_NTASKS") or "1"
    return bool(environ.get(PROCESSES_ENV)) or environ.get(DISTRIBUTED_ENV) == "1" or (
        "SLURM_PROCID" in environ and slurm_tasks.isdigit() and int(slurm_tasks) > 1
    )


def start_cluster():
    """Join the other processes and train data-parallel, if the environment asks for it.

    Must run before anything computes with JAX. Returns the `Cluster`; without a
    request, `SINGLE` and nothing changes.

    Raises:
        UserError: the backend is not JAX, or the variables are incomplete.
    """
    environ = settings.distribution()
    if not distribution_requested(environ):
        return SINGLE
    if keras.backend.backend() != "jax":
        raise UserError(
            f"Training across processes needs the JAX backend, not {keras.backend.backend()!r}: "
            "add --backend jax (pip install 'kerasapps[jax]')."
        )
    if environ.get(PROCESSES_ENV) and not (environ.get(ADDRESSES_ENV) and environ.get(PROCESS_ID_ENV)):
        raise UserError(
            f"{PROCESSES_ENV} is set, so {ADDRESSES_ENV} (process 0's HOST:PORT) and {PROCESS_ID_ENV} "
            "(0 .. N-1) must be set too; `kerasapps launch --processes N train ...` sets all three."
        )
    if keras.distribution.distribution() is None:
        keras.distribution.initialize()
        keras.distribution.set_distribution(keras.distribution.DataParallel())
    return current_cluster()


def current_cluster():
    """The `Cluster` that Keras distributes over now; `SINGLE` when it does not."""
    if keras.distribution.distribution() is None:
        return SINGLE
    import jax

    return Cluster(process_id=jax.process_index(), processes=jax.process_count())


def stop_distributing():
    """Back to one process's devices: models built or loaded from here on are this process's own."""
    keras.distribution.set_distribution(None)


def broadcast_path(path, cluster):
    """Process 0's `path` (a path or None), in every process."""
    if not cluster.distributed:
        return path
    from jax.experimental import multihost_utils

    encoded = np.zeros(PATH_BYTES, dtype=np.uint8)
    if cluster.is_chief and path is not None:
        raw = os.fsencode(str(path))
        if len(raw) >= PATH_BYTES:
            raise UserError(f"The run folder's path is longer than {PATH_BYTES - 1} bytes: {path}")
        encoded[: len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    received = np.asarray(multihost_utils.broadcast_one_to_all(encoded)).tobytes().rstrip(b"\0")
    return pathlib.Path(os.fsdecode(received)) if received else None


@contextlib.contextmanager
def process_folder(run_dir, cluster):
    """The folder this process saves into: the run folder in process 0, a private one elsewhere.

    The other processes must save too (saving is collective); their copies go to a
    temporary folder, removed afterwards. On resume it starts as a copy of the run's
    backup, so that every process restores the same epoch.
    """
    if cluster.is_chief:
        yield run_dir
        return
    private = tempfile.mkdtemp(prefix=f"kerasapps-process-{cluster.process_id}-")
    try:
        backup = run_dir / "backup"
        if backup.is_dir():
            shutil.copytree(backup, os.path.join(private, "backup"))
        yield pathlib.Path(private)
    finally:
        shutil.rmtree(private, ignore_errors=True)
