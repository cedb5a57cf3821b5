"""Keras model -> SavedModel and TFLite (LiteRT) files, and what a file holds.

    export_saved_model(model, "out/saved_model")
    content = convert(model, "int8", representative=x_train[:200], io="int8")
    check_ops(op_names(content), allow_flex=False)

Variants (`VARIANTS`): float32; float16 weights; dynamic-range int8 weights; and
full-integer int8 calibrated on a representative set, whose input and output are
int8, uint8 or float32 (`io`). Conversion goes through a Keras SavedModel export,
so the file computes exactly what `model.export` serves.

Recurrent layers: Keras 3 runs them as a `while` loop over a TensorList, which
the converter can only emit as Select TF (Flex) ops that the plain LiteRT
interpreter refuses (LiteRT issue #41), and it does not fuse Keras 3 layers
into `UNIDIRECTIONAL_SEQUENCE_LSTM`. A model with recurrent layers is therefore
converted through a twin with the same weights over a fixed sequence length
(`recurrent_route`): LSTM-only models through `fused_lstm.fused_twin`, whose LSTMs
become the fused kernel (one example per call); others (GRU, SimpleRNN,
bidirectional), or on request, through `unrolled_twin`, whose layers run with
`unroll=True`. Both need builtin ops only.

Files are run by `kerasapps.deploy.interpreter`.
"""

import tempfile

import keras
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as tflite_schema
from tensorflow.lite.tools import flatbuffer_utils

from kerasapps.deploy import fused_lstm
from kerasapps.deploy.app_graph import app_model
from kerasapps.errors import UserError, check_choice, first_line
from kerasapps.geometry import all_layers
from kerasapps.settings import native_output_silenced

VARIANTS = ("float32", "float16", "dynamic", "int8")
IO_TYPES = ("float", "int8", "uint8")
RECURRENT = ("fused", "unrolled")


# --- SavedModel -------------------------------------------------------------------


def export_saved_model(model, path, batch_size=None):
    """Write `model` as a TensorFlow SavedModel with a `serve` endpoint and a
    `serving_default` signature (Keras 3 `model.export`); loadable with
    `tf.saved_model.load` without Keras or kerasapps. The batch size is open, unless
    `batch_size` is given or the model's input fixes one (a fused LSTM twin's)."""
    signature = None
    batch_size = batch_size or model.inputs[0].shape[0]
    if batch_size:
        shape = (batch_size, *model.inputs[0].shape[1:])
        signature = [tf.TensorSpec(shape, model.inputs[0].dtype, name=model.inputs[0].name)]
    model.export(str(path), format="tf_saved_model", verbose=False, input_signature=signature)


# --- recurrent models -------------------------------------------------------------


def has_recurrent_layers(model):
    """True if `model` holds a Keras recurrent layer (LSTM, GRU, SimpleRNN...), wrapped or not."""
    return any(isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)) for layer in all_layers(model))


def recurrent_route(model, recurrent="fused", variant="float32"):
    """How `convert` turns the recurrent layers of `model` into builtin ops for `variant`:
    "fused" (asked for, and every recurrent layer is an LSTM the fused kernel computes),
    "unrolled", or None for a model without recurrent layers.

    The float16 variant is unrolled: there the converter stores the LSTM's zero
    initial state as float16 and feeds its state variable from a DEQUANTIZE op, which
    MediaPipe's interpreter refuses ("Output tensor ... to op ... (DEQUANTIZE) is a variable").

    Raises:
        UserError: `recurrent` is not one of `RECURRENT`.
    """
    check_choice("recurrent", recurrent, RECURRENT)
    if not has_recurrent_layers(model):
        return None
    return "fused" if recurrent == "fused" and variant != "float16" and fused_lstm.fusable(model) else "unrolled"


def keeps_state(model, variant, recurrent="fused"):
    """True if `convert` writes `variant` of `model` as a fused LSTM without the reset step: its state
    carries from one call to the next, so an app must reset the interpreter's variables before each
    input. int8 gives the LSTM input one scale, which the reset step's large input would take over."""
    return variant == "int8" and recurrent_route(model, recurrent, variant) == "fused"


