"""Datasets by name, as in-memory arrays and tf.data pipelines.

    dataset = load_dataset("mnist", data_dir="../shared/data", fallback="digits")
    (x, y), (x_val, y_val) = split_validation(dataset.x_train, dataset.y_train, 0.1, seed=0)
    train = make_pipeline(x, y, batch_size=128, shuffle=True)

Importing this package registers every dataset in `DATASETS` (TensorFlow itself
loads only when data is read).
"""

from kerasapps.data import image_folder, imdb, mnist  # noqa: F401  (registers every dataset)
from kerasapps.data.core import (
    Dataset,
    DatasetInfo,
    load_dataset,
    load_experiment_data,
    make_pipeline,
    network_available,
    split_validation,
)
from kerasapps.data.image_preprocessing import image_spec, preprocess_images, read_image_file
from kerasapps.registry import DATASETS
