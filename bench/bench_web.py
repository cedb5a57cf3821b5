"""Benchmark: the web app's files in the browser (MediaPipe Tasks for web) beside LiteRT in Python.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_web.py tflite/lenet     # an export folder

For each variant of the export's web/ files and each delegate (CPU; GPU = WebGL, which headless
chromium here runs in software, SwiftShader: not a GPU figure), the page loads the file (model load
time, ms) and classifies 200 MNIST test digits one at a time (median ms per image, as
`classifier.classify` reports it, preparation excluded); LiteRT in Python runs the same file on the
same prepared digits (median ms). Appends rows to bench/results/web.csv with the host's CPU.
Run it alone on the machine.
"""

import argparse
import datetime
import json
import pathlib
import shutil
import threading

import numpy as np
import pandas as pd
from playwright.sync_api import sync_playwright

from kerasapps import settings
from kerasapps.data.idx import read_idx
from kerasapps.deploy import web
from kerasapps.deploy.interpreter import LiteModel
from kerasapps.training import library_versions

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "web.csv"
ARGS = ["--no-sandbox", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", help="an export folder (tflite/<experiment>) of an image model")
    parser.add_argument("--digits", type=int, default=200)
    args = parser.parse_args()
    folder = pathlib.Path(args.export)
    images = read_idx(str(pathlib.Path(settings.data_dir() or "", "mnist", "t10k-images-idx3-ubyte.gz")))[: args.digits]
    rgba = [np.dstack([i] * 3 + [np.full_like(i, 255)]).ravel().tolist() for i in images]
    server, url, _ = web.make_server(folder, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app = json.loads((folder / "web" / web.APP_FILE).read_text())
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        for variant, file in app["files"].items():
            lite = LiteModel(folder / "web" / file)
            pixels = np.repeat(images[..., None], 3, axis=-1).astype(np.float32)
            python_ms = lite.latency_ms(pixels)
            for delegate in ("CPU", "GPU"):
                page = browser.new_page()
                page.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
                page.goto(f"{url}?variant={variant}&delegate={delegate}")
                load_ms = page.evaluate("window.kerasapps.ready.then(() => window.kerasapps.loaded().loadMs)")
                times = page.evaluate(
                    "([images, h, w]) => images.map(p => window.kerasapps.classifyPixels(new Uint8ClampedArray(p), w, h).ms)",
                    [rgba, 28, 28],
                )
                rows.append({
                    "variant": variant, "delegate": delegate, "load_ms": round(load_ms, 1),
                    "browser_ms_per_image": round(float(np.median(times[10:])), 3),  # after warm-up
                    "litert_python_ms_per_image": round(python_ms, 3), "digits": len(images),
                })  # fmt: skip
                page.close()
        version = browser.version
        browser.close()
    server.shutdown()
    frame = pd.DataFrame(rows)
    frame["browser"] = f"chromium {version} headless (GPU delegate: WebGL on SwiftShader, software)"
    frame["mediapipe"] = app["mediapipe"]["version"]
    frame["date"] = datetime.datetime.now().isoformat(timespec="seconds")
    frame["cpu"] = library_versions()["cpu"]
    print(frame[["variant", "delegate", "load_ms", "browser_ms_per_image", "litert_python_ms_per_image"]].to_string(index=False))
    RESULTS.parent.mkdir(exist_ok=True)
    frame.to_csv(RESULTS, mode="a", header=not RESULTS.exists(), index=False)
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
