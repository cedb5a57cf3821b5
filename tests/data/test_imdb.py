"""The IMDB loader: the shared aclImdb archive, a tiny folder made here, the vocabulary."""

import tarfile

import numpy as np
import pytest

from kerasapps.data import load_dataset
from kerasapps.data.imdb import find_imdb_source, read_aclimdb
from kerasapps.data.text_preprocessing import clean_text, read_vocabulary, text_spec, vectorize
from kerasapps.errors import DatasetUnavailable, UserError

TINY = {
    ("train", "pos", "0_9"): "A great film.<br /><br />Great acting, great story.",
    ("train", "pos", "1_8"): "Wonderful and great.",
    ("train", "neg", "0_2"): "A dull film.<br />Dull, boring.",
    ("train", "neg", "1_1"): "Boring boring plot",
    ("test", "pos", "2_10"): "great great ZEBRA",
    ("test", "neg", "3_3"): "dull ZEBRA",
}


@pytest.fixture
def tiny_folder(tmp_path):
    for (split, label, stem), text in TINY.items():
        folder = tmp_path / "aclImdb" / split / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{stem}.txt").write_text(text, encoding="utf-8")
    (tmp_path / "aclImdb" / "imdbEr.txt").write_text("0.1\n")  # not a review
    return tmp_path


@pytest.fixture
def shared_archive(data_dir):
    source = find_imdb_source(str(data_dir))
    if source is None:
        pytest.fail(f"no aclImdb.tar.gz under {data_dir}")
    return source


# --- the shared data --------------------------------------------------------------


def test_shared_archive_counts_balance_and_labels(shared_archive):
    splits = read_aclimdb(shared_archive)
    for split in ("train", "test"):
        texts, labels = splits[split]
        assert len(texts) == len(labels) == 25_000
        assert np.bincount(labels).tolist() == [12_500, 12_500]
    # labels come from the folder names: look up a few reviews by their path
    wanted = {"aclImdb/train/pos/0_9.txt": 1, "aclImdb/train/neg/0_3.txt": 0,
              "aclImdb/test/pos/0_10.txt": 1, "aclImdb/test/neg/0_2.txt": 0}  # fmt: skip
    seen = set()
    with tarfile.open(shared_archive) as archive:
        for member in archive:  # one pass: random access into a .tar.gz decompresses from the start
            if member.name in wanted:
                text = archive.extractfile(member).read().decode("utf-8")
                texts, labels = splits[member.name.split("/")[1]]
                assert labels[texts.index(text)] == wanted[member.name], member.name
                seen.add(member.name)
    assert seen == set(wanted)


def test_imdb_dataset_on_shared_data(shared_archive, data_dir):
    # conftest's TINY_LSTM settings: the loader's one-slot cache then spares tokenizing 50,000 reviews again
    dataset = load_dataset("imdb", data_dir=str(data_dir), options={"vocab_size": 2000, "sequence_length": 32})
    assert dataset.x_train.shape == (25_000, 32) and dataset.x_test.shape == (25_000, 32)
    assert dataset.x_train.dtype == np.int32 and dataset.x_train.max() < 2000
    assert dataset.y_train.mean() == 0.5 and dataset.y_test.mean() == 0.5
    assert dataset.info.model_kwargs == {"vocab_size": 2000, "sequence_length": 32}
    assert dataset.info.source.startswith("local: ") and dataset.info.class_names == ["neg", "pos"]
    vocabulary = dataset.assets["vocabulary.txt"].split("\n")
    assert vocabulary[:4] == ["", "[UNK]", "the", "and"]
    assert "br" not in vocabulary  # the <br /> line breaks were cleaned


def test_split_punctuation_gives_the_exported_tokenizers_ids_on_real_reviews(shared_archive):
    """Training's "lower_and_split_punctuation" and the exported file's regex tokenizer (its delimiter,
    its vocabulary's case and contraction forms) agree but for words in mixed case (McQueen, IMDb)."""
    from kerasapps.data.text_preprocessing import adapt_vocabulary
    from kerasapps.deploy.app_graph import TEXT_DELIMITER
    from kerasapps.deploy.metadata import tokenize, vocabulary_ids, vocabulary_lines

    texts = read_aclimdb(shared_archive)["test"][0][::50]  # 500 reviews of both classes
    spec = text_spec(sequence_length=3000, vocab_size=50000, standardize="lower_and_split_punctuation")
    vocabulary = adapt_vocabulary(texts, spec)
    facts = {"delimiter": TEXT_DELIMITER, "vocabulary": vocabulary_ids(vocabulary_lines(vocabulary).encode())}
    ours, theirs = vectorize(texts, spec, vocabulary), tokenize(texts, facts, 3000)
    differ = ours != theirs
    assert differ.any(axis=1).mean() < 0.2  # 16% of the reviews hold a word in mixed case
    # such words are unknown to the file; the rest are the tokens of a review or two that shift by one
    assert differ.mean() < 0.001 and np.mean(theirs[differ] == 1) > 0.8
    assert "imdb" in {vocabulary[i] for i in ours[differ]}  # "IMDb"


