"""IMDB movie reviews (Maas et al., ACL 2011): 25,000 training and 25,000 test reviews.

Sources, in order: a local copy in the original layout,
`aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`, as a folder or as the
`aclImdb.tar.gz` archive under --data-dir / $KERASAPPS_DATA_DIR (the archive is
read in place, without unpacking: about a second); else TFDS `imdb_reviews`.
Labels come from the folder names: neg = 0, pos = 1.

The reviews become token ids with a `TextVectorization` adapted on the training
split only (see `kerasapps.data.text_preprocessing`); the vocabulary is a run asset.
"""

import functools
import os
import re
import tarfile

import numpy as np

from kerasapps.data.core import Dataset, DatasetInfo
from kerasapps.data.text_preprocessing import adapt_vocabulary, text_spec, vectorize, vocabulary_text
from kerasapps.data.tfds_source import load_tfds_unless_named
from kerasapps.errors import DatasetUnavailable
from kerasapps.registry import register_dataset

CLASS_NAMES = ["neg", "pos"]
ARCHIVE = "aclImdb.tar.gz"
_REVIEW_PATH = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


# --- reading the original layout --------------------------------------------------


def find_imdb_source(data_dir):
    """The aclImdb folder or archive under `data_dir`, or None.

    Looked for, in order: `data_dir/aclImdb/`, `data_dir` itself when it holds
    `train/pos`, and `data_dir/aclImdb.tar.gz`.
    """
    if not data_dir:
        return None
    for folder in (os.path.join(data_dir, "aclImdb"), data_dir):
        if os.path.isdir(os.path.join(folder, "train", "pos")):
            return folder
    archive = os.path.join(data_dir, ARCHIVE)
    return archive if os.path.isfile(archive) else None


def _decode(raw, where):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DatasetUnavailable(f"{where} is not UTF-8 text ({error})") from None


def read_aclimdb(source):
    """Read the labelled reviews of an aclImdb folder or .tar.gz archive.

    The result is kept in memory for as long as the source is unchanged
    (train, evaluate, export and the tests read it many times); treat it as read-only.

    Returns:
        {"train": (texts, labels), "test": (texts, labels)}: lists of str and
        int32 arrays (neg = 0, pos = 1), ordered by label, then review id.

    Raises:
        DatasetUnavailable: a split holds no reviews, or the archive or a file cannot be read.
    """
    stat = os.stat(source)
    return _read_aclimdb(source, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _read_aclimdb(source, mtime_ns, size):
    found = []  # (split, label, id, text)
    if os.path.isdir(source):
        for split in ("train", "test"):
            for label, folder in enumerate(CLASS_NAMES):
                path = os.path.join(source, split, folder)
                if not os.path.isdir(path):
                    continue
                for entry in os.scandir(path):
                    match = _REVIEW_PATH.search(f"aclImdb/{split}/{folder}/{entry.name}")
                    if match:
                        with open(entry.path, "rb") as f:
                            found.append((split, label, int(match[3]), _decode(f.read(), entry.path)))
    else:
        try:
            with tarfile.open(source, "r:*") as archive:
                for member in archive:
                    match = _REVIEW_PATH.search(member.name)
                    if match and member.isfile():
                        raw = archive.extractfile(member).read()
                        found.append(
                            (match[1], CLASS_NAMES.index(match[2]), int(match[3]), _decode(raw, f"{source}:{member.name}"))
                        )
        except (OSError, tarfile.TarError, EOFError) as error:
            raise DatasetUnavailable(f"cannot read {source}: {error}") from None
    found.sort(key=lambda r: (r[0], r[1], r[2]))
    splits = {}
    for split in ("train", "test"):
        rows = [r for r in found if r[0] == split]
        if not rows:
            raise DatasetUnavailable(f"no reviews under {split}/pos or {split}/neg in {source}")
        splits[split] = ([r[3] for r in rows], np.array([r[1] for r in rows], dtype=np.int32))
    return splits


def _read_tfds(data_dir):
    arrays = load_tfds_unless_named(
        "imdb_reviews", data_dir, f"no aclImdb/ or {ARCHIVE}",
        f"Point --data-dir at a folder holding aclImdb/{{train,test}}/{{pos,neg}}/*.txt or {ARCHIVE}",
    )
    return {
        split: ([t.decode("utf-8") for t in d["text"]], d["label"].astype(np.int32)) for split, d in arrays.items()
    }


# --- the dataset ------------------------------------------------------------------


@register_dataset("imdb")
def load_imdb(
    *,
    data_dir=None,
    vocab_size=20000,
    sequence_length=400,
    standardize="lower_and_strip_punctuation",
    truncate="end",
):
    """IMDB reviews as token ids, with the vocabulary as the run asset `vocabulary.txt`.

    Args:
        data_dir: folder holding `aclImdb/` or `aclImdb.tar.gz` (None: TFDS).
        vocab_size: size of the vocabulary, padding and unknown tokens included.
        sequence_length: ids per review; longer reviews are cut, shorter ones zero-padded.
        standardize: "lower_and_split_punctuation" (as an exported file's tokenizer splits), "lower_and_strip_punctuation",
            "lower", "strip_punctuation" or "none".
        truncate: where a long review loses tokens: "end" (keep its beginning) or "start".

    Raises:
        DatasetUnavailable: no local copy and no TFDS copy or network.
        UserError: a bad option value.
    """
    spec = text_spec(
        sequence_length=sequence_length, vocab_size=vocab_size, standardize=standardize, truncate=truncate
    )
    source = find_imdb_source(data_dir)
    if source:
        splits = read_aclimdb(source)  # the same object while the source is unchanged: _tokenize's cache key
        where = f"local: {source}"
    else:
        splits = _read_tfds(data_dir)
        where = "tfds"
    vocabulary, x_train, x_test = _tokenize(splits, spec)
    info = DatasetInfo(
        name="imdb",
        source=where,
        class_names=list(CLASS_NAMES),
        model_kwargs={"vocab_size": len(vocabulary), "sequence_length": sequence_length},
        preprocessing=spec,
    )
    return Dataset(
        x_train,
        splits["train"][1],
        x_test,
        splits["test"][1],
        info,
        assets={spec["vocabulary_file"]: vocabulary_text(vocabulary)},
    )


_last_tokenized = [None, None, None]  # the splits, the spec, (vocabulary, x_train, x_test): one slot


def _tokenize(splits, spec):
    """Adapt the vocabulary on the training texts and turn both splits into ids, once per splits and spec.

    Adapting and vectorizing 50,000 reviews takes most of loading IMDB; evaluate,
    export and the tests load the same splits (the same object, from `read_aclimdb`'s
    cache) with the same spec again in one process.
    """
    cached_splits, cached_spec, result = _last_tokenized
    if cached_splits is not splits or cached_spec != spec:
        vocabulary = adapt_vocabulary(splits["train"][0], spec)
        result = vocabulary, vectorize(splits["train"][0], spec, vocabulary), vectorize(splits["test"][0], spec, vocabulary)
        _last_tokenized[:] = [splits, dict(spec), result]
    return result
