"""The package's floors as docs/architecture.md draws them: each module imports only floors below
it, no import circle anywhere, and imports inside functions only where the page allows them.

Imports are read from the source (top-level and inside functions alike), so an upward import
fails here even when it is deferred.
"""

import ast
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kerasapps"
# What a library function may import where it runs: the optional extras (a clear message when missing).
OPTIONAL = ("torch", "torchao", "executorch", "litert_torch", "jax", "mediapipe", "tflite_micro")
# compare's modules that import PyTorch's twins only when a comparison runs (run), one side's framework in
# that side's process (worker), or LiteRT's after PyTorch's training is measured (torch_side).
# And settings.import_tensorflow, the quiet import every command makes once its arguments are parsed.
DEFERRED = {"kerasapps.compare.run", "kerasapps.compare.worker", "kerasapps.compare.torch_side", "kerasapps.settings"}


def floors():
    """part -> floor, from the table of docs/architecture.md (a part in backticks in its second column)."""
    table = {}
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            table.update({part: int(cells[0]) for part in re.findall(r"`([\w.]+)`", cells[1])})
    return table


FLOORS = floors()


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(p for p in parts if p != "__init__"), path


MODULES = dict(_modules())


def _part(module):
    """'kerasapps.training.fit' -> 'training'; the package's entry points are commands."""
    part = module.removeprefix("kerasapps.").split(".")[0]
    return "commands" if part in ("__main__", "train") else part


def _imports(path, *, nested_only=False):
    """The kerasapps modules (and, with `nested_only`, any modules) that `path` imports; with
    `nested_only`, only imports inside a function or class."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if nested_only and id(node) in top:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("kerasapps") or nested_only:
                # `from kerasapps.deploy import convert` imports the module kerasapps.deploy.convert
                named = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES]
                yield from named or ([node.module] if node.module != "kerasapps" else [])
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("kerasapps.") or nested_only)


def test_the_table_names_every_part():
    assert FLOORS["errors"] == 0 and FLOORS["commands"] == max(FLOORS.values())
    parts = {_part(m) for m in MODULES if m != "kerasapps"}
    assert parts == set(FLOORS), (
        f"parts without a floor: {parts - set(FLOORS)}; floors without a part: {set(FLOORS) - parts}"
    )


@pytest.mark.parametrize("module", [m for m in MODULES if m != "kerasapps"])
def test_no_module_imports_a_floor_above_its_own(module):
    own = _part(module)
    for imported in _imports(MODULES[module]):
        other = _part(imported)
        if other != own:
            assert FLOORS[other] < FLOORS[own], (
                f"{module} imports {imported}: floor {FLOORS[other]} is not below {FLOORS[own]}"
            )


def test_no_import_circle():
    graph = {m: {i for i in _imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    done, path = set(), []

    def visit(module):
        if module in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(module) :] + [module]))
        if module not in done:
            path.append(module)
            for imported in sorted(graph[module]):
                visit(imported)
            path.pop()
            done.add(module)

    for module in sorted(graph):
        visit(module)


def test_the_circle_check_finds_a_circle(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("from kerasapps.b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from kerasapps.a import y\n")
    monkeypatch.setattr(
        sys.modules[__name__], "MODULES", {"kerasapps.a": tmp_path / "a.py", "kerasapps.b": tmp_path / "b.py"}
    )
    with pytest.raises(AssertionError, match="kerasapps.a -> kerasapps.b -> kerasapps.a"):
        test_no_import_circle()


def test_library_functions_import_only_optional_extras():
    """A command defers the library until its arguments are parsed; anywhere else, an import inside
    a function is an optional extra's (or, in compare, one side's framework in its own process)."""
    for module, path in MODULES.items():
        if _part(module) == "commands" or module in DEFERRED:
            continue
        for imported in _imports(path, nested_only=True):
            assert imported.split(".")[0] in OPTIONAL, f"{module} imports {imported} inside a function"


def test_deploy_never_imports_the_trainer():
    for module, path in MODULES.items():
        if _part(module) == "deploy":
            assert not [m for m in _imports(path) if _part(m) in ("training", "search")], module


def test_importing_every_command_leaves_tensorflow_unloaded():
    """--help stays fast because no command module loads TensorFlow at import."""
    commands = [m for m in MODULES if _part(m) == "commands"]
    code = f"import sys; import {', '.join(commands)}; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_the_pytorch_sides_run_without_tensorflow():
    """Their start-up time and memory are PyTorch's own (compare's report measures both)."""
    code = (
        "import sys, kerasapps.compare.worker, kerasapps.compare.torch_side, kerasapps.compare.notes; "
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KERAS_BACKEND": "torch"},
    )
    assert result.stdout.split() == ["False"], result.stderr
