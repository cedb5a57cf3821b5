"""What every training row measures the same way: time to the first step, throughput, peak memory."""

import resource
import sys
import time


class FirstStep:
    """Notes the end of the first training call (`step_done`, from a Keras callback or a PyTorch loop).

    `seconds` counts from `started` (the worker's start, before any framework was
    imported), so it holds imports, model building and any tracing or compiling.
    """

    def __init__(self, started, batch_size):
        self.started, self.batch_size = started, batch_size
        self.seconds = self.at = None
        self.examples = 0

    def step_done(self, steps):
        if self.at is None:
            self.at = time.perf_counter()
            self.seconds = round(self.at - self.started, 2)
            self.examples = steps * self.batch_size


def throughput(examples, start, end, first):
    """Training images (or sequences) per second after the first call (which holds any tracing or
    compiling; over the whole fit if there was only one call), and over the whole fit."""
    later = examples - min(first.examples, examples)
    steady = later / (end - first.at) if later and first.at and end > first.at else None
    overall = examples / (end - start)
    return {
        "train_time_s": round(end - start, 2),
        "train_per_s": round(steady or overall, 1),
        "train_per_s_overall": round(overall, 1),
    }


def peak_memory_mb():
    """The process's peak resident memory in MB (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)
