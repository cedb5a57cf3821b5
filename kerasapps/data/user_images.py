"""Users' own images, prepared the way the training images were made.

MNIST digits are white on black, size-normalized (aspect ratio kept) to fit a 20x20 box with
anti-aliasing, then placed in a 28x28 field so that their centre of mass is at its centre
(LeCun et al.). A user's photo of a digit is dark ink on light, unevenly lit paper, a drawing
app's PNG keeps the strokes in its alpha channel, and the digit may be anywhere in a large
picture; resizing the whole file shows the model nothing it knows. `prepare_image` with
layout "mnist" repeats MNIST's procedure on any image:

  1. composite the transparency (a transparent background: the strokes are the alpha);
  2. grayscale; fit a plane to the border (the paper and its lighting gradient) and subtract it;
  3. polarity: ink darker than the paper on average means dark ink, so invert;
  4. level: subtract a threshold above the noise and above faint shading;
  5. crop the box holding all but the outermost sliver of the ink mass (specks fall outside);
  6. resize it to fit 20x20 (aspect kept, anti-aliased), paste it so that its centre of mass
     is at the centre of 28x28, stretch the strokes to 255.

Layout "resize" (CIFAR-style photos) resizes the shorter side and centre-crops.

The web app does the same in JavaScript (`deploy/web/prepare.js`, the same functions in the
same order), and its pixels must be these pixels. So Pillow only decodes: `prepare_image` turns
the file into the RGBA bytes a browser's canvas gives (`getImageData`: 8 bits a channel, not
premultiplied, RGB 0 where alpha is 0), and `prepare_rgba` computes from those bytes alone with
operations both languages do alike in float64: luma with integer weights, one resample (PIL's
antialiased triangle, written out), sums added in index order, a least-squares plane in closed
form, medians, and rounding halves up. This module also makes test images like users' from
MNIST digits (`user_like_digits`).
"""

import io
import pathlib

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from kerasapps.errors import UserError, check_choice

LAYOUTS = ("mnist", "resize")
KINDS = ("paper_jpeg", "paper_png", "transparent_png", "white_on_black")
PEN_COLOURS = np.float32([[20, 20, 25], [25, 40, 150]])  # black and blue ink
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # "I": how Pillow may open a 16-bit PNG
LUMA_WEIGHTS = (19595, 38470, 7471)  # ITU-R 601 in 16-bit fixed point, as Pillow's "L"; they sum to 65536
WORKING_SIDE = 512  # larger images are shrunk first: a 20x20 digit needs far fewer pixels
BORDER_FRACTION = 0.04  # the outer ring taken as background
INK_MASS_TAIL = 0.002  # of the ink mass, each side, left outside the box: specks, not strokes
MIN_INK = 0.06  # weakest peak contrast (0-1) still read as ink: fainter is blank paper


def prepare_image(image, *, size, channels, layout):
    """Prepare a user's image as the model's training images were made.

    Args:
        image: a `PIL.Image.Image` of any mode (RGB, RGBA, LA, L, P, I;16, I, 1, CMYK ...)
            or the path of an image file; an EXIF orientation is applied.
        size: (height, width) of the result.
        channels: 1 (grayscale) or 3 (RGB).
        layout: "mnist" (a digit, MNIST's procedure: see the module docstring) or "resize"
            (a photo: the shorter side resized to fit, the rest centre-cropped).

    Returns:
        (pixels, notes): a uint8 array of shape (height, width, channels), and a list of short
        notes on what was done that the user should know ("inverted it ...").

    Raises:
        UserError: an unknown layout or channels, or a file that cannot be read as an image.
    """
    check_choice("layout", layout, LAYOUTS)
    check_choice("channels", channels, (1, 3))
    image, notes = _standard_image(image)
    pixels, more = prepare_rgba(_canvas_rgba(image), size=size, channels=channels, layout=layout)
    return pixels, notes + more


