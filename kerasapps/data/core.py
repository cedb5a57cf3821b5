"""What every dataset loader returns, loading by name (with a fallback), splits and the tf.data pipelines."""

import dataclasses
import os
import socket
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from kerasapps import settings
from kerasapps.errors import DatasetUnavailable, UserError
from kerasapps.registry import DATASETS


@dataclasses.dataclass
class DatasetInfo:
    """Facts about a loaded dataset that a run records and later commands reuse.

    Attributes:
        name: the dataset actually loaded.
        source: where it came from ("local: PATH", "tfds", "scikit-learn").
        class_names: one name per class index.
        model_kwargs: builder arguments the data fixes (input_shape, num_classes...).
        preprocessing: how a raw example becomes a model input (see `data.images`),
            saved with the run so that predict and export apply the same steps.
        requested: the dataset the config asked for (differs after a fallback).
        fallback_reason: why the requested dataset was replaced, or None.
    """

    name: str
    source: str
    class_names: list
    model_kwargs: dict
    preprocessing: dict = dataclasses.field(default_factory=dict)
    requested: str = ""
    fallback_reason: str | None = None

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Dataset:
    """In-memory train and test arrays, ready for the model, plus their `DatasetInfo`.

    `augment`, if set, maps a training batch (x, y) to an augmented one inside
    the tf.data pipeline. `assets` maps file names to text that the run folder
    keeps beside the model (a vocabulary, say).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    info: DatasetInfo
    augment: Callable | None = None
    assets: dict = dataclasses.field(default_factory=dict)


# --- loading by name --------------------------------------------------------------


def load_dataset(name, *, data_dir=None, fallback=None, options=None, strict_options=True, log=print):
    """Load dataset `name` with loader `options` from the folder `data_dir` (None: TFDS), else from `fallback`.

    The fallback is for a user who named no folder and has no network: a folder that
    was named (commands pass `--data-dir`, else `settings.data_dir()`) and is missing
    or lacks the dataset is an error.

    An option the loader does not take is an error when `strict_options`, else
    ignored; the fallback loader always gets just the options it understands. When the fallback is
    used, `log` is called once with a one-line explanation and the returned
    info records both names and the reason.

    Raises:
        DatasetUnavailable: the dataset cannot be had and there is no fallback.
        UserError: an unknown dataset or option.
    """
    options = dict(options or {})
    if data_dir and not os.path.isdir(data_dir):
        raise UserError(
            f"The data folder {data_dir} does not exist: point --data-dir (or $KERASAPPS_DATA_DIR) at the folder "
            "that holds the datasets, or set neither to load them from TFDS."
        )
    try:
        dataset = _call_loader(name, data_dir, options, strict=strict_options)
        dataset.info.requested = name
        return dataset
    except DatasetUnavailable as error:
        if not fallback or data_dir:
            raise
        reason = error.reason
    log(f"Dataset {name!r} is not available ({reason}): training on the fallback {fallback!r} instead.")
    dataset = _call_loader(fallback, data_dir, options, strict=False)
    dataset.info.requested = name
    dataset.info.fallback_reason = reason
    return dataset


def _call_loader(name, data_dir, options, *, strict):
    known = DATASETS.defaults(name)
    if strict:
        DATASETS.check_arguments(name, options, where="data.options")
    return DATASETS.get(name).builder(data_dir=data_dir, **{k: v for k, v in options.items() if k in known})


def network_available(host="storage.googleapis.com", port=443, timeout=3.0):
    """True if a TCP connection to the TFDS download host opens within `timeout` seconds.

    Asked before any TFDS download, because offline `tfds.load` retries for
    minutes before it gives up. KERASAPPS_OFFLINE=1 forces False.
    """
    if settings.offline():
        return False
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_experiment_data(config, *, data_dir=None, log=print):
    """Load an experiment config's dataset and split off validation.

    `data.limit_train` / `data.limit_test` keep a random subset of each split,
    drawn with the config's seed (so a later command gets the same subsets).
    Returns (dataset, (x_train, y_train), (x_val, y_val)); the test arrays stay in
    `dataset` for the final evaluation only. The full training arrays move into
    the split (`dataset.x_train` and `dataset.y_train` become None): keeping both
    would hold MNIST's 245 MB of training images twice.
    """
    dataset = load_dataset(
        config.data.name, data_dir=data_dir, fallback=config.data.fallback, options=config.data.options, log=log
    )
    rng = np.random.default_rng(config.seed)
    for split, limit in (("train", config.data.limit_train), ("test", config.data.limit_test)):
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if limit and limit < len(x):
            keep = np.sort(rng.choice(len(x), limit, replace=False))
            setattr(dataset, f"x_{split}", x[keep])
            setattr(dataset, f"y_{split}", y[keep])
    train, val = split_validation(dataset.x_train, dataset.y_train, config.data.validation_split, config.seed)
    dataset.x_train = dataset.y_train = None
    return dataset, train, val


# --- splits and pipelines ---------------------------------------------------------


def split_validation(x, y, fraction, seed):
    """Carve a validation set of `fraction` of the examples out of (x, y), shuffled by `seed`.

    Returns ((x_train, y_train), (x_val, y_val)); with fraction 0 the validation
    arrays are empty.
    """
    if not 0 <= fraction < 1:
        raise UserError(f"data.validation_split must be in [0, 1), got {fraction}.")
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = int(round(len(x) * fraction))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


# training batches of similar length are drawn from pools of this many batches: shuffled enough, tight enough
LENGTH_POOL_BATCHES = 50
# JAX and PyTorch compile a step anew for each batch shape (TensorFlow's is traced once, for any
# width): there, a batch's width is rounded up to a multiple of this, a few shapes in all
COMPILED_WIDTH_MULTIPLE = 64


def sequence_lengths(x):
    """Each row's length up to its last nonzero id: token ids are zero-padded on the right."""
    nonzero = x != 0
    return np.where(nonzero.any(axis=1), x.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0).astype(np.int32)


