"""Benchmark: the time from the command to a good model, against the scripts users copy instead.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_time_to_accuracy.py lenet --rounds 3
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_time_to_accuracy.py lstm --rounds 1
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_time_to_accuracy.py resnet20 --rounds 3

Each round runs every contender of the experiment once, each alone in a fresh process, in an
order that alternates from round to round. The contenders (`CONTENDERS`):

- "kerasapps train": the command as a user types it, with its default config and
  `callbacks.time_to_accuracy` set to the experiment's `TARGETS` (lenet's config has them; for
  lstm this adds a pass over the 25,000 test reviews to each epoch's wall time). Its test accuracy
  after each epoch and its time to each target come from its metrics.json.
- "keras-io convnet": keras.io's "Simple MNIST convnet" (two 3x3 convolutions, dropout 0.5,
  Adam, batch 128, 15 epochs, `validation_split=0.1`), on NumPy arrays read from the same IDX files.
- "pytorch/examples mnist": pytorch/examples' `mnist/main.py` (two convolutions, two dropouts,
  Adadelta at 1.0 with StepLR 0.7, batch 64); its 14 epochs are capped at `--examples-epochs`
  (its schedule does not depend on the total, so the epochs it runs are the script's). The
  script's per-image `Normalize` is done once up front, so it runs, if anything, faster here.
- "keras-io bilstm": keras.io's "Bidirectional LSTM on IMDB" (20,000 words, 200 ids padded and cut
  at the start, two Bidirectional(LSTM(64)), Adam, batch 32, 2 epochs, validating on the test
  split as the script does: that pass is its test accuracy), on the aclImdb reviews tokenized by
  our loader (the script's `keras.datasets.imdb` comes tokenized, so its wall time here includes
  tokenizing, as ours does).
- "pytorch twin": the experiment's PyTorch twin (`kerasapps.compare.torch_twins`) trained with the
  same config in a plain loop (`kerasapps.compare.torch_side.train_native`): optimizer,
  schedule, batch, split, epochs; no augmentation (it has no shifts or crops).

Every contender's test accuracy is measured after each epoch, outside its clock, so "train_s"
and the time to each target are training time only; "wall_s" is the whole process, imports and
data included: what a user waits. resnet20 is a short run (`SHORT_RUNS`: 300 steps of 128
images), for images/s against the twin; its accuracy after 300 steps is far from trained.

Writes one row per contender and round to bench/results/time_to_accuracy.csv, each with the
host's CPU model and flags (`kerasapps.training.fit.cpu`), and prints the medians. Run it
alone on the machine.
"""

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "time_to_accuracy.csv"
CONTENDERS = {
    "lenet": ("kerasapps train", "keras-io convnet", "pytorch/examples mnist", "pytorch twin"),
    "lstm": ("kerasapps train", "keras-io bilstm", "pytorch twin"),
    "resnet20": ("kerasapps train", "pytorch twin"),
}
TARGETS = {"lenet": (0.99, 0.993), "lstm": (0.85, 0.88), "resnet20": ()}
SHORT_RUNS = {
    "resnet20": ["train.epochs=1", "data.limit_train=38400", "data.validation_split=0", "callbacks.checkpoint=false"]
}
USER_ENVIRONMENT = dict(os.environ)  # the contenders start from the user's environment


# --- the contenders that are not our command, each `--worker NAME EXPERIMENT` in its own process ---


class Clock:
    """Training seconds, paused while the test split is evaluated after each epoch."""

    def __init__(self):
        self.start, self.paused, self.epochs = time.perf_counter(), 0.0, []

    def epoch_done(self, evaluate):
        seconds = time.perf_counter() - self.start - self.paused
        accuracy = float(evaluate())
        self.paused = time.perf_counter() - self.start - seconds
        self.epochs.append({"epoch": len(self.epochs) + 1, "train_s": round(seconds, 2), "test_accuracy": accuracy})
        print(f"  epoch {len(self.epochs)}: {accuracy:.2%} after {seconds:.1f} s", file=sys.stderr, flush=True)


