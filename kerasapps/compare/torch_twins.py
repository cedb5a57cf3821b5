"""Native PyTorch twins of the suite's networks, written as a PyTorch user writes them.

    twin = make_twin("lenet", {**MODELS.defaults("lenet5_modern"), "input_shape": (32, 32, 1)})
    logits = twin(images)                  # (N, C, H, W) float, or (N, T) token ids
    copy_keras_weights(twin, keras_model)  # the same function as the Keras model
    scores(twin, images)                   # softmax / sigmoid outputs, as Keras returns them

Each twin has the parameters of its Keras model, layer for layer, and keeps the
Keras layer names as its attribute names (`C1`, `F6`, `lstm`, `stage2_block1_conv1`),
so that `copy_keras_weights` can map one onto the other by name:

    Keras layer          Keras weights                      PyTorch module    PyTorch tensors
    Conv2D               kernel (kh, kw, in, out), bias      nn.Conv2d         weight (out, in, kh, kw), bias
    Dense                kernel (in, out), bias              nn.Linear         weight (out, in), bias
    BatchNormalization   gamma, beta, moving mean/variance   nn.BatchNorm2d    weight, bias, running_mean/var
    Embedding            embeddings (vocab, dim)             nn.Embedding      weight (vocab, dim)
    LSTM                 kernel (in, 4u), recurrent (u, 4u), nn.LSTM           weight_ih_l0 (4u, in), weight_hh_l0
                         bias (4u)                                             (4u, u), bias_ih_l0 = bias,
                                                                                               bias_hh_l0 = 0

Both LSTMs order their gates input, forget, cell, output, so the kernels only
transpose. A Dense layer after a Flatten of image maps reads pixels in Keras's
(H, W, C) order and PyTorch's (C, H, W) order; its rows are permuted on the way.

What differs from Keras, on purpose, because a PyTorch user writes it this way:
the twins return logits (the losses are `nn.CrossEntropyLoss` and
`nn.BCEWithLogitsLoss`; `scores` applies the softmax or sigmoid), images are
(N, C, H, W), and the LSTM's input dropout is an `nn.Dropout` on the embeddings
(Keras's `LSTM(dropout=...)` keeps one mask over all steps). What is made to
match so that equal weights give equal outputs: batch-norm epsilon and momentum
(Keras's 1e-3 and 0.99, PyTorch's `momentum=0.01`), and TensorFlow's "same"
padding of a stride-2 convolution on an even size, which pads the bottom and
right only (`nn.Conv2d(padding=1)` would pad both sides and shift the grid).
Made to match so that both sides do the same work: LeNet-5's C5, whose kernel covers
S4's whole map, is one matrix product on both (`models.full_map_conv`, `FullMapConv2d`).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kerasapps import settings
from kerasapps.errors import UserError, check_choice

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def keras_batch_norm(channels, keras_momentum=0.99):
    """nn.BatchNorm2d with Keras's BatchNormalization epsilon (1e-3) and momentum: Keras keeps
    `keras_momentum` of the moving statistics at each step, PyTorch's `momentum` is the rest."""
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=1 - keras_momentum)


# --- LeNet-5 ----------------------------------------------------------------------


class FullMapConv2d(nn.Conv2d):
    """nn.Conv2d computed as `F.linear` where its kernel covers the whole input map, as
    `kerasapps.models.full_map_conv.Conv2D` is on the Keras side (the same weights and results;
    `train.fast_layers` false builds both sides with the plain convolution)."""

    def forward(self, x):
        covers = tuple(x.shape[-2:]) == self.kernel_size and self.padding == (0, 0) and self.stride == (1, 1)
        if not covers:
            return super().forward(x)
        flat = F.linear(x.flatten(1), self.weight.flatten(1), self.bias)  # both in (C, kh, kw) order
        return flat.view(-1, self.out_channels, 1, 1)