def make_pipeline(x, y, *, batch_size, shuffle=False, seed=0, augment=None, drop_remainder=False, bucket_by_length=False):
    """A tf.data pipeline of (x, y) batches over in-memory arrays.

    `drop_remainder` leaves out a last, smaller batch (training across processes needs equal batches).

    Shuffling permutes indices, not examples: per-example shuffle-then-batch
    costs more per step than training LeNet does. Each batch is gathered from
    the NumPy arrays themselves (`tf.numpy_function`), not from a tensor copy:
    a tensor captured by a tf.data function is copied into its graph, which cost
    `train lenet` about 250 MB for MNIST (docs/history.md).

    `bucket_by_length` (token-id sequences, zero-padded on the right) batches
    sequences of similar length and cuts each batch to its longest one, so that a
    recurrent layer runs as many steps as the batch needs, not the padded length
    (the mask makes the result the same; with JAX or PyTorch, widths are rounded up to a multiple
    of `COMPILED_WIDTH_MULTIPLE`). Shuffled, each batch comes from a pool of
    `LENGTH_POOL_BATCHES` random batches' worth of examples sorted by length, and
    the batches are shuffled; unshuffled, the examples go in length order.
    """
    n = len(x)
    if bucket_by_length and (x.ndim != 2 or not np.issubdtype(x.dtype, np.integer)):
        raise UserError(
            f"train.bucket_by_length needs token-id sequences (2-D integers), got {x.dtype} examples of shape "
            f"{x.shape[1:]}: set train.bucket_by_length=false."
        )
    rows = batch_size if drop_remainder else None
    specs = [tf.TensorSpec((rows, *a.shape[1:]), tf.as_dtype(a.dtype)) for a in (x, y)]
    widths = None
    if bucket_by_length:
        widths = sequence_lengths(x)
        specs[0] = tf.TensorSpec((rows, None), specs[0].dtype)
        multiple = 1 if keras.backend.backend() == "tensorflow" else COMPILED_WIDTH_MULTIPLE

    def take(indices):
        if widths is None:
            return x[indices], y[indices]
        width = -(-max(widths[indices].max(initial=1), 1) // multiple) * multiple
        return x[indices, :width], y[indices]

    def gather(indices):
        batch = tf.numpy_function(take, [indices], [spec.dtype for spec in specs], stateful=False)
        for tensor, spec in zip(batch, specs):
            tensor.set_shape(spec.shape)
        return tuple(batch)

    if bucket_by_length:
        batches = _length_batches(widths, batch_size, shuffle=shuffle, seed=seed, drop_remainder=drop_remainder)
    else:
        indices = tf.data.Dataset.range(n)
        if shuffle:
            indices = indices.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        batches = indices.batch(batch_size, drop_remainder=drop_remainder)
    batches = batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment is not None:
        batches = batches.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)


def _length_batches(widths, batch_size, *, shuffle, seed, drop_remainder):
    """Batches of example indices of similar `widths` (see `make_pipeline`)."""
    n = len(widths)
    count = n // batch_size if drop_remainder else -(-n // batch_size)
    if not shuffle:
        order = np.argsort(widths, kind="stable")
        return tf.data.Dataset.from_tensor_slices(order.astype(np.int64)).batch(batch_size, drop_remainder=drop_remainder)
    table = tf.constant(widths)  # n int32s: small, unlike the examples themselves

    def sort_by_width(pool):
        return tf.gather(pool, tf.argsort(tf.gather(table, pool), stable=True))

    pools = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True)
    pools = pools.batch(batch_size * LENGTH_POOL_BATCHES).map(sort_by_width)
    batches = pools.unbatch().batch(batch_size, drop_remainder=drop_remainder)
    batches = batches.shuffle(count, seed=seed + 1, reshuffle_each_iteration=True)
    return batches.apply(tf.data.experimental.assert_cardinality(count))
