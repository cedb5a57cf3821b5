"""The course notes' convolution examples, each computed by a real Keras layer.

Every example returns an `Example`: the lines `kerasapps lab` prints
and the matrices it draws. Keras's Conv2D computes a cross-correlation (the
kernel is not flipped), which is what the notes, like every deep-learning
course, call convolution.
"""

import dataclasses
import math
import string

import keras
import numpy as np

from kerasapps.data.mnist import find_idx_folder, read_idx_folder
from kerasapps.errors import UserError
from kerasapps.geometry import conv_output_size
from kerasapps.models import build_model


@dataclasses.dataclass
class Example:
    """One worked example: what to print, and matrices to draw as (caption, 2-D array)."""

    title: str
    lines: list
    panels: list = dataclasses.field(default_factory=list)


# --- running real layers ------------------------------------------------------------


def convolve(images, kernels, *, stride=1, padding="valid"):
    """Run `keras.layers.Conv2D` with the given kernels and no bias.

    Args:
        images: array (batch, height, width, channels), or one 2-D image.
        kernels: array (kh, kw, channels, filters), or one 2-D kernel.
        stride: the step S.
        padding: "valid", "same", or P pixels of zeros on every side (a ZeroPadding2D first).

    Returns:
        The output as a float array: (batch, h, w, filters), or 2-D for a 2-D image and kernel.
    """
    flat = np.ndim(images) == 2 and np.ndim(kernels) == 2
    x = np.asarray(images, dtype="float32").reshape((1, *np.shape(images), 1) if flat else np.shape(images))
    k = np.asarray(kernels, dtype="float32").reshape((*np.shape(kernels), 1, 1) if flat else np.shape(kernels))
    if isinstance(padding, int):
        x = np.asarray(keras.layers.ZeroPadding2D(padding)(x))
        padding = "valid"
    layer = keras.layers.Conv2D(k.shape[-1], k.shape[:2], strides=stride, padding=padding, use_bias=False)
    layer.build(x.shape)
    layer.set_weights([k])
    out = np.asarray(layer(x))
    return out[0, :, :, 0] if flat else out


def pool(image, size, *, stride=None, kind="max"):
    """Run `keras.layers.MaxPooling2D` or `AveragePooling2D` on one 2-D image."""
    Pool = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}[kind]
    x = np.asarray(image, dtype="float32")[None, :, :, None]
    return np.asarray(Pool(size, strides=stride or size)(x))[0, :, :, 0]


# --- the examples -----------------------------------------------------------------


def toy():
    """The notes' 3x4 input a..l and 2x2 kernel w, x, y, z: the 2x3 output aw+bx+ey+fz, ...

    Computed symbolically by a real Conv2D: each letter of the input is a one-hot
    image, each kernel letter a one-hot kernel, and an output position gets the
    product of the pairs whose convolution puts a 1 there.
    """
    inputs, weights = string.ascii_lowercase[:12], "wxyz"
    one_hot_images = np.eye(12, dtype="float32").reshape(12, 3, 4, 1)
    one_hot_kernels = np.eye(4, dtype="float32").reshape(2, 2, 1, 4)
    hits = convolve(one_hot_images, one_hot_kernels)  # (letter, row, col, kernel letter)
    terms = [
        ["+".join(f"{inputs[i]}{weights[k]}" for i, k in zip(*np.nonzero(hits[:, r, c, :]))) for c in range(3)]
        for r in range(2)
    ]
    numbers = np.arange(1, 13, dtype="float32").reshape(3, 4)
    kernel = np.array([[1, 0], [0, -1]], dtype="float32")
    lines = [
        "input (3x4)          kernel (2x2)",
        "  a b c d              w x",
        "  e f g h              y z",
        "  i j k l",
        "output (3-2+1) x (4-2+1) = 2x3, as Conv2D computes it:",
        *(f"  {'   '.join(row)}" for row in terms),
        "with a..l = 1..12 and w, x, y, z = 1, 0, 0, -1 (aw+bx+ey+fz = a - f = -5 everywhere):",
        *(f"  {row}" for row in convolve(numbers, kernel).tolist()),
    ]
    panels = [("input a..l = 1..12", numbers), ("kernel", kernel), ("output", convolve(numbers, kernel))]
    return Example("A 2x2 kernel slides over a 3x4 input", lines, panels), terms


VERTICAL = np.array([[1, 0, -1]] * 3, dtype="float32")
FILTERS = {
    "vertical": VERTICAL,
    "horizontal": VERTICAL.T.copy(),
    "sobel": np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype="float32"),
    "scharr": np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]], dtype="float32"),
}


def notes_image():
    """The notes' 6x6 image: bright (10) on the left half, dark (0) on the right."""
    return np.array([[10, 10, 10, 0, 0, 0]] * 6, dtype="float32")


