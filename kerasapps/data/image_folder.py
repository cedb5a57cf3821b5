"""Image datasets from a folder of files: `imagefolder` (any photos) and `cifar10`.

The layout, as in ../shared/data/cifar10-jpeg.tar.gz:

    <root>/train/<class>/*.jpg|jpeg|png
    <root>/test/<class>/*.jpg|jpeg|png

Class names are the folder names under train/, sorted; they are saved with the
run. `<root>` may also be a .tar.gz/.tgz/.tar archive holding that layout (under
one top folder or not): it is read as a stream, never unpacked.

Decoding is slow (about 20 s for CIFAR-10's 60,000 JPEGs on 2 cores), so the
decoded uint8 arrays are cached once as an .npz under $KERASAPPS_CACHE_DIR
(default ~/.cache/kerasapps), keyed by the source's path, size and modification
time and the decoded size. Images are decoded by TensorFlow and resized to the
dataset's size; predict prepares a user's photo with the spec's "resize" layout
(`data.user_images`: the shorter side resized, the centre cropped).

Options (they become the config's `data.options`):
    normalize  "per_channel": scale to [0, 1], then subtract the training set's
               per-channel mean and divide by its std (both saved in the
               preprocessing spec); "scale": [0, 1] only.
    augment    applied to training batches in the tf.data pipeline:
               "crop_flip": zero-pad by `crop_padding` pixels, crop back at a
               random offset and flip left-right with probability 1/2 (He et al.
               2015 on CIFAR); "flip": the flip only; "shift": the crop only; "none".
"""

import hashlib
import os
import pathlib
import tarfile

import numpy as np
import tensorflow as tf

from kerasapps import settings
from kerasapps.data.image_preprocessing import image_dataset, image_spec, make_augment
from kerasapps.data.tfds_source import load_tfds_unless_named
from kerasapps.errors import UserError, check_choice
from kerasapps.registry import register_dataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
SPLITS = ("train", "test")
NORMALIZATIONS = ("per_channel", "scale")
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
_DECODE_CHUNK = 2048

# --- reading a folder or an archive -----------------------------------------------


def _is_archive(path):
    return str(path).endswith(ARCHIVE_SUFFIXES)


def _split_and_class(parts):
    """('train', 'cat') for .../train/cat/x.jpg, else None."""
    if len(parts) >= 3 and parts[-3] in SPLITS:
        return parts[-3], parts[-2]
    return None


def _folder_entries(root):
    """[(split, class, file name, path)] of the images under root/{train,test}/<class>/."""
    entries = []
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            continue
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            for f in sorted(class_dir.iterdir()):
                if f.suffix.lower() in IMAGE_EXTENSIONS:
                    entries.append((split, class_dir.name, str(f), f))
    return entries


def _archive_entries(archive):
    """Like `_folder_entries`, for an archive; the last item is the file's bytes."""
    entries = []
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                parts = member.name.split("/")
                found = _split_and_class(parts)
                if member.isfile() and found and member.name.lower().endswith(IMAGE_EXTENSIONS):
                    entries.append((*found, f"{archive}:{member.name}", tar.extractfile(member).read()))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UserError(f"Cannot read archive {archive}: {error}.") from None
    entries.sort(key=lambda e: e[:3])
    return entries


def _fingerprint(source, entries_hint):
    stat = source.stat()
    text = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{entries_hint}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _folder_signature(root):
    """Number of files, total bytes and latest mtime below root: changes when any image does."""
    count, size, mtime = 0, 0, 0
    for split in SPLITS:
        for dirpath, _, files in os.walk(root / split):
            for name in files:
                st = os.stat(os.path.join(dirpath, name))
                count, size, mtime = count + 1, size + st.st_size, max(mtime, st.st_mtime_ns)
    return f"{count}|{size}|{mtime}"


# --- decoding ---------------------------------------------------------------------


