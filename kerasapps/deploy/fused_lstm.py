"""LSTM layers as LiteRT's fused `UNIDIRECTIONAL_SEQUENCE_LSTM` kernel.

    if fusable(model):
        twin = fused_twin(model, sequence_length=400)    # batch 1, same weights

The TFLite converter replaces a function whose `api_implements` attribute starts
with "lstm_" by its fused LSTM op (`prepare_composite_functions_tf.cc` in
TensorFlow, the pass that fused TF-Keras 2 layers). Keras 3 layers carry no such
function; `FusedLSTM` calls one, `_standard_lstm`, with the trained weights. The
pass asks for: six arguments (inputs, initial h and c, kernel, recurrent kernel,
bias: no mask), five results of which only the first two are used, `time_major`
and `go_backwards` attributes, and a fixed batch size (the initial states have a
static shape), so the twin takes one example at a time, as a phone classifies.

State: the fused kernel keeps h and c in variable tensors from one call to the
next (TensorFlow issue #47813); Keras starts each review from zeros. Our
interpreter resets them before each call, but MediaPipe's classifiers do not. With
`reset_step`, the twin appends one step that zeroes the state on its way out: an
extra input feature, 0 at every real step and `RESET_INPUT` at that step, whose
kernel row drives the input, forget and output gates to sigmoid(-inf) = 0, so c
and h end at 0 and the next call starts as Keras does. This needs float inputs to
the LSTM (float32, float16, dynamic range, where each step's input is quantized on
its own); full-integer int8 gives the input one scale, which the large value would
take over, so an int8 file stays stateful (the app must reset its variables).

Masking: the fused kernel takes no mask. Our text inputs are padded after the
review (id 0, `text_preprocessing`), and an LSTM is causal, so its output at the
review's last real token is the masked layer's final output: `FusedLSTM` runs
over all steps and picks that one. Pads inside a review would break this; none
occur. Stacked layers pass the whole sequence on and the last layer picks.
"""

import keras
import tensorflow as tf

from kerasapps.geometry import all_layers

# The converter fuses functions whose api_implements starts with "lstm_".
API_IMPLEMENTS = "lstm_kerasapps_fused"
# The reset step's input; times the kernel row (the largest weight of the kernel,
# negated, so dynamic-range quantization keeps its scale) it sends the gates far
# below sigmoid's float32 range.
RESET_INPUT = 1e4


def _standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
    """Keras' LSTM (sigmoid gates i, f, o and tanh cell g, in that weight order) over
    batch-major `inputs`; returns (last output, all outputs, h, c, runtime) as TF-Keras'
    `standard_lstm` does. TensorFlow runs this body; the converter replaces it."""

    def step(state, x):
        h, c = tf.unstack(state)
        z = tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias
        i, f, g, o = tf.split(z, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return tf.stack([tf.sigmoid(o) * tf.tanh(c), c])

    states = tf.scan(step, tf.transpose(inputs, [1, 0, 2]), initializer=tf.stack([init_h, init_c]))
    outputs = tf.transpose(states[:, 0], [1, 0, 2])
    return outputs[:, -1], outputs, states[-1, 0], states[-1, 1], tf.constant(0.0)


_lstm_function = tf.function(
    _standard_lstm, autograph=False,
    experimental_attributes={"api_implements": API_IMPLEMENTS, "time_major": False, "go_backwards": False},
)


class FusedLSTM(keras.layers.Layer):
    """An inference-only LSTM whose graph converts to the fused TFLite kernel (see the module)."""

    def __init__(self, units, return_sequences=False, reset_step=False, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.return_sequences = return_sequences
        self.reset_step = reset_step
        self.supports_masking = True

    def build(self, input_shape):
        # Created in the order of keras.layers.LSTM's weights, so set_weights copies them.
        features = input_shape[-1]
        self.kernel = self.add_weight(shape=(features, 4 * self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * self.units,), name="bias")

    def call(self, inputs, mask=None):
        zeros = tf.zeros([inputs.shape[0], self.units])
        # Tensors, not variables: the fusion pass wants ranked float arguments, not resource handles.
        kernel, recurrent_kernel, bias = (tf.convert_to_tensor(w) for w in (self.kernel, self.recurrent_kernel, self.bias))
        steps = inputs.shape[1]
        if self.reset_step:
            inputs, kernel = _with_reset_step(inputs, kernel, self.units)
        _, outputs, _, _, _ = _lstm_function(inputs, zeros, zeros, kernel, recurrent_kernel, bias)
        outputs = outputs[:, :steps]
        if self.return_sequences:
            return outputs
        if mask is None:
            return outputs[:, -1]
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        last = tf.gather(outputs, tf.maximum(lengths - 1, 0), batch_dims=1)
        # A review of pads only: the masked layer returns its initial state, zeros.
        return tf.where(lengths[:, None] > 0, last, tf.zeros_like(last))

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return (*input_shape[:-1], self.units)
        return (input_shape[0], self.units)

    def get_config(self):
        return {
            **super().get_config(), "units": self.units, "return_sequences": self.return_sequences,
            "reset_step": self.reset_step,
        }


def _recurrent_layers(model):
    return [layer for layer in all_layers(model) if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))]


def fusable(model):
    """True if every recurrent layer of `model` is a plain forward LSTM the fused kernel computes:
    default activations, a bias, not stateful, not reversed, not inside `Bidirectional`."""
    recurrent = _recurrent_layers(model)
    return bool(recurrent) and all(
        type(layer) is keras.layers.LSTM
        and layer.get_config()["activation"] == "tanh"
        and layer.get_config()["recurrent_activation"] == "sigmoid"
        and layer.cell.use_bias
        and not layer.go_backwards
        and not layer.stateful
        and not layer.return_state
        for layer in recurrent
    )


def _with_reset_step(inputs, kernel, units):
    """`inputs` with a zero feature added and one step after the last that is zero but
    for it; `kernel` with the row that feature meets (see the module docstring)."""
    batch, _, features = inputs.shape
    inputs = tf.concat([inputs, tf.zeros([batch, inputs.shape[1], 1])], axis=2)
    reset = tf.concat([tf.zeros([batch, 1, features]), tf.fill([batch, 1, 1], RESET_INPUT)], axis=2)
    gate = -tf.reduce_max(tf.abs(kernel)) * tf.ones([units])
    row = tf.concat([gate, gate, tf.zeros([units]), gate], axis=0)  # gates i, f, g, o
    return tf.concat([inputs, reset], axis=1), tf.concat([kernel, row[None]], axis=0)


def fused_twin(model, sequence_length, *, reset_step=True):
    """A copy of `model` taking one example of `sequence_length` ids, each LSTM a `FusedLSTM`
    with the same weights; `reset_step` zeroes the LSTM state after each call (float
    files only, see the module docstring). Check `fusable(model)` first."""
    shape = (int(sequence_length),) + tuple(model.inputs[0].shape[2:])
    inputs = keras.Input(shape=shape, batch_size=1, dtype=model.inputs[0].dtype, name=model.inputs[0].name)

    def clone(layer):
        if isinstance(layer, keras.layers.LSTM):
            return FusedLSTM(layer.units, return_sequences=layer.return_sequences, reset_step=reset_step, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    twin = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin
