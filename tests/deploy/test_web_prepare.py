"""deploy/web/prepare.js against `data.user_images`: the web page prepares a user's image as Python
does, pixel for pixel (within one gray level) and with the same notes, on images like users' given
to it as a browser's canvas would give them. One node process runs every case."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from kerasapps.data.idx import read_idx
from kerasapps.data.user_images import prepare_image, user_like_digits
from tests.conftest import REPO

PREPARE_JS = REPO / "kerasapps" / "deploy" / "web" / "prepare.js"
MNIST = {"size": (28, 28), "channels": 1, "layout": "mnist"}
PHOTO = {"size": (32, 32), "channels": 3, "layout": "resize"}
# Reads the cases' index and their RGBA bytes, prints one JSON result per case.
RUNNER = """
import { readFileSync } from "node:fs";
const [moduleUrl, indexPath, bytesPath] = process.argv.slice(2);
const { prepareImage } = await import(moduleUrl);
const bytes = readFileSync(bytesPath);
const results = JSON.parse(readFileSync(indexPath, "utf8")).map(({ offset, width, height, options }) => {
  const rgba = new Uint8ClampedArray(bytes.buffer, bytes.byteOffset + offset, width * height * 4);
  try {
    const { pixels, notes } = prepareImage(rgba, width, height, options);
    return { pixels: Array.from(pixels), notes };
  } catch (error) {
    return { error: error.message };
  }
});
process.stdout.write(JSON.stringify(results));
"""


def canvas_rgba(image):
    """`image`'s pixels as a browser's canvas gives them (`getImageData`): RGBA bytes, not
    premultiplied, RGB 0 where alpha is 0 (Python's image keeps whatever colour was there)."""
    rgba = np.array(image.convert("RGBA"))
    rgba[rgba[..., 3] == 0, :3] = 0
    return rgba


def cases(digits, labels):
    """(name, PIL image, preparation keywords) for every kind of image a user brings."""
    made = user_like_digits(digits[:44], labels[:44], seed=7)  # 11 of each kind, 150-1000 pixels a side
    yield from ((f"{index}_{kind}", image, MNIST) for index, (image, _, kind) in enumerate(made))
    for index in range(44, 50):
        yield f"mnist_{index}", Image.fromarray(digits[index]), MNIST  # opaque white on black, already 28x28
    blank_paper = user_like_digits(np.zeros((4, 28, 28), np.uint8), range(4), seed=7)  # noise, lighting, JPEG
    yield from ((f"blank_{kind}", image, MNIST) for image, _, kind in blank_paper)
    yield "blank_white", Image.new("L", (64, 48), 255), MNIST
    yield "blank_transparent", Image.new("RGBA", (30, 30)), MNIST
    photo, _, _ = made[1]  # dark ink on paper, enlarged to a phone photo's size: shrunk to 512 first
    yield "large_photo", photo.resize((2400, 1800), Image.BICUBIC), MNIST
    holes = np.array(made[5][0].convert("RGBA"))
    holes[::7, ::5, 3] = 0  # an opaque picture with see-through spots
    holes[3::7, 2::5, 3] = 128
    yield "see_through_spots", Image.fromarray(holes, "RGBA"), MNIST
    yield "palette_drawing", Image.fromarray(np.uint8(digits[50] > 128), "P"), MNIST
    strip = np.zeros((1, 40), np.uint8)
    strip[0, 10:14] = 255
    yield "one_row", Image.fromarray(strip), MNIST  # a plane through one row: a constant
    yield "tall_narrow", made[3][0].resize((20, 200)), MNIST
    yield "field_32_rgb", made[6][0], {"size": (32, 32), "channels": 3, "layout": "mnist"}
    for index in (8, 9, 10, 11):
        yield f"photo_{index}", made[index][0], PHOTO
    yield "photo_gray", made[12][0], {**PHOTO, "channels": 1}
    yield "photo_transparent", made[14][0], PHOTO
    yield "photo_large", photo.resize((1800, 2400), Image.BICUBIC), PHOTO
    same = Image.fromarray(np.random.default_rng(7).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    yield "photo_same_size", same, {**PHOTO, "channels": 1}


@pytest.fixture(scope="module")
def prepared_both_ways(data_dir, tmp_path_factory):
    """[(name, Python's (pixels, notes), prepare.js's {pixels, notes} or {error})], one node run."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the web app's prepare.js needs Node 18 or later to be tested")
    folder = data_dir / "mnist"
    digits = read_idx(str(folder / "t10k-images-idx3-ubyte.gz"))[:60]
    labels = read_idx(str(folder / "t10k-labels-idx1-ubyte.gz"))[:60]
    work = tmp_path_factory.mktemp("web_prepare")
    index, python, offset = [], [], 0
    with open(work / "pixels.bin", "wb") as pixels:
        for name, image, options in cases(digits, labels):
            rgba = canvas_rgba(image)
            pixels.write(rgba.tobytes())
            height, width = rgba.shape[:2]
            options_js = {**options, "size": list(options["size"])}
            index.append({"offset": offset, "width": width, "height": height, "options": options_js})
            python.append((name, prepare_image(image, **options)))
            offset += rgba.nbytes
    index.append({"offset": 0, "width": 1, "height": 1, "options": {"size": [28, 28], "layout": "photo"}})
    (work / "index.json").write_text(json.dumps(index))
    (work / "runner.mjs").write_text(RUNNER)
    command = [node, str(work / "runner.mjs"), PREPARE_JS.as_uri(), str(work / "index.json"), str(work / "pixels.bin")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert "photo" in results.pop()["error"]  # a bad layout is refused, echoing the value
    return [(name, ours, theirs) for (name, ours), theirs in zip(python, results, strict=True)]


def test_prepare_js_gives_pythons_pixels(prepared_both_ways):
    assert len(prepared_both_ways) >= 60
    differences, identical, total = {}, 0, 0
    for name, (pixels, _), js in prepared_both_ways:
        assert "error" not in js, (name, js["error"])
        theirs = np.array(js["pixels"], np.int64).reshape(pixels.shape)
        difference = np.abs(theirs - pixels.astype(np.int64))
        differences[name] = int(difference.max())
        identical += int((difference == 0).sum())
        total += difference.size
    # Measured: every pixel of every case identical (the two do the same float64 operations in
    # the same order); one gray level is the bound the brief allows, and a miss names its cases.
    assert max(differences.values()) <= 1, {name: d for name, d in differences.items() if d > 1}
    assert identical / total > 0.999, identical / total


def test_prepare_js_writes_pythons_notes(prepared_both_ways):
    for name, (_, notes), js in prepared_both_ways:
        assert js["notes"] == notes, name
    every_note = {note for _, (_, notes), _ in prepared_both_ways for note in notes}
    for branch in ("read the strokes from its transparency", "composited its transparency on white",
                   "inverted it (dark ink on a light background)", "found no ink: the image looks blank",
                   "cropped the ink and centred it as MNIST digits are", "resized it from 1800x2400 to 32x32",
                   "cropped it to the centre (its aspect ratio is not 32:32)"):  # fmt: skip
        assert branch in every_note, branch  # the cases reach every branch that writes a note