def prepare_rgba(rgba, *, size, channels, layout):
    """`prepare_image` from decoded pixels, step for step what prepare.js's `prepareImage` does.

    Args:
        rgba: uint8 array (height, width, 4) as a canvas's `getImageData` gives: not
            premultiplied; all alpha 255 is an opaque image; RGB is never read where alpha is 0.
        size, channels, layout: as `prepare_image` takes them.

    Returns:
        (pixels, notes) as `prepare_image` returns them, less the notes on decoding (EXIF, 16 bits).

    Raises:
        UserError: an unknown layout or channels, or `rgba` not a uint8 (H, W, 4) array.
    """
    check_choice("layout", layout, LAYOUTS)
    check_choice("channels", channels, (1, 3))
    rgba = np.asarray(rgba)
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4 or 0 in rgba.shape:
        raise UserError(f"Expected RGBA pixels, a uint8 array (height, width, 4); got {rgba.dtype} {rgba.shape}.")
    if layout == "mnist":
        gray, notes = _mnist_digit(rgba, size)
        return np.repeat(gray[..., None], channels, axis=2), notes
    return _resized_photo(rgba, size, channels)


# --- reading ---


def _standard_image(image):
    """(the image upright in L, RGB or RGBA with 8 bits a channel, notes)."""
    if not isinstance(image, Image.Image):
        try:
            with Image.open(image) as opened:
                opened.load()
                image = opened.copy()
        except UnidentifiedImageError:
            raise UserError(f"Cannot read {image} as an image: not a picture format Pillow reads (PNG, JPEG, GIF, BMP, WebP, TIFF...).") from None
        except OSError as error:
            raise UserError(f"Cannot read {image} as an image: {error.strerror or error}.") from None
    notes = []
    if image.getexif().get(0x0112, 1) != 1:
        image = ImageOps.exif_transpose(image)
        notes.append("turned it upright (its EXIF orientation)")
    if image.mode in SIXTEEN_BIT_MODES:
        image = Image.fromarray(np.round(np.clip(np.asarray(image) / 257, 0, 255)).astype(np.uint8))
        notes.append("scaled its 16-bit pixels to 8 bits")
    if image.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info:
        return image.convert("RGBA"), notes
    return image.convert("L" if image.mode in ("1", "L", "F") else "RGB"), notes


def _canvas_rgba(image):
    """An L, RGB or RGBA image's pixels as a browser's canvas gives them: uint8 (H, W, 4). (A
    canvas sets RGB to 0 where alpha is 0; nothing below reads RGB there, so it is left as is.)"""
    return np.asarray(image.convert("RGBA"))


def _luma(red, green, blue):
    """ITU-R 601 luma (float64) of arrays, in their units. The weights are integers: on integer
    pixels the weighted sum is exact, whatever the type, and a gray pixel keeps its value."""
    return (LUMA_WEIGHTS[0] * red + LUMA_WEIGHTS[1] * green + LUMA_WEIGHTS[2] * blue) / 65536


def _gray_and_alpha(rgba):
    """Float64 arrays in [0, 1]: the luma composited on white, and the alpha (None if all opaque).

    Compositing before `_shrunk` is compositing after it (both are linear), and it reads RGB only
    through gray x alpha, which is 0 where alpha is 0."""
    gray = _luma(*(rgba[..., channel].astype(np.int32) for channel in range(3))) / 255
    if (rgba[..., 3] == 255).all():
        return gray, None
    alpha = rgba[..., 3] / 255
    return gray * alpha + (1 - alpha), alpha


# --- arithmetic both languages do alike ---


def _rounded(values):
    """`values` rounded halves up, as prepare.js's Math.floor(x + 0.5) (numpy and Python round
    halves to even)."""
    return np.floor(np.add(values, 0.5)).astype(np.int64)


def _total(array, axis=None):
    """The sum of `array` (along `axis`) added in index order, as prepare.js's loops add: numpy's
    sum adds pairwise, whose last bits differ and could tip a decision the JS takes the other way."""
    if axis is None:
        return float(np.cumsum(array)[-1])
    return np.take(np.cumsum(array, axis=axis), -1, axis=axis)


def _median(values):
    """The middle value, or the mean of the two middle ones (numpy's rule, which prepare.js repeats)."""
    return float(np.median(values))


def _resampled(array, height, width):
    """`array` (H, W, ...) resized to (height, width): columns, then rows (as Pillow does).

    The filter is Pillow's BILINEAR written out: a triangle one input pixel wide each side,
    widened to one output pixel when shrinking (so it averages, anti-aliased); taps outside the
    image are dropped and the rest renormalized. An axis already at its size is left alone."""
    return _resampled_axis(_resampled_axis(array, width, axis=1), height, axis=0)


