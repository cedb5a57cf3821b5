"""PNG figures: training curves, a confusion matrix, a search's trials, a comparison; the course's grids and feature maps."""

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_history(history_csv, png_path, title=""):
    """Loss and accuracy per epoch (train and validation) from Keras's CSV log."""
    history = pd.read_csv(history_csv)
    metrics = [m for m in ("loss", "accuracy") if m in history]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.8), squeeze=False)
    epochs = history["epoch"] + 1
    for ax, metric in zip(axes[0], metrics):
        ax.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    _save(fig, png_path)


def plot_confusion(matrix, class_names, png_path, title=""):
    """A confusion matrix as a heat map with counts (rows: true class, columns: predicted)."""
    n = len(class_names)
    size = max(4.0, 0.5 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = matrix.max() / 2
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black")
    ax.set_title(title)
    _save(fig, png_path)


def plot_trials(trials, png_path, objective, direction, title=""):
    """The objective of each completed trial in search order, and the best so far.

    `trials` is the table of `kerasapps.search.tuner.trials_table`; `direction` is "max" or "min".
    """
    done = trials[trials["status"] == "COMPLETED"]
    order = range(1, len(trials) + 1)
    values = pd.Series(pd.to_numeric(trials[objective], errors="coerce").to_numpy(), index=order)
    completed = values[(trials["status"] == "COMPLETED").to_numpy()]
    best = completed.cummax() if direction == "max" else completed.cummin()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(completed.index, completed, "o", label=f"trial ({len(done)} completed)")
    ax.step(best.index, best, where="post", label="best so far")
    failed = [i for i, status in zip(order, trials["status"]) if status == "FAILED"]
    if failed:
        ax.plot(failed, [completed.min() if len(completed) else 0] * len(failed), "x", color="red",
                label=f"failed ({len(failed)})")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("trial (in search order)")
    ax.set_ylabel(objective)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    _save(fig, png_path)


def plot_comparison(panels, png_path, title=""):
    """One horizontal bar chart per panel: `panels` maps a measure to {bar label: value}."""
    panels = {name: bars for name, bars in panels.items() if bars}
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.5 * max(len(panels), 1), 3.8), squeeze=False)
    for ax, (name, bars) in zip(axes[0], panels.items()):
        ax.barh(list(bars), list(bars.values()), color="tab:blue")
        ax.invert_yaxis()
        ax.set_title(name)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    _save(fig, png_path)


def _save(fig, png_path):
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


def plot_grids(panels, png_path, title=""):
    """Matrices side by side, each a heat map with its values written in: the course notes' drawings.

    `panels` is a list of (caption, 2-D array); arrays larger than 12x12 are drawn without numbers.
    """
    columns = min(len(panels), 5)
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (caption, matrix) in zip(axes.flat, panels):
        ax.imshow(matrix, cmap="gray")
        if max(matrix.shape) <= 12:
            spread = float(matrix.max() - matrix.min()) or 1.0
            for (i, j), value in np.ndenumerate(matrix):
                light = (value - matrix.min()) / spread > 0.5
                ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=8, color="black" if light else "white")
        ax.set_title(f"{caption}\n{matrix.shape[0]}x{matrix.shape[1]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    _save(fig, png_path)


def plot_maps(sections, png_path, title="", columns=16):
    """Rows of small images (filters, feature maps, a hidden state), one section per caption.

    `sections` is a list of (caption, array of shape (count, height, width)); each
    section shows at most `columns` images in one row.
    """
    fig, axes = plt.subplots(len(sections), columns, figsize=(columns * 0.9, 1.25 * len(sections) + 0.6), squeeze=False)
    for row, (caption, images) in zip(axes, sections):
        for k, ax in enumerate(row):
            ax.axis("off")
            if k < len(images):
                ax.imshow(images[k], cmap="viridis", aspect="auto")
        row[0].set_title(caption, fontsize=8, loc="left")
    fig.suptitle(title)
    _save(fig, png_path)


def plot_sequence(states, tokens, png_path, title="", max_tokens=80):
    """A recurrent layer's hidden state as a heat map: one column per token (labelled), one row per unit."""
    shown = states[:max_tokens]
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(shown) + 2), 4.5))
    ax.imshow(shown.T, cmap="RdBu_r", aspect="auto", vmin=-1, vmax=1)
    ax.set_xticks(range(len(shown)), tokens[: len(shown)], rotation=90, fontsize=7)
    ax.set_ylabel("unit")
    ax.set_title(title, fontsize=9)
    _save(fig, png_path)


def plot_curves(curves, png_path, *, xlabel, ylabel, title="", log_y=False):
    """Lines on one axis: `curves` maps a label to its y values (x = 1, 2, ...)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=label)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title, fontsize=9)
    _save(fig, png_path)
