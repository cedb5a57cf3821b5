"""A .tflite file as a C array for TensorFlow Lite Micro: `model_data.cc` and `model_data.h`.

    bytes_, how = arena_bytes(content)      # measured with tflite-micro, else planned
    files = c_array_files(content, arena_bytes=bytes_, arena_note=how)

The header declares `g_model_data`, `g_model_data_len` and `kTensorArenaSize`, as
TFLM examples include them (`tflite::GetModel(g_model_data)`, then a
`uint8_t tensor_arena[kTensorArenaSize]`). The array is 16-byte aligned, which
TFLM needs to read the flatbuffer in place.

The arena size is measured where TFLM's Python interpreter is installed (the
`micro` extra: `tflite-micro` publishes only dev releases, so the extra pins one exactly):
`measured_arena_bytes` finds the smallest arena it runs the file in. Without it,
`planned_arena_bytes` runs TFLM's greedy memory planner over the file's tensor
lifetimes and adds a margin for the interpreter's own structures: an estimate,
labelled so in the header and the report (docs/phones.md).
"""

import importlib.util
import subprocess
import sys
import tempfile

import numpy as np
from tensorflow.lite.tools import flatbuffer_utils

from kerasapps.errors import UserError

ALIGN = 16
# TFLM also keeps its per-tensor and per-node structures in the arena: a margin per
# tensor, an assumption (not checked on a board, see the module docstring).
OVERHEAD_PER_TENSOR = 128
# schema.fbs TensorType -> bytes per element (FLOAT32, FLOAT16, INT32, UINT8, INT64, BOOL,
# INT16, INT8, FLOAT64, UINT32, UINT16)
TYPE_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8, 15: 4, 16: 2}


def _aligned(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def planned_arena_bytes(content):
    """Bytes of tensor arena the file needs: TFLM's greedy plan of its activations
    (largest first, each at the lowest offset free over its lifetime) plus the margin.

    Raises:
        UserError: the model has more than one subgraph (TFLM runs control flow, but
            the plan here covers one subgraph only).
    """
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    if len(model.subgraphs) != 1:
        raise UserError(f"Cannot plan a tensor arena for a model with {len(model.subgraphs)} subgraphs.")
    graph = model.subgraphs[0]
    constant = {i for i, t in enumerate(graph.tensors) if model.buffers[t.buffer].data is not None}
    first, last = {}, {}
    for step, op in enumerate(graph.operators):
        for i in [*op.inputs, *op.outputs, *(op.intermediates if op.intermediates is not None else [])]:
            if i >= 0 and i not in constant:
                first.setdefault(i, step)
                last[i] = step
    for i in graph.inputs:
        first[i] = 0
    for i in graph.outputs:
        last[i] = len(graph.operators)
    sizes = {i: _aligned(int(np.prod(graph.tensors[i].shape)) * TYPE_BYTES.get(graph.tensors[i].type, 4)) for i in first}
    placed = []  # (offset, size, first, last)
    for i in sorted(sizes, key=lambda i: -sizes[i]):
        offset = 0
        for o, s, f, l in sorted((p for p in placed if p[2] <= last[i] and first[i] <= p[3]), key=lambda p: p[0]):
            if offset + sizes[i] <= o:
                break
            offset = max(offset, o + s)
        placed.append((offset, sizes[i], first[i], last[i]))
    peak = max((o + s for o, s, _, _ in placed), default=0)
    return _aligned(peak + OVERHEAD_PER_TENSOR * len(graph.tensors))


def measured_arena_bytes(content):
    """The smallest tensor arena (to 16 bytes) in which TFLM's own interpreter
    (`tflite-micro`) allocates and runs the file, or None if tflite-micro is not installed.

    It runs in a fresh process: tflite-micro cannot set an input once TensorFlow is
    loaded in the same process ("Failed to initialize input tensor 0").

    Raises:
        UserError: TFLM cannot run the file at all (an op it lacks, say).
    """
    if importlib.util.find_spec("tflite_micro") is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".tflite") as file:
        file.write(content)
        file.flush()
        done = subprocess.run([sys.executable, "-m", "kerasapps.deploy.c_array", file.name], capture_output=True, text=True, timeout=600)
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise UserError(f"TensorFlow Lite Micro cannot run the int8 model: {lines[-1] if lines else done.returncode}")
    return int(done.stdout.split()[-1])


def arena_bytes(content):
    """(bytes, how): the measured arena with tflite-micro installed, else (or if TFLM
    cannot run the model, an op it lacks, say) the planned estimate."""
    try:
        measured = measured_arena_bytes(content)
    except UserError as error:
        return planned_arena_bytes(content), f"planned estimate; {error}"
    if measured is not None:
        return measured, "measured: the smallest arena tflite-micro's interpreter runs the model in (x86_64 host)"
    return planned_arena_bytes(content), "planned estimate (pip install 'kerasapps[micro]' to measure)"


def _smallest_arena(path, limit=1 << 26):
    from tflite_micro.python.tflite_micro import runtime

    def runs(size):
        try:
            interpreter = runtime.Interpreter.from_file(path, arena_size=size)
        except RuntimeError as error:
            if "allocate" in str(error):  # "TFLM failed to allocate tensors": too small
                return False
            raise
        detail = interpreter.get_input_details(0)
        interpreter.set_input(np.zeros(detail["shape"], detail["dtype"]), 0)
        interpreter.invoke()
        return True

    if not runs(limit):
        raise SystemExit(f"TFLM cannot allocate the model in {limit} bytes")
    low, high = 0, limit
    while high - low > ALIGN:
        middle = (low + high) // 2
        low, high = (low, middle) if runs(middle) else (middle, high)
    return _aligned(high)


def c_array_files(content, *, arena_bytes, arena_note="planned estimate", name="model_data"):
    """{"model_data.cc": text, "model_data.h": text} for the bytes of a .tflite file;
    `arena_note` says how `arena_bytes` was found."""
    rows = [", ".join(f"0x{b:02x}" for b in content[i : i + 12]) for i in range(0, len(content), 12)]
    guard = f"{name.upper()}_H_"
    header = (
        f"// Generated by `kerasapps export RUN --format c`: the int8 model for TensorFlow Lite Micro.\n"
        f"#ifndef {guard}\n#define {guard}\n\n#include <cstddef>\n#include <cstdint>\n\n"
        f"extern const unsigned char g_model_data[];\nextern const unsigned int g_model_data_len;\n"
        f"// Tensor arena: {arena_note}; see docs/phones.md.\n"
        f"constexpr std::size_t kTensorArenaSize = {arena_bytes};\n\n#endif  // {guard}\n"
    )
    source = (
        f'#include "{name}.h"\n\n'
        f"alignas({ALIGN}) const unsigned char g_model_data[] = {{\n  " + ",\n  ".join(rows) + "\n};\n"
        f"const unsigned int g_model_data_len = {len(content)};\n"
    )
    return {f"{name}.cc": source, f"{name}.h": header}


if __name__ == "__main__":  # python -m kerasapps.deploy.c_array FILE.tflite: print the measured arena
    print(_smallest_arena(sys.argv[1]))