class LeNet5(nn.Module):
    """LeNet-5 as `kerasapps.models.lenet.build_lenet` builds it; with `batch_norm`, each
    convolution has no bias and is followed by `<name>_bn`, as `models.common.conv_block` does."""

    def __init__(
        self, *, input_shape=(32, 32, 1), num_classes=10, activation="tanh", pooling="avg", c1_filters=6,
        c3_filters=16, c5_units=120, f6_units=84, kernel_size=5, c5="conv", dropout=0.0, batch_norm=False,
        bn_momentum=0.9,
    ):  # fmt: skip
        super().__init__()
        check_choice("activation", activation, tuple(ACTIVATIONS))
        check_choice("pooling", pooling, ("avg", "max"))
        check_choice("c5", c5, ("conv", "dense"))
        height, width, channels = input_shape
        Pool = nn.AvgPool2d if pooling == "avg" else nn.MaxPool2d
        self.bn_momentum = bn_momentum
        self.C1 = self._conv("C1", channels, c1_filters, kernel_size, batch_norm)
        self.C3 = self._conv("C3", c1_filters, c3_filters, kernel_size, batch_norm)
        self.act, self.pool, self.dropout = ACTIVATIONS[activation](), Pool(2), nn.Dropout(dropout)
        with torch.no_grad():  # S4's maps, by running C1..S4 on an empty image
            maps = tuple(self.pool(self.C3(self.pool(self.C1(torch.zeros(1, channels, height, width))))).shape[1:])
        if c5 == "conv":
            self.C5 = self._conv("C5", c3_filters, c5_units, kernel_size, batch_norm, Conv=FullMapConv2d if settings.fast_layers() else nn.Conv2d)
        else:
            self.C5 = nn.Linear(math.prod(maps), c5_units)
            self.C5.keras_input_maps = maps  # copy_keras_weights reorders its rows
        self.F6 = nn.Linear(c5_units, f6_units)
        self.output = nn.Linear(f6_units, num_classes)
        self.c5_is_conv = c5 == "conv"

    def _conv(self, name, inputs, filters, kernel_size, batch_norm, Conv=nn.Conv2d):
        """A convolution and, with `batch_norm`, its `<name>_bn` module (the forward pass applies both)."""
        if batch_norm:
            setattr(self, f"{name}_bn", keras_batch_norm(filters, self.bn_momentum))
        return Conv(inputs, filters, kernel_size, bias=not batch_norm)

    def _conv_act(self, name, x):
        x = getattr(self, name)(x)
        norm = getattr(self, f"{name}_bn", None)
        return self.act(norm(x) if norm is not None else x)

    def forward(self, x):
        x = self.pool(self._conv_act("C1", x))
        x = self.pool(self._conv_act("C3", x))
        x = torch.flatten(self._conv_act("C5", x), 1) if self.c5_is_conv else self.act(self.C5(torch.flatten(x, 1)))
        x = self.dropout(self.act(self.F6(self.dropout(x))))
        return self.output(x)


# --- the notes' LSTM sentiment model ----------------------------------------------


class LSTMClassifier(nn.Module):
    """Embedding -> LSTM -> Dense(relu) -> one logit, as `kerasapps.models.rnn.build_rnn` builds the `lstm` model.

    Token id 0 is padding, on the right of each review. The LSTM runs over the
    whole padded sequence and the state is read at each review's last real token,
    which is what Keras's masking gives (the padded steps come after it); unlike
    `pack_padded_sequence`, this exports with `torch.export`.
    """

    def __init__(
        self, *, vocab_size=20000, embedding_dim=128, units=128, dropout=0.0, pooling="last", dense_units=64,
        dense_dropout=0.0, embedding_dropout=0.0,
    ):  # fmt: skip
        super().__init__()
        if pooling != "last":  # ("pooling" is also LeNet's: it cannot sit in build_twin's REQUIRED)
            raise UserError(f"The PyTorch twin of an LSTM reads its last output; model.args.pooling={pooling!r} has none.")
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.embedding_dropout = nn.Dropout1d(embedding_dropout)  # whole dimensions, as SpatialDropout1D
        self.input_dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embedding_dim, units, batch_first=True)
        self.dense_dropout = nn.Dropout(dense_dropout)
        self.dense = nn.Linear(units, dense_units) if dense_units else None
        self.output = nn.Linear(dense_units or units, 1)

    def forward(self, ids):
        vectors = self.embedding_dropout(self.embedding(ids).transpose(1, 2)).transpose(1, 2)  # over (N, dim, steps)
        states, _ = self.lstm(self.input_dropout(vectors))
        last = (ids != 0).sum(dim=1).clamp(min=1) - 1
        x = self.dense_dropout(states[torch.arange(len(ids)), last])
        if self.dense is not None:
            x = F.relu(self.dense(x))
        return self.output(x)


