"""The imagefolder and cifar10 datasets (layout, cache, corrupt files, augmentation, CIFAR-10), and resnet20 trained on it."""

import json
import tarfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasapps.commands.cli import run_main
from kerasapps.commands.train import main as train_main
from kerasapps.config import read_yaml
from kerasapps.data import load_dataset, make_pipeline
from kerasapps.data.image_folder import CIFAR10_CLASSES, read_image_folder
from kerasapps.data.image_preprocessing import make_augment
from kerasapps.errors import UserError
from kerasapps.runs import resolve_run


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASAPPS_CACHE_DIR", str(tmp_path / "cache"))


def _write_folder(root, counts, size=(6, 5)):
    """PNG images (lossless) under root/{split}/{class}/; returns {(split, class): [arrays]}."""
    rng = np.random.default_rng(0)
    written = {}
    for (split, cls), n in counts.items():
        folder = root / split / cls
        folder.mkdir(parents=True)
        for i in range(n):
            image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            (folder / f"{i:03d}.png").write_bytes(tf.io.encode_png(image).numpy())
            written.setdefault((split, cls), []).append(image)
    return written


COUNTS = {("train", "dog"): 3, ("train", "cat"): 2, ("test", "cat"): 1, ("test", "dog"): 2}


def test_image_folder_classes_counts_and_exact_pixels(tmp_path):
    written = _write_folder(tmp_path / "photos", COUNTS)
    (tmp_path / "photos" / "train" / "dog" / "notes.txt").write_text("not an image")
    data = load_dataset("imagefolder", options={"root": str(tmp_path / "photos"), "normalize": "scale"})
    assert data.info.class_names == ["cat", "dog"]  # sorted folder names
    assert data.info.model_kwargs == {"input_shape": (6, 5, 3), "num_classes": 2}
    assert data.y_train.tolist() == [0, 0, 1, 1, 1] and data.y_test.tolist() == [0, 1, 1]
    expected = np.stack(written[("train", "cat")] + written[("train", "dog")])
    np.testing.assert_array_equal(np.round(data.x_train * 255).astype(np.uint8), expected)
    assert data.augment is None  # imagefolder's default augment is "none"


def test_decoded_images_are_cached_and_the_cache_follows_changes(tmp_path):
    root = tmp_path / "photos"
    _write_folder(root, COUNTS)
    logged = []
    first, _ = read_image_folder(root, log=logged.append)
    second, _ = read_image_folder(root, log=logged.append)
    assert len(logged) == 1 and "Decoding" in logged[0]
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    np.testing.assert_array_equal(first["train"][0], second["train"][0])
    _write_folder(root, {("train", "bird"): 1})
    third, classes = read_image_folder(root, log=logged.append)
    assert len(logged) == 2 and classes == ["bird", "cat", "dog"] and len(third["train"][0]) == 6


def test_archive_reads_like_the_folder(tmp_path):
    root = tmp_path / "photos"
    _write_folder(root, COUNTS)
    archive = tmp_path / "photos.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="photos")
    from_folder, names_folder = read_image_folder(root)
    from_archive, names_archive = read_image_folder(archive)
    assert names_folder == names_archive
    for split in ("train", "test"):
        np.testing.assert_array_equal(from_folder[split][0], from_archive[split][0])
        np.testing.assert_array_equal(from_folder[split][1], from_archive[split][1])


def test_corrupt_image_is_named(tmp_path):
    root = tmp_path / "photos"
    _write_folder(root, COUNTS)
    bad = root / "train" / "dog" / "002.png"
    bad.write_bytes(b"\x89PNG but not really")
    with pytest.raises(UserError, match=r"Cannot decode image .*train/dog/002\.png"):
        read_image_folder(root)


def test_missing_split_and_root_are_errors(tmp_path):
    _write_folder(tmp_path / "photos", {("train", "dog"): 1})
    with pytest.raises(UserError, match=r"no images under test/<class>/"):
        read_image_folder(tmp_path / "photos")
    with pytest.raises(UserError, match="needs data.options.root"):
        load_dataset("imagefolder")
    with pytest.raises(UserError, match="Unrecognized data.options.augment='rotate'"):
        make_augment("rotate")


def test_images_of_other_sizes_are_resized_to_image_size(tmp_path):
    root = tmp_path / "photos"
    _write_folder(root, COUNTS, size=(12, 10))
    arrays, _ = read_image_folder(root, image_size=(6, 5))
    assert arrays["train"][0].shape == (5, 6, 5, 3)


@pytest.mark.parametrize("kind", ["shift", "flip", "crop_flip"])
def test_augmented_batches_keep_their_static_image_size(kind):
    """Batch norm's fast path needs it (kerasapps.models.batch_norm): a lost size sent LeNet back to Keras's code."""
    traced = tf.function(make_augment(kind, max_shift=2)).get_concrete_function(
        tf.TensorSpec((None, 32, 32, 1)), tf.TensorSpec((None,), tf.int64)
    )
    assert traced.structured_outputs[0].shape.as_list() == [None, 32, 32, 1]