def mnist_arrays():
    """MNIST as the scripts load it: uint8 28x28 images and labels, from the local IDX files."""
    from kerasapps import settings
    from kerasapps.data.mnist import find_idx_folder, read_idx_folder

    folder = find_idx_folder(settings.data_dir(), ["mnist"])
    if folder is None:
        sys.exit("No MNIST IDX files: set KERASAPPS_DATA_DIR to the folder that holds mnist/.")
    return read_idx_folder(folder)


def keras_io_convnet(epochs):
    import keras
    import numpy as np

    data = mnist_arrays()
    (x, y), (x_test, y_test) = data["train"], data["test"]
    x, x_test = (np.expand_dims(a.astype("float32") / 255, -1) for a in (x, x_test))
    y, y_test = keras.utils.to_categorical(y, 10), keras.utils.to_categorical(y_test, 10)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    clock = Clock()
    done = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda *_: clock.epoch_done(lambda: model.evaluate(x_test, y_test, verbose=0)[1])
    )
    model.fit(x, y, batch_size=128, epochs=epochs or 15, validation_split=0.1, callbacks=[done], verbose=0)
    return clock.epochs, int(len(x) * 0.9)  # Keras trains on the first 90%


def pytorch_examples_mnist(epochs):
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
            self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
            self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            x = F.relu(self.fc1(torch.flatten(self.dropout1(x), 1)))
            return F.log_softmax(self.fc2(self.dropout2(x)), dim=1)

    torch.manual_seed(1)  # the script's --seed default
    data = mnist_arrays()
    (x, y), (x_test, y_test) = (
        (((torch.from_numpy(images).float() / 255 - 0.1307) / 0.3081).unsqueeze(1), torch.from_numpy(labels).long())
        for images, labels in (data["train"], data["test"])
    )
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True)
    model = Net()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)

    @torch.no_grad()
    def test_accuracy():
        model.eval()
        right = sum(int((model(x_test[i : i + 1000]).argmax(1) == y_test[i : i + 1000]).sum()) for i in range(0, len(x_test), 1000))
        return right / len(x_test)

    clock = Clock()
    for _ in range(epochs or 14):
        model.train()
        for images, labels in loader:
            optimizer.zero_grad()
            F.nll_loss(model(images), labels).backward()
            optimizer.step()
        clock.epoch_done(test_accuracy)
        scheduler.step()
    return clock.epochs, len(x)


