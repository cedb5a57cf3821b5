import gzip
import hashlib
import os
import pathlib

import numpy as np
import pytest

from kerasapps.data import load_dataset, make_pipeline, preprocess_images, split_validation
from kerasapps.data.idx import read_idx
from kerasapps.errors import DatasetUnavailable, UserError


def test_idx_reader_on_real_mnist(data_dir):
    images = read_idx(str(data_dir / "mnist" / "train-images-idx3-ubyte.gz"))
    labels = read_idx(str(data_dir / "mnist" / "train-labels-idx1-ubyte.gz"))
    test_images = read_idx(str(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz"))
    assert images.shape == (60_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60_000,) and set(np.unique(labels)) == set(range(10))
    assert test_images.shape == (10_000, 28, 28)
    # The md5 of the uncompressed official file (shared/data/README.md).
    header = b"\x00\x00\x08\x03" + b"".join(int(n).to_bytes(4, "big") for n in (10_000, 28, 28))
    assert hashlib.md5(header + test_images.tobytes()).hexdigest() == "2646ac647ad5339dbf082846283269ea"


def test_mnist_loader_pads_to_32_and_scales(data_dir):
    dataset = load_dataset("mnist", data_dir=str(data_dir))
    assert dataset.x_train.shape == (60_000, 32, 32, 1) and dataset.x_test.shape == (10_000, 32, 32, 1)
    assert dataset.x_train.dtype == np.float32 and 0 <= dataset.x_train.min() and dataset.x_train.max() == 1
    assert dataset.x_train[:, :2].max() == 0  # the zero border
    assert dataset.info.source.startswith("local:") and dataset.info.model_kwargs["num_classes"] == 10


def test_fashion_mnist_has_named_classes(data_dir):
    dataset = load_dataset("fashion_mnist", data_dir=str(data_dir), options={"pad_to": 0})
    assert dataset.x_train.shape == (60_000, 28, 28, 1)
    assert dataset.info.class_names[9] == "Ankle boot"


def test_corrupt_and_missing_files_are_named(tmp_path):
    good = np.zeros((3, 2, 2), np.uint8)
    raw = b"\x00\x00\x08\x03" + b"".join(int(n).to_bytes(4, "big") for n in good.shape) + good.tobytes()
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(raw))
    assert read_idx(str(path)).shape == (3, 2, 2)
    path.write_bytes(gzip.compress(raw[:-3]))
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte.gz is corrupt"):
        read_idx(str(path))
    path.write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match=r"Cannot read .*train-images-idx3-ubyte.gz"):
        read_idx(str(path))
    path.write_bytes(gzip.compress(raw))
    with pytest.raises(UserError, match=r"Missing file .*train-labels-idx1-ubyte.gz"):
        load_dataset("mnist", data_dir=str(tmp_path))


def test_a_damaged_copy_the_user_pointed_at_is_an_error_not_a_fallback(tmp_path):
    """A truncated file in --data-dir once made the run announce a fallback and train on digits."""
    source = pathlib.Path(os.environ["KERASAPPS_DATA_DIR"], "mnist")
    for name in os.listdir(source):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    truncated = tmp_path / "t10k-labels-idx1-ubyte.gz"
    truncated.write_bytes(truncated.read_bytes()[:-20])
    said = []
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte.gz") as error:
        load_dataset("mnist", data_dir=str(tmp_path), fallback="digits", log=said.append)
    assert not isinstance(error.value, DatasetUnavailable) and said == []


def test_offline_fallback_to_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASAPPS_OFFLINE", "1")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.delenv("KERASAPPS_DATA_DIR", raising=False)
    said = []
    dataset = load_dataset("mnist", fallback="digits", options={"pad_to": 32}, log=said.append)
    assert dataset.info.name == "digits" and dataset.info.requested == "mnist"
    assert "no network" in dataset.info.fallback_reason
    assert len(said) == 1 and "fallback 'digits'" in said[0]
    assert dataset.x_train.shape[1:] == (32, 32, 1)
    assert len(dataset.x_train) + len(dataset.x_test) == 1_797
    with pytest.raises(DatasetUnavailable, match="Point --data-dir at a folder"):
        load_dataset("mnist")


def test_validation_split_is_seeded_and_disjoint():
    x = np.arange(100)
    (x_train, _), (x_val, _) = split_validation(x, x, 0.2, seed=1)
    (x_train2, _), (x_val2, _) = split_validation(x, x, 0.2, seed=1)
    assert len(x_val) == 20 and not set(x_train) & set(x_val)
    assert np.array_equal(x_val, x_val2) and np.array_equal(x_train, x_train2)
    with pytest.raises(UserError):
        split_validation(x, x, 1.0, seed=0)


