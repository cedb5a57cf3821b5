"""Each tuning trial in a fresh process (issue 12): the search's memory stays flat, a killed trial fails alone."""

import os
import pathlib
import signal
import threading
import time
from multiprocessing import forkserver

import pytest

from kerasapps import search
from kerasapps.config import load_config

pytestmark = pytest.mark.slow  # trains or converts models: the full suite's tier

TINY = ["data.limit_train=200", "data.limit_test=50", "train.epochs=1", "train.batch_size=64",
        "callbacks.tensorboard=false", "tune.tuner=random"]
KILLED_TRIAL = 3  # the trial whose process the test kills
TRIALS = 7  # 6 complete: in one process LeNet trials grow the RSS ~15 MiB each (bench/results/tune_memory.csv)


def _rss_mib():
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def _children(pid):
    """Processes whose parent is `pid`."""
    found = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _kill_trial_process(done, stop):
    """Kill the first trial process that appears once `done` trials have finished."""
    while not stop.is_set():
        server = forkserver._forkserver._forkserver_pid
        if len(done) == KILLED_TRIAL and server:
            for pid in _children(server):
                os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.05)


def test_trials_hold_flat_memory_and_a_killed_trial_fails_alone(data_dir, runs_dir):
    config = load_config("lenet", overrides=[*TINY, f"tune.max_trials={TRIALS}"])
    rss = []

    def log(line):
        if line.startswith("trial done:"):
            rss.append(_rss_mib())

    stop = threading.Event()
    killer = threading.Thread(target=_kill_trial_process, args=(rss, stop), daemon=True)
    killer.start()
    try:
        result = search.search(config, data_dir=str(data_dir), runs_dir=runs_dir, verbose=0, log=log)
    finally:
        stop.set()
        killer.join()
    trials = result.trials
    assert list(trials["status"]).count("COMPLETED") == TRIALS - 1 and len(rss) == TRIALS - 1
    (failed,) = trials[trials["status"] == "FAILED"].itertuples()
    assert failed.trial == KILLED_TRIAL + 1 and "killed by signal 9" in failed.message  # numbered from 1, as keras-tuner shows
    # 5 trials between the two readings: ~75 MiB if the trials ran in this process
    assert rss[-1] - rss[1] < 20, f"memory grew from {rss[1]:.0f} MiB after 2 trials to {rss[-1]:.0f} MiB after {TRIALS}"
    assert result.best_config_path.is_file()
