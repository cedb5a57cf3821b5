"""The course notes' PyTorch code, reproduced and run rather than only quoted.

Three snippets: a `LinearModel` (one `nn.Linear`) fitted with Adam and MSE, an
`nn.LSTM(10, 128)` applied to a batch, and the notes' CNN (a 3x32x32 input, 6 and
16 filters, 120-84-10). The CNN as the notes print it has no activation
function between its layers; it is run as printed and with ReLU added, trained
alike, so that the report shows what the missing activations cost.
"""

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kerasapps.scores import accuracy

# --- the notes' code --------------------------------------------------------------


class LinearModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)


class NotesCNN(nn.Module):
    """The notes' CNN; `activations=False` is the code as printed (no ReLU anywhere)."""

    def __init__(self, activations=True):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.act = F.relu if activations else (lambda x: x)

    def forward(self, x):
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        return self.fc3(x)


# --- running them -----------------------------------------------------------------


def run_notes(arrays, *, seed=0, epochs=1):
    """Run the three snippets; the CNN trains `epochs` epochs in batches of 64 on the experiment's
    images when they are 32x32 (gray images repeated to 3 channels). Returns a list of rows."""
    torch.manual_seed(seed)
    rows = [_linear_model(), _lstm()]
    x_train = arrays["x_train"]
    if x_train.ndim == 4 and x_train.shape[1:3] == (32, 32):
        for activations in (False, True):
            rows.append(_cnn(arrays, activations, seed=seed, steps=epochs * -(-len(x_train) // 64)))
    else:
        rows.append(
            {"snippet": "notes' CNN", "result": "not run: the experiment's inputs are not 32x32 images (try lenet)"}
        )
    return rows


def _linear_model():
    x = torch.linspace(-1, 1, 100).reshape(-1, 1)
    y = 2 * x + 1
    model, criterion = LinearModel(), nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(1000):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    weight, bias = model.linear.weight.item(), model.linear.bias.item()
    return {
        "snippet": "LinearModel, Adam(lr=0.01), MSELoss, 1000 steps on y = 2x + 1",
        "result": f"learned y = {weight:.3f}x + {bias:.3f}, final MSE {loss.item():.2e}",
    }


def _lstm():
    lstm = nn.LSTM(10, 128)
    output, (h, c) = lstm(torch.randn(5, 3, 10))  # (steps, batch, features): not batch_first
    count = sum(p.numel() for p in lstm.parameters())
    return {
        "snippet": "nn.LSTM(10, 128) on a (5, 3, 10) input",
        "result": f"output {tuple(output.shape)}, h and c {tuple(h.shape)}; {count:,} parameters "
        f"(Keras's LSTM(128) on 10 features has {4 * 128 * (10 + 128 + 1):,}: one bias where PyTorch has two)",
    }


def _cnn(arrays, activations, *, seed, steps, batch=64):
    def images(x):
        x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    torch.manual_seed(seed)
    model = NotesCNN(activations)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x_train, y_train = arrays["x_train"], torch.from_numpy(arrays["y_train"]).long()
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for step in range(steps):
        index = torch.randint(len(x_train), (batch,), generator=generator)
        loss = F.cross_entropy(model(images(x_train[index.numpy()])), y_train[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        logits = torch.cat([model(images(arrays["x_test"][i : i + 512])) for i in range(0, len(arrays["x_test"]), 512)])
    label = "with ReLU added" if activations else "as printed, no activations"
    return {
        "snippet": f"notes' CNN, {label}: SGD(lr=0.01, momentum=0.9), {steps} batches of {batch}",
        "result": f"test accuracy {accuracy(logits.numpy(), arrays['y_test']):.2%} ({seconds:.1f} s), "
        f"{sum(p.numel() for p in model.parameters()):,} parameters",
    }