def test_pipeline_visits_every_example_once_and_reshuffles():
    x = np.arange(50, dtype=np.float32)
    pipeline = make_pipeline(x, x.astype(np.int32), batch_size=8, shuffle=True, seed=3)
    epochs = [np.concatenate([b[0].numpy() for b in pipeline]) for _ in range(2)]
    assert sorted(epochs[0]) == list(x) and sorted(epochs[1]) == list(x)
    assert not np.array_equal(epochs[0], epochs[1])


def test_pipeline_keeps_pairs_dtypes_and_a_static_batch_when_dropping_the_remainder():
    x = np.arange(50 * 3, dtype=np.int32).reshape(50, 3)  # token ids: integers stay integers
    y = np.arange(50, dtype=np.float32)
    batches = list(make_pipeline(x, y, batch_size=8, shuffle=True, seed=0, drop_remainder=True))
    assert len(batches) == 6 and batches[0][0].dtype == "int32" and batches[0][1].dtype == "float32"
    assert all(np.array_equal(bx.numpy()[:, 0] // 3, by.numpy()) for bx, by in batches)  # rows stay paired
    spec = make_pipeline(x, y, batch_size=8, drop_remainder=True).element_spec
    assert spec[0].shape.as_list() == [8, 3] and spec[1].shape.as_list() == [8]



def test_length_buckets_cut_each_batch_to_its_longest_sequence_and_still_visit_every_example():
    from kerasapps.data.core import sequence_lengths

    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 40, 1000)
    x = np.where(np.arange(40) < lengths[:, None], rng.integers(1, 99, (1000, 40)), 0).astype(np.int32)
    y = np.arange(1000, dtype=np.int32)
    assert np.array_equal(sequence_lengths(x), lengths)
    pipeline = make_pipeline(x, y, batch_size=32, shuffle=True, seed=3, bucket_by_length=True)
    epochs, widths = [], []
    for _ in range(2):
        order = []
        for bx, by in pipeline:
            bx, by = bx.numpy(), by.numpy()
            assert bx.shape[1] == max(lengths[by].max(), 1) and np.array_equal(bx, x[by, : bx.shape[1]])
            order.append(by)
            widths.append(bx.shape[1])
        epochs.append(np.concatenate(order))
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(1000))
    assert not np.array_equal(epochs[0], epochs[1])
    assert np.mean(widths) < 0.6 * 40  # random batches of 32 would nearly all be 39 wide
    in_order = [by.numpy() for _, by in make_pipeline(x, y, batch_size=32, bucket_by_length=True)]
    assert np.all(np.diff(lengths[np.concatenate(in_order)]) >= 0)
    dropped = make_pipeline(x, y, batch_size=32, shuffle=True, bucket_by_length=True, drop_remainder=True)
    assert dropped.cardinality() == 31 and all(len(by) == 32 for _, by in dropped)
    with pytest.raises(UserError, match="token-id sequences"):
        make_pipeline(x.astype(np.float32), y, batch_size=32, bucket_by_length=True)


def test_length_buckets_round_widths_where_the_backend_compiles_a_step_per_shape(monkeypatch):
    import keras

    from kerasapps.data.core import COMPILED_WIDTH_MULTIPLE

    lengths = np.array([3, 70, 130, 200])
    x = np.where(np.arange(200) < lengths[:, None], 7, 0).astype(np.int32)
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    widths = [bx.shape[1] for bx, _ in make_pipeline(x, np.zeros(4, np.int32), batch_size=1, bucket_by_length=True)]
    assert COMPILED_WIDTH_MULTIPLE == 64 and widths == [64, 128, 192, 200]  # the last one cut at the array's width


def test_mnist_shift_augmentation_moves_digits_without_cutting_or_mirroring_them(data_dir):
    import tensorflow as tf

    dataset = load_dataset("mnist", data_dir=str(data_dir), options={"augment": "shift", "max_shift": 2})
    x = dataset.x_test[:64]
    tf.random.set_seed(0)
    out, _ = dataset.augment(tf.constant(x), tf.constant(dataset.y_test[:64]))
    out = out.numpy()
    offsets = set()
    for original, moved in zip(x, out):
        padded = np.pad(original, ((2, 2), (2, 2), (0, 0)))
        found = [(dy, dx) for dy in range(5) for dx in range(5) if np.array_equal(padded[dy : dy + 32, dx : dx + 32], moved)]
        assert found, "an augmented digit is not a shift of its original"
        offsets.update(found)
        assert moved.sum() == pytest.approx(original.sum())  # MNIST's 4-pixel margin: nothing cut off
    assert len(offsets) > 10


def test_preprocess_standardizes_per_channel():
    spec = {"size": [2, 2], "channels": 3, "pad_to": None, "scale": 1.0, "mean": [1, 2, 3], "std": [1, 2, 4]}
    out = preprocess_images(np.full((1, 2, 2, 3), 5, np.uint8), spec)
    assert np.allclose(out[0, 0, 0], [4, 1.5, 0.5])
