"""Processes that train together: the KERAS_DISTRIBUTION_* variables, and N local ones started as a group.

The library behind `kerasapps launch`:

    group = ProcessGroup(["train", "lenet"], processes=2)
    code = group.run(timeout=3600)     # 0 when every process succeeded

Each process gets the `KERAS_DISTRIBUTION_*` variables (read by Keras; see
`training.distribution`) with process 0 as the coordinator on 127.0.0.1, and the JAX backend unless
KERAS_BACKEND says otherwise. Process 0's output is streamed; the others' is
kept (the last lines are shown if one fails). If any process fails or is killed,
the others are stopped at once: a process waiting in a collective for a dead peer
would otherwise hang. Each process leads its own process group, so stopping it
stops what it started too.
"""

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from kerasapps.errors import UserError, check_at_least
from kerasapps.settings import ADDRESSES_ENV, PROCESS_ID_ENV, PROCESSES_ENV

KEPT_LINES = 20  # of a failed process's output, shown with the failure
STOP_GRACE_S = 5  # between SIGTERM and SIGKILL


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on now (for process 0's coordinator)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class ProcessGroup:
    """N processes of `python -m kerasapps COMMAND ...`, started, watched and stopped together.

    Args:
        command: the kerasapps command and its arguments, e.g. ["train", "lenet", "--set", "train.epochs=3"].
        processes: how many (at least 1).
        port: the coordinator's port on 127.0.0.1 (default: a free one).
        out, err: where process 0's stdout and stderr go.
        env: variables to set in every process, over this process's environment.
        keep_output: keep every process's whole output in `outputs` (tests read them), not only the last lines.
    """

    def __init__(self, command, *, processes, port=None, out=None, err=None, env=None, keep_output=False):
        check_at_least("--processes", processes, 1)
        self.command = list(command)
        self.processes = processes
        self.address = f"127.0.0.1:{port or free_port()}"
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.env = {**os.environ, **(env or {})}
        self.outputs = [collections.deque(maxlen=None if keep_output else KEPT_LINES) for _ in range(processes)]
        self.popens = []
        self._readers = []

    def start(self):
        """Start every process; returns self."""
        for process_id in range(self.processes):
            env = {
                **self.env,
                "KERAS_BACKEND": self.env.get("KERAS_BACKEND", "jax"),
                ADDRESSES_ENV: self.address,
                PROCESSES_ENV: str(self.processes),
                PROCESS_ID_ENV: str(process_id),
                "PYTHONUNBUFFERED": "1",
            }
            popen = subprocess.Popen(
                [sys.executable, "-m", "kerasapps", *self.command],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, errors="replace", start_new_session=True,
            )
            self.popens.append(popen)
            for pipe, sink in ((popen.stdout, self.out), (popen.stderr, self.err)):
                reader = threading.Thread(
                    target=self._read, args=(pipe, self.outputs[process_id], sink if process_id == 0 else None), daemon=True
                )
                reader.start()
                self._readers.append(reader)
        return self

    @staticmethod
    def _read(pipe, kept, sink):
        for line in pipe:
            kept.append(line)
            if sink is not None:
                sink.write(line)
                sink.flush()

    def wait(self, timeout=None, poll_s=0.2):
        """Wait until every process has ended, or one failed, or `timeout` seconds passed.

        Returns 0 when all succeeded; else stops the others, writes why on `err`, and
        returns the failed process's exit code (1 when it was killed or timed out).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            codes = [p.poll() for p in self.popens]
            failed = [i for i, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                return self._fail(failed[0], codes[failed[0]])
            if all(code == 0 for code in codes):
                self._drain()
                return 0
            if deadline is not None and time.monotonic() > deadline:
                running = [i for i, code in enumerate(codes) if code is None]
                self.stop()
                self.err.write(
                    f"error: the launch timed out after {timeout:g} s with process(es) {', '.join(map(str, running))} "
                    "still running; stopped them all. Give a larger --timeout, or look for a process that waits "
                    "for a peer that never came.\n"
                )
                return 1
            time.sleep(poll_s)

    def run(self, timeout=None):
        """Start, wait, and stop whatever still runs however the wait ends (Ctrl-C or a `kill` included)."""
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.start()
            return self.wait(timeout)
        finally:
            self.stop()
            signal.signal(signal.SIGTERM, previous)

    def _fail(self, process_id, code):
        self.stop()
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        self.err.write(f"error: process {process_id} of {self.processes} {how}; stopped the others.\n")
        if process_id:
            self.err.write(f"Its last lines:\n{''.join(self.outputs[process_id])}")
        return code if code > 0 else 1

    def stop(self):
        """End every process still running (SIGTERM to its process group, then SIGKILL)."""
        running = [p for p in self.popens if p.poll() is None]
        for popen in running:
            _signal_group(popen, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for popen in running:
            try:
                popen.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(popen, signal.SIGKILL)
                popen.wait()
        self._drain()

    def _drain(self):
        for reader in self._readers:
            reader.join(timeout=STOP_GRACE_S)


def _interrupt(signum, frame):
    """SIGTERM to the launcher: stop as Ctrl-C does, so that its processes are stopped too (they lead
    their own process groups, so a signal to the launcher's group does not reach them)."""
    raise KeyboardInterrupt


def _signal_group(popen, sig):
    try:
        os.killpg(popen.pid, sig)
    except ProcessLookupError:
        pass


def check_batch_size(batch_size, processes):
    """The global batch must split evenly, or the processes would feed different shapes."""
    if batch_size % processes:
        raise UserError(
            f"train.batch_size={batch_size} does not divide by the {processes} processes: "
            f"set it to a multiple of {processes}."
        )


def check_command(command):
    """The command to launch must be a training command; raises `UserError` otherwise."""
    if not command or command[0] != "train":
        raise UserError(
            f"launch runs `train` across processes, got {' '.join(command) or 'nothing'!r}: "
            "kerasapps launch --processes 2 train resnet20"
        )
