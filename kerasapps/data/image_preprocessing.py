"""One definition of image preprocessing, shared by training, predict and export.

A spec is a plain dict saved with every run:

    {"size": [28, 28], "channels": 1, "layout": "mnist", "pad_to": [32, 32],
     "scale": 1/255, "mean": null, "std": null}

`size` is the dataset's native image size and `layout` how a user's image file is
brought to it (`data.user_images.prepare_image`: "mnist" as MNIST's digits were
made, "resize" for photos); `pad_to` zero-pads centred (LeNet-5 reads MNIST as
32x32), then pixels are multiplied by `scale` and, if given, standardized per channel.
"""

import pathlib

import numpy as np
import tensorflow as tf

from kerasapps.data.core import Dataset, DatasetInfo
from kerasapps.data.user_images import prepare_image
from kerasapps.errors import UserError, check_choice


def image_spec(*, size, channels, layout="resize", pad_to=None, scale=1 / 255, mean=None, std=None):
    """Build a preprocessing spec (see the module docstring)."""
    return {
        "size": list(size),
        "channels": channels,
        "layout": layout,
        "pad_to": list(pad_to) if pad_to else None,
        "scale": scale,
        "mean": list(mean) if mean is not None else None,
        "std": list(std) if std is not None else None,
    }


def preprocess_images(images, spec):
    """uint8 images (N, H, W[, C]) at the spec's native size -> float32 model inputs."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    n, h, w, c = images.shape
    target_h, target_w = spec.get("pad_to") or (h, w)
    top, left = (target_h - h) // 2, (target_w - w) // 2
    # One float32 array at the final size, filled in place: MNIST's 60,000 padded
    # images are 245 MB, and a copy per step would double the peak.
    x = np.zeros((n, target_h, target_w, c), np.float32)
    window = x[:, top : top + h, left : left + w]
    np.multiply(images, np.float32(spec["scale"]), out=window, casting="unsafe")
    if spec.get("mean") is not None:
        x -= np.asarray(spec["mean"], np.float32)  # padding too, as a padded camera image would be
        x /= np.asarray(spec["std"], np.float32)
    return x


def read_image_file(path, spec):
    """A user's image file as the spec's dataset images were made: (uint8 array (H, W, C) at the
    spec's size, notes on what was done to it). A spec saved before layouts existed resizes.

    Raises:
        UserError: no such file, or not an image.
    """
    if not pathlib.Path(path).is_file():
        raise UserError(f"No image file {path}.")
    return prepare_image(path, size=spec["size"], channels=spec["channels"], layout=spec.get("layout", "resize"))


# Training-batch augmentations by name (a dataset's `augment` option).
AUGMENTATIONS = ("none", "shift", "flip", "crop_flip")


def make_augment(kind, max_shift=4):
    """A batch function (x, y) -> (x, y) for the tf.data pipeline, or None for "none".

    "shift" moves each image by a random whole number of pixels in
    [-max_shift, max_shift] along each axis, filling with zeros: the same as
    zero-padding by `max_shift` and taking a random crop of the original size
    (digits: Simard et al. 2003's small translations). "flip" flips left-right with
    probability 1/2; "crop_flip" does both (He et al. 2015 on CIFAR). Zero is the
    background of a digit and the mean pixel after per-channel normalization.
    """
    check_choice("data.options.augment", kind, AUGMENTATIONS)
    if kind == "none":
        return None
    shift, flip = kind in ("shift", "crop_flip"), kind in ("flip", "crop_flip")

    def augment(x, y):
        n, shape = tf.shape(x)[0], x.shape
        if shift:
            shifts = tf.cast(tf.random.uniform([n, 2], -max_shift, max_shift + 1, dtype=tf.int32), tf.float32)
            ones, zeros = tf.ones([n, 1]), tf.zeros([n, 1])
            # Output pixel (col, row) reads input (col + dx, row + dy).
            transforms = tf.concat([ones, zeros, shifts[:, :1], zeros, ones, shifts[:, 1:], zeros, zeros], axis=1)
            x = tf.raw_ops.ImageProjectiveTransformV3(
                images=x,
                transforms=transforms,
                output_shape=tf.shape(x)[1:3],
                fill_value=0.0,
                interpolation="NEAREST",
                fill_mode="CONSTANT",
            )
            x.set_shape(shape)  # the same size: a static shape lets batch norm take its fast path (models.batch_norm)
        if flip:
            x = tf.where(tf.random.uniform([n, 1, 1, 1]) < 0.5, tf.reverse(x, axis=[2]), x)
        return x, y

    return augment


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
