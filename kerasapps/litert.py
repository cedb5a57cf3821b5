"""Keras model -> SavedModel and TFLite (LiteRT) files, and running those files.

    export_saved_model(model, "out/saved_model")
    content = convert(model, "int8", representative=x_train[:200], io="int8")
    lite = LiteModel(content)
    scores = lite.predict(x_test)          # float scores, (de)quantized as needed
    check_ops(op_names(content), allow_flex=False)

Variants (`VARIANTS`): float32; float16 weights; dynamic-range int8 weights; and
full-integer int8 calibrated on a representative set, whose input and output are
int8, uint8 or float32 (`io`). Conversion goes through a Keras SavedModel export,
so the file computes exactly what `model.export` serves.

Recurrent layers: Keras 3 runs them as a `while` loop over a TensorList, which
the converter can only emit as Select TF (Flex) ops that the plain LiteRT
interpreter refuses (LiteRT issue #41), and it no longer fuses Keras 3 layers
into `UNIDIRECTIONAL_SEQUENCE_LSTM`. A model with recurrent layers is therefore
converted through `unrolled_twin`: the same layers and weights with `unroll=True`
over a fixed sequence length, which needs builtin ops only.

Files are run with the `ai-edge-litert` interpreter (`tf.lite.Interpreter` is
deprecated).
"""

import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from tensorflow.lite.python import schema_py_generated as tflite_schema
from tensorflow.lite.tools import flatbuffer_utils

from kerasapps import native_output_silenced
from kerasapps.errors import UserError
from kerasapps.training import predicted_classes

VARIANTS = ("float32", "float16", "dynamic", "int8")
IO_TYPES = ("float", "int8", "uint8")
_IO_DTYPES = {"float": tf.float32, "int8": tf.int8, "uint8": tf.uint8}


# --- SavedModel -------------------------------------------------------------------


def export_saved_model(model, path):
    """Write `model` as a TensorFlow SavedModel with a `serve` endpoint and a
    `serving_default` signature (Keras 3 `model.export`); loadable with
    `tf.saved_model.load` without Keras or kerasapps."""
    model.export(str(path), format="tf_saved_model", verbose=False)


# --- recurrent models -------------------------------------------------------------


