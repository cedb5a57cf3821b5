"""MNIST, Fashion-MNIST and scikit-learn's embedded `digits`.

MNIST and Fashion-MNIST come from a local folder of the four IDX .gz files
(--data-dir or $KERASAPPS_DATA_DIR, or its `mnist/` / `fashion-mnist/` subfolder),
else from TFDS. `digits` needs no download: scikit-learn ships it.
"""

import functools
import os

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits as sklearn_digits
from sklearn.model_selection import train_test_split

from kerasapps.data.idx import read_idx
from kerasapps.data.image_preprocessing import image_dataset, image_spec, make_augment
from kerasapps.data.tfds_source import load_tfds_unless_named
from kerasapps.registry import register_dataset

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def find_idx_folder(data_dir, subfolders):
    """The folder under `data_dir` that holds the IDX training images, or None."""
    if not data_dir:
        return None
    for candidate in [os.path.join(data_dir, s) for s in subfolders] + [data_dir]:
        if os.path.exists(os.path.join(candidate, IDX_FILES["train"][0])):
            return candidate
    return None


@functools.lru_cache(maxsize=2)
def read_idx_folder(folder):
    """{"train": (images, labels), "test": (...)} from a folder of IDX files, cached in memory.

    Decompressing MNIST takes seconds; evaluate, tune and the tests read it many times.
    """
    return {
        split: (read_idx(os.path.join(folder, images)), read_idx(os.path.join(folder, labels)))
        for split, (images, labels) in IDX_FILES.items()
    }


def _load_idx_dataset(name, tfds_name, subfolders, class_names, *, data_dir, pad_to, augment, max_shift, layout):
    folder = find_idx_folder(data_dir, subfolders)
    if folder:
        arrays = read_idx_folder(folder)
        source = f"local: {folder}"
    else:
        splits = load_tfds_unless_named(
            tfds_name, data_dir, f"no {name} IDX files (in {' or '.join(subfolders)}/ or the folder itself)",
            f"Point --data-dir at a folder with the four IDX .gz files "
            f"({', '.join(IDX_FILES['train'] + IDX_FILES['test'])})",
        )
        arrays = {split: (d["image"][..., 0], d["label"]) for split, d in splits.items()}
        source = "tfds"
    return _digit_dataset(
        name, source, class_names, arrays, pad_to=pad_to, augment=augment, max_shift=max_shift, layout=layout
    )


def _digit_dataset(name, source, class_names, arrays, *, pad_to, augment, max_shift, layout):
    spec = image_spec(size=(28, 28), channels=1, pad_to=(pad_to, pad_to) if pad_to else None, layout=layout)
    return image_dataset(name, source, class_names, spec, arrays, augment=make_augment(augment, max_shift))


# Options of all three loaders: `pad_to` zero-pads the 28x28 images (0 = no padding);
# `augment` "shift" moves each training image by up to `max_shift` pixels each way
# ("none", "flip" and "crop_flip" as for CIFAR; flips do not suit digits).


@register_dataset("mnist")
def load_mnist(*, data_dir=None, pad_to=32, augment="none", max_shift=2):
    """MNIST digits, 60,000 train / 10,000 test, 28x28 zero-padded to `pad_to`."""
    return _load_idx_dataset(
        "mnist", "mnist", ["mnist"], [str(i) for i in range(10)],
        data_dir=data_dir, pad_to=pad_to, augment=augment, max_shift=max_shift, layout="mnist",
    )  # fmt: skip


@register_dataset("fashion_mnist")
def load_fashion_mnist(*, data_dir=None, pad_to=32, augment="none", max_shift=2):
    """Fashion-MNIST, 60,000 train / 10,000 test, 28x28 zero-padded to `pad_to`."""
    return _load_idx_dataset(
        "fashion_mnist", "fashion_mnist", ["fashion-mnist", "fashion_mnist"], FASHION_CLASSES,
        data_dir=data_dir, pad_to=pad_to, augment=augment, max_shift=max_shift, layout="resize",
    )  # fmt: skip


@register_dataset("digits")
def load_digits(*, data_dir=None, pad_to=32, augment="none", max_shift=2, test_fraction=0.2):
    """scikit-learn's UCI handwritten digits (1,797 8x8 images), resized to 28x28 like MNIST.

    Embedded in scikit-learn, so always available: the offline fallback for MNIST.
    A stratified `test_fraction` of the images (fixed split) is the test set.
    """
    bunch = sklearn_digits()
    images = bunch.images[..., None] * (255.0 / 16.0)  # 0..16 -> 0..255
    images = tf.image.resize(images, (28, 28), method="bilinear").numpy()[..., 0]
    images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        images, bunch.target, test_size=test_fraction, stratify=bunch.target, random_state=0
    )
    arrays = {"train": (x_train, y_train), "test": (x_test, y_test)}
    return _digit_dataset(
        "digits", "scikit-learn", [str(i) for i in range(10)], arrays, pad_to=pad_to, augment=augment,
        max_shift=max_shift, layout="mnist",
    )  # fmt: skip
