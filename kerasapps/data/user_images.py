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

The web app must mirror these steps in JavaScript, so they are plain array operations
(sums, medians, a least-squares plane, a bilinear resize), nothing a browser lacks.
This module also makes test images like users' from MNIST digits (`user_like_digits`).
"""

import io
import pathlib

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from kerasapps.errors import UserError, check_choice

LAYOUTS = ("mnist", "resize")
KINDS = ("paper_jpeg", "paper_png", "transparent_png", "white_on_black")
PEN_COLOURS = np.float32([[20, 20, 25], [25, 40, 150]])  # black and blue ink
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # "I": how Pillow may open a 16-bit PNG
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
    if layout == "mnist":
        gray, more = _mnist_digit(image, size)
        pixels = np.repeat(gray[..., None], channels, axis=2)
    else:
        pixels, more = _resized_photo(image, size, channels)
    return pixels, notes + more


# --- reading ---


def _standard_image(image):
    """(the image upright in L, RGB or RGBA with 8 bits a channel, notes)."""
    if not isinstance(image, Image.Image):
        try:
            with Image.open(image) as opened:
                opened.load()
                image = opened.copy()
        except OSError as error:
            raise UserError(f"Cannot read {image} as an image: {error}") from None
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


def _gray_and_alpha(image):
    """Float arrays in [0, 1]: luma (ITU-R 601, as Pillow's "L") and alpha (None if opaque)."""
    pixels = np.asarray(image, np.float32) / 255
    if image.mode == "L":
        return pixels, None
    gray = pixels[..., :3] @ np.float32([0.299, 0.587, 0.114])
    alpha = pixels[..., 3] if image.mode == "RGBA" and pixels[..., 3].min() < 1 else None
    return gray, alpha


# --- MNIST layout ---


def _mnist_digit(image, size):
    """(uint8 array `size` of the digit as MNIST's are, notes)."""
    resized = image.size != (size[1], size[0])
    image = _shrunk(image)
    gray, alpha = _gray_and_alpha(image)
    notes = []
    if alpha is not None and np.median(_border(alpha)) < 0.5:
        # A drawing on nothing: the strokes are where it is opaque, whatever their colour.
        ink = alpha
        notes.append("read the strokes from its transparency")
    else:
        if alpha is not None:
            gray = gray * alpha + (1 - alpha)  # an opaque picture with see-through spots: on white
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
    return np.round(field * (255 / field.max())).astype(np.uint8), notes


def _shrunk(image):
    """The image with its longer side at most `WORKING_SIDE` (anti-aliased)."""
    scale = WORKING_SIDE / max(image.size)
    if scale >= 1:
        return image
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.BOX)


def _border(array):
    """The pixels of the outer ring of `array` (`BORDER_FRACTION` of the shorter side, at least 1)."""
    width = max(1, round(BORDER_FRACTION * min(array.shape)))
    mask = np.ones(array.shape, bool)
    mask[width:-width, width:-width] = False
    return array[mask]


def _ink_from_background(gray):
    """(ink, inverted): how far each pixel is from the paper, fitted as a plane to the border
    (a lighting gradient is a plane); inverted when the ink is darker than the paper."""
    rows, cols = np.indices(gray.shape, dtype=np.float32)
    points = np.stack([np.ones_like(gray), rows, cols], axis=-1)
    border_points, border_gray = _border_points(points), _border(gray)
    keep = np.ones(border_gray.shape, bool)
    for _ in range(2):  # refit without the border pixels far from the first plane (a stroke at the edge)
        plane = np.linalg.lstsq(border_points[keep], border_gray[keep], rcond=None)[0]
        residual = border_gray - border_points @ plane
        keep = np.abs(residual) <= 3 * _noise(residual) + 1e-3
    difference = gray - points @ plane
    inverted = bool(difference.mean() < 0)
    return np.clip(-difference if inverted else difference, 0, None), inverted


def _border_points(points):
    """The rows of `points` (H, W, 3) on the outer ring, in `_border`'s order."""
    return np.stack([_border(points[..., k]) for k in range(points.shape[-1])], axis=-1)


def _noise(values):
    """Robust standard deviation (1.4826 x the median absolute deviation)."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _levelled(ink):
    """Ink with the noise floor and faint shading subtracted, or None if no stroke stands out."""
    peak = float(ink.max())
    floor = max(4 * _noise(_border(ink)), 0.1 * peak)
    if peak < max(MIN_INK, 2 * floor):
        return None
    return np.clip(ink - floor, 0, None)


def _cropped_to_ink(ink):
    """The smallest box holding all but `INK_MASS_TAIL` of the ink mass at each side."""
    boxes = []
    for axis in (1, 0):  # row profile, then column profile
        mass = np.cumsum(ink.sum(axis=axis))
        mass /= mass[-1]
        boxes.append(slice(np.searchsorted(mass, INK_MASS_TAIL), np.searchsorted(mass, 1 - INK_MASS_TAIL) + 1))
    return ink[tuple(boxes)]


def _normalized_size(digit, size):
    """`digit` resized, aspect kept and anti-aliased, to fit MNIST's box (20x20 of 28x28)."""
    box = 20 / 28 * min(size)
    scale = box / max(digit.shape)
    height, width = (max(1, round(side * scale)) for side in digit.shape)
    return np.asarray(Image.fromarray(digit).resize((width, height), Image.BILINEAR))


def _placed_by_centre_of_mass(digit, size):
    """A zero field of `size` with `digit` pasted so that its centre of mass is at the centre
    (at 14, 14 of 28x28, as MNIST's training digits average), kept whole inside the field."""
    field = np.zeros(size, np.float32)
    offsets = []
    for axis, (side, field_side) in enumerate(zip(digit.shape, size)):
        profile = digit.sum(axis=1 - axis)
        centre = (profile * np.arange(side)).sum() / profile.sum()
        offsets.append(int(np.clip(round(field_side / 2 - centre), 0, field_side - side)))
    top, left = offsets
    field[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return field


# --- resize layout ---


def _resized_photo(image, size, channels):
    """(uint8 array of the photo with its shorter side resized to fit `size`, centre-cropped, notes)."""
    notes = []
    if image.mode == "RGBA":
        # On white: what an image viewer or a web page shows the user of a cut-out photo, so the
        # model sees what the user saw (black would paint a shape CIFAR's photos never have).
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
        notes.append("composited its transparency on white")
    image = image.convert("L" if channels == 1 else "RGB")
    height, width = size
    if image.size != (width, height):
        if image.width * height != image.height * width:
            notes.append(f"cropped it to the centre (its aspect ratio is not {width}:{height})")
        notes.append(f"resized it from {image.width}x{image.height} to {width}x{height}")
        image = ImageOps.fit(image, (width, height), Image.LANCZOS)
    return np.asarray(image).reshape(height, width, channels), notes


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
