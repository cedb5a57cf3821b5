"""Keras's `Conv2D`, computed as one matrix product when its kernel covers the whole input map.

LeNet-5's C5 is a 5x5 convolution over S4's 5x5 maps: each of its 120 outputs sees
the whole map, so the convolution is a fully connected layer (LeCun et al. 1998 say
as much, and keep the name for larger inputs). oneDNN runs it as a convolution all
the same, and its passes for this shape are slow on an AVX2 CPU: 2.5 ms of a batch
of 128's training step (`ONEDNN_VERBOSE=1`). As a matrix product, C5's gradient
fell from 3.45 to 0.97 ms of op time a step (`bench/profile_step.py`, docs/history.md).

`with_full_map_product` keeps Keras's `Conv2D` layer (same arguments, weights, config
and results, tested) with one change: when the kernel is as large as the input map
(valid padding, stride 1, no dilation or groups, channels last), `convolution_op`
flattens the map and the kernel and multiplies them. Any other input runs Keras's
own convolution. Models take it on TensorFlow, where it was measured, while
`train.fast_layers` is on (`models.common.conv_block`; false trains with Keras's
convolution, for an A/B measurement: bench/bench_speed.py). The layer's class stays
Keras's, so a saved model holds nothing of this module: it opens in plain Keras and
computes C5 as a convolution there, in exported files too.
"""

import keras


def with_full_map_product(layer):
    """Give `keras.layers.Conv2D` `layer` the matrix product where its kernel covers the map; returns it.

    The layer stays Keras's own (class, config, weights: a saved model holds Keras's layer);
    only its `convolution_op` is replaced, and any other input goes to Keras's.
    """
    keras_convolution = layer.convolution_op

    def convolution_op(inputs, kernel):
        if not _covers_the_map(layer, inputs):
            return keras_convolution(inputs, kernel)
        ops = keras.ops
        flat = ops.reshape(inputs, (-1, kernel.shape[0] * kernel.shape[1] * kernel.shape[2]))  # (N, kh*kw*C), row-major
        product = ops.matmul(flat, ops.reshape(kernel, (-1, layer.filters)))  # the kernel's (kh, kw, C) in the same order
        return ops.reshape(product, (-1, 1, 1, layer.filters))

    layer.convolution_op = convolution_op
    return layer


def _covers_the_map(layer, inputs):
    return (
        layer.data_format == "channels_last"
        and layer.padding == "valid"
        and tuple(layer.strides) == (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.groups == 1
        and tuple(inputs.shape[1:3]) == tuple(layer.kernel_size)
    )
