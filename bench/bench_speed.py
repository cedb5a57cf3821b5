"""Benchmark: `kerasapps.train` against the scripts users copy, PyTorch's plain loop and plain Keras `model.fit`.

    KERASAPPS_DATA_DIR=../shared/data python bench/bench_speed.py lenet --rounds 3
    KERASAPPS_DATA_DIR=../shared/data python bench/bench_speed.py resnet20 --rounds 3 \
        --set train.epochs=1 --set data.limit_train=7680 --set data.validation_split=0 \
        --set callbacks.checkpoint=false

Each round runs every contender once, each in a fresh process, in an order that
alternates from round to round (so a slow spell of the machine hits all of them):

- "kerasapps.train": `kerasapps train EXPERIMENT`, everything a run
  writes on (checkpoints, CSV history, backup for --resume, TensorBoard);
  images/s from its metrics.json (the whole fit, validation included);
- "pytorch eager": the experiment's PyTorch twin (`kerasapps.compare.torch_twins`)
  in a plain loop, `torch.optim` and the same batch size, optimizer, schedule,
  epochs and data split (`kerasapps.compare.torch_side.train_native`); images/s
  over its whole loop (no validation: the easier target);
- "keras model.fit": the tutorial script, the same Keras model compiled with Keras's
  defaults (one batch per call, float32, Keras's own batch norm and convolutions) and
  `model.fit(x, y)` on NumPy arrays;
- A/B variants, only when asked for with --contenders, each its config overrides over the
  others' (`VARIANTS`): "kerasapps.train, keras layers" trains with Keras's own batch norm
  and C5 convolution (train.fast_layers=false: `kerasapps.models.batch_norm`,
  `kerasapps.models.full_map_conv`); "kerasapps.train, default inter-op threads" with
  TensorFlow's own thread pools (train.inter_op_threads=0); "pytorch eager, conv C5", the
  twin with C5 run as nn.Conv2d (train.fast_layers=false turns `FullMapConv2d` off).

Peak memory is each process's maximum resident set (`os.wait4`). On a virtual
machine, "steal_s" is the CPU time the host took from this machine's cores while the
contender ran (/proc/stat): a row with much of it ran in a slow spell. Writes one row
per contender and round to bench/results/speed.csv, with `vs_pytorch` (images/s
over the round's PyTorch images/s), and prints the medians. Run it alone on the
machine: two cores are easily shared.
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

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "speed.csv"
CONTENDERS = ("kerasapps.train", "pytorch eager", "keras model.fit")
# Each contender's config overrides after --set's: what a tutorial runs, or what an A/B variant changes.
VARIANTS = {
    "keras model.fit": ["train.fast_layers=false"],  # Keras's own layers
    "kerasapps.train, keras layers": ["train.fast_layers=false"],
    "kerasapps.train, default inter-op threads": ["train.inter_op_threads=0"],
    "pytorch eager, conv C5": ["train.fast_layers=false"],
}
OPTIONAL = tuple(name for name in VARIANTS if name != "keras model.fit")
# The contenders start from the user's environment, before importing kerasapps here
# sets TF_ENABLE_ONEDNN_OPTS (kerasapps.lazy) in this process's.
USER_ENVIRONMENT = dict(os.environ)


# --- the contenders, each run as `bench_speed.py --worker CONTENDER ...` in its own process ---


def worker(contender, experiment, overrides):
    """Train `experiment` as `contender` does; print one JSON line of results."""
    if contender == "keras model.fit":
        # Imported first, as a tutorial does: TensorFlow's own oneDNN default, not the one kerasapps.lazy sets.
        import tensorflow  # noqa: F401
    from kerasapps import settings
    from kerasapps.config import load_config
    from kerasapps.data import load_experiment_data

    config = load_config(experiment, overrides=overrides)
    dataset, (x, y), (x_val, y_val) = load_experiment_data(config, data_dir=settings.data_dir(), log=lambda _: None)
    if contender.startswith("pytorch eager"):
        from kerasapps.compare.run import twin_arguments
        from kerasapps.compare.torch_side import train_native

        arrays = {"x_train": x, "y_train": y, "x_test": dataset.x_test, "y_test": dataset.y_test}
        job = {"twin": twin_arguments(config, dataset.info.model_kwargs)}
        _, _, result = train_native(job, config, arrays, started=time.perf_counter())
        images_per_s, accuracy = result["train_per_s_overall"], result["test_accuracy"]
    else:  # keras model.fit: the tutorial script, float32, Keras's default of one batch per call
        from kerasapps.training import build_experiment_model, compile_model, seed_everything

        seed_everything(config.seed)
        config.train.mixed_precision, config.train.steps_per_execution = False, 1
        model = compile_model(build_experiment_model(config, dataset.info.model_kwargs), config, -(-len(x) // config.train.batch_size))
        start = time.perf_counter()
        model.fit(x, y, batch_size=config.train.batch_size, epochs=config.train.epochs,
                  validation_data=(x_val, y_val) if len(x_val) else None, verbose=0)  # fmt: skip
        images_per_s = len(x) * config.train.epochs / (time.perf_counter() - start)
        accuracy = model.evaluate(dataset.x_test, dataset.y_test, batch_size=256, verbose=0)[1]
    print(json.dumps({"images_per_s": images_per_s, "test_accuracy": accuracy}))


def stolen_seconds():
    """CPU seconds the hypervisor has taken from this machine's cores since boot (0 where not reported)."""
    try:
        fields = pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_contender(contender, experiment, overrides, runs_dir):
    """Run one contender in a fresh process; returns (images/s, test accuracy, peak MB, wall s, stolen s)."""
    sets = [arg for override in [*overrides, *VARIANTS.get(contender, [])] for arg in ("--set", override)]
    ours = contender.startswith("kerasapps.train")
    if ours:
        command = [sys.executable, "-m", "kerasapps.train", experiment, "--runs-dir", runs_dir, *sets]
    else:
        command = [sys.executable, __file__, "--worker", contender, experiment, *sets]
    start, stolen = time.perf_counter(), stolen_seconds()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=USER_ENVIRONMENT)
    _, status, usage = os.wait4(process.pid, 0)  # the child's own peak memory, not the largest child's so far
    wall, stolen = time.perf_counter() - start, stolen_seconds() - stolen
    out, err = process.stdout.read(), process.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{contender} failed:\n{err[-3000:]}")
    if ours:
        metrics_file = max(pathlib.Path(runs_dir).glob(f"{experiment}/*/metrics.json"), key=os.path.getmtime)
        metrics = json.loads(metrics_file.read_text())
        images_per_s, accuracy = metrics["train_examples_per_s"], metrics["test_accuracy"]
    else:
        result = json.loads(out.strip().splitlines()[-1])
        images_per_s, accuracy = result["images_per_s"], result["test_accuracy"]
    return images_per_s, accuracy, usage.ru_maxrss / 1024, wall, stolen


