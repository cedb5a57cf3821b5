"""What every training row measures the same way (time to the first step, throughput, peak memory), and the
time limit of a deployment row."""

import contextlib
import pathlib
import resource
import signal
import sys
import threading
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
    """This process's peak resident memory in MB.

    On Linux, VmHWM from /proc/self/status: `ru_maxrss` keeps the high-water mark
    across fork and exec, so a worker would report at least its parent's memory
    (the parent holds the dataset: every side of an LSTM comparison read 1,404 MB).
    """
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 2**10, 1)  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # macOS reports bytes
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


# seconds each ExecuTorch or litert-torch file may take to lower or convert: the 400-step LSTM's take minutes
DEFAULT_DEPLOY_TIME_LIMIT = 900


class TimedOut(Exception):
    """Raised inside a `time_limit` block that ran past its `seconds`."""

    def __init__(self, seconds):
        # kept apart from args, which torch.fx extends with its graph when the error passes through it
        self.message = f"timed out after {seconds:g} s"
        super().__init__(self.message)


@contextlib.contextmanager
def time_limit(seconds):
    """Raise `TimedOut` in the block once `seconds` have passed (None: no limit).

    A SIGALRM timer: it interrupts Python code (ExecuTorch's lowering passes are
    Python), not a long call inside C++, which it stops only when the call returns.
    Needs the main thread of a POSIX process, as a comparison worker is; elsewhere
    the block runs without a limit."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    inside = [True]

    def stop(signum, frame):
        if inside[0]:
            raise TimedOut(seconds)

    previous = signal.signal(signal.SIGALRM, stop)
    # then every 0.25 s: an exception raised inside a garbage-collection callback or __del__ is dropped
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)
    try:
        yield
    finally:
        inside[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def timed_out(error):
    """The `TimedOut` behind `error` (a library may catch it and raise its own error instead), or None."""
    while error is not None and not isinstance(error, TimedOut):
        error = error.__cause__ or error.__context__
    return error
