"""Run exported .tflite files on tflite-runtime 2.14, the runtime phones and boards in the field carry.

    python -m venv /tmp/old && /tmp/old/bin/pip install tflite-runtime==2.14.0 "numpy<2"
    /tmp/old/bin/python bench/old_runtime.py CASE.npz ...

tflite-runtime 2.14 is built against NumPy 1, and TensorFlow 2.21 needs NumPy 2,
so this script runs in a venv of its own and imports nothing of kerasapps. Each
CASE.npz holds `model` (the path, as bytes), `inputs` (what the file takes) and
`expected` (the raw outputs LiteRT gave, one input per call). Prints one JSON line per
case: the file, whether it loaded, and the largest difference from LiteRT's outputs.
Inputs run one at a time, the variables reset before each: a fused LSTM file takes
one input per call and keeps its state in variable tensors.
"""

import json
import sys

import numpy as np
from tflite_runtime.interpreter import Interpreter


def run(path, inputs):
    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    outputs = []
    for example in inputs:
        interpreter.reset_all_variables()
        interpreter.set_tensor(detail["index"], example[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    return np.concatenate(outputs)


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
