"""The package's floors (docs/architecture.md): each module imports only floors below it.

Imports are read from the source (top-level and inside functions alike), so an
upward import fails here even when it is lazy.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "kerasapps"

# part -> floor; a part is a top-level module or subpackage of kerasapps
FLOORS = {
    "errors": 0, "settings": 0,
    "lazy": 1,
    "registry": 2, "runs": 2, "processes": 2, "geometry": 2, "scores": 2,
    "data": 3, "models": 3, "plots": 3,
    "config": 4,
    "training": 5, "deploy": 5, "course": 5,
    "search": 6, "compare": 6,
    "cli": 7,
    "commands": 8,
}  # fmt: skip
COMMANDS = {
    "train", "evaluate", "tune", "export", "predict", "lab", "visualize", "launch", "__main__", "models.__main__",
    "compare.__main__",
}  # fmt: skip


def _part(module):
    """'kerasapps.training.fit' -> 'training'; a command module -> 'commands'."""
    name = module.removeprefix("kerasapps.")
    if name in COMMANDS:
        return "commands"
    return name.split(".")[0]


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield ".".join(p for p in parts if p != "__init__"), path


def _is_module(name):
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name).is_dir()


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kerasapps"):
            yield node.module
            if node.module == "kerasapps":  # `from kerasapps import runs`, but not `__version__`
                yield from (f"kerasapps.{a.name}" for a in node.names if _is_module(a.name))
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("kerasapps."))


@pytest.mark.parametrize("module, path", list(_modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_no_module_imports_a_floor_above_its_own(module, path):
    if module == "kerasapps":
        return
    own = _part(module)
    assert own in FLOORS, f"{module}: add its part {own!r} to FLOORS and to docs/architecture.md"
    for imported in _imports(path):
        if imported == "kerasapps":
            continue
        other = _part(imported)
        if other == own:
            continue
        assert FLOORS[other] < FLOORS[own], f"{module} imports {imported}: floor {FLOORS[other]} is not below {FLOORS[own]}"


def test_deploy_never_imports_the_trainer():
    for module, path in _modules():
        if _part(module) == "deploy":
            assert not [m for m in _imports(path) if _part(m) in ("training", "search")], module


def test_importing_every_command_leaves_tensorflow_unloaded():
    """--help and --print-config stay fast because nothing loads TensorFlow at import."""
    code = (
        "import sys, kerasapps.__main__, kerasapps.train, kerasapps.evaluate, kerasapps.tune, kerasapps.export, "
        "kerasapps.predict, kerasapps.lab, kerasapps.visualize, kerasapps.compare.__main__, kerasapps.config, "
        "kerasapps.models, kerasapps.data; "
        "from kerasapps.config import load_config; load_config('lenet'); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "False"], result.stderr