# --- ResNet for CIFAR, option A ---------------------------------------------------


class SameConv2d(nn.Conv2d):
    """A 3x3 convolution padded as TensorFlow's "same": at stride 2 on an even size, bottom and right only."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, bias=False)

    def forward(self, x):
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad takes the last dimension first
            total = max((math.ceil(size / self.stride[0]) - 1) * self.stride[0] + self.kernel_size[0] - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and an option A shortcut: subsample, zero-pad the channels."""

    def __init__(self, in_channels, filters, stride):
        super().__init__()
        self.conv1 = SameConv2d(in_channels, filters, 3, stride)
        self.bn1 = keras_batch_norm(filters)
        self.conv2 = SameConv2d(filters, filters, 3)
        self.bn2 = keras_batch_norm(filters)
        self.stride, self.extra = stride, filters - in_channels

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            skip = F.pad(skip, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return F.relu(y + skip)


class ResNetCifar(nn.Module):
    """ResNet v1 for CIFAR (He et al. 2015, section 4.2) with option A shortcuts, like `resnet20`."""

    def __init__(
        self, *, stages=((16, 3, 1), (32, 3, 2), (64, 3, 2)), input_shape=(32, 32, 3), num_classes=10, stem_filters=16
    ):
        super().__init__()
        self.conv1 = SameConv2d(input_shape[-1], stem_filters, 3)
        self.conv1_bn = keras_batch_norm(stem_filters)
        blocks, channels = [], stem_filters
        self.keras_names = {"conv1": self.conv1, "conv1_bn": self.conv1_bn}
        for s, (filters, count, stride) in enumerate(stages, start=2):
            for b in range(1, count + 1):
                block = BasicBlock(channels, filters, stride if b == 1 else 1)
                name = f"stage{s}_block{b}"
                self.keras_names.update({
                    f"{name}_conv1": block.conv1, f"{name}_conv1_bn": block.bn1,
                    f"{name}_conv2": block.conv2, f"{name}_conv2_bn": block.bn2,
                })  # fmt: skip
                blocks.append(block)
                channels = filters
        self.blocks = nn.Sequential(*blocks)
        self.predictions = nn.Linear(channels, num_classes)
        self.keras_names["predictions"] = self.predictions

    def forward(self, x):
        x = self.blocks(F.relu(self.conv1_bn(self.conv1(x))))
        return self.predictions(x.mean(dim=(2, 3)))


# --- building a twin --------------------------------------------------------------

TWINS = {"lenet": LeNet5, "rnn": LSTMClassifier, "resnet": ResNetCifar}
# Keras builder arguments with no bearing on the PyTorch module (weight decay goes to the optimizer).
IGNORED = {"api", "name", "sequence_length", "weight_decay", "cell", "num_layers", "bidirectional",
           "recurrent_dropout", "block", "stem", "shortcut", "version", "conv_bias", "width", "tbptt_steps"}  # fmt: skip
# What the twins cover: the experiments' own settings (anything else has no twin yet).
REQUIRED = {
    "cell": "lstm", "num_layers": 1, "bidirectional": False, "recurrent_dropout": 0.0,
    "block": "basic", "stem": "cifar", "shortcut": "identity", "version": 1, "conv_bias": False, "width": 1.0,
    "tbptt_steps": None,
}  # fmt: skip


def make_twin(family, arguments):
    """The PyTorch twin of a model of `family` built with the Keras builder's `arguments`, all of
    them (the registered defaults filled in: `compare.run.twin_arguments`), so that this module
    needs no Keras: the PyTorch sides run without TensorFlow loaded.

    Raises:
        UserError: a family without a twin, or a setting the twin does not cover.
    """
    if family not in TWINS:
        raise UserError(f"{arguments.get('name')!r} has no PyTorch twin; twins exist for the {', '.join(TWINS)} families.")
    for key, needed in REQUIRED.items():
        if key in arguments and arguments[key] != needed:
            raise UserError(
                f"The PyTorch twin of {arguments.get('name')} needs model.args.{key}={needed}, got {arguments[key]!r}."
            )
    return TWINS[family](**{k: v for k, v in arguments.items() if k not in IGNORED})


def parameter_count(twin):
    """The twin's parameters as Keras counts its model's: batch-norm running statistics included
    (Keras counts its moving mean and variance), nn.LSTM's second bias vector `bias_hh` left out
    (Keras's LSTM has one bias; the two add up to it, so the function is the same)."""
    count = sum(p.numel() for name, p in twin.named_parameters() if ".bias_hh" not in name)
    return count + sum(b.numel() for name, b in twin.named_buffers() if name.endswith(("running_mean", "running_var")))


def scores(twin, x):
    """The twin's outputs as Keras gives them: softmax probabilities, or a sigmoid for one logit."""
    logits = twin(x)
    return torch.sigmoid(logits) if logits.shape[-1] == 1 else torch.softmax(logits, dim=-1)


def to_channels_first(images):
    """(N, H, W, C) arrays, as the suite's datasets hold images, to (N, C, H, W) in a fresh C-order copy.

    A copy, not `np.ascontiguousarray`: with one channel the moved view already counts as contiguous
    but keeps odd strides, which ExecuTorch reads as a channels-last layout and refuses."""
    return np.array(np.moveaxis(images, -1, 1), order="C") if images.ndim == 4 else images


# --- Keras weights into a twin ----------------------------------------------------


def copy_keras_weights(twin, keras_model):
    """Load the weights of `keras_model` (any Keras backend) into its `twin`, matching layers by name.

    See the module docstring for the mapping. Returns the twin.

    Raises:
        UserError: a Keras layer with weights that the twin lacks, or shapes that do not fit.
    """
    modules = getattr(twin, "keras_names", None) or dict(twin.named_children())
    for layer in keras_model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if layer.name not in modules:
            raise UserError(f"The twin {type(twin).__name__} has no module for Keras layer {layer.name!r}.")
        tensors = _torch_tensors(layer, weights, modules[layer.name])
        with torch.no_grad():
            for name, value in tensors.items():
                target = getattr(modules[layer.name], name)
                if tuple(target.shape) != value.shape:
                    raise UserError(
                        f"Layer {layer.name!r}: {name} is {tuple(target.shape)} in the twin, {value.shape} from Keras."
                    )
                target.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return twin


def _torch_tensors(layer, weights, module):
    """A Keras layer's weights as {PyTorch tensor name: array}."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        return dict(zip(("weight", "bias"), (weights[0].transpose(3, 2, 0, 1), *weights[1:])))
    if kind == "Dense":
        kernel = weights[0]
        maps = getattr(module, "keras_input_maps", None)
        if maps:  # rows in (H, W, C) order -> (C, H, W)
            channels, height, width = maps
            kernel = kernel.reshape(height, width, channels, -1).transpose(2, 0, 1, 3).reshape(kernel.shape)
        return dict(zip(("weight", "bias"), (kernel.T, *weights[1:])))
    if kind == "BatchNormalization":
        return dict(zip(("weight", "bias", "running_mean", "running_var"), weights))
    if kind == "Embedding":
        return {"weight": weights[0]}
    if kind == "LSTM":
        kernel, recurrent, bias = weights
        return {
            "weight_ih_l0": kernel.T,
            "weight_hh_l0": recurrent.T,
            "bias_ih_l0": bias,
            "bias_hh_l0": np.zeros_like(bias),
        }
    raise UserError(f"copy_keras_weights does not know Keras layer type {kind} ({layer.name!r}).")
