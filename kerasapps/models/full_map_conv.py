"""Keras's `Conv2D`, computed as one matrix product when its kernel covers the whole input map.

LeNet-5's C5 is a 5x5 convolution over S4's 5x5 maps: each of its 120 outputs sees
the whole map, so the convolution is a fully connected layer (LeCun et al. 1998 say
as much, and keep the name for larger inputs). oneDNN runs it as a convolution all
the same, and its passes for this shape are slow on an AVX2 CPU: 2.5 ms of a batch
of 128's training step (`ONEDNN_VERBOSE=1`). As a matrix product, C5's gradient
fell from 3.45 to 0.97 ms of op time a step (`bench/profile_step.py`, docs/performance.md).

This layer is Keras's `Conv2D` (same arguments, weights, config and results,
tested) with one change: when the kernel is as large as the input map (valid
padding, stride 1, no dilation or groups, channels last) on TensorFlow, where it
was measured, `convolution_op` flattens the map and the kernel and multiplies
them, in training, inference and exported files alike. Any other input or backend
runs Keras's own convolution, as does everything when the environment sets
KERASAPPS_FULL_MAP_CONV=0 (for an A/B measurement). (On JAX across two processes
the product's gradient, summed in two parts, drifted 1e-4 from one process's
after 72 steps, where the convolution's stays within 1e-5: tests/test_distributed.py.)

It keeps the name `Conv2D`, so summaries and the PyTorch twins read it as Keras's;
saved models record it as `kerasapps>Conv2D`, which loads wherever
`kerasapps.models` is imported. A subclass of a Keras layer needs Keras itself,
so `kerasapps.models` imports this module when Keras loads.
"""

import os

from kerasapps.lazy import keras


@keras.saving.register_keras_serializable(package="kerasapps")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` that multiplies matrices when its kernel covers the whole map (module docstring)."""

    def convolution_op(self, inputs, kernel):
        if not self._covers_the_map(inputs):
            return super().convolution_op(inputs, kernel)
        ops = keras.ops
        flat = ops.reshape(inputs, (-1, kernel.shape[0] * kernel.shape[1] * kernel.shape[2]))  # (N, kh*kw*C), row-major
        product = ops.matmul(flat, ops.reshape(kernel, (-1, self.filters)))  # the kernel's (kh, kw, C) in the same order
        return ops.reshape(product, (-1, 1, 1, self.filters))

    def _covers_the_map(self, inputs):
        return (
            os.environ.get("KERASAPPS_FULL_MAP_CONV", "1") != "0"
            and keras.backend.backend() == "tensorflow"
            and self.data_format == "channels_last"
            and self.padding == "valid"
            and tuple(self.strides) == (1, 1)
            and tuple(self.dilation_rate) == (1, 1)
            and self.groups == 1
            and tuple(inputs.shape[1:3]) == tuple(self.kernel_size)
        )
