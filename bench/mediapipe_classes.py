"""MediaPipe Tasks' top-1 classes for one exported file, in a process of its own.

    python bench/mediapipe_classes.py MODEL.tflite CASE.npz    # prints one JSON line

bench_phones.py runs this script once per file. MediaPipe's TextClassifier, once it has
failed on a file (the int8 unrolled LSTM: its XNNPACK delegate cannot prepare it), waits
forever in close() when it is garbage-collected, which hung the whole benchmark. Here the
answer is printed and the process leaves with os._exit, before any finalizer runs.
CASE.npz holds `kind` ("text" or "image") and `inputs` (raw texts, or RGB uint8 images).
Prints {"classes": [...]} or {"error": "MediaPipe's last error line"}.
"""

import json
import os
import sys

import numpy as np


def classify(path, kind, inputs):
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, text, vision

    base = BaseOptions(model_asset_path=path)
    if kind == "text":
        classifier = text.TextClassifier.create_from_options(text.TextClassifierOptions(base_options=base, max_results=1))
        results = [classifier.classify(str(review)) for review in inputs]
    else:
        options = vision.ImageClassifierOptions(base_options=base, max_results=1)
        classifier = vision.ImageClassifier.create_from_options(options)
        images = [mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(x)) for x in inputs]
        results = [classifier.classify(image) for image in images]
    return [int(r.classifications[0].categories[0].index) for r in results]


def main(path, case):
    data = np.load(case)
    try:
        answer = {"classes": classify(path, str(data["kind"]), data["inputs"])}
    except RuntimeError as error:
        answer = {"error": str(error).splitlines()[-1][:200]}
    print(json.dumps(answer), flush=True)
    os._exit(0)  # before MediaPipe's finalizers run (see above)


if __name__ == "__main__":
    main(*sys.argv[1:])
