"""Running a .tflite file with the LiteRT interpreter (`ai-edge-litert`; `tf.lite.Interpreter` is deprecated).

    lite = LiteModel("tflite/lenet/int8.tflite")
    scores = lite.predict(x_test)          # float scores, (de)quantized as needed
    lite.latency_ms(x_test)                # median single-input call
"""

import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from kerasapps.errors import UserError, check_choice, first_line
from kerasapps.settings import native_output_silenced


class LiteModel:
    """A .tflite file (path or bytes) in the LiteRT interpreter, one input and one output.

    Raises `UserError` if the file is not a TFLite model.

    `predict` takes model inputs as the Keras model does (float images, int token
    ids) and returns float scores: integer I/O is quantized and dequantized with
    the file's own scale and zero point.
    """

    def __init__(self, source, *, num_threads=1):
        self._content = {"model_content": bytes(source)} if isinstance(source, (bytes, bytearray)) else {"model_path": str(source)}
        self._num_threads = num_threads
        self.xnnpack = True  # the interpreter's default CPU delegate
        try:
            self._load()
        except ValueError as error:
            what = "the model bytes" if "model_content" in self._content else source
            raise UserError(f"Cannot load {what} as a TFLite model: {first_line(error)}") from None
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def _load(self):
        options = {} if self.xnnpack else {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
        with native_output_silenced(2):  # "INFO: Created TensorFlow Lite XNNPACK delegate"
            self.interpreter = Interpreter(**self._content, num_threads=self._num_threads, **options)
        self._batch = None

    @property
    def input_dtype(self):
        return np.dtype(self.input["dtype"])

    @property
    def output_dtype(self):
        return np.dtype(self.output["dtype"])

    def _resize(self, batch):
        if batch != self._batch:
            shape = list(self.input["shape_signature"])
            shape[0] = batch
            self.interpreter.resize_tensor_input(self.input["index"], shape, strict=False)
            with native_output_silenced(2):
                self.interpreter.allocate_tensors()
            self._batch = batch

    def quantize_input(self, x):
        """Model inputs -> the file's input dtype (float inputs scaled to int8/uint8 if it wants)."""
        dtype = self.input_dtype
        if dtype.kind in "iu" and np.asarray(x).dtype.kind == "f":
            scale, zero = self.input["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(np.asarray(x) / scale + zero), info.min, info.max)
        return np.asarray(x).astype(dtype)

    def dequantize_output(self, y):
        """The file's raw output -> float32 scores."""
        scale, zero = self.output["quantization"]
        if self.output_dtype.kind in "iu" and scale:
            return ((y.astype(np.float32) - zero) * scale).astype(np.float32)
        return y.astype(np.float32)

    def invoke(self, x):
        """Run one batch of already-quantized inputs; returns the raw output.

        If the XNNPACK delegate cannot prepare the graph (it refuses the int8 file of
        a long unrolled LSTM at large batches), the file runs on the builtin kernels
        from then on, and `xnnpack` turns False.
        """
        try:
            return self._invoke(x)
        except RuntimeError as error:
            if not self.xnnpack or "XNNPACK" not in str(error):
                raise
        self.xnnpack = False
        self._load()
        return self._invoke(x)

    def _invoke(self, x):
        self._resize(len(x))
        # A fused LSTM keeps its state in variable tensors from one call to the next
        # (TensorFlow issue #47813); each input starts from zeros, as in Keras.
        self.interpreter.reset_all_variables()
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])

    @property
    def fixed_batch(self):
        """The batch size the file is fixed to (1 for a fused LSTM's), or None if open."""
        batch = int(self.input["shape_signature"][0])
        return batch if batch > 0 else None

    def predict(self, x, *, batch_size=256):
        """Float scores for model inputs `x` (N, ...), run `batch_size` at a time
        (1 runs example by example), or as many as a fixed-batch file takes."""
        batch_size = self.fixed_batch or batch_size
        q = self.quantize_input(x)
        chunks = [self.dequantize_output(self.invoke(q[i : i + batch_size])) for i in range(0, len(q), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0,) + tuple(self.output["shape"][1:]), np.float32)

    def latency_ms(self, x, *, repeats=100):
        """Median milliseconds of one single-input interpreter call (set the input, invoke,
        read the output) over `repeats` calls on the examples of `x` in turn, after a
        warm-up call. Inputs are converted to the file's input type beforehand, as a
        board that feeds int8 or uint8 directly would."""
        q = self.quantize_input(x[: min(len(x), repeats)])
        self.invoke(q[:1])
        times = []
        for i in range(repeats):
            example = q[i % len(q)][None]
            start = time.perf_counter()
            self.invoke(example)
            times.append(time.perf_counter() - start)
        return 1000 * float(np.median(times))


def keras_latency_ms(model, x, *, repeats=20, method="predict"):
    """Median milliseconds of one Keras call on one input: `model.predict` (what a
    Python app would call) or, with method="call", the model called directly."""
    check_choice("method", method, ("predict", "call"))

    def run(example):
        return model.predict(example, verbose=0) if method == "predict" else model(example, training=False)

    run(x[:1])
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        run(x[i % len(x)][None])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