# --- rounds, CSV and summary ---------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", nargs="?", default="lenet", help="a config in configs/ (default: lenet)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every contender (default: 3)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every contender, e.g. train.epochs=2 for a quick check")
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS + OPTIONAL, metavar="NAME",
                        help=f"which to run (default: {', '.join(CONTENDERS)}; also: {', '.join(OPTIONAL)})")
    workers = [name for name in (*CONTENDERS, *OPTIONAL) if not name.startswith("kerasapps.train")]  # run by worker()
    parser.add_argument("--worker", choices=workers, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.experiment, args.overrides)

    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as runs_dir:
        for round_index in range(args.rounds):
            order = args.contenders if round_index % 2 == 0 else args.contenders[::-1]
            for contender in order:
                images_per_s, accuracy, peak_mb, wall, stolen = run_contender(contender, args.experiment, args.overrides, runs_dir)
                rows.append({
                    "date": stamp, "experiment": args.experiment, "overrides": " ".join(args.overrides),
                    "round": round_index + 1, "contender": contender, "train_images_per_s": round(images_per_s, 1),
                    "test_accuracy": round(float(accuracy), 4), "peak_memory_mb": round(peak_mb),
                    "process_wall_s": round(wall, 1), "steal_s": round(stolen, 1),
                })  # fmt: skip
                print(f"round {round_index + 1} {contender:16s} {images_per_s:9.1f} img/s  "
                      f"{accuracy:.2%}  {peak_mb:6.0f} MB  {wall:6.1f} s  (steal {stolen:.1f} s)", flush=True)  # fmt: skip
    # Imported only now: wait4's ru_maxrss counts the parent's memory at each fork (TensorFlow, 885 MB)
    import pandas as pd

    from kerasapps.training.run import library_versions

    frame = pd.DataFrame(rows)
    if "pytorch eager" in args.contenders:
        torch_speed = frame[frame.contender == "pytorch eager"].set_index("round").train_images_per_s
        frame["vs_pytorch"] = (frame.train_images_per_s / frame["round"].map(torch_speed)).round(3)
    versions = library_versions()
    frame["machine"], frame["cpu"], frame["tensorflow"] = versions["machine"], versions["cpu"], versions["tensorflow"]
    frame["onednn"] = USER_ENVIRONMENT.get("TF_ENABLE_ONEDNN_OPTS", "1")  # what the contenders ran with
    RESULTS.parent.mkdir(exist_ok=True)
    earlier = pd.read_csv(RESULTS) if RESULTS.exists() else None  # its rows may lack this run's newer columns
    pd.concat([earlier, frame], ignore_index=True).to_csv(RESULTS, index=False)
    columns = ["train_images_per_s", "test_accuracy", "peak_memory_mb"] + (["vs_pytorch"] * ("vs_pytorch" in frame))
    print(f"\nmedians over {args.rounds} rounds:")
    print(frame.groupby("contender", sort=False)[columns].median().to_string())
    print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
