"""PNG figures a run leaves behind: training curves, a confusion matrix, a search's trials, a comparison."""

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
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
