"""TFDS as a source: its local cache first, then a download where there is network."""

import os

import tensorflow_datasets as tfds

from kerasapps import settings
from kerasapps.data.core import network_available
from kerasapps.errors import DatasetUnavailable


def load_tfds_unless_named(tfds_name, data_dir, missing, hint):
    """TFDS's `tfds_name` (`load_tfds_arrays`) when the user named no data folder.

    A folder the user named (`data_dir`) that lacks the dataset is an error, never a
    reason to look elsewhere: `missing` says what it lacks, `hint` how to provide it
    ("Point --data-dir at ...").

    Raises:
        DatasetUnavailable: a folder was named, or TFDS has no copy and there is no network.
    """
    if data_dir:
        raise DatasetUnavailable(
            f"{missing} under {data_dir}", f"{hint}, or name no folder (neither --data-dir nor $KERASAPPS_DATA_DIR) for TFDS."
        )
    try:
        return load_tfds_arrays(tfds_name)
    except DatasetUnavailable as error:
        raise DatasetUnavailable(
            f"no --data-dir or $KERASAPPS_DATA_DIR, and {error.reason}", f"{hint}, or run once with network."
        ) from None


def load_tfds_arrays(tfds_name, splits=("train", "test")):
    """Load whole TFDS splits as NumPy dicts, e.g. {"image": ..., "label": ...} per split.

    Uses the TFDS cache ($TFDS_DATA_DIR or ~/tensorflow_datasets) if it holds the
    dataset; otherwise downloads it, but only after a quick check that the
    network is there.

    Raises:
        DatasetUnavailable: not cached and no network.
    """
    data_dir = settings.tfds_dir()
    # Opening a builder for a dataset that was never cached logs warnings and
    # creates folders, so look for the folder before asking TFDS.
    cached = os.path.isdir(os.path.join(data_dir, tfds_name))
    if not cached and not network_available():
        raise DatasetUnavailable(f"no TFDS copy of {tfds_name!r} in {data_dir} and no network to download it")
    try:
        builder = tfds.builder(tfds_name, data_dir=data_dir)
        prepared = builder.is_prepared()
    except Exception as error:  # TFDS raises many kinds for a broken cache
        raise DatasetUnavailable(f"TFDS cannot open {tfds_name!r} in {data_dir}: {error}") from None
    if not prepared:
        if not network_available():
            raise DatasetUnavailable(f"the TFDS copy of {tfds_name!r} in {data_dir} is incomplete and there is no network to finish it")
        builder.download_and_prepare()
    return {split: tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1)) for split in splits}

