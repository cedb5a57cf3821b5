"""Truncated backpropagation through time (BPTT) as a Keras layer: `build_rnn(tbptt_steps=k)`.

Full BPTT sends the gradient of a review's loss back through every step of the
recurrent layer, 400 of them for an IMDB review. Truncated BPTT, as courses teach
it (Williams & Peng 1990; Keras's `stateful=True` recipe), splits each sequence
into windows of k steps, runs them in order with the state carried from one
window into the next, and cuts the gradient where a window begins: the state a
window starts from is a constant to the gradient. The forward pass is unchanged
(the same outputs as the plain layer, tested); training learns from at most the k
steps of the window that holds a review's last word, however long the review is,
and the backward pass holds one window's steps.

The windows run inside one layer rather than as separate `train_on_batch` calls of
a stateful model, so `fit`, `evaluate`, tuning and export take the model as they
take any other. Reviews are padded on the right and masked: a window of padding
only passes the state on, and the gradient is cut only at a boundary that a real
token follows, so a short review's last window is its own.
"""

import keras


def window_starts(sequence_length, steps):
    """First step of each window of `steps` steps over `sequence_length` steps (the last may be shorter)."""
    return list(range(0, sequence_length, steps))


@keras.saving.register_keras_serializable(package="kerasapps")
class TruncatedBPTT(keras.layers.Layer):
    """Run the recurrent `layer` window by window over the sequence, cutting the gradient between windows.

    Args:
        layer: a Keras LSTM, GRU or SimpleRNN layer (its own `return_sequences` is kept).
        steps: time steps per window, k.

    The input needs a fixed number of time steps (`window_starts` counts the windows).
    """

    def __init__(self, layer, steps, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer
        self.steps = steps
        self.return_sequences = layer.return_sequences
        layer.return_state = True
        self.supports_masking = True

    def build(self, input_shape):
        self.layer.build((input_shape[0], self.steps, input_shape[-1]))

    def call(self, inputs, mask=None, training=None):
        length = inputs.shape[1]
        states, outputs = None, []
        for start in window_starts(length, self.steps):
            window = inputs[:, start : start + self.steps]
            window_mask = None if mask is None else mask[:, start : start + self.steps]
            if states is not None:
                states = [self._cut(state, mask, start) for state in states]
            output, *states = self.layer(window, initial_state=states, mask=window_mask, training=training)
            outputs.append(output)
        if self.return_sequences:
            return keras.ops.concatenate(outputs, axis=1)
        return states[0]  # h, the output after the last real token (a masked step keeps it)

    def _cut(self, state, mask, start):
        """`state` as a constant to the gradient, except for examples whose real tokens all lie before `start`
        (their state only passes through padding from here on, and their loss needs its gradient)."""
        cut = keras.ops.stop_gradient(state)
        if mask is None:
            return cut
        later = keras.ops.any(mask[:, start:], axis=1, keepdims=True)
        return keras.ops.where(later, cut, state)

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        units = self.layer.units
        return (input_shape[0], input_shape[1], units) if self.return_sequences else (input_shape[0], units)

    def get_config(self):
        return {**super().get_config(), "layer": keras.saving.serialize_keras_object(self.layer), "steps": self.steps}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)