def edges(digit=None):
    """Vertical, horizontal, Sobel and Scharr filters on the notes' 6x6 image (and on `digit`, a 2-D image)."""
    image = notes_image()
    lines = ["the notes' 6x6 image: 10 10 10 0 0 0 in every row; each 3x3 filter gives a 4x4 map"]
    panels = [("6x6 image", image)]
    for name, kernel in FILTERS.items():
        out = convolve(image, kernel)
        lines.append(f"  {name:<10} kernel {kernel.astype(int).tolist()}  ->  every row {out[0].astype(int).tolist()}")
        panels.append((name, out))
    lines.append("the vertical edge shows as the bright 30 30 band; the horizontal filter sees no edge (all 0)")
    if digit is not None:
        digit = np.asarray(digit, dtype="float32") / 255.0
        panels.append(("MNIST digit", digit))
        for name, kernel in FILTERS.items():
            response = convolve(digit, kernel)
            panels.append((f"{name} on the digit", np.abs(response)))
            lines.append(
                f"  MNIST digit, {name:<10}: {digit.shape} -> {response.shape}, |response| max {np.abs(response).max():.2f}"
            )
    return Example("Edge detection: vertical, horizontal, Sobel, Scharr", lines, panels)


def multichannel(n=6, channels=3, f=3, filters=2, seed=0):
    """An n x n x n_c input and `filters` kernels of f x f x n_c give (n-f+1) x (n-f+1) x filters."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 5, size=(1, n, n, channels)).astype("float32")
    kernels = rng.integers(-1, 2, size=(f, f, channels, filters)).astype("float32")
    out = convolve(image, kernels)
    by_hand = sum(convolve(image[0, :, :, c], kernels[:, :, c, 0]) for c in range(channels))
    lines = [
        f"input {n}x{n}x{channels}, {filters} filters of {f}x{f}x{channels}: output {'x'.join(map(str, out.shape[1:]))}"
        f" = ({n}-{f}+1) x ({n}-{f}+1) x {filters}",
        f"each filter sums over all {channels} channels: filter 1 = the sum of {channels} single-channel"
        f" convolutions (max difference {np.abs(out[0, :, :, 0] - by_hand).max():g})",
        f"weights: {f}*{f}*{channels}*{filters} = {f * f * channels * filters} (+ {filters} biases)",
    ]
    panels = [(f"channel {c + 1}", image[0, :, :, c]) for c in range(channels)]
    panels += [(f"output {k + 1}", out[0, :, :, k]) for k in range(filters)]
    return Example("Convolution over channels", lines, panels), out.shape[1:]


def padding_and_stride(height=125, width=49, kernel=5, pad=2, stride=2):
    """The notes' formula W_out = (W_in - K + 2P) / S + 1 on their worked example, checked by Keras."""
    x = np.zeros((1, height, width, 1), dtype="float32")
    shape = convolve(x, np.zeros((kernel, kernel, 1, 1)), stride=stride, padding=pad).shape[1:3]
    formula = [conv_output_size(size, kernel, stride, pad, axis=axis) for size, axis in ((height, "H"), (width, "W"))]
    lines = [
        f"input {height}x{width}, K={kernel}, P={pad}, S={stride}",
        f"  formula: ({height} - {kernel} + 2*{pad}) / {stride} + 1 = {formula[0]},"
        f"  ({width} - {kernel} + 2*{pad}) / {stride} + 1 = {formula[1]}",
        f"  Keras ZeroPadding2D({pad}) + Conv2D({kernel}, strides={stride}): {shape[0]}x{shape[1]}",
        f"  the notes print {(height - kernel + 2 * pad) // stride}x{(width - kernel + 2 * pad) // stride}: "
        "the formula without its + 1 (erratum)",
        "same padding keeps the size at stride 1: P = (K - 1) / 2",
    ]
    same = {}
    for k in (3, 5, 7):
        p = (k - 1) // 2
        out = convolve(np.zeros((1, 32, 32, 1)), np.zeros((k, k, 1, 1)), padding=p).shape[1]
        keras_same = convolve(np.zeros((1, 32, 32, 1)), np.zeros((k, k, 1, 1)), padding="same").shape[1]
        same[k] = (p, out, keras_same)
        lines.append(f"  K={k}: P={p}, 32 -> {out} (Keras padding='same': 32 -> {keras_same})")
    return Example("Padding and stride", lines), (tuple(shape), tuple(formula), same)


POOLING_INPUT = np.array([[1, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]], dtype="float32")


