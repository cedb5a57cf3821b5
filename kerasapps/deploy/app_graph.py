"""The graph a phone runs: a trained model wrapped so that it takes what an app has.

    app = app_model(model, spec)        # image: RGB pixels 0..255 in; text: two categories out
    x = app_inputs(dataset.x_test, spec)

Image models take RGB float pixels 0..255 at the dataset's size, whatever the
model was trained on: the graph converts to gray if the model reads one
channel, pads (MNIST's 28x28 to LeNet's 32x32) and scales and standardizes as
training did (`kerasapps.data.image_preprocessing`). MediaPipe Tasks feeds only
RGB images, and this way one file serves a phone and `kerasapps predict`.

Text models keep their token-id input (the tokenizer travels in the file's
metadata) and give one probability per class: a one-unit sigmoid p becomes
(1 - p, p), since classifier APIs read one score per category.
"""

import keras
import numpy as np

from kerasapps.data.text_preprocessing import PUNCTUATION

# Splits a review as MediaPipe's regex tokenizer will, as training's "lower_and_split_punctuation"
# does: HTML line breaks, white space and punctuation end a token, and so does an apostrophe
# next to them (a quote mark: 'great' is great); an apostrophe inside a word stays (the
# vocabulary file lists the contractions). White space is spelled out: RE2's \s is ASCII only,
# Python's is not; written so, RE2 and Python's `re` split alike. No ^: MediaPipe searches the
# rest of the text after each delimiter, where RE2's ^ would match again.
_SEPARATOR = rf"[ \t\n\r\f{PUNCTUATION}]"
TEXT_DELIMITER = rf"""(?:(?:<br[ \t\n\r\f]*/?>|{_SEPARATOR})'*|'+{_SEPARATOR}|'+$)+"""


def reads_text(spec):
    return spec.get("kind") == "text"


def app_model(model, spec):
    """`model` inside the graph an app feeds (see the module docstring); same weights."""
    if reads_text(spec):
        batch = model.inputs[0].shape[0]  # a fused LSTM twin takes one review at a time
        inputs = keras.Input(model.inputs[0].shape[1:], batch_size=batch, dtype=model.inputs[0].dtype, name="token_ids")
        scores = model(inputs)
        if scores.shape[-1] == 1:
            scores = keras.layers.Concatenate(name="probability")([1 - scores, scores])
        return keras.Model(inputs, scores, name=f"{model.name}_app")
    height, width = spec["size"]
    inputs = keras.Input((height, width, 3), name="rgb_pixels")
    x = keras.ops.image.rgb_to_grayscale(inputs) if spec["channels"] == 1 else inputs
    if spec.get("pad_to"):
        (top, bottom), (left, right) = _padding(spec)
        x = keras.layers.ZeroPadding2D(((top, bottom), (left, right)))(x)
    mean = np.asarray(spec.get("mean") if spec.get("mean") is not None else 0.0, np.float32)
    std = np.asarray(spec.get("std") if spec.get("std") is not None else 1.0, np.float32)
    x = keras.layers.Rescaling(scale=(spec["scale"] / std).tolist(), offset=(-mean / std).tolist())(x)
    return keras.Model(inputs, model(x), name=f"{model.name}_app")


def _padding(spec):
    (height, width), (target_h, target_w) = spec["size"], spec["pad_to"]
    top, left = (target_h - height) // 2, (target_w - width) // 2
    return (top, target_h - height - top), (left, target_w - width - left)


def app_inputs(x, spec):
    """Model inputs `x` (preprocessed, as training saw them) -> the app graph's inputs:
    token ids unchanged; images back to RGB pixels 0..255 (the inverse of the
    preprocessing, exact for 8-bit images)."""
    if reads_text(spec):
        return x
    pixels = np.asarray(x, np.float32)
    if spec.get("mean") is not None:
        pixels = pixels * np.asarray(spec["std"], np.float32) + np.asarray(spec["mean"], np.float32)
    pixels = np.clip(np.round(pixels / spec["scale"]), 0, 255)
    if spec.get("pad_to"):
        (top, bottom), (left, right) = _padding(spec)
        pixels = pixels[:, top : pixels.shape[1] - bottom, left : pixels.shape[2] - right]
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels
