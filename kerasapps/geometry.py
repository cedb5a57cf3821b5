"""Feature-map arithmetic, checked before Keras sees a layer.

The course notes' formula for a convolution (and, with P = 0, for pooling):

    W_out = (W_in - K + 2P) / S + 1

An output that is not a positive whole number is an error that names the layer,
the sizes and the formula. (The notes' worked example, 125x49 input, 5x5 filter,
P = 2, S = 2, forgets the "+ 1": the right answer is 63x25.)

`layer_table` reports every layer's output shape and parameter count from this
arithmetic; the tests hold it against Keras's own shapes.
"""

import dataclasses
import math

import keras
import numpy as np

from kerasapps.errors import GeometryError

FORMULA = "W_out = (W_in - K + 2P) / S + 1"


def conv_output_size(size, kernel, stride=1, padding=0, *, layer="layer", axis="W"):
    """Output size of a convolution or pooling window along one axis.

    Args:
        size: input size W_in.
        kernel: window size K.
        stride: step S.
        padding: P in pixels, or Keras's "valid" (P = 0) or "same" (out = ceil(W_in / S)).
        layer: the layer's name, for the error message.
        axis: "H" or "W", for the error message.

    Returns:
        The output size, a positive int.

    Raises:
        GeometryError: the output is not a positive whole number.
    """
    if padding == "same":
        return math.ceil(size / stride)
    pad = 0 if padding == "valid" else int(padding)
    numerator = size - kernel + 2 * pad
    out = numerator / stride + 1
    if out < 1 or numerator % stride:
        raise GeometryError(
            f"Layer {layer!r}: {FORMULA} gives {axis}_out = ({size} - {kernel} + 2*{pad}) / {stride}"
            f" + 1 = {out:g}, which is not a positive whole number. "
            f"Use a larger input, a smaller kernel or stride, or more padding."
        )
    return int(out)


def pool_output_size(size, pool, stride=None, padding="valid", **kwargs):
    """Output size of a pooling window: the convolution formula with P = 0 (or "same")."""
    return conv_output_size(size, pool, stride or pool, padding, **kwargs)


# --- per-layer arithmetic ---------------------------------------------------------


def _spatial(layer, shape, kernel, strides, padding):
    h, w, _ = shape
    return (
        conv_output_size(h, kernel[0], strides[0], padding, layer=layer.name, axis="H"),
        conv_output_size(w, kernel[1], strides[1], padding, layer=layer.name, axis="W"),
    )


def _dense_like_params(layer, fan_in, units):
    return fan_in * units + (units if layer.use_bias else 0)


def layer_output(layer, input_shapes):
    """(output shape, parameter count) of one layer, from our arithmetic.

    `input_shapes` is a list of shapes without the batch axis. Layers this module
    has no rule for fall back to Keras's `compute_output_shape` and `count_params`.
    """
    shape = tuple(input_shapes[0])
    L = keras.layers
    if isinstance(layer, L.Conv2D) and not isinstance(layer, L.DepthwiseConv2D):
        h, w = _spatial(layer, shape, layer.kernel_size, layer.strides, layer.padding)
        fan_in = layer.kernel_size[0] * layer.kernel_size[1] * shape[2] // layer.groups
        return (h, w, layer.filters), _dense_like_params(layer, fan_in, layer.filters)
    if isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
        h, w = _spatial(layer, shape, layer.pool_size, layer.strides, layer.padding)
        return (h, w, shape[2]), 0
    if isinstance(layer, L.ZeroPadding2D):
        (top, bottom), (left, right) = layer.padding
        return (shape[0] + top + bottom, shape[1] + left + right, shape[2]), 0
    if isinstance(layer, (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)):
        return (shape[-1],), 0
    if isinstance(layer, L.Flatten):
        return (int(np.prod(shape)),), 0
    if isinstance(layer, L.Dense):
        return shape[:-1] + (layer.units,), _dense_like_params(layer, shape[-1], layer.units)
    if isinstance(layer, L.BatchNormalization):
        channels = shape[-1]
        return shape, channels * (2 + int(layer.center) + int(layer.scale))
    if isinstance(layer, (L.Dropout, L.Activation, L.ReLU, L.Rescaling, L.Normalization)):
        return shape, 0
    if isinstance(layer, L.Add):
        return shape, 0
    if isinstance(layer, L.Concatenate):
        return shape[:-1] + (sum(s[-1] for s in input_shapes),), 0
    batched = [(None,) + tuple(s) for s in input_shapes]
    out = layer.compute_output_shape(batched[0] if len(batched) == 1 else batched)
    return tuple(out[1:]), layer.count_params() if layer.built else 0


def check_layers(input_shape, layers):
    """Walk a chain of (unbuilt) Keras layers with our arithmetic.

    Returns the final output shape; raises `GeometryError` at the first layer
    whose feature map does not fit.
    """
    shape = tuple(input_shape)
    for layer in layers:
        shape, _ = layer_output(layer, [shape])
    return shape


@dataclasses.dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple
    params: int


def layer_table(model):
    """One `LayerRow` per layer of a built Keras model, computed by our arithmetic.

    Works for Sequential and Functional models (multi-input layers such as Add and
    Concatenate included): each layer's input shapes are taken from the rows
    already computed for the layers that feed it.
    """
    shapes = {}  # id(KerasTensor) -> shape without batch axis
    for tensor in model.inputs:
        shapes[id(tensor)] = tuple(tensor.shape[1:])
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        for node in _nodes_in(model, layer):
            # A mask (Embedding(mask_zero=True) -> LSTM) arrives as the `mask=` argument,
            # a tensor of its own that is no input shape: only known tensors count.
            inputs = [shapes[id(t)] for t in node.input_tensors if id(t) in shapes]
            out_shape, params = layer_output(layer, inputs)
            for t in node.output_tensors:
                shapes[id(t)] = out_shape
            rows.append(LayerRow(layer.name, type(layer).__name__, out_shape, params))
    return rows


def weighted_depth(model):
    """The most Conv2D and Dense layers on any path from input to output: a network's depth
    as papers count it (GoogLeNet's 22; a ResNet's 1x1 projection shortcuts run beside
    the blocks and do not add to it). A block layer of a Sequential ResNet counts as one
    layer: ask the Functional build."""
    depth = {id(t): 0 for t in model.inputs}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        own = int(isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)))
        for node in _nodes_in(model, layer):
            reached = max((depth[id(t)] for t in node.input_tensors if id(t) in depth), default=0)
            for t in node.output_tensors:
                depth[id(t)] = reached + own
    return max(depth[id(t)] for t in model.outputs)


def _nodes_in(model, layer):
    # A Sequential model wraps a Functional graph; either way the nodes that
    # belong to this model are the ones whose outputs it computes.
    graph = model._functional if isinstance(model, keras.Sequential) else model
    owned = set()
    for nodes in graph._nodes_by_depth.values():
        owned.update(id(n) for n in nodes)
    return [n for n in layer._inbound_nodes if id(n) in owned]


def format_table(rows):
    """A printable layer-by-layer table with a total."""
    # Columns as wide as their longest entry: ResNet and Inception layer names run long.
    name_w = max([22] + [len(r.name) + 2 for r in rows])
    kind_w = max([24] + [len(r.kind) + 2 for r in rows])
    lines = [f"{'layer':<{name_w}}{'type':<{kind_w}}{'output shape':<20}{'params':>12}"]
    for r in rows:
        lines.append(f"{r.name:<{name_w}}{r.kind:<{kind_w}}{str(r.output_shape):<20}{r.params:>12,}")
    lines.append(f"{'total':<{name_w + kind_w + 20}}{sum(r.params for r in rows):>12,}")
    return "\n".join(lines)


def all_layers(model):
    """Every layer of `model`, those of nested models included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


# --- multiply-accumulates -------------------------------------------------------


def count_macs(model, rows):
    """Multiply-accumulates per example (an image, a sequence) of the conv, dense and recurrent layers.

    A conv layer does one MAC per kernel weight per output position; a dense
    layer, one per kernel weight (per time step, on a sequence); a recurrent
    layer (LSTM, GRU, SimpleRNN, one inside `Bidirectional` or `TruncatedBPTT`),
    one per input and recurrent kernel weight per time step, each direction of a
    bidirectional layer counted. An axis of open length (a sequence of any length)
    counts as one step. Biases, batch norm, pooling, activations and gates'
    element-wise products are not counted.

    Args:
        model: a built Keras model.
        rows: its `geometry.layer_table` rows.

    Returns:
        The MACs as an int.
    """
    total = 0
    for row in rows:
        layer = model.get_layer(row.name)
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):  # per output position or time step
            total += _weights(layer.kernel) * _steps(row.output_shape[:-1])
        elif cells := _recurrent_cells(layer):
            per_step = sum(_weights(cell.kernel) + _weights(cell.recurrent_kernel) for cell in cells)
            total += per_step * _steps(_sequence_shape(layer)[1:2])
    return total


def _weights(variable):
    return math.prod(variable.shape)


def _steps(dims):
    """Positions over `dims` (an open axis, None, counts as one)."""
    return math.prod(d or 1 for d in dims)


def _recurrent_cells(layer):
    """The recurrent cells that `layer` runs at each time step: an RNN's cell, both directions of a
    `Bidirectional`, the wrapped layer's of a wrapper (`TruncatedBPTT`); [] for any other layer."""
    if isinstance(layer, keras.layers.Bidirectional):
        return _recurrent_cells(layer.forward_layer) + _recurrent_cells(layer.backward_layer)
    if isinstance(layer, keras.layers.RNN):
        return list(getattr(layer.cell, "cells", [layer.cell]))  # StackedRNNCells holds several
    inner = getattr(layer, "layer", None)
    return _recurrent_cells(inner) if isinstance(inner, keras.layers.Layer) else []


def _sequence_shape(layer):
    """The (batch, time, features) shape of the sequence a recurrent layer reads.

    `layer.input` is a list when the layer was also given a mask (Embedding(mask_zero=True)
    before it) or initial states; the sequence is its one rank-3 tensor.
    """
    sequences = [t for t in keras.tree.flatten(layer.input) if len(t.shape) == 3]
    if len(sequences) != 1:
        raise ValueError(f"Layer {layer.name!r} reads {len(sequences)} rank-3 tensors; expected one sequence.")
    return tuple(sequences[0].shape)
