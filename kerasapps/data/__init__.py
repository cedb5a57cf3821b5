"""Datasets by name, as in-memory arrays and tf.data pipelines.

    dataset = load_dataset("mnist", data_dir="../shared/data", fallback="digits")
    (x, y), (x_val, y_val) = split_validation(dataset.x_train, dataset.y_train, 0.1, seed=0)
    train = make_pipeline(x, y, batch_size=128, shuffle=True)

Importing this package registers every dataset.
"""

from kerasapps.data import imagefolder, imdb, mnist  # noqa: F401  (registers every dataset)
from kerasapps.data.core import (
    DATA_DIR_ENV,
    Dataset,
    DatasetInfo,
    dataset_options,
    list_datasets,
    load_dataset,
    make_pipeline,
    network_available,
    register_dataset,
    resolve_data_dir,
    split_validation,
)
from kerasapps.data.images import image_spec, load_image_file, preprocess_images