def _decode_graph(data, size, channels):
    image = tf.io.decode_image(data, channels=channels, expand_animations=False)
    image = tf.image.resize(image, size, antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def _decode_all(blobs, names, size, channels):
    """Decode encoded images to one uint8 array (N, H, W, C), resized to `size`.

    Raises:
        UserError: an image cannot be decoded; the message names its file.
    """
    out = np.empty((len(blobs), *size, channels), np.uint8)
    decode = lambda b: _decode_graph(b, size, channels)  # noqa: E731
    for start in range(0, len(blobs), _DECODE_CHUNK):
        chunk = blobs[start : start + _DECODE_CHUNK]
        ds = tf.data.Dataset.from_tensor_slices(chunk).map(
            tf.autograph.experimental.do_not_convert(decode), num_parallel_calls=tf.data.AUTOTUNE
        )
        try:
            out[start : start + len(chunk)] = next(iter(ds.batch(len(chunk)))).numpy()
        except tf.errors.InvalidArgumentError:
            for i, blob in enumerate(chunk):  # find the culprit, to name it
                try:
                    _decode_graph(blob, size, channels)
                except tf.errors.InvalidArgumentError as error:
                    message = error.message.split("\n")[0]
                    raise UserError(
                        f"Cannot decode image {names[start + i]}: {message}. Delete or replace the file."
                    ) from None
            raise
    return out


def _first_size(blob, name, channels):
    try:
        return tuple(tf.io.decode_image(blob, channels=channels, expand_animations=False).shape[:2])
    except tf.errors.InvalidArgumentError as error:
        raise UserError(f"Cannot decode image {name}: {error.message.splitlines()[0]}.") from None


def read_image_folder(root, *, image_size=None, channels=3, log=print):
    """Decoded uint8 arrays and class names of an image folder or archive, cached.

    Args:
        root: a folder or archive with the {train,test}/<class>/ layout.
        image_size: (height, width) to resize to; None = the size of the first
            training image (CIFAR's files are all 32x32).
        channels: 3 (RGB) or 1 (grayscale).
        log: called with a line when decoding (not when the cache answers).

    Returns:
        ({"train": (x, y), "test": (x, y)}, class_names), x uint8 (N, H, W, C), y int32.

    Raises:
        UserError: missing splits or classes, or an image that does not decode (named).
    """
    root = pathlib.Path(root)
    if not root.exists():
        raise UserError(f"Image folder {root} does not exist.")
    archive = _is_archive(root)
    hint = "archive" if archive else _folder_signature(root)
    key = _fingerprint(root, f"{hint}|{image_size}|{channels}")
    cache_file = settings.cache_dir() / f"{root.name.split('.')[0]}-{key}.npz"
    if cache_file.exists():
        with np.load(cache_file) as cached:
            arrays = {s: (cached[f"x_{s}"], cached[f"y_{s}"]) for s in SPLITS}
            return arrays, [str(c) for c in cached["class_names"]]

    log(f"Decoding the images of {root} once (cached in {cache_file}).")
    entries = _archive_entries(root) if archive else _folder_entries(root)
    class_names = sorted({e[1] for e in entries if e[0] == "train"})
    for split in SPLITS:
        if not any(e[0] == split for e in entries):
            raise UserError(
                f"Image folder {root} has no images under {split}/<class>/ "
                f"(expected {root}/{{train,test}}/<class>/*{'|*'.join(IMAGE_EXTENSIONS)})."
            )
    unknown = sorted({e[1] for e in entries if e[0] == "test"} - set(class_names))
    if unknown:
        raise UserError(f"Image folder {root}: test/ has classes that train/ lacks: {', '.join(unknown)}.")
    first = entries[[e[0] for e in entries].index("train")]
    blob_of = (lambda e: e[3]) if archive else (lambda e: e[3].read_bytes())
    size = tuple(image_size) if image_size else _first_size(blob_of(first), first[2], channels)
    index = {c: i for i, c in enumerate(class_names)}
    arrays = {}
    for split in SPLITS:
        part = [e for e in entries if e[0] == split]
        x = _decode_all([blob_of(e) for e in part], [e[2] for e in part], size, channels)
        arrays[split] = (x, np.array([index[e[1]] for e in part], np.int32))

    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, class_names=np.array(class_names), **{f"{k}_{s}": v for s in SPLITS for k, v in zip("xy", arrays[s])})
    os.replace(tmp, cache_file)
    return arrays, class_names