def fixed_length(model, sequence_length=None):
    """The time steps a twin of `model` takes: its input's own length, else `sequence_length`.

    Raises:
        UserError: the model's input has no fixed length and none is given.
    """
    shape = tuple(model.inputs[0].shape[1:])
    if shape and shape[0] is not None:
        return shape[0]
    if not sequence_length:
        raise UserError(
            f"Cannot convert the recurrent layers of {model.name}: its input shape {shape} has no fixed sequence "
            "length; give the length the model was trained on (the preprocessing's sequence_length)."
        )
    return int(sequence_length)


# --- twins: the same layers and weights, with rewritten layer configs ---------------

_KEEP = object()
_INFERENCE_ONLY = {"unroll": True, "dropout": 0.0, "recurrent_dropout": 0.0}


def _rewrite_config(config, new_value):
    """A (nested) layer config with each `key: value` replaced by `new_value(key, value)`,
    or, where that returns `_KEEP`, by the value's own rewrite (Bidirectional holds two layers)."""
    if isinstance(config, dict):
        rewritten = {}
        for key, value in config.items():
            replaced = new_value(key, value)
            rewritten[key] = _rewrite_config(value, new_value) if replaced is _KEEP else replaced
        return rewritten
    if isinstance(config, list):
        return [_rewrite_config(v, new_value) for v in config]
    return config


