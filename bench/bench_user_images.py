"""Benchmark: users' images of digits through a LeNet run and every exported .tflite file.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_user_images.py            # trains `lenet` first
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_user_images.py --run saved_models/lenet/latest

Makes `user_like_digits` from the first `--digits` MNIST test digits (paper photos as JPEG and
PNG, transparent drawings, large white-on-black images; seeded), writes them as files and
classifies them as `kerasapps predict` does: with the run (files prepared as MNIST's digits were
made, `data.user_images`), with the run reading each file by a plain resize (what predict did
before), and with each .tflite file of the run's export (`kerasapps export`, made here), and through the export's web app in Debian's chromium (`kerasapps serve`'s server;
the page fetches, decodes and prepares each file itself, prepare.js, and MediaPipe Tasks for web
classifies it with web/float32.tflite on the CPU delegate). The same digits as MNIST has them are
the "clean" row. Appends one row per path, method and kind to bench/results/user_images.csv with
the host's CPU.
"""

import argparse
import datetime
import pathlib
import shutil
import tempfile
import threading
import time

import numpy as np
import pandas as pd
from PIL import Image
from playwright.sync_api import sync_playwright

from kerasapps import runs, settings
from kerasapps.config import load_config
from kerasapps.data.idx import read_idx
from kerasapps.data.user_images import KINDS, user_like_digits, write_user_like_digits
from kerasapps.deploy import classify, export_run, web
from kerasapps.deploy.classify import open_classifier
from kerasapps.training import library_versions, train_and_evaluate

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "user_images.csv"


def mnist_test(count):
    folder = pathlib.Path(settings.data_dir() or "", "mnist")
    images = read_idx(str(folder / "t10k-images-idx3-ubyte.gz"))[:count]
    return images, read_idx(str(folder / "t10k-labels-idx1-ubyte.gz"))[:count]


def accuracies(classifier, paths, labels, kinds):
    """{kind: accuracy} ("all" too) and milliseconds per image, reading and classifying included."""
    start = time.perf_counter()
    predicted = np.array([int(p["label"]) for p in classify(classifier, paths)])
    ms = (time.perf_counter() - start) * 1000 / len(paths)
    right = predicted == labels
    return {"all": right.mean(), **{k: right[kinds == k].mean() for k in KINDS if (kinds == k).any()}}, ms


def in_browser(export, digits, paths):
    """The web app's labels for the files `paths` (copied under its web/ folder) and ms per image."""
    shutil.copytree(digits, export / "web" / "digits")
    server, url, _ = web.make_server(export, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page()
        page.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
        page.goto(url)
        page.evaluate("window.kerasapps.ready")
        start = time.perf_counter()
        labels = page.evaluate(
            "async (names) => { const out = []; for (const n of names) out.push((await window.kerasapps.classifyUrl('digits/' + n)).label); return out; }",
            [pathlib.Path(p).name for p in paths],
        )
        ms = (time.perf_counter() - start) * 1000 / len(paths)
        browser.close()
    server.shutdown()
    return np.array(labels).astype(int), ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a finished lenet run (default: train `lenet` now, with its defaults)")
    parser.add_argument("--digits", type=int, default=1000, help="MNIST test digits to make users' images of")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-user-images-"))
    if args.run:
        run_dir = runs.resolve_run(args.run, None)
    else:
        run_dir = train_and_evaluate(load_config("lenet"), data_dir=settings.data_dir(), runs_dir=work / "runs")
    tflite = work / "tflite"
    export_run(run_dir, quantize="all", out=tflite, data_dir=settings.data_dir(), log=lambda _: None)
    images, labels = mnist_test(args.digits)
    made = write_user_like_digits(user_like_digits(images, labels, seed=args.seed), work / "digits")
    paths, kinds = [str(p) for p, _, _ in made], np.array([k for _, _, k in made])
    clean = []
    for i, image in enumerate(images):
        clean.append(str(work / "clean" / f"{i:04d}.png"))
        pathlib.Path(clean[-1]).parent.mkdir(exist_ok=True)
        Image.fromarray(image).save(clean[-1])

    model = open_classifier(run_dir)
    plain = open_classifier(run_dir)
    plain.image_spec = {**plain.image_spec, "layout": "resize"}  # the whole file resized, as predict did before
    cases = [("run", "clean", model, clean), ("run", "plain resize", plain, paths), ("run", "prepared", model, paths)]
    cases += [(f.name, "prepared", open_classifier(f), paths) for f in sorted(tflite.glob("*/*.tflite"))]
    rows = []
    page_labels, page_ms = in_browser(tflite / run_dir.parent.name, work / "digits", paths)
    right = page_labels == labels
    for kind in ("all", *KINDS):
        chosen = right if kind == "all" else right[kinds == kind]
        rows.append({"path": "web page (float32, CPU)", "method": "prepared", "kind": kind, "accuracy": round(float(chosen.mean()), 4), "ms_per_image": round(page_ms, 2)})
    for path, method, classifier, files in cases:
        scores, ms = accuracies(classifier, files, labels, kinds if files is paths else np.array(["clean"] * len(files)))
        for kind, accuracy in scores.items():
            rows.append({"path": path, "method": method, "kind": kind, "accuracy": round(float(accuracy), 4), "ms_per_image": round(ms, 2)})
    frame = pd.DataFrame(rows)
    frame["digits"], frame["seed"] = args.digits, args.seed
    frame["run_test_accuracy"] = runs.read_metrics(run_dir)["test_accuracy"]
    frame["date"] = datetime.datetime.now().isoformat(timespec="seconds")
    frame["cpu"] = library_versions()["cpu"]
    print(frame.pivot_table(index=["path", "method"], columns="kind", values="accuracy", sort=False).to_string())
    RESULTS.parent.mkdir(exist_ok=True)
    frame.to_csv(RESULTS, mode="a", header=not RESULTS.exists(), index=False)
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
