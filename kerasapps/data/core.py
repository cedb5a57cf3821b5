"""What every dataset loader returns, the dataset registry, and the tf.data pipelines."""

import dataclasses
import inspect
import os
import socket
from typing import Callable

import numpy as np
import tensorflow as tf

from kerasapps.errors import DatasetUnavailable, UserError

DATA_DIR_ENV = "KERASAPPS_DATA_DIR"
OFFLINE_ENV = "KERASAPPS_OFFLINE"


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


# --- registry ---------------------------------------------------------------------

_LOADERS: dict[str, Callable] = {}


def register_dataset(name):
    """Decorator: register `loader(*, data_dir, **options) -> Dataset` under `name`."""

    def decorate(loader):
        if name in _LOADERS:
            raise ValueError(f"A dataset named {name!r} is already registered.")
        _LOADERS[name] = loader
        return loader

    return decorate


def list_datasets():
    """The names of the registered datasets, sorted."""
    return sorted(_LOADERS)


def dataset_options(name):
    """The keyword options of dataset `name`'s loader and their defaults."""
    loader = _get_loader(name)
    return {
        p.name: p.default
        for p in inspect.signature(loader).parameters.values()
        if p.default is not inspect.Parameter.empty and p.name != "data_dir"
    }


def _get_loader(name):
    if name not in _LOADERS:
        raise UserError(f"Unknown dataset {name!r}. Known datasets are: {', '.join(list_datasets())}.")
    return _LOADERS[name]


def resolve_data_dir(data_dir=None):
    """The local data folder: the argument, else $KERASAPPS_DATA_DIR, else None."""
    return data_dir or os.environ.get(DATA_DIR_ENV) or None


def load_dataset(name, *, data_dir=None, fallback=None, options=None, strict_options=True, log=print):
    """Load dataset `name` with loader `options`, falling back to `fallback` if it cannot be had.

    An option the loader does not take is an error when `strict_options`, else
    ignored; the fallback loader always gets just the options it understands. When the fallback is
    used, `log` is called once with a one-line explanation and the returned
    info records both names and the reason.

    Raises:
        DatasetUnavailable: the dataset cannot be had and there is no fallback.
        UserError: an unknown dataset or option.
    """
    options = dict(options or {})
    data_dir = resolve_data_dir(data_dir)
    try:
        dataset = _call_loader(name, data_dir, options, strict=strict_options)
        dataset.info.requested = name
        return dataset
    except DatasetUnavailable as error:
        if not fallback:
            raise
        reason = error.reason
    log(f"Dataset {name!r} is not available ({reason}): training on the fallback {fallback!r} instead.")
    dataset = _call_loader(fallback, data_dir, options, strict=False)
    dataset.info.requested = name
    dataset.info.fallback_reason = reason
    return dataset


def _call_loader(name, data_dir, options, *, strict):
    loader = _get_loader(name)
    known = dataset_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown and strict:
        raise UserError(
            f"Dataset {name!r} has no option {', '.join(unknown)}. Its options are: {', '.join(sorted(known)) or 'none'}."
        )
    return loader(data_dir=data_dir, **{k: v for k, v in options.items() if k in known})


def network_available(host="storage.googleapis.com", port=443, timeout=3.0):
    """True if a TCP connection to the TFDS download host opens within `timeout` seconds.

    Asked before any TFDS download, because offline `tfds.load` retries for
    minutes before it gives up. KERASAPPS_OFFLINE=1 forces False.
    """
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        return False
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


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


def make_pipeline(x, y, *, batch_size, shuffle=False, seed=0, augment=None):
    """A tf.data pipeline of (x, y) batches over in-memory arrays.

    Shuffling permutes indices, not examples, and each batch is one `tf.gather`:
    per-example shuffle-then-batch costs more per step than training LeNet does.
    The arrays stay in one constant tensor, so there is nothing to cache.
    """
    n = len(x)
    x_t, y_t = tf.constant(x), tf.constant(y)
    indices = tf.data.Dataset.range(n)
    if shuffle:
        indices = indices.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    batches = indices.batch(batch_size).map(
        lambda idx: (tf.gather(x_t, idx), tf.gather(y_t, idx)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if augment is not None:
        batches = batches.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)
