"""The Keras rows: one Keras model trained on the TensorFlow backend (graph or eager) or the torch backend.

Runs inside a worker process whose KERAS_BACKEND the parent chose (Keras reads
it once, at import). The TensorFlow graph row is the suite's own road,
`training.fit` over its tf.data pipeline; it also deploys the trained model as
LiteRT files through `kerasapps.deploy`. The torch-backend row feeds the same
arrays to `model.fit` directly, since tf.data would load TensorFlow into a
process meant to measure PyTorch alone.
"""

import time

import keras

from kerasapps.compare.timing import FirstStep, throughput
from kerasapps.config import set_value
from kerasapps.deploy import convert
from kerasapps.deploy.bundle import check_tflite
from kerasapps.scores import accuracy
from kerasapps.training.fit import build_experiment_model, compile_model, fit, seed_everything


class FirstCall(keras.callbacks.Callback):
    """Tells `first` when the first training call ends (with steps_per_execution > 1 it holds several steps)."""

    def __init__(self, first):
        super().__init__()
        self.first = first

    def on_train_batch_end(self, batch, logs=None):
        self.first.step_done(batch + 1)


def train_keras(job, config, arrays, *, eager=False, started):
    """Build, train and test the experiment's Keras model on this process's backend.

    Returns (the trained model, its scores on the test split, a result dict of the training row)."""
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        seed_everything(config.seed)
    else:
        keras.utils.set_random_seed(config.seed)
        set_value(config, "train.steps_per_execution", 1)  # the torch backend takes no other value
    model = build_experiment_model(config, job["model_kwargs"])
    batch = config.train.batch_size
    compile_model(model, config, -(-len(x_train) // batch))
    model.run_eagerly = eager
    first = FirstStep(started, batch)
    start = time.perf_counter()
    if backend == "tensorflow":
        empty = (x_train[:0], y_train[:0])
        fit(model, config, (x_train, y_train), empty, callbacks=[FirstCall(first)], verbose=0)
    else:
        model.fit(
            x_train, y_train, batch_size=batch, epochs=config.train.epochs, shuffle=True, callbacks=[FirstCall(first)],
            verbose=0,
        )  # fmt: skip
    end = time.perf_counter()
    test_scores = model.predict(arrays["x_test"], batch_size=256, verbose=0)
    result = {
        "parameters": int(model.count_params()),
        "steps_per_execution": config.train.steps_per_execution,
        "test_accuracy": accuracy(test_scores, arrays["y_test"]),
        "time_to_first_step_s": first.seconds,
        **throughput(len(x_train) * config.train.epochs, start, end, first),
    }
    return model, test_scores, result


def deploy_litert(model, config, arrays, test_scores, *, examples, out_dir):
    """LiteRT rows: the trained model as float32 and int8 .tflite files, each run on the first `examples`
    test inputs."""
    x_test, y_test = arrays["x_test"][:examples], arrays["y_test"][:examples]
    scores = test_scores[:examples]
    x_train = arrays["x_train"]
    rows = []
    for variant in ("float32", "int8"):
        representative = (
            arrays["x_representative"] if variant == "int8" else None
        )
        content = convert.convert(
            model, variant, representative=representative,
            sequence_length=x_train.shape[1] if x_train.dtype.kind in "iu" else None,
        )  # fmt: skip
        path = out_dir / f"{variant}.tflite"
        path.write_bytes(content)
        ops = convert.op_names(content)
        checked = check_tflite(content, x_test, y_test, scores, accuracy(scores, y_test))
        rows.append({
            "variant": variant, "file": path.name, "size_kb": round(len(content) / 1024, 1),
            "test_accuracy": checked["test_accuracy"], "agreement": checked["agreement"],
            "max_abs_diff": checked["max_abs_diff"], "latency_ms": checked["latency_ms"],
            "runs_on": "XNNPACK delegate" if checked["xnnpack"] else "builtin kernels",
            "ops": " ".join(ops),
            "needs": "Flex delegate" if any(op.startswith("Flex") for op in ops) else "standard LiteRT runtime",
        })  # fmt: skip
    return rows
