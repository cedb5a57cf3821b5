"""One side of a comparison, in a process of its own: `kerasapps compare.worker SIDE WORKDIR`.

Keras picks its backend once per process, from KERAS_BACKEND, when it is first
imported; so the parent (`kerasapps.compare.run`) starts one worker per side
with KERAS_BACKEND set in that child's environment only, and nothing is written
to ~/.keras/keras.json. Each process also measures its own peak memory.

WORKDIR holds job.json (the resolved config and the data's model arguments)
and the arrays as .npy files; the worker writes `<SIDE>.json` there, and any
deployment files under `files/`. The parent reads them back.

A worker imports its own side only: a PyTorch side never loads TensorFlow (which
would count in its start-up time and memory), so it reads the config, validated
by the parent, as a `ConfigView` of job.json rather than through `kerasapps.config`.
"""

import time

STARTED = time.perf_counter()  # before any framework is imported: time to first step counts from here

import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from kerasapps.compare.timing import peak_memory_mb  # noqa: E402

# side -> (KERAS_BACKEND of its process, what it runs)
SIDES = {
    "tf-graph": ("tensorflow", "Keras on TensorFlow, compiled tf.function (the suite's train)"),
    "tf-eager": ("tensorflow", "Keras on TensorFlow, run_eagerly=True"),
    "keras-torch": ("torch", "the same Keras model on Keras's torch backend"),
    "torch-eager": ("torch", "native PyTorch twin, eager loop"),
    "torch-compile": ("torch", "native PyTorch twin, torch.compile"),
    "notes": ("torch", "the course notes' PyTorch snippets"),
}
ARRAYS = ("x_train", "y_train", "x_test", "y_test", "x_representative")


class ConfigView(dict):
    """A config's dict read by attribute, as `config.train.batch_size` reads an `ExperimentConfig`."""

    def __getattr__(self, name):
        value = self[name]
        return ConfigView(value) if isinstance(value, dict) else value


def run_side(side, workdir):
    """Run `side` on the job in `workdir`; returns its result dict (also written to `<side>.json`)."""
    workdir = pathlib.Path(workdir)
    job = json.loads((workdir / "job.json").read_text())
    config = ConfigView(job["config"])
    arrays = {name: np.load(workdir / f"{name}.npy") for name in ARRAYS}
    files = workdir / "files" / side
    files.mkdir(parents=True, exist_ok=True)
    result = {"side": side, "runs": SIDES[side][1]}
    if side == "notes":
        from kerasapps.compare.notes import run_notes

        result["notes"] = run_notes(arrays, seed=config.seed, epochs=config.train.epochs)
    elif side.startswith("torch"):
        from kerasapps.compare.torch_side import deploy_executorch, deploy_litert_torch, train_native

        twin, scores, trained = train_native(job, config, arrays, compiled=side == "torch-compile", started=STARTED)
        result.update(trained, peak_memory_mb=peak_memory_mb())
        if side == "torch-eager":
            result["deployment"] = deploy_executorch(
                twin, config, arrays, scores, examples=job["deploy_examples"], out_dir=files,
                time_limit_s=job["deploy_time_limit_s"],
            )  # fmt: skip
            litert = deploy_litert_torch(
                twin, arrays, scores, examples=job["deploy_examples"], out_dir=files,
                time_limit_s=job["deploy_time_limit_s"],
            )  # fmt: skip
            result["deployment"] += [{"runtime": "LiteRT (litert-torch)", **row} for row in litert]
    else:
        from kerasapps.compare.keras_side import deploy_litert, train_keras
        from kerasapps.config import config_from_dict

        config = config_from_dict(job["config"])
        model, scores, trained = train_keras(job, config, arrays, eager=side == "tf-eager", started=STARTED)
        result.update(trained, peak_memory_mb=peak_memory_mb())
        if side == "tf-graph":
            result["deployment"] = deploy_litert(
                model, config, arrays, scores, examples=job["deploy_examples"], out_dir=files
            )
    (workdir / f"{side}.json").write_text(json.dumps(result, default=list))
    return result


if __name__ == "__main__":
    run_side(*sys.argv[1:])
