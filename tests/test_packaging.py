"""The package installs anywhere: the wheel carries the bundled experiments, and the console script works."""

import shutil
import subprocess
import sys

import pytest

from kerasapps.__main__ import COMMANDS
from kerasapps.__main__ import main as kerasapps_main
from tests.conftest import REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The project built as a wheel (from a copy of its files) and installed with --no-deps into a target folder."""
    src = tmp_path_factory.mktemp("src")
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "kerasapps", src / "kerasapps", ignore=shutil.ignore_patterns("__pycache__"))
    wheels, target = tmp_path_factory.mktemp("wheels"), tmp_path_factory.mktemp("target")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(src)], check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    (wheel,) = wheels.glob("kerasapps-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    return target


def test_the_installed_wheel_resolves_the_lenet_experiment_from_an_empty_folder(installed, tmp_path):
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    code = "import kerasapps, sys; print(kerasapps.__file__); sys.argv[0] = 'x'; from kerasapps.commands.train import main; main(['lenet', '--print-config'])"
    env = {"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], cwd=empty, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    where, *config = result.stdout.splitlines()
    assert where.startswith(str(installed))  # the wheel's copy, not the checkout
    assert "name: lenet" in config and "  name: lenet5_modern" in config


def test_a_configs_folder_in_the_working_directory_comes_first(tmp_path, monkeypatch, capsys):
    from kerasapps.config import load_config

    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "lenet.yaml").write_text("model: {name: lenet5}\ntrain: {epochs: 2}\n")
    monkeypatch.chdir(tmp_path)
    config = load_config("lenet")
    assert (config.model.name, config.train.epochs) == ("lenet5", 2)


def test_the_console_script_dispatches_to_each_command(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["kerasapps"])
    assert kerasapps_main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert all(f"  {name}" in listing for name in COMMANDS)
    with pytest.raises(SystemExit) as exit_info:
        kerasapps_main(["train", "lenet", "--print-config", "--set", "train.epochs=4"])
    assert exit_info.value.code == 0
    assert "epochs: 4" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        kerasapps_main(["train", "--help"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("usage: kerasapps train")
    assert kerasapps_main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err
