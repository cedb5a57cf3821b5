"""kerasapps.settings is the one module that reads the environment (issue 22): commands take their
defaults from it and pass values down; library modules read no variable themselves."""

import ast
import pathlib

from kerasapps import settings

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "kerasapps"


def _is_environ(node):
    return isinstance(node, ast.Attribute) and node.attr == "environ" and getattr(node.value, "id", None) == "os"


def environment_reads(source):
    """(line, what) for each read of a variable in `source`: os.getenv, os.environ.get, os.environ[...] and
    `in os.environ`. Setting a variable, or passing the whole environment on to a child, reads none."""
    reads = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "getenv" and getattr(node.func.value, "id", None) == "os":
                reads.append((node.lineno, "os.getenv"))
            elif node.func.attr == "get" and _is_environ(node.func.value):
                reads.append((node.lineno, "os.environ.get"))
        elif isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            reads.append((node.lineno, "os.environ[...]"))
        elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
            reads.append((node.lineno, "in os.environ"))
    return reads


def test_the_check_sees_every_kind_of_read():
    source = 'import os\na = os.getenv("A")\nb = os.environ.get("B")\nc = os.environ["C"]\nd = "D" in os.environ\n'
    assert [line for line, _ in environment_reads(source)] == [2, 3, 4, 5]
    assert environment_reads('import os\nos.environ["A"] = "1"\nenv = {**os.environ, "B": "2"}\n') == []


def test_no_module_but_settings_reads_the_environment():
    found = {
        str(path.relative_to(PACKAGE)): reads
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "settings.py" and (reads := environment_reads(path.read_text()))
    }
    assert found == {}


def test_settings_read_the_variables_and_their_defaults(monkeypatch, tmp_path):
    for name in ("KERASAPPS_DATA_DIR", "KERASAPPS_RUNS_DIR", "KERAS_BACKEND", "KERASAPPS_OFFLINE", "KERASAPPS_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert (settings.data_dir(), settings.runs_dir(), settings.backend(), settings.offline()) == (
        None, "saved_models", "tensorflow", False,
    )  # fmt: skip
    assert settings.cache_dir() == pathlib.Path.home() / ".cache" / "kerasapps"
    monkeypatch.setenv("KERASAPPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KERASAPPS_RUNS_DIR", "")  # empty is unset
    monkeypatch.setenv("KERASAPPS_OFFLINE", "1")
    assert (settings.data_dir(), settings.runs_dir(), settings.offline()) == (str(tmp_path), "saved_models", True)


def test_environment_sets_variables_and_puts_back_what_was_there(monkeypatch):
    monkeypatch.setenv("KERASAPPS_TEST_KEEP", "before")
    monkeypatch.delenv("KERASAPPS_TEST_NEW", raising=False)
    with settings.environment({"KERASAPPS_TEST_KEEP": "during", "KERASAPPS_TEST_NEW": "x"}):
        assert settings._get("KERASAPPS_TEST_KEEP") == "during" and settings._get("KERASAPPS_TEST_NEW") == "x"
    assert settings._get("KERASAPPS_TEST_KEEP") == "before" and settings._get("KERASAPPS_TEST_NEW") is None
