"""Run exported .tflite files on tflite-runtime 2.14, the runtime phones and boards in the field carry.

    python -m venv /tmp/old && /tmp/old/bin/pip install tflite-runtime==2.14.0 "numpy<2"
    /tmp/old/bin/python bench/old_runtime.py CASE.npz ...

tflite-runtime 2.14 is built against NumPy 1, and TensorFlow 2.21 needs NumPy 2,
so this script runs in a venv of its own and imports nothing of kerasapps. Each
CASE.npz holds `model` (the path, as bytes), `inputs` (what the file takes) and
`expected` (the raw outputs LiteRT gave). Prints one JSON line per case: the file,
whether it loaded, and the largest difference from LiteRT's outputs.
"""

import json
import sys

import numpy as np
from tflite_runtime.interpreter import Interpreter


def run(path, inputs):
    interpreter = Interpreter(model_path=path, num_threads=1)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], [len(inputs), *detail["shape"][1:]])
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], inputs)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def main(cases):
    for case in cases:
        data = np.load(case)
        path = data["model"].tobytes().decode()
        try:
            outputs = run(path, data["inputs"])
        except (ValueError, RuntimeError) as error:
            print(json.dumps({"file": path, "loads": False, "error": str(error).splitlines()[0]}))
            continue
        diff = np.abs(outputs.astype(np.float64) - data["expected"].astype(np.float64)).max()
        print(json.dumps({"file": path, "loads": True, "max_abs_diff": float(diff)}))


if __name__ == "__main__":
    main(sys.argv[1:])