# --- preprocessing and augmentation -----------------------------------------------


def channel_stats(images):
    """Per-channel mean and std of uint8 images (N, H, W, C) on the [0, 1] scale, exact.

    From a 256-bin histogram per channel: a float64 copy of CIFAR-10 would be
    1.2 GB and take seconds.
    """
    pixels = images.reshape(-1, images.shape[-1])
    values = np.arange(256, dtype=np.float64) / 255.0
    mean, std = [], []
    for c in range(pixels.shape[1]):
        counts = np.bincount(pixels[:, c], minlength=256)
        m = counts @ values / counts.sum()
        mean.append(round(float(m), 6))
        std.append(round(float(np.sqrt(counts @ (values - m) ** 2 / counts.sum())), 6))
    return mean, std


def to_dataset(name, source, arrays, class_names, *, normalize, augment, crop_padding):
    """Build a `Dataset` from uint8 arrays: the spec (with the per-channel statistics) and the augment function."""
    check_choice("data.options.normalize", normalize, NORMALIZATIONS)
    augment_fn = make_augment(augment, crop_padding)
    x_train_raw = arrays["train"][0]
    height, width, channels = x_train_raw.shape[1:]
    mean = std = None
    if normalize == "per_channel":
        mean, std = channel_stats(x_train_raw)
    spec = image_spec(size=(height, width), channels=channels, mean=mean, std=std)
    return image_dataset(name, source, class_names, spec, arrays, augment=augment_fn)


# --- datasets ---------------------------------------------------------------------


@register_dataset("imagefolder")
def load_imagefolder(
    *,
    data_dir=None,
    root="",
    image_size=None,
    channels=3,
    normalize="per_channel",
    augment="none",
    crop_padding=4,
):
    """Any {train,test}/<class>/ folder or archive of images (see the module docstring).

    `root` is taken relative to `data_dir` when it exists there, else as given.
    """
    if not root:
        raise UserError("Dataset 'imagefolder' needs data.options.root: a folder with train/<class>/ and test/<class>/.")
    path = pathlib.Path(root)
    if data_dir and not path.is_absolute() and (pathlib.Path(data_dir) / path).exists():
        path = pathlib.Path(data_dir) / path
    arrays, class_names = read_image_folder(path, image_size=image_size, channels=channels)
    return to_dataset(
        "imagefolder", f"local: {path}", arrays, class_names,
        normalize=normalize, augment=augment, crop_padding=crop_padding,
    )  # fmt: skip


def find_cifar10(data_dir):
    """The local CIFAR-10 under `data_dir`: a cifar10/ folder, the JPEG archive, or the folder itself; else None."""
    if not data_dir:
        return None
    base = pathlib.Path(data_dir)
    for candidate in (base / "cifar10", base / "cifar10-jpeg.tar.gz", base):
        if _is_archive(candidate) and candidate.is_file():
            return candidate
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return candidate
    return None


@register_dataset("cifar10")
def load_cifar10(*, data_dir=None, normalize="per_channel", augment="crop_flip", crop_padding=4):
    """CIFAR-10, 50,000 train / 10,000 test 32x32 RGB: a local folder or archive, else TFDS."""
    local = find_cifar10(data_dir)
    if local:
        arrays, class_names = read_image_folder(local)
        source = f"local: {local}"
    else:
        splits = load_tfds_unless_named(
            "cifar10", data_dir, "no cifar10/ or cifar10-jpeg.tar.gz",
            "Point --data-dir at a folder holding cifar10/{train,test}/<class>/ images or "
            "cifar10-jpeg.tar.gz",
        )
        arrays = {s: (d["image"], d["label"].astype(np.int32)) for s, d in splits.items()}
        class_names, source = CIFAR10_CLASSES, "tfds"
    return to_dataset(
        "cifar10", source, arrays, class_names,
        normalize=normalize, augment=augment, crop_padding=crop_padding,
    )  # fmt: skip