def pooling():
    """Max vs average pooling on a 4x4 example, and the notes' pooling-formula erratum."""
    biggest, mean = pool(POOLING_INPUT, 2, kind="max"), pool(POOLING_INPUT, 2, kind="avg")
    lines = [
        "4x4 input, 2x2 window, stride 2:",
        f"  max pooling     {biggest.tolist()}",
        f"  average pooling {mean.tolist()}",
        "output size: the notes print (n - f + 1) / s; the right one is floor((n - f) / s) + 1",
        f"  {'n':>3} {'f':>2} {'s':>2} {'notes':>7} {'right':>6} {'Keras':>6}",
    ]
    rows = []
    for n, f, s in ((4, 2, 2), (6, 3, 3), (7, 3, 2), (28, 2, 2), (32, 3, 2), (13, 3, 2)):
        printed = (n - f + 1) / s
        right = math.floor((n - f) / s) + 1
        seen = pool(np.zeros((n, n)), f, stride=s).shape[0]
        rows.append((n, f, s, printed, right, seen))
        lines.append(f"  {n:>3} {f:>2} {s:>2} {printed:>7g} {right:>6} {seen:>6}")
    lines += [
        "\"set S > 0 to downsample\": S = 1 keeps the map (n - f + 1); S > 1 is what downsamples:",
        *(f"  n=8, f=2, S={s}: 8 -> {pool(np.zeros((8, 8)), 2, stride=s).shape[0]}" for s in (1, 2)),
    ]
    panels = [("input", POOLING_INPUT), ("max 2x2/2", biggest), ("average 2x2/2", mean)]
    return Example("Pooling", lines, panels), rows


def sharing():
    """Weight sharing: a 2x2 filter of stride 2 on a 4x4 image is a dense layer with 16 weights, 4 distinct."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 10, size=(4, 4)).astype("float32")
    kernel = np.array([[1, 2], [3, 4]], dtype="float32")
    conv = convolve(image, kernel, stride=2)
    # The same map as a Dense layer from 16 pixels to 4 outputs: each output sees
    # its own 2x2 patch, and every patch uses the kernel's 4 weights.
    matrix = np.zeros((16, 4), dtype="float32")
    for out_index, (r, c) in enumerate((r, c) for r in range(2) for c in range(2)):
        patch = np.zeros((4, 4), dtype="float32")
        patch[2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = kernel
        matrix[:, out_index] = patch.ravel()
    dense = keras.layers.Dense(4, use_bias=False)
    dense.build((None, 16))
    dense.set_weights([matrix])
    as_dense = np.asarray(dense(image.reshape(1, 16))).reshape(2, 2)
    counts = {
        "dense 16 -> 4": 16 * 4,
        "locally connected (no sharing)": int(np.count_nonzero(matrix)),
        "convolution (shared)": kernel.size,
    }
    lines = [
        "4x4 image, 2x2 filter, stride 2 -> 2x2 output",
        f"  Conv2D output  {conv.tolist()}",
        f"  the same as a Dense(4) whose 16x4 matrix repeats the kernel: {as_dense.tolist()}",
        *(f"  {name:<32}{value:>3} weights" for name, value in counts.items()),
    ]
    panels = [("image", image), ("kernel", kernel), ("16x4 dense matrix", matrix), ("output", conv)]
    return Example("Weight sharing", lines, panels), (conv, as_dense, counts)


def sharing_table(model):
    """Per convolution of `model`: its weights, its multiply-accumulates, and a dense layer's
    weights for the same input and output sizes (what sharing saves).

    Returns:
        A list of (layer name, params, MACs, dense params), then the totals as a last row.
    """
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            fan_in = int(np.prod(layer.input.shape[1:]))
            out_h, out_w, filters = layer.output.shape[1:]
            macs = int(np.prod(layer.kernel.shape)) * out_h * out_w
            rows.append((layer.name, layer.count_params(), macs, fan_in * out_h * out_w * filters))
    if not rows:
        raise UserError(f"Model {model.name!r} has no Conv2D layer to compare with a dense one.")
    rows.append(("total", *(sum(r[i] for r in rows) for i in (1, 2, 3))))
    return rows


def network_sharing(names):
    """For each registered network in `names`: (name, conv weights, conv MACs, dense-equivalent weights),
    the totals of `sharing_table`; each network is built and then dropped (the VGGs hold 500 MB)."""
    for name in names:
        _, params, macs, dense = sharing_table(build_model(name))[-1]
        keras.backend.clear_session()
        yield name, params, macs, dense


def mnist_test_digit(data_dir, index):
    """Test image `index` of MNIST (28x28, 0..255) from the local IDX files under `data_dir`.

    Raises:
        UserError: no MNIST IDX files there, or `index` out of range.
    """
    folder = find_idx_folder(data_dir, ["mnist"])
    if not folder:
        raise UserError("`edges` filters an MNIST digit: point --data-dir (or $KERASAPPS_DATA_DIR) at the MNIST IDX files.")
    images = read_idx_folder(folder)["test"][0]
    if not 0 <= index < len(images):
        raise UserError(f"--digit must be in 0..{len(images) - 1}, got {index}.")
    return images[index]
