"""The one fit of the suite: a config's model, compiled and trained on its pipelines.

`kerasapps.train` (a run) and `kerasapps.tune` (a trial) both go through
`build_and_compile` and `fit`, so a change to the pipelines, the divergence check or
the compile settings reaches both.
"""

import math
import sys
import warnings

import keras
import numpy as np
import tensorflow as tf

from kerasapps import settings
from kerasapps.config import model_arguments
from kerasapps.data import make_pipeline
from kerasapps.errors import TrainingDiverged
from kerasapps.models import build_model
from kerasapps.processes import check_batch_size
from kerasapps.training.callbacks import StopOnDivergence, divergence_bound
from kerasapps.training.distribution import current_cluster
from kerasapps.training.optimizers import make_optimizer


def seed_everything(seed):
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def set_inter_op_threads(threads, log=print):
    """Let TensorFlow run `threads` ops side by side (`train.inter_op_threads`; 0: its default, one per core).

    With 1, ops run one after the other, each on every core: LeNet's small ops then stop
    competing for two cores (docs/history.md). TensorFlow fixes its thread pools when it runs
    its first op; a process that already has (a test session, a second run) keeps them, and says so.
    """
    if tf.config.threading.get_inter_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # "Inter op parallelism cannot be modified after initialization."
        log(f"train.inter_op_threads={threads} not applied: TensorFlow already runs in this process.")


def mixed_precision_policy(setting):
    """The Keras dtype policy `train.mixed_precision` (True, False or "auto") trains with here.

    True is "mixed_bfloat16". "auto" is half precision on a GPU only: "mixed_bfloat16" where the GPU
    has bfloat16 (compute capability 8 and later), else "mixed_float16", which Keras compiles with
    loss scaling. On a CPU "auto" stays "float32": bfloat16 trained LeNet 1.4 to 2.4 times slower than
    float32 on an AVX512_BF16 EPYC, and without such instructions the CPU emulates it
    (docs/performance.md).
    """
    if setting != "auto":
        return "mixed_bfloat16" if setting else "float32"
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "float32"
    capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
    return "mixed_bfloat16" if capability >= (8, 0) else "mixed_float16"


SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")  # what picks TensorFlow's CPU kernels


def cpu():
    """(model name, the `SPEED_FLAGS` it has) from Linux's /proc/cpuinfo; ("", ()) elsewhere.

    Float32 results differ in the last digits between CPUs with and without AVX512 (oneDNN or
    Eigen kernels), and speed more than that: every benchmark row and run records this.
    """
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            lines = cpuinfo.read().splitlines()
    except OSError:
        return "", ()
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return model, tuple(flag for flag in SPEED_FLAGS if flag in flags)


def build_experiment_model(config, model_kwargs):
    """Build the config's model with the builder arguments the data fixes (`DatasetInfo.model_kwargs`:
    input shape, classes...).

    With `train.mixed_precision` (`mixed_precision_policy`), layers compute in half precision
    with float32 weights; the policy is reset afterwards so that nothing else built in this
    process inherits it.
    """
    keras.mixed_precision.set_global_policy(mixed_precision_policy(config.train.mixed_precision))
    try:
        with settings.use_fast_layers(config.train.fast_layers):
            return build_model(config.model.name, **model_arguments(config, model_kwargs))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def compile_model(model, config, steps_per_epoch):
    """Compile with the config's optimizer; the loss follows the output (1 unit: binary)."""
    binary = model.output_shape[-1] == 1
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=config.train.steps_per_execution,
    )
    return model


def build_and_compile(config, dataset_info, num_train):
    """The config's model, built for the data and compiled for `num_train` training examples."""
    model = build_experiment_model(config, dataset_info.model_kwargs)
    return compile_model(model, config, math.ceil(num_train / config.train.batch_size))


def fit_verbosity():
    """A live progress bar on a terminal, one line per epoch in logs and CI."""
    return 1 if sys.stdout.isatty() else 2


def fit(model, config, train, validation, *, augment=None, callbacks=(), epochs=None, initial_epoch=0, verbose=None):
    """Train `model` on in-memory (x, y) arrays through the suite's tf.data pipelines.

    Args:
        model: a compiled Keras model.
        config: the experiment config (batch size, epochs, seed).
        train, validation: (x, y) arrays; an empty validation set is skipped.
        augment: the dataset's batch augmentation, or None.
        callbacks: callbacks besides the divergence check, which every fit gets.
        epochs, initial_epoch: default to the config's epochs and 0 (Hyperband sets both).
        verbose: Keras verbosity (default: progress bar on a terminal, else a line per epoch).

    Across processes (`training.distribution`), every process passes the same
    arrays; batches then drop the remainder, so that all processes step together.

    Returns:
        The Keras `History`.

    Raises:
        TrainingDiverged: the loss became NaN or infinite, or exploded (`callbacks.divergence_bound`).
    """
    (x, y), (x_val, y_val) = train, validation
    batch = config.train.batch_size
    cluster = current_cluster()
    check_batch_size(batch, cluster.processes)
    even = cluster.distributed
    buckets = config.train.bucket_by_length
    divergence = StopOnDivergence(divergence_bound(model.output_shape[-1]))
    with warnings.catch_warnings():
        # Keras's per-process share of a tf.data pipeline has no known length, so the
        # end of each epoch reads to Keras as "ran out of data": it is the epoch's end.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        history = model.fit(
            make_pipeline(
                x, y, batch_size=batch, shuffle=True, seed=config.seed, augment=augment, drop_remainder=even,
                bucket_by_length=buckets,
            ),
            validation_data=make_pipeline(
                x_val, y_val, batch_size=batch, drop_remainder=even, bucket_by_length=buckets
            ) if len(x_val) else None,
            epochs=epochs or config.train.epochs,
            initial_epoch=initial_epoch,
            callbacks=[*callbacks, divergence],
            verbose=fit_verbosity() if verbose is None else verbose,
            shuffle=False,  # the pipeline shuffles; Keras would only warn
        )
    if divergence.diverged:
        epoch, loss = divergence.diverged
        what = f"became {loss}" if not np.isfinite(loss) else f"reached {loss:.3g}, past {divergence.bound:.3g}"
        raise TrainingDiverged(
            f"the loss {what} at epoch {epoch + 1}: training diverged. Lower optimizer.learning_rate "
            f"(now {config.optimizer.learning_rate}) or set optimizer.clipnorm"
        )
    return history
