"""Max over the unpadded steps of a sequence: `build_rnn(pooling="max")`.

Keras's `GlobalMaxPooling1D` ignores the padding mask, so a review's padded steps
(whose outputs a masked LSTM sets to zero) would take part in the max. This layer
takes the max over the steps the mask keeps only, so a review gives the same
output however much padding follows it, as with the other poolings (tested).

A subclass of `keras.layers.Layer` needs Keras itself, so this module is imported
when Keras loads (`kerasapps.models.__init__`), like `blocks` and `tbptt`.
"""

from kerasapps.lazy import keras


@keras.saving.register_keras_serializable(package="kerasapps")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """(batch, steps, features) -> (batch, features): each feature's max over the unmasked steps."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            keep = keras.ops.expand_dims(keras.ops.cast(mask, "bool"), -1)
            inputs = keras.ops.where(keep, inputs, keras.ops.full_like(inputs, -1e9))
        return keras.ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None  # one vector per sequence: no steps left to mask

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
