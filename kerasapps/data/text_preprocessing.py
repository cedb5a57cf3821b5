"""One definition of text preprocessing, shared by training, predict and export.

A spec is a plain dict saved with every run, beside a vocabulary file:

    {"kind": "text", "clean_html": true, "standardize": "lower_and_strip_punctuation",
     "split": "whitespace", "sequence_length": 400, "truncate": "end",
     "vocab_size": 20000, "vocabulary_file": "vocabulary.txt"}

A review is cleaned (HTML line breaks become spaces), turned into token ids by a
Keras `TextVectorization` with the saved vocabulary (0 = padding, 1 = unknown
word), cut to `sequence_length` ids by dropping tokens at its "end" or "start",
and zero-padded on the right, which the model's `Embedding(mask_zero=True)` masks.
"""

import re

import keras
import numpy as np
import tensorflow as tf

from kerasapps.errors import UserError, check_choice

STANDARDIZE = ("lower_and_split_punctuation", "lower_and_strip_punctuation", "lower", "strip_punctuation", "none")
TRUNCATE = ("end", "start")
VOCABULARY_FILE = "vocabulary.txt"
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# ASCII punctuation but the apostrophe (Keras's strip list less it), as a regex character class's
# inside: the exported file's tokenizer splits on the same (deploy.app_graph.TEXT_DELIMITER)
PUNCTUATION = r"""!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~"""


def text_spec(*, sequence_length, vocab_size, standardize="lower_and_strip_punctuation", truncate="end"):
    """Build a preprocessing spec (see the module docstring).

    Raises:
        UserError: an unknown `standardize` or `truncate`, or a non-positive size.
    """
    check_choice("data.options.standardize", standardize, STANDARDIZE)
    check_choice("data.options.truncate", truncate, TRUNCATE)
    # the vocabulary needs room for padding, the unknown token and one word
    for key, value, least in (("sequence_length", sequence_length, 1), ("vocab_size", vocab_size, 3)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise UserError(f"data.options.{key} must be an integer of at least {least}, got {value!r}.")
    return {
        "kind": "text",
        "clean_html": True,
        "standardize": standardize,
        "split": "whitespace",
        "sequence_length": sequence_length,
        "truncate": truncate,
        "vocab_size": vocab_size,
        "vocabulary_file": VOCABULARY_FILE,
    }


def clean_text(text):
    """Replace HTML line breaks (`<br />`, as in the IMDB reviews) by spaces."""
    return _HTML_BREAK.sub(" ", text)


def lower_and_split_punctuation(texts):
    """Lower-case, drop apostrophes ("don't" is "dont") and let other punctuation end a word.

    What the regex tokenizer in an exported text file does (`deploy.app_graph.TEXT_DELIMITER`, with
    the vocabulary's case and contraction variants), so a phone app's tokens are training's:
    Keras's "lower_and_strip_punctuation" joins "well-made" into one word, the file splits it.
    """
    texts = tf.strings.regex_replace(tf.strings.lower(texts), "'", "")
    return tf.strings.regex_replace(texts, f"[{PUNCTUATION}]", " ")


def _vectorizer(spec, vocabulary=None):
    standardize = {"none": None, "lower_and_split_punctuation": lower_and_split_punctuation}.get(
        spec["standardize"], spec["standardize"]
    )
    return keras.layers.TextVectorization(
        max_tokens=spec["vocab_size"],
        standardize=standardize,
        split=spec["split"],
        output_mode="int",
        ragged=True,
        vocabulary=vocabulary,
    )


def adapt_vocabulary(texts, spec, *, batch_size=2048):
    """Learn the vocabulary of `texts` (the training split only): a list of tokens,

    index 0 the padding token "" and index 1 the unknown token "[UNK]", then the
    most frequent words, at most `spec["vocab_size"]` entries in all.
    """
    vectorizer = _vectorizer(spec)
    cleaned = tf.data.Dataset.from_tensor_slices([clean_text(t) for t in texts]).batch(batch_size)
    vectorizer.adapt(cleaned)
    return [str(token) for token in vectorizer.get_vocabulary()]


def vectorize(texts, spec, vocabulary, *, batch_size=4096):
    """Raw texts -> int32 token ids, shape (len(texts), sequence_length), zero-padded on the right."""
    # TextVectorization takes the vocabulary without its padding and unknown tokens.
    vectorizer = _vectorizer(spec, vocabulary=vocabulary[2:] if vocabulary[:2] == ["", "[UNK]"] else vocabulary)
    length = spec["sequence_length"]
    chunks = [np.zeros((0, length), np.int32)]
    for start in range(0, len(texts), batch_size):
        ids = vectorizer(tf.constant([clean_text(t) for t in texts[start : start + batch_size]], tf.string))
        ids = ids[:, :length] if spec["truncate"] == "end" else ids[:, -length:]
        chunks.append(ids.to_tensor(shape=[None, length]).numpy().astype(np.int32))
    return np.concatenate(chunks)


def vocabulary_text(vocabulary):
    """The vocabulary as file text: one token a line, in id order (line 1 is id 0)."""
    return "".join(f"{token}\n" for token in vocabulary)


def read_vocabulary(path):
    """Read a vocabulary file written from `vocabulary_text`."""
    with open(path, encoding="utf-8", newline="") as f:
        return f.read().split("\n")[:-1]
