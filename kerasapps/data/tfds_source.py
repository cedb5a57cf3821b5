"""TFDS as a source: its local cache first, then a download where there is network."""

import os

from kerasapps.data.core import network_available
from kerasapps.errors import DatasetUnavailable


def load_tfds_arrays(tfds_name, splits=("train", "test")):
    """Load whole TFDS splits as NumPy dicts, e.g. {"image": ..., "label": ...} per split.

    Uses the TFDS cache ($TFDS_DATA_DIR or ~/tensorflow_datasets) if it holds the
    dataset; otherwise downloads it, but only after a quick check that the
    network is there.

    Raises:
        DatasetUnavailable: not cached and no network.
    """
    import tensorflow_datasets as tfds

    data_dir = os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
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