def test_crop_flip_shifts_each_image_by_at_most_the_padding_and_may_flip():
    tf.random.set_seed(0)
    x = np.random.default_rng(1).normal(size=(64, 8, 8, 3)).astype(np.float32) + 10.0  # no zeros inside
    y = np.arange(64)
    out, labels = make_augment("crop_flip", max_shift=2)(tf.constant(x), tf.constant(y))
    out = out.numpy()
    assert labels.numpy().tolist() == y.tolist()
    seen = set()
    for original, augmented in zip(x, out):
        matches = []
        for flip in (False, True):
            source = original[:, ::-1] if flip else original
            padded = np.pad(source, ((2, 2), (2, 2), (0, 0)))
            for dy in range(5):
                for dx in range(5):
                    if np.array_equal(padded[dy : dy + 8, dx : dx + 8], augmented):
                        matches.append((flip, dy, dx))
        assert matches, "an augmented image is not a padded crop of its original"
        seen.update(matches)
    assert {m[0] for m in seen} == {False, True}  # both flipped and unflipped occur
    assert len({m[1:] for m in seen}) > 10  # many different offsets occur


def test_augmented_pipeline_repeats_under_the_same_seed():
    tf.config.experimental.enable_op_determinism()  # as kerasapps.training does
    x = np.random.default_rng(0).normal(size=(256, 8, 8, 3)).astype(np.float32)
    epochs = []
    for seed in (0, 0, 1):
        keras.utils.set_random_seed(seed)
        pipeline = make_pipeline(x, np.arange(256), batch_size=64, shuffle=True, augment=make_augment("crop_flip", 2))
        epochs.append(np.concatenate([batch.numpy() for batch, _ in pipeline]))
    assert np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[0], epochs[2])


def test_per_channel_normalization_and_flip_only(tmp_path):
    _write_folder(tmp_path / "photos", COUNTS)
    data = load_dataset("imagefolder", options={"root": str(tmp_path / "photos"), "augment": "flip"})
    spec = data.info.preprocessing
    assert len(spec["mean"]) == len(spec["std"]) == 3
    np.testing.assert_allclose(data.x_train.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=(0, 1, 2)), 1, atol=1e-4)
    x, _ = next(iter(make_pipeline(data.x_train, data.y_train, batch_size=5, augment=data.augment)))
    for original, augmented in zip(data.x_train, x.numpy()):
        assert np.array_equal(original, augmented) or np.array_equal(original[:, ::-1], augmented)


@pytest.mark.slow
def test_cifar10_from_the_shared_archive(data_dir, monkeypatch):
    monkeypatch.delenv("KERASAPPS_CACHE_DIR")  # reuse the user's cache: decoding takes ~30 s
    data = load_dataset("cifar10", data_dir=str(data_dir))
    assert data.info.source.startswith("local:") and "cifar10" in data.info.source
    assert data.x_train.shape == (50_000, 32, 32, 3) and data.x_test.shape == (10_000, 32, 32, 3)
    assert data.info.class_names[:3] == ["airplane", "automobile", "bird"] and len(data.info.class_names) == 10
    assert np.bincount(data.y_train).tolist() == [5000] * 10
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    # CIFAR-10's well-known channel statistics, within the JPEG re-encoding.
    np.testing.assert_allclose(data.info.preprocessing["mean"], [0.4914, 0.4822, 0.4465], atol=0.006)
    np.testing.assert_allclose(data.info.preprocessing["std"], [0.2470, 0.2435, 0.2616], atol=0.003)
    assert data.augment is not None


@pytest.mark.slow
def test_resnet20_one_epoch_on_a_few_hundred_cifar_images_writes_its_run_folder(data_dir, runs_dir, monkeypatch, capsys):
    """In-process (tests/training/test_train.py runs `python -m kerasapps.train` end to end): the same `main`."""
    monkeypatch.delenv("KERASAPPS_CACHE_DIR")  # the decoded CIFAR-10 of the test above
    overrides = [
        "train.epochs=1", "data.limit_train=400", "data.limit_test=200", "train.batch_size=50",
        "callbacks.tensorboard=false",
    ]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        run_main(train_main, ["resnet20", *[a for o in overrides for a in ("--set", o)]])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err
    assert "Training resnet20 (271,098 parameters) on cifar10" in out
    assert "Test accuracy:" in out
    run_dir = resolve_run("resnet20", runs_dir)
    for name in ["model.keras", "best.keras", "config.yaml", "history.csv", "metrics.json", "labels.txt"]:
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["parameters"] == 271_098 and metrics["epochs"] == 1
    assert metrics["examples"] == {"train": 360, "validation": 40, "test": 200}
    assert metrics["dataset"]["name"] == "cifar10" and metrics["dataset"]["source"].startswith("local:")
    assert (run_dir / "labels.txt").read_text().split() == CIFAR10_CLASSES
    config = read_yaml(run_dir / "config.yaml")
    assert config["data"]["options"]["augment"] == "crop_flip"
    assert config["optimizer"]["name"] == "sgd" and config["model"]["args"]["weight_decay"] == 1e-4
    model = keras.saving.load_model(run_dir / "model.keras")
    assert model.count_params() == 271_098
