"""The web app of an export in a real browser (Debian's chromium, driven by Playwright): MNIST digits and
IMDB reviews through the page against LiteRT and Keras in Python, on the CPU and GPU (WebGL) delegates;
`kerasapps serve`'s messages. Every request that does not go to 127.0.0.1 is blocked and recorded."""

import json
import pathlib
import shutil
import subprocess
import threading
import urllib.parse

import numpy as np
import pytest
from mediapipe.tasks.python import BaseOptions, text
from PIL import Image
from playwright.sync_api import sync_playwright

from kerasapps import runs
from kerasapps.data.idx import read_idx
from kerasapps.data.imdb import find_imdb_source, read_aclimdb
from kerasapps.data.text_preprocessing import read_vocabulary, vectorize
from kerasapps.data.user_images import user_like_digits, write_user_like_digits
from kerasapps.deploy import classify, convert, export_run, web
from kerasapps.scores import predicted_classes
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # exports models and runs a browser: the full suite's tier
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]  # software WebGL here
DIGITS, REVIEWS = 200, 200
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    assert pathlib.Path(CHROMIUM).is_file(), "the web tests need Debian's chromium: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Served:
    """`kerasapps serve`'s server for one export folder, in a thread; pages opened through `open`
    may reach 127.0.0.1 only (`blocked` lists what else they tried)."""

    def __init__(self, folder, browser):
        self.server, self.url, _ = web.make_server(folder, port=0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.browser, self.blocked = browser, []

    def open(self, query=""):
        page = self.browser.new_page()
        page.route("**/*", self._only_localhost)
        messages = []
        page.on("console", lambda message: messages.append(message.text))
        page.goto(self.url + query)
        page.messages = messages
        return page

    def _only_localhost(self, route):
        if urllib.parse.urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _ready(page):
    """Wait for the page to load its model: "ok", or "error: " and the page's message."""
    return page.evaluate("window.kerasapps.ready.then(() => 'ok', e => 'error: ' + e.message)")


# --- the image page -----------------------------------------------------------------


@pytest.fixture(scope="module")
def lenet(small_lenet_run, data_dir, tmp_path_factory, browser):
    out = tmp_path_factory.mktemp("tflite")
    export_run(small_lenet_run, quantize="all", out=out, data_dir=str(data_dir), log=lambda _: None)
    folder = out / small_lenet_run.parent.name
    served = Served(folder, browser)
    yield {"dir": folder, "served": served}
    served.close()


@pytest.fixture(scope="module")
def mnist_digits(data_dir, tmp_path_factory):
    images = read_idx(str(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz"))[:DIGITS]
    labels = read_idx(str(data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"))[:DIGITS]
    folder = tmp_path_factory.mktemp("digits")
    paths = []
    for i, image in enumerate(images):
        paths.append(folder / f"{i:03d}.png")
        Image.fromarray(image).save(paths[-1])
    return images, labels, paths


def _page_labels(page, images):
    """The page's answers for uint8 gray `images` (N, H, W), each given as a browser's RGBA pixels."""
    rgba = [np.dstack([image] * 3 + [np.full_like(image, 255)]).ravel().tolist() for image in images]
    return page.evaluate(
        "([images, h, w]) => images.map(p => window.kerasapps.classifyPixels(new Uint8ClampedArray(p), w, h).label)",
        [rgba, images.shape[1], images.shape[2]],
    )


def test_image_page_agrees_with_litert_on_every_file_and_both_delegates(lenet, mnist_digits):
    images, labels, paths = mnist_digits
    app = json.loads((lenet["dir"] / "web" / "app.json").read_text())
    assert app["kind"] == "image" and app["layout"] == "mnist" and set(app["files"]) == {"float32", "float16", "dynamic", "int8"}
    for variant, file in app["files"].items():
        python = [p["label"] for p in classify(lenet["dir"] / "web" / file, paths)]  # LiteRT, prepared in Python
        for delegate in ("CPU", "GPU"):
            page = lenet["served"].open(f"?variant={variant}&delegate={delegate}")
            assert _ready(page) == "ok", page.messages
            in_browser = _page_labels(page, images)
            agreement = np.mean(np.array(in_browser) == np.array(python))
            assert agreement >= 0.995, (variant, delegate, agreement)
            assert np.mean(np.array(in_browser).astype(int) == labels) > 0.8, (variant, delegate)
            page.close()
    # Only MediaPipe's own telemetry may have been tried (and blocked): the app came from this server.
    blocked = lenet["served"].blocked
    assert not [url for url in blocked if "cdn.jsdelivr" in url or url.endswith((".js", ".mjs", ".wasm", ".tflite"))], blocked
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "web_blocked_requests.txt").write_text("".join(f"{url}\n" for url in blocked))


def test_a_photo_dropped_on_the_page_shows_its_top_class(lenet, mnist_digits, tmp_path):
    images, labels, _ = mnist_digits
    made = write_user_like_digits(user_like_digits(images[:8], labels[:8], seed=0), tmp_path)
    path, label, kind = next(m for m in made if m[2] == "paper_jpeg")
    page = lenet["served"].open()
    assert _ready(page) == "ok", page.messages
    page.set_input_files("#file", str(path))
    page.wait_for_selector("#results li")
    top = page.inner_text("#results li")
    assert top.startswith(f"{label}: "), top  # the digit, with its probability
    assert "inverted it" in page.inner_text("#notes") and " ms (float32, CPU)" in page.inner_text("#time")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_image_page.png"), full_page=True)
    page.select_option("#variant", "int8")  # closes the float32 classifier and loads the int8 file
    page.wait_for_function("document.getElementById('status').textContent.startsWith('int8.tflite on the CPU')")
    page.set_input_files("#file", [])
    page.set_input_files("#file", str(path))
    page.wait_for_function("document.getElementById('time').textContent.includes('(int8, CPU)')")
    assert page.inner_text("#results li").startswith(f"{label}: ")
    page.close()


def test_users_digits_through_the_page_score_as_through_python(lenet, mnist_digits):
    """Photos of ink on paper, transparent drawings, white on black: fetched and decoded by the browser,
    prepared by prepare.js, against the same files read and prepared in Python."""
    images, labels, _ = mnist_digits
    folder = lenet["dir"] / "web" / "digits"
    made = write_user_like_digits(user_like_digits(images, labels, seed=1), folder)
    page = lenet["served"].open()
    assert _ready(page) == "ok"
    in_browser = page.evaluate(
        "async (names) => { const labels = []; for (const n of names) labels.push((await window.kerasapps.classifyUrl('digits/' + n)).label); return labels; }",
        [path.name for path, _, _ in made],
    )
    python = [p["label"] for p in classify(lenet["dir"] / "web" / "float32.tflite", [str(p) for p, _, _ in made])]
    assert np.mean(np.array(in_browser) == np.array(python)) >= 0.995  # the JPEGs too: both use libjpeg-turbo
    assert np.mean(np.array(in_browser).astype(int) == np.array([label for _, label, _ in made])) > 0.8
    page.close()


# --- the text page ------------------------------------------------------------------


@pytest.fixture(scope="module")
def lstm(tiny_lstm_run, data_dir, tmp_path_factory, browser):
    out = tmp_path_factory.mktemp("tflite")
    export_run(tiny_lstm_run, quantize="all", out=out, data_dir=str(data_dir), log=lambda _: None)
    folder = out / tiny_lstm_run.parent.name
    texts, _ = read_aclimdb(find_imdb_source(str(data_dir)))["test"]
    reviews = [texts[i] for i in np.linspace(0, len(texts) - 1, REVIEWS).astype(int)]  # sorted by label: both classes
    spec = runs.read_metrics(tiny_lstm_run)["dataset"]["preprocessing"]
    model = runs.load_run_model(tiny_lstm_run)
    keras_classes = predicted_classes(model.predict(vectorize(reviews, spec, read_vocabulary(tiny_lstm_run / "vocabulary.txt")), verbose=0))
    served = Served(folder, browser)
    yield {"dir": folder, "served": served, "reviews": reviews, "keras": keras_classes, "labels": ["negative", "positive"]}
    served.close()


def test_text_page_agrees_with_keras_as_mediapipe_in_python_does(lstm):
    app = json.loads((lstm["dir"] / "web" / "app.json").read_text())
    keras_labels = np.array([app["labels"][c] for c in lstm["keras"]])
    for variant in ("float32", "dynamic"):
        file = lstm["dir"] / "web" / app["files"][variant]
        options = text.TextClassifierOptions(base_options=BaseOptions(model_asset_path=str(file)))
        with text.TextClassifier.create_from_options(options) as classifier:
            python = np.array([classifier.classify(r).classifications[0].categories[0].category_name for r in lstm["reviews"]])
        page = lstm["served"].open(f"?variant={variant}")
        assert _ready(page) == "ok", page.messages
        in_browser = np.array(page.evaluate("(reviews) => reviews.map(r => window.kerasapps.classifyText(r).label)", lstm["reviews"]))
        browser_agreement, python_agreement = np.mean(in_browser == keras_labels), np.mean(python == keras_labels)
        assert browser_agreement >= python_agreement > 0.5, (variant, browser_agreement, python_agreement)  # the same C++, compiled twice
        page.fill("#review", lstm["reviews"][-1])
        page.click("#classify")
        assert page.inner_text("#results li").split(":")[0] in app["labels"]
        page.close()


# --- bad input ------------------------------------------------------------------------


def test_page_says_what_is_wrong_with_a_file_it_cannot_use(lenet, lstm, small_lenet_run):
    web_dir = lenet["dir"] / "web"
    shutil.copyfile(lenet["dir"] / "labels.txt", web_dir / "not_a_model.tflite")
    shutil.copyfile(lstm["dir"] / "web" / "float32.tflite", web_dir / "text_model.tflite")
    spec = runs.read_metrics(small_lenet_run)["dataset"]["preprocessing"]
    bare = convert.convert(runs.load_run_model(small_lenet_run), "float32", spec=spec, batch_size=1)  # no metadata
    (web_dir / "no_metadata.tflite").write_bytes(bare)
    for file, says in [("not_a_model.tflite", "is not a TFLite model"), ("text_model.tflite", "is it a text model?"),
                       ("no_metadata.tflite", "has no TFLite metadata")]:  # fmt: skip
        page = lenet["served"].open(f"?model={file}")
        assert _ready(page).startswith("error: "), file
        status = page.inner_text("#status")
        assert file in status and says in status and page.get_attribute("#status", "class") == "error", status
        page.close()


def test_serve_refuses_a_used_port_and_a_folder_without_the_app(lenet, tmp_path):
    port = lenet["served"].server.server_address[1]
    for argv, says in [([str(lenet["dir"]), "--port", str(port)], f"Port {port} is in use"),
                       ([str(tmp_path)], "holds no web app")]:  # fmt: skip
        result = subprocess.run(["kerasapps", "serve", *argv], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