def _resampled_axis(array, out_size, axis):
    """`array` resampled along `axis` to `out_size` (see `_resampled`)."""
    in_size = array.shape[axis]
    if out_size == in_size:
        return array
    first, weights = _triangle_weights(in_size, out_size)
    shape = [1] * array.ndim
    shape[axis] = out_size
    result = np.zeros(array.shape[:axis] + (out_size,) + array.shape[axis + 1 :])
    for tap in range(weights.shape[1]):  # taps in order; a padded tap has weight 0 and adds nothing
        taken = np.take(array, np.minimum(first + tap, in_size - 1), axis=axis)
        result += taken * weights[:, tap].reshape(shape)
    return result


def _triangle_weights(in_size, out_size):
    """(first, weights): output pixel j is the sum over k of weights[j, k] x input[first[j] + k]."""
    scale = in_size / out_size
    support = max(scale, 1.0)  # the triangle's half-width in input pixels
    centres = (np.arange(out_size) + 0.5) * scale  # output pixel centres, in input coordinates
    first = np.maximum(np.floor(centres - support + 0.5), 0).astype(np.int64)
    count = np.minimum(np.floor(centres + support + 0.5), in_size).astype(np.int64) - first
    taps = np.arange(count.max())
    distance = np.abs((first[:, None] + taps + 0.5 - centres[:, None]) / support)
    weights = np.where(taps < count[:, None], np.maximum(1 - distance, 0), 0)
    return first, weights / _total(weights, axis=1)[:, None]


# --- MNIST layout ---


def _mnist_digit(rgba, size):
    """(uint8 array `size` of the digit as MNIST's are, notes)."""
    resized = rgba.shape[:2] != tuple(size)
    gray, alpha = _gray_and_alpha(rgba)
    gray, alpha = _shrunk(gray), None if alpha is None else _shrunk(alpha)
    notes = []
    if alpha is not None and _median(_border(alpha)) < 0.5:
        # A drawing on nothing: the strokes are where it is opaque, whatever their colour.
        ink = alpha
        notes.append("read the strokes from its transparency")
    else:
        if alpha is not None:  # an opaque picture with see-through spots: `gray` is on white
            notes.append("composited its transparency on white")
        ink, inverted = _ink_from_background(gray)
        if inverted:
            notes.append("inverted it (dark ink on a light background)")
    ink = _levelled(ink)
    if ink is None:
        return np.zeros(size, np.uint8), notes + ["found no ink: the image looks blank"]
    digit = _normalized_size(_cropped_to_ink(ink), size)
    field = _placed_by_centre_of_mass(digit, size)
    if resized:  # an image already at the model's size is a digit field of its own: no news to tell
        notes.append("cropped the ink and centred it as MNIST digits are")
    return _rounded(field * (255 / field.max())).astype(np.uint8), notes


def _shrunk(array):
    """`array` with its longer side at most `WORKING_SIDE` (anti-aliased)."""
    longest = max(array.shape)
    if longest <= WORKING_SIDE:
        return array
    height, width = (max(1, int(_rounded(side * WORKING_SIDE / longest))) for side in array.shape)
    return _resampled(array, height, width)


def _border(array):
    """The pixels of the outer ring of `array` (`BORDER_FRACTION` of the shorter side, at least 1),
    in row-major order."""
    width = max(1, int(_rounded(BORDER_FRACTION * min(array.shape))))
    mask = np.ones(array.shape, bool)
    mask[width:-width, width:-width] = False
    return array[mask]


def _ink_from_background(gray):
    """(ink, inverted): how far each pixel is from the paper, fitted as a plane to the border
    (a lighting gradient is a plane); inverted when the ink is darker than the paper."""
    rows, cols = np.indices(gray.shape).astype(np.float64)
    border_rows, border_cols, border_gray = _border(rows), _border(cols), _border(gray)
    plane = _fitted_plane(border_rows, border_cols, border_gray)
    residual = border_gray - _plane_at(plane, border_rows, border_cols)
    keep = np.abs(residual) <= 3 * _noise(residual) + 1e-3
    if keep.any():  # refit without the border pixels far from the first plane (a stroke at the edge)
        plane = _fitted_plane(border_rows[keep], border_cols[keep], border_gray[keep])
    difference = gray - _plane_at(plane, rows, cols)
    inverted = _total(difference) < 0
    return np.maximum(-difference if inverted else difference, 0), inverted


