"""One definition of image preprocessing, shared by training, predict and export.

A spec is a plain dict saved with every run:

    {"size": [28, 28], "channels": 1, "pad_to": [32, 32], "scale": 1/255,
     "mean": null, "std": null}

`size` is the dataset's native image size (raw files are resized to it), `pad_to`
zero-pads centred (LeNet-5 reads MNIST as 32x32), then pixels are multiplied by
`scale` and, if given, standardized per channel.
"""

import numpy as np

from kerasapps.data.core import Dataset, DatasetInfo
from kerasapps.lazy import tf


def image_spec(*, size, channels, pad_to=None, scale=1 / 255, mean=None, std=None):
    """Build a preprocessing spec (see the module docstring)."""
    return {
        "size": list(size),
        "channels": channels,
        "pad_to": list(pad_to) if pad_to else None,
        "scale": scale,
        "mean": list(mean) if mean is not None else None,
        "std": list(std) if std is not None else None,
    }


def preprocess_images(images, spec):
    """uint8 images (N, H, W[, C]) at the spec's native size -> float32 model inputs."""
    x = np.array(images, dtype=np.float32)  # a copy: the steps below work in place
    if x.ndim == 3:
        x = x[..., None]
    if spec.get("pad_to"):
        target_h, target_w = spec["pad_to"]
        top, left = (target_h - x.shape[1]) // 2, (target_w - x.shape[2]) // 2
        x = np.pad(
            x,
            ((0, 0), (top, target_h - x.shape[1] - top), (left, target_w - x.shape[2] - left), (0, 0)),
        )
    x *= spec["scale"]
    if spec.get("mean") is not None:
        # In place: CIFAR-10's training set is 600 MB of float32.
        x -= np.asarray(spec["mean"], np.float32)
        x /= np.asarray(spec["std"], np.float32)
    return x


def load_image_file(path, spec):
    """Read one PNG/JPEG/BMP/GIF file as a raw uint8 array of the spec's native size and channels."""
    data = tf.io.read_file(path)
    image = tf.io.decode_image(data, channels=spec["channels"], expand_animations=False)
    image = tf.image.resize(image, spec["size"], antialias=True)
    return np.clip(np.round(image.numpy()), 0, 255).astype(np.uint8)


def image_dataset(name, source, class_names, spec, arrays, *, augment=None):
    """A `Dataset` from raw uint8 {"train": (images, labels), "test": (...)} and a spec."""
    x_train = preprocess_images(arrays["train"][0], spec)
    x_test = preprocess_images(arrays["test"][0], spec)
    info = DatasetInfo(
        name=name,
        source=source,
        class_names=list(class_names),
        model_kwargs={"input_shape": tuple(x_train.shape[1:]), "num_classes": len(class_names)},
        preprocessing=spec,
    )
    labels = {split: np.asarray(arrays[split][1]).astype(np.int32) for split in ("train", "test")}
    return Dataset(x_train, labels["train"], x_test, labels["test"], info, augment=augment)