def has_recurrent_layers(model):
    """True if `model` holds a Keras recurrent layer (LSTM, GRU, SimpleRNN...), wrapped or not."""
    return any(isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)) for layer in _all_layers(model))


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _unroll_config(config):
    """A layer config with every nested `unroll` flag (Bidirectional holds two layers) set."""
    if isinstance(config, dict):
        return {k: True if k == "unroll" else _unroll_config(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_unroll_config(v) for v in config]
    return config


def unrolled_twin(model, sequence_length=None):
    """A copy of `model` whose recurrent layers are unrolled over a fixed sequence length.

    Same layers, same weights, same outputs (to float rounding); masks still
    apply, as a per-step select. The input's time axis is fixed to the model's
    own length or to `sequence_length`.

    Raises:
        UserError: the model's input has no fixed length and none is given.
    """
    shape = tuple(model.inputs[0].shape[1:])
    if shape and shape[0] is None:
        if not sequence_length:
            raise UserError(
                f"Cannot unroll {model.name}: its input shape {shape} has no fixed sequence length; "
                "give the length the model was trained on (the preprocessing's sequence_length)."
            )
        shape = (int(sequence_length),) + shape[1:]
    inputs = keras.Input(shape=shape, dtype=model.inputs[0].dtype, name=model.inputs[0].name)

    def clone(layer):
        return layer.__class__.from_config(_unroll_config(layer.get_config()))

    twin = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin


# --- conversion -------------------------------------------------------------------


def check_variant(variant, io="float"):
    """Raise `UserError` unless `variant` is known and `io` fits it (integer I/O needs int8)."""
    if variant not in VARIANTS:
        raise UserError(f"Unrecognized variant {variant!r}. Supported variants are: {', '.join(VARIANTS)}.")
    if io not in IO_TYPES:
        raise UserError(f"Unrecognized io={io!r}. Supported values are: {', '.join(IO_TYPES)}.")
    if io != "float" and variant != "int8":
        raise UserError(
            f"--io {io} needs full-integer quantization (--quantize int8 or all); the {variant} variant "
            "keeps float32 input and output."
        )


def check_io_fits(model, io):
    """Raise `UserError` if integer `io` cannot apply to `model`: its input is not float."""
    if io != "float" and not model.inputs[0].dtype.startswith("float"):
        raise UserError(
            f"--io {io} cannot apply to {model.name}: its input is {model.inputs[0].dtype} "
            "(token ids, say), not float; use --io float."
        )


def convert(model, variant, *, representative=None, io="float", sequence_length=None, select_tf_ops=False):
    """Convert a Keras model to the bytes of a .tflite file.

    Args:
        model: a Keras model; one with recurrent layers is converted as its `unrolled_twin`.
        variant: one of `VARIANTS`.
        representative: model inputs (N, ...) that calibrate the int8 variant; from the
            training split, never the test split.
        io: input and output type of the int8 variant: "float", "int8" or "uint8".
        sequence_length: time steps to unroll a recurrent model whose input length is open.
        select_tf_ops: let the converter fall back to Select TF (Flex) ops.

    Raises:
        UserError: a bad variant or io, an empty representative set, integer I/O on a
            model whose input is not float, or a conversion that fails (with the
            converter's reason).
    """
    check_variant(variant, io)
    if has_recurrent_layers(model):
        model = unrolled_twin(model, sequence_length)
    if variant == "int8":
        if representative is None or len(representative) == 0:
            raise UserError(
                "The representative set for int8 calibration is empty: it is drawn from the training split, "
                "which gave no examples. Check export.representative_size and the run's data limits."
            )
        check_io_fits(model, io)
    with tempfile.TemporaryDirectory(prefix="kerasapps-convert-") as tmp:
        export_saved_model(model, tmp)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if variant == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif variant == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif variant == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = _representative_gen(representative)
            ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if io != "float":
                converter.inference_input_type = _IO_DTYPES[io]
                converter.inference_output_type = _IO_DTYPES[io]
        if select_tf_ops:
            ops = ops + [tf.lite.OpsSet.SELECT_TF_OPS]
        converter.target_spec.supported_ops = ops
        try:
            with native_output_silenced(1, 2):  # the converter prints its settings from C++
                return converter.convert()
        except Exception as error:  # the converter raises several private error types
            raise UserError(f"Cannot produce the {variant} variant of {model.name}: {_first_line(error)}") from None


def _representative_gen(examples):
    def generate():
        for x in examples:
            yield [np.asarray(x)[None]]

    return generate


def _first_line(error):
    lines = [line.strip() for line in str(error).splitlines() if "error:" in line] or str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# --- what a file holds ------------------------------------------------------------

_BUILTIN_NAMES = {v: k for k, v in vars(tflite_schema.BuiltinOperator).items() if not k.startswith("_")}


def op_names(content):
    """The sorted names of the ops a .tflite file uses, read from its flatbuffer.

    Builtin ops by their schema name (CONV_2D...), custom ops by their custom
    code; Select TF ops are custom ops named Flex<TF op> (FlexTensorListReserve).
    """
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    names = set()
    for code in model.operatorCodes:
        if code.customCode:
            names.add(code.customCode.decode())
        else:
            # schema v3a: builtin codes above 127 live only in builtinCode
            names.add(_BUILTIN_NAMES[max(code.builtinCode, code.deprecatedBuiltinCode)])
    return sorted(names)


def check_ops(ops, *, allow_flex=False, what="the file"):
    """Raise `UserError` if `ops` holds Select TF (Flex) ops and they are not allowed."""
    flex = [op for op in ops if op.startswith("Flex")]
    if flex and not allow_flex:
        raise UserError(
            f"{what} needs Select TF (Flex) ops {', '.join(flex)}, which phones without the Flex delegate "
            "cannot run; pass --allow-flex to export it anyway."
        )


# --- running a file ---------------------------------------------------------------


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
            raise UserError(f"Cannot load {what} as a TFLite model: {_first_line(error)}") from None
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
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])

    def predict(self, x, *, batch_size=256):
        """Float scores for model inputs `x` (N, ...), run `batch_size` at a time
        (1 runs example by example)."""
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
    if method not in ("predict", "call"):
        raise UserError(f"Unrecognized method={method!r}. Supported values are: predict, call.")

    def run(example):
        return model.predict(example, verbose=0) if method == "predict" else model(example, training=False)

    run(x[:1])
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        run(x[i % len(x)][None])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


# --- scores -----------------------------------------------------------------------


def accuracy(scores, labels):
    """Fraction of `scores` whose predicted class equals `labels`."""
    return float(np.mean(predicted_classes(scores) == np.asarray(labels).reshape(-1)))