def _fitted_plane(rows, cols, values):
    """(a, b, c) of the least-squares plane a + b row + c col through `values`, in closed form.

    The coordinate moments are integers, exact in float64 in any order. Points on one line
    (a one-pixel-high image) fit a constant: the mean."""
    n = len(values)
    sum_r, sum_c, sum_v = _total(rows), _total(cols), _total(values)
    # n x the centred moments: n sum(x y) - sum(x) sum(y).
    rr = n * _total(rows * rows) - sum_r * sum_r
    cc = n * _total(cols * cols) - sum_c * sum_c
    rc = n * _total(rows * cols) - sum_r * sum_c
    rv = n * _total(rows * values) - sum_r * sum_v
    cv = n * _total(cols * values) - sum_c * sum_v
    determinant = rr * cc - rc * rc
    if determinant > 1e-9 * rr * cc:
        b, c = (rv * cc - cv * rc) / determinant, (cv * rr - rv * rc) / determinant
    else:
        b, c = 0.0, 0.0
    return (sum_v - b * sum_r - c * sum_c) / n, b, c


def _plane_at(plane, rows, cols):
    """The plane's values at `rows`, `cols`."""
    a, b, c = plane
    return a + b * rows + c * cols


def _noise(values):
    """Robust standard deviation (1.4826 x the median absolute deviation)."""
    return 1.4826 * _median(np.abs(values - _median(values)))


def _levelled(ink):
    """Ink with the noise floor and faint shading subtracted, or None if no stroke stands out."""
    peak = float(ink.max())
    floor = max(4 * _noise(_border(ink)), 0.1 * peak)
    if peak < max(MIN_INK, 2 * floor):
        return None
    return np.maximum(ink - floor, 0)


def _cropped_to_ink(ink):
    """The smallest box holding all but `INK_MASS_TAIL` of the ink mass at each side."""
    boxes = []
    for axis in (1, 0):  # row profile, then column profile
        mass = np.cumsum(_total(ink, axis=axis))
        mass /= mass[-1]
        boxes.append(slice(np.searchsorted(mass, INK_MASS_TAIL), np.searchsorted(mass, 1 - INK_MASS_TAIL) + 1))
    return ink[tuple(boxes)]


def _normalized_size(digit, size):
    """`digit` resized, aspect kept and anti-aliased, to fit MNIST's box (20x20 of 28x28)."""
    box = 20 * min(size) / 28
    height, width = (max(1, int(_rounded(side * box / max(digit.shape)))) for side in digit.shape)
    return _resampled(digit, height, width)


