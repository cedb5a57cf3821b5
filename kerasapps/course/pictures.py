"""Pictures of what a trained network computes: the library behind `kerasapps visualize`.

For an image run: the first convolution's filters and the feature maps every
top-level Conv2D layer produces for one input, each labelled with the layer's
name and output shape. For a text run: the last recurrent layer's hidden state
h_t at every token of one review, step by step, read by a copy of that layer
that returns its whole sequence (same weights).
"""

import pathlib

import keras
import numpy as np

from kerasapps import runs
from kerasapps.config import list_experiments, load_run_config
from kerasapps.data import load_experiment_data
from kerasapps.data.image_preprocessing import preprocess_images, read_image_file
from kerasapps.data.text_preprocessing import read_vocabulary, vectorize
from kerasapps.errors import UserError
from kerasapps.plots import plot_maps, plot_sequence

MAX_MAPS = 16  # feature maps drawn per layer


def visualize_run(run, source=None, *, out=None, data_dir=None, runs_dir=None, log=print):
    """Draw what run `run` computes for one input and return the PNG's path.

    Args:
        run: a run folder, or an experiment name for its newest finished run.
        source: an image file (image runs) or a review's text (text runs); None
            takes the first example of the run's test split.
        out: the PNG to write; default `visualize.png` in the run folder.
        data_dir: local dataset folder, for the default input.

    Raises:
        UserError: no such run, an unreadable image, or an empty text.
    """
    out = _png_path(out) if out else None
    run_dir = runs.resolve_run(run, runs_dir, experiments=list_experiments())
    spec = runs.read_metrics(run_dir).get("dataset", {}).get("preprocessing") or {}
    model = runs.load_run_model(run_dir)
    out = out or run_dir / "visualize.png"
    title = f"{run_dir.parent.name}/{run_dir.name}"
    if spec.get("kind") == "text":
        ids = _text_input(run_dir, spec, source, data_dir, log)
        _make_parent(out)
        draw_hidden_state(model, ids, _words(run_dir, spec, ids), out, title=title)
    else:
        image = _image_input(run_dir, spec, source, data_dir, log)
        _make_parent(out)
        draw_feature_maps(model, image, out, title=title)
    log(f"wrote {out}")
    return out


def _png_path(out):
    """`out` as the PNG file to write: `.png` added when it has no suffix.

    Raises:
        UserError: `out` has another suffix, or names a folder.
    """
    out = pathlib.Path(out)
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name such as {out / 'visualize.png'}.")
    if not out.suffix:
        return out.with_name(out.name + ".png")
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out}: the picture is a PNG; give a name ending in .png, such as {out.with_suffix('.png')}.")
    return out


def _make_parent(out):
    """Create the folder of `out` once the input is known to be good, so that bad input writes nothing."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"Cannot create the folder of --out {out}: {error.strerror}.") from None


def _first_test_example(run_dir, data_dir, log):
    dataset, _, _ = load_experiment_data(load_run_config(run_dir), data_dir=data_dir, log=log)
    return dataset.x_test[0]


def _image_input(run_dir, spec, path, data_dir, log):
    if path is None:
        return _first_test_example(run_dir, data_dir, log)
    pixels, notes = read_image_file(path, spec)
    if notes:
        log(f"{path}: {'; '.join(notes)}.")
    return preprocess_images(pixels[None], spec)[0]


def _text_input(run_dir, spec, text, data_dir, log):
    if text is None:
        return _first_test_example(run_dir, data_dir, log)

    if not text.strip():
        raise UserError("The review is empty: give its text.")
    return vectorize([text], spec, read_vocabulary(run_dir / spec["vocabulary_file"]))[0]


def _words(run_dir, spec, ids):
    vocabulary = read_vocabulary(run_dir / spec["vocabulary_file"])
    return [vocabulary[i] for i in ids if i]


# --- image runs ---------------------------------------------------------------------


def feature_maps(model, image):
    """[(layer name, output shape, maps of shape (channels, h, w))] for each top-level Conv2D of `model`."""
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise UserError(f"Model {model.name!r} has no Conv2D layer to draw; for a text run give a review.")
    probe = keras.Model(model.inputs[0], [layer.output for layer in convs])
    outputs = probe(np.asarray(image, dtype="float32")[None], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [
        (layer.name, tuple(out.shape[1:]), np.moveaxis(np.asarray(out)[0], -1, 0))
        for layer, out in zip(convs, outputs)
    ]


def first_filters(model):
    """The first Conv2D's kernels as images (filters, kh, kw): averaged over input channels."""
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    kernel = np.asarray(conv.kernel)  # (kh, kw, in, out)
    return conv, np.moveaxis(kernel.mean(axis=2), -1, 0)


def draw_feature_maps(model, image, png_path, title=""):
    """One PNG: the input, the first layer's filters, and up to 16 feature maps of every conv layer."""
    maps = feature_maps(model, image)
    conv, filters = first_filters(model)
    kh, kw, channels, count = conv.kernel.shape
    image = np.asarray(image)
    sections = [
        (f"input {image.shape}", [image.mean(axis=-1)]),
        (f"{conv.name} filters: {count} of {kh}x{kw}x{channels} (mean over input channels)", filters[:MAX_MAPS]),
    ]
    sections += [(f"{name} output {shape} (first {min(MAX_MAPS, shape[-1])} maps)", m[:MAX_MAPS]) for name, shape, m in maps]  # noqa: E501
    plot_maps(sections, png_path, title=f"{title}: what each convolution computes", columns=MAX_MAPS)
    return maps


# --- text runs ----------------------------------------------------------------------


def _returning_sequences(layer):
    """A copy of recurrent `layer` (LSTM, GRU, SimpleRNN, Bidirectional) that returns h_t at every step."""
    config = keras.layers.serialize(layer)

    def patch(entry):
        entry["config"]["return_sequences"] = True
        for inner in ("layer", "backward_layer"):
            if entry["config"].get(inner):
                patch(entry["config"][inner])

    patch(config)
    return keras.layers.deserialize(config)


def hidden_states(model, ids):
    """(name of the last recurrent layer, its hidden state at each non-padding token: (tokens, units))."""
    kinds = (keras.layers.RNN, keras.layers.Bidirectional)
    recurrent = [i for i, layer in enumerate(model.layers) if isinstance(layer, kinds)]
    if not recurrent:
        raise UserError(f"Model {model.name!r} has no recurrent layer; for an image run give an image.")
    x = np.asarray(ids)[None]
    for layer in model.layers[: recurrent[-1]]:
        x = layer(x)  # an Embedding's mask travels with its output to the recurrent layers
    last = model.layers[recurrent[-1]]
    sequence = _returning_sequences(last)
    sequence.build(x.shape)
    sequence.set_weights(last.get_weights())
    states = np.asarray(sequence(x))[0]
    return last.name, states[np.asarray(ids) != 0]


def draw_hidden_state(model, ids, words, png_path, title=""):
    """One PNG: the hidden state over the review's tokens, with the model's P(positive)."""
    name, states = hidden_states(model, ids)
    probability = float(np.asarray(model(np.asarray(ids)[None], training=False))[0, 0])
    plot_sequence(
        states, words, png_path,
        title=f"{title}: {name} hidden state h_t over {len(words)} tokens, P(positive) = {probability:.2f}",
    )  # fmt: skip
    return states