def keras_io_bilstm(epochs):
    import keras

    from kerasapps import settings
    from kerasapps.data import load_dataset

    # Our loader tokenizes the same reviews; the script's ids are padded and cut at the start ("pre").
    options = {"vocab_size": 20000, "sequence_length": 200, "truncate": "start"}
    dataset = load_dataset("imdb", data_dir=settings.data_dir(), options=options, log=lambda _: None)
    x, x_test = (left_padded(a) for a in (dataset.x_train, dataset.x_test))
    inputs = keras.Input(shape=(None,), dtype="int32")
    hidden = keras.layers.Embedding(20000, 128)(inputs)
    hidden = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(hidden)
    hidden = keras.layers.Bidirectional(keras.layers.LSTM(64))(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

    class ValidationIsTheTest(keras.callbacks.Callback):
        """The script validates on the test split each epoch: its accuracy is the test accuracy, and
        its time is left out of the clock, as the other contenders' test passes are."""

        def on_train_begin(self, logs=None):
            self.start, self.paused, self.epochs = time.perf_counter(), 0.0, []

        def on_test_begin(self, logs=None):
            self.test_start = time.perf_counter()

        def on_test_end(self, logs=None):
            self.paused += time.perf_counter() - self.test_start

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.start - self.paused
            self.epochs.append({"epoch": epoch + 1, "train_s": round(seconds, 2), "test_accuracy": logs["val_accuracy"]})

    clock = ValidationIsTheTest()
    model.fit(x, dataset.y_train, batch_size=32, epochs=epochs or 2, validation_data=(x_test, dataset.y_test),
              callbacks=[clock], verbose=0)  # fmt: skip
    return clock.epochs, len(x)


def left_padded(ids):
    """Rows of right-padded token ids moved to the right end, as keras.utils.pad_sequences pads."""
    import numpy as np

    lengths = (ids != 0).sum(axis=1)
    return np.stack([np.roll(row, len(row) - n) for row, n in zip(ids, lengths)])


def pytorch_twin(experiment, overrides):
    from kerasapps import settings
    from kerasapps.compare.run import twin_arguments
    from kerasapps.compare.torch_side import accuracy, predict, train_native
    from kerasapps.config import load_config
    from kerasapps.data import load_experiment_data

    config = load_config(experiment, overrides=overrides)
    dataset, (x, y), _ = load_experiment_data(config, data_dir=settings.data_dir(), log=lambda _: None)
    arrays = {"x_train": x, "y_train": y, "x_test": dataset.x_test, "y_test": dataset.y_test}
    job = {"twin": twin_arguments(config, dataset.info.model_kwargs)}
    clock = Clock()
    epoch_done = lambda twin: clock.epoch_done(lambda: accuracy(predict(twin, dataset.x_test), dataset.y_test))  # noqa: E731
    train_native(job, config, arrays, started=time.perf_counter(), epoch_done=epoch_done)
    return clock.epochs, len(x)


WORKERS = {
    "keras-io convnet": keras_io_convnet,
    "pytorch/examples mnist": pytorch_examples_mnist,
    "keras-io bilstm": keras_io_bilstm,
}


def worker(name, experiment, overrides, epochs=None):
    """Run one contender here and print its epochs as JSON; `epochs` caps a script's own count (None: all)."""
    if name == "pytorch twin":
        epochs_done, examples = pytorch_twin(experiment, overrides)
    else:
        epochs_done, examples = WORKERS[name](epochs)
    print(json.dumps({"epochs": epochs_done, "train_examples": examples}))


# --- rounds, CSV and summary ---------------------------------------------------------


def run_contender(name, experiment, overrides, runs_dir, examples_epochs):
    """One contender in a fresh process: (its epochs [{epoch, train_s, test_accuracy}], training examples
    an epoch, whole-process wall seconds, peak resident MB)."""
    sets = [arg for override in overrides for arg in ("--set", override)]
    if name == "kerasapps train":
        command = [sys.executable, "-m", "kerasapps", "train", experiment, "--runs-dir", runs_dir, *sets]
    else:
        command = [sys.executable, __file__, "--worker", name, experiment, *sets]
        if name == "pytorch/examples mnist":
            command += ["--examples-epochs", str(examples_epochs)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=USER_ENVIRONMENT)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own peak memory
        wall = time.perf_counter() - start
        out.seek(0), err.seek(0)
        out, err = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{name} failed:\n{err[-3000:]}")
    if name == "kerasapps train":
        metrics_file = max(pathlib.Path(runs_dir).glob(f"{experiment}/*/metrics.json"), key=os.path.getmtime)
        metrics = json.loads(metrics_file.read_text())
        last = {"epoch": metrics["epochs"], "train_s": metrics["train_time_s"], "test_accuracy": metrics["test_accuracy"]}
        epochs_done, examples = metrics["test_accuracy_by_epoch"] or [last], metrics["examples"]["train"]
    else:
        result = json.loads(out.strip().splitlines()[-1])
        epochs_done, examples = result["epochs"], result["train_examples"]
    return epochs_done, examples, wall, usage.ru_maxrss / 1024


def summary_row(epochs_done, examples, targets):
    """Final and best test accuracy, training seconds, images/s and the training seconds to each target."""
    accuracies = [e["test_accuracy"] for e in epochs_done]
    row = {
        "epochs": len(epochs_done),
        "final_test_accuracy": round(accuracies[-1], 4),
        "best_test_accuracy": round(max(accuracies), 4),
        "train_s": epochs_done[-1]["train_s"],
        "train_images_per_s": round(examples * len(epochs_done) / epochs_done[-1]["train_s"], 1),
        "test_accuracy_by_epoch": " ".join(f"{a:.4f}" for a in accuracies),
    }
    for target in targets:
        reached = next((e for e in epochs_done if e["test_accuracy"] >= target), None)
        row[f"s_to_{target:.1%}"] = reached["train_s"] if reached else None
        row[f"epoch_to_{target:.1%}"] = reached["epoch"] if reached else None
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=sorted(CONTENDERS))
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every contender (default: 3)")
    parser.add_argument("--contenders", nargs="+", metavar="NAME", help="a subset of the experiment's (default: all)")
    parser.add_argument("--examples-epochs", type=int, default=3,
                        help="epochs of pytorch/examples' 14 to run (default: 3; 0: all)")  # fmt: skip
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for our command and the twin (a quick check: train.epochs=1)")  # fmt: skip
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    targets = TARGETS[args.experiment]
    measured = [f"callbacks.time_to_accuracy=[{', '.join(map(str, targets))}]"] if targets else []
    overrides = [*SHORT_RUNS.get(args.experiment, []), *measured, *args.overrides]
    if args.worker:
        capped = args.worker == "pytorch/examples mnist" and args.examples_epochs
        return worker(args.worker, args.experiment, overrides, args.examples_epochs if capped else None)
    contenders = args.contenders or CONTENDERS[args.experiment]
    unknown = set(contenders) - set(CONTENDERS[args.experiment])
    if unknown:
        parser.error(f"{args.experiment} has no contender {', '.join(sorted(unknown))}: pick from {CONTENDERS[args.experiment]}")

    stamp, rows = datetime.datetime.now().isoformat(timespec="seconds"), []
    with tempfile.TemporaryDirectory(prefix="bench-tta-") as runs_dir:
        for round_index in range(args.rounds):
            for name in contenders if round_index % 2 == 0 else contenders[::-1]:
                epochs_done, examples, wall, peak = run_contender(name, args.experiment, overrides, runs_dir, args.examples_epochs)
                row = {"date": stamp, "experiment": args.experiment, "round": round_index + 1, "contender": name,
                       "wall_s": round(wall, 1), "peak_memory_mb": round(peak),
                       **summary_row(epochs_done, examples, targets)}  # fmt: skip
                rows.append(row)
                print(f"round {round_index + 1} {name:24s} {row['final_test_accuracy']:.2%} (best {row['best_test_accuracy']:.2%}) "
                      f"wall {wall:6.1f} s  train {row['train_s']:6.1f} s  {row['train_images_per_s']:8.1f} img/s  "
                      f"{peak:5.0f} MB", flush=True)  # fmt: skip
    import pandas as pd  # only now: wait4's peak counts the parent's memory at each fork

    from kerasapps.training.fit import cpu

    frame = pd.DataFrame(rows)
    if "pytorch twin" in contenders:
        twin = frame[frame.contender == "pytorch twin"].set_index("round").train_images_per_s
        frame["images_per_s_vs_twin"] = (frame.train_images_per_s / frame["round"].map(twin)).round(3)
    model, flags = cpu()
    frame["cpu"], frame["cpu_flags"] = model, " ".join(flags) or "no avx2"
    frame["overrides"], frame["onednn"] = " ".join(overrides), USER_ENVIRONMENT.get("TF_ENABLE_ONEDNN_OPTS", "default")
    RESULTS.parent.mkdir(exist_ok=True)
    earlier = pd.read_csv(RESULTS) if RESULTS.exists() else None
    pd.concat([earlier, frame], ignore_index=True).to_csv(RESULTS, index=False)
    numbers = [c for c in frame.columns if c.startswith(("wall", "train_", "s_to", "final", "peak", "images_per"))]
    print(f"\nmedians over {args.rounds} rounds on {model} ({' '.join(flags)}):")
    print(frame.groupby("contender", sort=False)[numbers].median().to_string())
    print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
