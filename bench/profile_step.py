"""Profile: where one training step of an experiment spends its time, op by op (TensorFlow profiler).

    KERASAPPS_DATA_DIR=../shared/data python bench/profile_step.py lenet --layers fast keras

Builds and compiles the experiment's model as `kerasapps.train` does, holds one batch of
its real training images in memory, runs `--steps` steps to trace and warm up, then
`--steps` more under `tf.profiler`. From the profile it sums each op's time (over both
of the machine's cores, so the total can exceed the wall time) and prints the
milliseconds per step by op type and by layer (forward, and its gradient as
"gradient_tape/..."), beside the step's wall time. With --layers, each kind of layers
("fast": `train.fast_layers`; "keras": Keras's own) is profiled in turn.
Appends one row per (layers, op type) to bench/results/step_profile.csv. Run it alone.
"""

import argparse
import collections
import datetime
import os
import pathlib
import sys
import tempfile
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "step_profile.csv"


def op_times(logdir, steps):
    """{op type: ms per step} and {layer: ms per step} from the profile written under `logdir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(max(pathlib.Path(logdir).rglob("*.xplane.pb"), key=os.path.getmtime).read_bytes())
    by_type, by_layer = collections.Counter(), collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name  # ".../model/C1_bn_1/Mean:Mean"
                if "StatefulPartitionedCall/" not in name:  # the executor's own frames, the input pipeline
                    continue
                path, _, op = name.split("StatefulPartitionedCall/", 1)[1].rpartition(":")
                scopes = path.split("/")[:-1]  # the last part names the op itself
                layer = "/".join(scopes[:3] if scopes[:1] == ["gradient_tape"] else scopes[:2]) or "(no scope)"
                ms = event.duration_ps / 1e9 / steps
                by_type[op] += ms
                by_layer[layer] += ms
    return by_type, by_layer


def profile(config, dataset, x, y, steps):
    """Wall ms per step and the op times of `steps` profiled steps on one batch held in memory."""
    import tensorflow as tf

    from kerasapps.training import build_and_compile, seed_everything

    seed_everything(config.seed)
    model = build_and_compile(config, dataset.info, len(x))
    batch = tf.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(batch, steps_per_epoch=steps, epochs=1, verbose=0)  # trace and warm up
    with tempfile.TemporaryDirectory(prefix="profile-") as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        model.fit(batch, steps_per_epoch=steps, epochs=1, verbose=0)
        wall_ms = (time.perf_counter() - start) / steps * 1000
        tf.profiler.experimental.stop()
        return wall_ms, *op_times(logdir, steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", nargs="?", default="lenet")
    parser.add_argument("--steps", type=int, default=64, help="steps to warm up, then steps to profile (default: 64)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--layers", nargs="+", default=["fast"], choices=["fast", "keras"],
                        help="layers to profile: ours (fast, train.fast_layers, the default) and/or Keras's own (keras)")  # fmt: skip
    parser.add_argument("--top", type=int, default=12, help="rows of each table (default: 12)")
    args = parser.parse_args(argv)

    import pandas as pd

    from kerasapps import settings
    from kerasapps.config import load_config
    from kerasapps.data import load_experiment_data
    from kerasapps.settings import import_tensorflow
    from kerasapps.training.run import library_versions

    import_tensorflow()
    config = load_config(args.experiment, overrides=args.overrides)
    dataset, (x, y), _ = load_experiment_data(config, data_dir=settings.data_dir(), log=lambda _: None)
    x, y = x[: config.train.batch_size], y[: config.train.batch_size]
    stamp, rows = datetime.datetime.now().isoformat(timespec="seconds"), []
    for layers in args.layers:
        config.train.fast_layers = layers == "fast"
        wall_ms, by_type, by_layer = profile(config, dataset, x, y, args.steps)
        print(f"\n{layers} layers: {wall_ms:.1f} ms per step (wall), {sum(by_type.values()):.1f} ms of ops")
        for title, table in (("op type", by_type), ("layer", by_layer)):
            print(f"  ms per step by {title}:")
            for name, ms in table.most_common(args.top):
                print(f"    {ms:7.2f}  {name}")
        rows += [{"date": stamp, "experiment": args.experiment, "overrides": " ".join(args.overrides),
                  "batch_norm": layers, "wall_ms_per_step": round(wall_ms, 2), "op_type": op,
                  "op_ms_per_step": round(ms, 3)} for op, ms in by_type.most_common()]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["machine"] = library_versions()["machine"]
    earlier = pd.read_csv(RESULTS) if RESULTS.exists() else None
    pd.concat([earlier, frame], ignore_index=True).to_csv(RESULTS, index=False)
    print(f"\nappended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