# --- a tiny folder ----------------------------------------------------------------


def test_tiny_folder_labels_vocabulary_and_ids(tiny_folder):
    dataset = load_dataset("imdb", data_dir=str(tiny_folder), options={"vocab_size": 100, "sequence_length": 6})
    assert dataset.y_train.tolist() == [0, 0, 1, 1]  # neg folder, then pos, by review id
    assert dataset.y_test.tolist() == [0, 1]
    vocabulary = dataset.assets["vocabulary.txt"].split("\n")[:-1]
    assert vocabulary[:4] == ["", "[UNK]", "great", "boring"]  # by training frequency
    assert "zebra" not in vocabulary  # adapted on the training split only
    assert "br" not in vocabulary
    ids = {token: i for i, token in enumerate(vocabulary)}
    assert dataset.x_test.tolist() == [
        [ids["dull"], 1, 0, 0, 0, 0],
        [ids["great"], ids["great"], 1, 0, 0, 0],
    ]
    assert dataset.x_train[2].tolist()[:3] == [ids["a"], ids["great"], ids["film"]]


def test_archive_reads_like_the_folder(tiny_folder, tmp_path_factory):
    archive_dir = tmp_path_factory.mktemp("archive")
    with tarfile.open(archive_dir / "aclImdb.tar.gz", "w:gz") as archive:
        archive.add(tiny_folder / "aclImdb", arcname="aclImdb")
    assert find_imdb_source(str(archive_dir)).endswith("aclImdb.tar.gz")
    from_archive = read_aclimdb(find_imdb_source(str(archive_dir)))
    from_folder = read_aclimdb(find_imdb_source(str(tiny_folder)))
    for split in ("train", "test"):
        assert from_archive[split][0] == from_folder[split][0]
        np.testing.assert_array_equal(from_archive[split][1], from_folder[split][1])


def test_truncate_keeps_the_beginning_or_the_end(tiny_folder):
    options = {"vocab_size": 100, "sequence_length": 2}
    end = load_dataset("imdb", data_dir=str(tiny_folder), options=options)
    start = load_dataset("imdb", data_dir=str(tiny_folder), options={**options, "truncate": "start"})
    vocabulary = end.assets["vocabulary.txt"].split("\n")
    words = lambda ids: [vocabulary[i] for i in ids]  # noqa: E731
    assert words(end.x_train[2]) == ["a", "great"]
    assert words(start.x_train[2]) == ["great", "story"]


def test_vocabulary_saved_and_reloaded_gives_the_same_ids(tiny_folder, tmp_path):
    dataset = load_dataset("imdb", data_dir=str(tiny_folder), options={"vocab_size": 100, "sequence_length": 8})
    (tmp_path / "vocabulary.txt").write_text(dataset.assets["vocabulary.txt"], encoding="utf-8")
    vocabulary = read_vocabulary(tmp_path / "vocabulary.txt")
    texts = [TINY[("test", "neg", "3_3")], TINY[("test", "pos", "2_10")]]
    np.testing.assert_array_equal(vectorize(texts, dataset.info.preprocessing, vocabulary), dataset.x_test)


def test_unicode_tokens_survive_the_vocabulary_file(tmp_path):
    spec = text_spec(sequence_length=4, vocab_size=10, standardize="none")
    vocabulary = ["", "[UNK]", "café", "naïve", "🎬"]
    path = tmp_path / "vocabulary.txt"
    path.write_text("".join(t + "\n" for t in vocabulary), encoding="utf-8")
    assert read_vocabulary(path) == vocabulary
    assert vectorize(["🎬 café x"], spec, vocabulary).tolist() == [[4, 2, 1, 0]]


def test_clean_text_replaces_html_breaks():
    assert clean_text("one<br />two<br/>three<BR>four") == "one two three four"


def test_missing_data_is_dataset_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASAPPS_OFFLINE", "1")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    with pytest.raises(DatasetUnavailable, match=r"no aclImdb/ or aclImdb.tar.gz under .*--data-dir"):
        load_dataset("imdb", data_dir=str(tmp_path))


@pytest.mark.parametrize(
    "options, message",
    [({"truncate": "middle"}, "Unrecognized data.options.truncate='middle'"),
     ({"sequence_length": 0}, "sequence_length must be above 0, got 0"),
     ({"vocab": 10}, "Unknown argument 'data.options.vocab' of dataset 'imdb'")],
)  # fmt: skip
def test_bad_options_are_user_errors(tiny_folder, options, message):
    with pytest.raises(UserError, match=message):
        load_dataset("imdb", data_dir=str(tiny_folder), options=options)