def _placed_by_centre_of_mass(digit, size):
    """A zero field of `size` with `digit` pasted so that its centre of mass is at the centre
    (at 14, 14 of 28x28, as MNIST's training digits average), kept whole inside the field."""
    field = np.zeros(size)
    offsets = []
    for axis, (side, field_side) in enumerate(zip(digit.shape, size)):
        profile = _total(digit, axis=1 - axis)
        centre = _total(profile * np.arange(side)) / _total(profile)
        offsets.append(int(np.clip(_rounded(field_side / 2 - centre), 0, field_side - side)))
    top, left = offsets
    field[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return field


# --- resize layout ---


def _resized_photo(rgba, size, channels):
    """(uint8 array of the photo with its shorter side resized to fit `size`, centre-cropped, notes)."""
    notes = []
    colour = rgba[..., :3].astype(np.float64)
    if not (rgba[..., 3] == 255).all():
        # On white: what an image viewer or a web page shows the user of a cut-out photo, so the
        # model sees what the user saw (black would paint a shape CIFAR's photos never have).
        alpha = rgba[..., 3:].astype(np.float64) / 255
        colour = colour * alpha + 255 * (1 - alpha)
        notes.append("composited its transparency on white")
    if channels == 1:
        colour = _luma(colour[..., 0], colour[..., 1], colour[..., 2])[..., None]
    height, width = size
    in_height, in_width = rgba.shape[:2]
    if (in_height, in_width) != (height, width):
        if in_width * height != in_height * width:
            notes.append(f"cropped it to the centre (its aspect ratio is not {width}:{height})")
        notes.append(f"resized it from {in_width}x{in_height} to {width}x{height}")
        colour = _resampled(_centre_cropped(colour, height / width), height, width)
    return np.clip(_rounded(colour), 0, 255).astype(np.uint8), notes


def _centre_cropped(array, aspect):
    """The centre of `array` with height / width = `aspect` (whole pixels; the longer side cut)."""
    in_height, in_width = array.shape[:2]
    if in_width * aspect > in_height:  # too wide
        width = max(1, min(in_width, int(_rounded(in_height / aspect))))
        left = (in_width - width) // 2
        return array[:, left : left + width]
    height = max(1, min(in_height, int(_rounded(in_width * aspect))))
    top = (in_height - height) // 2
    return array[top : top + height]


# --- images like users' ---


def user_like_digits(images, labels, *, seed, kinds=KINDS):
    """Images like users' photos and drawings of digits, made from MNIST-style ones.

    Each 28x28 white-on-black digit becomes one image of the next of `kinds` in turn:
    "paper_jpeg" and "paper_png" (dark ink, black or blue pen, on off-white paper under a
    lighting gradient; the JPEG saved and re-read at quality 80), "transparent_png" (RGBA: the
    strokes in the alpha channel, in some colour, on a fully transparent background),
    "white_on_black" (grayscale). The digit is scaled 4-12x and placed off-centre in a canvas
    1.3-3x its size, with a little blur and Gaussian noise.

    Args:
        images: uint8 array (N, 28, 28). labels: N class indices.
        seed: the same seed gives the same images (each image depends on the seed and its index).
        kinds: which of `KINDS` to make.

    Returns:
        A list of (PIL image, label, kind), one per digit.

    Raises:
        UserError: an unknown kind.
    """
    for kind in kinds:
        check_choice("kind", kind, KINDS)
    made = []
    for index, (digit, label) in enumerate(zip(images, labels)):
        kind = kinds[index % len(kinds)]
        made.append((_user_like(digit, kind, np.random.default_rng([seed, index])), int(label), kind))
    return made


def write_user_like_digits(made, folder):
    """Write `user_like_digits`'s images to `folder` (created) as e.g. 0007_label3_paper_jpeg.jpg
    (the JPEGs encoded again at quality 80, the others as PNG).

    Returns:
        A list of (path, label, kind), in the order given.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (image, label, kind) in enumerate(made):
        path = folder / f"{index:04d}_label{label}_{kind}.{'jpg' if kind == 'paper_jpeg' else 'png'}"
        image.save(path, **({"quality": 80} if kind == "paper_jpeg" else {}))
        written.append((path, label, kind))
    return written


def _user_like(digit, kind, rng):
    """One PIL image of `kind` made from a 28x28 white-on-black digit (see `user_like_digits`)."""
    side = round(28 * rng.uniform(4, 12))
    height, width = (round(side * rng.uniform(1.3, 3)) for _ in range(2))
    canvas = Image.new("L", (width, height))
    place = (int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1)))
    canvas.paste(Image.fromarray(digit).resize((side, side), Image.BICUBIC), place)
    ink = np.asarray(canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5))), np.float32)[..., None] / 255
    noise = rng.standard_normal((height, width, 1), dtype=np.float32) * rng.uniform(1, 4)
    if kind == "white_on_black":
        return Image.fromarray(_to_uint8(rng.uniform(0, 25) + ink * rng.uniform(200, 255) + noise)[..., 0])
    if kind == "transparent_png":  # a drawing app's strokes may be any colour
        rgb = _to_uint8(np.float32(rng.uniform(0, 255, 3)) + noise)
        return Image.fromarray(np.dstack([rgb, _to_uint8(ink * 255)]), "RGBA")
    paper = np.float32(rng.uniform(205, 245) + rng.uniform(-8, 8, 3))
    pen = PEN_COLOURS[rng.integers(len(PEN_COLOURS))]
    page = _lighting_gradient(height, width, rng) * (paper * (1 - ink) + pen * ink) + noise
    image = Image.fromarray(_to_uint8(page))
    if kind == "paper_png":
        return image
    encoded = io.BytesIO()
    image.save(encoded, "JPEG", quality=80)
    return Image.open(encoded)


def _lighting_gradient(height, width, rng):
    """(height, width, 1) brightness factors falling linearly by 10-30% across the image in a random direction."""
    angle, drop = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.3)
    rows, cols = np.indices((height, width), np.float32)
    along = rows * np.float32(np.sin(angle)) + cols * np.float32(np.cos(angle))
    return (1 - drop * (along - along.min()) / max(np.ptp(along), 1))[..., None]


def _to_uint8(array):
    """`array` rounded and clipped to uint8."""
    return np.round(np.clip(array, 0, 255)).astype(np.uint8)