def _twin(model, new_value, input_tensors=None):
    """A copy of `model` whose layers are rebuilt from configs rewritten by `new_value`, with the same weights."""

    def clone(layer):
        return layer.__class__.from_config(_rewrite_config(layer.get_config(), new_value))

    twin = keras.models.clone_model(model, input_tensors=input_tensors, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin


def unrolled_twin(model, sequence_length=None):
    """A copy of `model` whose recurrent layers are unrolled over a fixed sequence length.

    Same layers, same weights, same outputs (to float rounding); masks still
    apply, as a per-step select. The input's time axis is fixed to the model's
    own length or to `sequence_length`. Dropout is left out: a recurrent layer
    with dropout keeps a seed-generator variable, which becomes a second
    subgraph (CALL_ONCE) that MediaPipe's classifiers refuse.

    Raises:
        UserError: the model's input has no fixed length and none is given.
    """
    shape = (fixed_length(model, sequence_length),) + tuple(model.inputs[0].shape[2:])
    inputs = keras.Input(shape=shape, dtype=model.inputs[0].dtype, name=model.inputs[0].name)
    return _twin(model, lambda key, _: _INFERENCE_ONLY.get(key, _KEEP), inputs)


def computes_in_float32(model):
    """True unless some layer of `model` computes in a reduced precision (a `train.mixed_precision` run).

    Layers without weights are not asked: an input layer of token ids computes in int32."""
    return all(layer.compute_dtype in (None, "float32") or not layer.weights for layer in all_layers(model))


def float32_twin(model):
    """A copy of a mixed-precision `model` that computes in float32, with the same (float32) weights.

    LiteRT has no bfloat16 kernels: the converter refuses a bfloat16 Conv2D. The
    weights were float32 all along, so the twin computes what the trained model
    does, without the bfloat16 rounding (export reports the agreement).
    """

    def float32_policy(key, value):
        mixed = key == "dtype" and isinstance(value, dict) and value.get("config", {}).get("name", "").startswith("mixed")
        return "float32" if mixed else _KEEP

    return _twin(model, float32_policy)


# --- conversion -------------------------------------------------------------------


def check_variant(variant, io="float"):
    """Raise `UserError` unless `variant` is known and `io` fits it (integer I/O needs int8)."""
    check_choice("variant", variant, VARIANTS)
    check_choice("io", io, IO_TYPES)
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


def convert(
    model, variant, *, representative=None, io="float", sequence_length=None, recurrent="fused", select_tf_ops=False, spec=None,
    batch_size=None,
):
    """Convert a Keras model to the bytes of a .tflite file.

    Args:
        model: a Keras model; one with recurrent layers is converted as a twin (`recurrent_route`),
            a mixed-precision one as its `float32_twin` first.
        variant: one of `VARIANTS`.
        representative: model inputs (N, ...) that calibrate the int8 variant; from the
            training split, never the test split.
        io: input and output type of the int8 variant: "float", "int8" or "uint8".
        sequence_length: time steps of a recurrent model whose input length is open.
        recurrent: "fused" (LSTM models as the fused kernel, else unrolled) or "unrolled".
        select_tf_ops: let the converter fall back to Select TF (Flex) ops.
        spec: the run's preprocessing spec; given, the file holds the graph an app feeds
            (`app_graph.app_model`: RGB pixels in for images, one score per class out),
            and `representative` holds that graph's inputs.
        batch_size: fix the file's batch size (1 for TFLite Micro, which lacks the ops
            that compute shapes from an open batch, such as REDUCE_PROD); default open.

    Raises:
        UserError: a bad variant or io, an empty representative set, integer I/O on a
            model whose input is not float, or a conversion that fails (with the
            converter's reason).
    """
    check_variant(variant, io)
    if not computes_in_float32(model):
        model = float32_twin(model)
    route = recurrent_route(model, recurrent, variant)
    if route == "fused":
        reset_step = not keeps_state(model, variant, recurrent)
        model = fused_lstm.fused_twin(model, fixed_length(model, sequence_length), reset_step=reset_step)
    elif route == "unrolled":
        model = unrolled_twin(model, sequence_length)
    if spec is not None:
        model = app_model(model, spec)
    if variant == "int8":
        if representative is None or len(representative) == 0:
            raise UserError(
                "The representative set for int8 calibration is empty: it is drawn from the training split, "
                "which gave no examples. Check export.representative_size and the run's data limits."
            )
        check_io_fits(model, io)
    with tempfile.TemporaryDirectory(prefix="kerasapps-convert-") as tmp:
        export_saved_model(model, tmp, batch_size)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if variant == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif variant == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            # Per-channel hybrid FULLY_CONNECTED is op version 12, which the runtimes in the
            # field (tflite-runtime 2.14) refuse; per-tensor weights give version 9.
            converter._experimental_disable_per_channel_quantization_for_dense_layers = True
        elif variant == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = _representative_gen(representative)
            ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if io != "float":
                converter.inference_input_type = tf.as_dtype(io)
                converter.inference_output_type = tf.as_dtype(io)
        if select_tf_ops:
            ops = ops + [tf.lite.OpsSet.SELECT_TF_OPS]
        converter.target_spec.supported_ops = ops
        try:
            with native_output_silenced(1, 2):  # the converter prints its settings from C++
                return converter.convert()
        except Exception as error:  # the converter raises several private error types
            raise UserError(f"Cannot produce the {variant} variant of {model.name}: {first_line(error)}") from None


def _representative_gen(examples):
    def generate():
        for x in examples:
            yield [np.asarray(x)[None]]

    return generate


# --- what a file holds ------------------------------------------------------------

BUILTIN_NAMES = {v: k for k, v in vars(tflite_schema.BuiltinOperator).items() if not k.startswith("_")}


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
            names.add(BUILTIN_NAMES[max(code.builtinCode, code.deprecatedBuiltinCode)])
    return sorted(names)


def check_ops(ops, *, allow_flex=False, what="the file"):
    """Raise `UserError` if `ops` holds Select TF (Flex) ops and they are not allowed."""
    flex = [op for op in ops if op.startswith("Flex")]
    if flex and not allow_flex:
        raise UserError(
            f"{what} needs Select TF (Flex) ops {', '.join(flex)}, which phones without the Flex delegate "
            "cannot run; pass --allow-flex to export it anyway."
        )
