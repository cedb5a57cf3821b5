"""The native PyTorch rows: the twin trained in a plain loop (eager, or under `torch.compile`), then ExecuTorch.

A PyTorch user's loop: `torch.optim`, a learning-rate scheduler stepped per
batch, `loss.backward()`. It follows the experiment's optimizer section with
Keras's conventions where they differ from PyTorch's defaults, so that both
sides train with the same optimizer: Adam's epsilon is Keras's 1e-7, `clipnorm`
clips each gradient on its own (Keras's meaning, not `clip_grad_norm_` over
all of them), and ResNet's `weight_decay` (a Keras L2 term on kernels) becomes
SGD weight decay on the conv and linear weights only.
"""

import math
import time

import numpy as np
import torch
from torch import nn

from kerasapps import settings
from kerasapps.compare.timing import FirstStep, throughput, time_limit, timed_out
from kerasapps.compare.torch_twins import make_twin, parameter_count, scores, to_channels_first
from kerasapps.errors import UserError, first_line
from kerasapps.scores import accuracy, predicted_classes

# --- training ---------------------------------------------------------------------


def make_optimizer(twin, config, steps_per_epoch, weight_decay=0.0):
    """A `torch.optim` optimizer and a per-batch `LambdaLR` from the experiment's optimizer and schedule."""
    opt = config.optimizer
    if opt.name not in ("adam", "sgd"):
        raise UserError(f"The PyTorch rows take optimizer.name adam or sgd, got {opt.name!r}.")
    if weight_decay:
        decayed = [p for name, p in twin.named_parameters() if name.endswith("weight") and p.dim() > 1]
        others = [p for name, p in twin.named_parameters() if not (name.endswith("weight") and p.dim() > 1)]
        params = [{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
    else:
        params = twin.parameters()
    if opt.name == "sgd":
        optimizer = torch.optim.SGD(params, lr=opt.learning_rate, momentum=opt.momentum, nesterov=opt.nesterov)
    else:
        optimizer = torch.optim.Adam(params, lr=opt.learning_rate, eps=1e-7)
    total = steps_per_epoch * config.train.epochs
    schedule = config.schedule
    warmup = steps_per_epoch * schedule.warmup_epochs

    def factor(step):  # as training.optimizers' Keras schedules: a linear warm-up from 0, then the schedule
        if step < warmup:
            return step / warmup
        if schedule.name == "cosine":
            decay = max(total - warmup, 1)
            return 0.5 * (1 + math.cos(math.pi * min(step - warmup, decay) / decay))
        if schedule.name == "step":
            return schedule.factor ** sum(step > int(b * total) for b in schedule.boundaries)  # Keras: a boundary step keeps the rate before it
        return 1.0

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_native(job, config, arrays, *, compiled=False, started, epoch_done=None):
    """Train the PyTorch twin of the experiment's model in a plain loop; returns (twin, test scores, result dict).

    `epoch_done(twin)`, if given, is called after each epoch (bench/bench_time_to_accuracy.py evaluates there);
    the twin is back in training mode afterwards.
    """
    torch.manual_seed(config.seed)
    x_train, y_train = tensors(arrays["x_train"]), torch.from_numpy(arrays["y_train"])
    with settings.use_fast_layers(config.train.fast_layers):
        twin = make_twin(job["twin"]["family"], job["twin"]["arguments"])
    batch, epochs = config.train.batch_size, config.train.epochs
    steps_per_epoch = -(-len(x_train) // batch)
    optimizer, scheduler = make_optimizer(twin, config, steps_per_epoch, config.model.args.get("weight_decay", 0.0))
    with torch.no_grad():
        binary = twin.eval()(x_train[:1]).shape[-1] == 1  # one logit: P(positive), as the LSTM's
    loss_fn = nn.BCEWithLogitsLoss() if binary else nn.CrossEntropyLoss()
    model = torch.compile(twin) if compiled else twin
    first = FirstStep(started, batch)
    clip = config.optimizer.clipnorm
    generator = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    twin.train()
    for _ in range(epochs):
        for index in torch.randperm(len(x_train), generator=generator).split(batch):
            logits = model(x_train[index])
            target = y_train[index].float().reshape(logits.shape) if binary else y_train[index].long()
            loss = loss_fn(logits, target)
            optimizer.zero_grad()
            loss.backward()
            if clip:
                for p in twin.parameters():
                    torch.nn.utils.clip_grad_norm_(p, clip)
            optimizer.step()
            scheduler.step()
            first.step_done(1)
        if not math.isfinite(loss.item()):
            raise UserError(f"The PyTorch loss became {loss.item()}; lower optimizer.learning_rate.")
        if epoch_done:
            epoch_done(twin)
            twin.train()
    end = time.perf_counter()
    test_scores = predict(twin, arrays["x_test"])
    result = {
        "parameters": parameter_count(twin),
        "test_accuracy": accuracy(test_scores, arrays["y_test"]),
        "time_to_first_step_s": first.seconds,
        **throughput(len(x_train) * epochs, start, end, first),
    }
    return twin, test_scores, result


def tensors(x):
    """Suite arrays as PyTorch inputs: images to (N, C, H, W) float, token ids to int64."""
    return torch.from_numpy(to_channels_first(x)) if x.dtype.kind == "f" else torch.from_numpy(x.astype(np.int64))


@torch.no_grad()
def predict(twin, x, batch_size=256):
    """Keras-style scores (softmax or sigmoid) of the twin in eval mode for suite arrays `x`."""
    twin.eval()
    return np.concatenate([scores(twin, tensors(x[i : i + batch_size])).numpy() for i in range(0, len(x), batch_size)])


# --- ExecuTorch -------------------------------------------------------------------


class Scores(nn.Module):
    """The twin with its softmax or sigmoid, so that a .pte file returns what a .tflite file does."""

    def __init__(self, twin):
        super().__init__()
        self.twin = twin

    def forward(self, x):
        return scores(self.twin, x)


# torch.export keeps nn.LSTM as one aten.lstm op; lowering unrolls it into a dozen ops per time step.
# XNNPACK's partitioner is superlinear in that graph (measured on a 32-unit twin, 2-core CPU under
# load: 28 s at 10 steps, 93 s at 40; pytorch/executorch#6191 reports the same "hang"), so a
# 400-step review never finished. Portable kernels lower in linear time (about 0.5 s per step).
RECURRENT_NOTE = "portable kernels: XNNPACK's partitioner does not finish on an unrolled LSTM"


def deploy_executorch(twin, config, arrays, twin_scores, *, examples, out_dir, time_limit_s=None):
    """ExecuTorch rows: float32 and int8 .pte files from `torch.export`, each run on the first `examples`
    test inputs in the ExecuTorch runtime. Convolutional twins are lowered to XNNPACK; a recurrent twin
    runs on portable kernels (see RECURRENT_NOTE). A variant that fails, or whose lowering takes more
    than `time_limit_s` seconds, gets a row saying why."""
    try:
        from executorch.runtime import Runtime
    except ImportError:
        return [
            {"variant": v, "note": 'ExecuTorch is not installed: pip install -e ".[torch]"'}
            for v in ("float32", "int8")
        ]
    x_test, y_test = arrays["x_test"][:examples], arrays["y_test"][:examples]
    inputs = [tensors(x_test[i : i + 1]) for i in range(len(x_test))]
    reference = twin_scores[:examples]
    calibration = tensors(arrays["x_representative"])
    recurrent = any(isinstance(module, nn.LSTM) for module in twin.modules())
    rows = []
    for variant in ("float32", "int8"):
        path = out_dir / f"{variant}.pte"
        try:
            with time_limit(time_limit_s):
                program, delegated, other_ops = lower(
                    Scores(twin.eval()), inputs[0:1], variant, calibration, xnnpack=not recurrent
                )
            path.write_bytes(program.buffer)
            method = Runtime.get().load_program(str(path)).load_method("forward")
            run = lambda x: method.execute([x])[0].numpy()  # noqa: E731
            outputs = np.concatenate([run(x) for x in inputs])
            latency = latency_ms(run, inputs[:100])
        except Exception as error:  # torch.export, the lowering and the runtime raise many private error types
            path.unlink(missing_ok=True)  # no file in the report without its row's numbers
            rows.append({"variant": variant, "note": _failure(error)})
            continue
        rows.append({
            "variant": variant, "file": path.name, "size_kb": round(len(program.buffer) / 1024, 1),
            "test_accuracy": accuracy(outputs, y_test),
            "agreement": float(np.mean(predicted_classes(outputs) == predicted_classes(reference))),
            "max_abs_diff": float(np.abs(outputs - reference).max()),
            "latency_ms": latency,
            "runs_on": ", ".join(delegated) or (RECURRENT_NOTE if recurrent else "portable kernels"),
            "ops": " ".join(other_ops),
            "needs": _runtime_needs(delegated, other_ops),
        })  # fmt: skip
    return rows


def deploy_litert_torch(twin, arrays, twin_scores, *, examples, out_dir, time_limit_s=None):
    """The PyTorch model on TensorFlow's runtime: litert-torch converts the twin (from `torch.export`) to a
    float32 .tflite file, run by the LiteRT interpreter on the first `examples` test inputs. Returns one
    row; a conversion that fails or takes more than `time_limit_s` seconds gets a row saying why."""
    try:
        import litert_torch
    except ImportError:
        return [{"variant": "float32", "note": 'litert-torch is not installed: pip install -e ".[torch]"'}]
    # LiteRT's side of the library loads TensorFlow: here, once PyTorch's training has been measured.
    from kerasapps.deploy.convert import op_names
    from kerasapps.deploy.interpreter import LiteModel

    x_test, y_test = to_channels_first(arrays["x_test"][:examples]), arrays["y_test"][:examples]
    reference = twin_scores[:examples]
    path = out_dir / "litert_torch_float32.tflite"
    try:
        with time_limit(time_limit_s):
            litert_torch.convert(Scores(twin.eval()), (tensors(arrays["x_test"][:1]),)).export(str(path))
        content = path.read_bytes()
        lite = LiteModel(content)
        outputs = lite.predict(x_test, batch_size=1)  # the file's input shape is fixed at one example
        latency = lite.latency_ms(x_test)
    except Exception as error:  # torch.export and the converter raise many private error types
        path.unlink(missing_ok=True)
        return [{"variant": "float32", "note": _failure(error)}]
    ops = op_names(content)
    return [{
        "variant": "float32", "file": path.name, "size_kb": round(len(content) / 1024, 1),
        "test_accuracy": accuracy(outputs, y_test),
        "agreement": float(np.mean(predicted_classes(outputs) == predicted_classes(reference))),
        "max_abs_diff": float(np.abs(outputs - reference).max()), "latency_ms": latency,
        "runs_on": "XNNPACK delegate" if lite.xnnpack else "builtin kernels", "ops": " ".join(ops),
        "needs": "Flex delegate" if any(op.startswith("Flex") for op in ops) else "standard LiteRT runtime",
    }]  # fmt: skip


def lower(module, example, variant, calibration, *, xnnpack=True):
    """`torch.export` -> (int8: XNNPACK quantizer, calibrated on `calibration`) -> lowering (to XNNPACK, or
    portable kernels alone with `xnnpack=False`) -> program.

    Returns (the ExecuTorch program, names of the delegates it calls, ops left outside them)."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    example = tuple(example)
    exported = torch.export.export(module, example)
    if variant == "int8":
        import executorch.kernels.quantized  # noqa: F401  the portable (de)quantize kernels, outside XNNPACK
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        prepared = prepare_pt2e(exported.module(), quantizer)
        for i in range(len(calibration)):
            prepared(calibration[i : i + 1])
        exported = torch.export.export(convert_pt2e(prepared), example)
    edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()] if xnnpack else [])
    graph = edge.exported_program().graph_module
    calls = [node for node in graph.graph.nodes if node.op == "call_function"]
    delegated = {getattr(graph, n.args[0].target).backend_id for n in calls if "call_delegate" in str(n.target)}
    other = {
        _op_name(n.target) for n in calls if "call_delegate" not in str(n.target) and "getitem" not in str(n.target)
    }
    return edge.to_executorch(), sorted(delegated), sorted(other)


def _failure(error):
    """A deployment row's note for `error`: timed out, or failed and why."""
    late = timed_out(error)
    return f"{late.message} (--deploy-time-limit)" if late else f"failed: {first_line(error)}"


def _runtime_needs(delegated, other_ops):
    """What a .pte file needs of the runtime: (de)quantize ops outside a delegate are in ExecuTorch's
    quantized kernel library, not its portable one."""
    needs = "standard ExecuTorch runtime"
    if delegated and other_ops:
        needs += " (portable ops besides XNNPACK)"
    if any("quantize" in op for op in other_ops):
        needs += " + its quantized kernels library"
    return needs


def _op_name(target):
    """`aten.embedding.default` (an edge op's name) -> "embedding"."""
    parts = getattr(target, "__name__", str(target)).split(".")
    return parts[-2] if len(parts) > 1 else parts[0]


def latency_ms(run, inputs, repeats=100):
    """Median milliseconds of one single-input call over `repeats` calls, after a warm-up call."""
    run(inputs[0])
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        run(inputs[i % len(inputs)])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))
