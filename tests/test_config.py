import subprocess
import sys

import pytest
import yaml

from kerasapps.config import ExperimentConfig, apply_override, dump_config, list_experiments, load_config
from kerasapps.errors import UserError


def test_lenet_config_loads_every_section():
    config = load_config("lenet")
    assert isinstance(config, ExperimentConfig)
    assert config.name == "lenet"
    assert config.model.name.startswith("lenet5")
    assert config.data.name == "mnist" and config.data.fallback == "digits"
    assert "lenet" in list_experiments()


def test_overrides_are_typed_against_the_fields():
    config = load_config("lenet", overrides=["train.epochs=3", "optimizer.learning_rate=1", "model.args.dropout=0.25"])
    assert config.train.epochs == 3
    assert config.optimizer.learning_rate == 1.0 and isinstance(config.optimizer.learning_rate, float)
    assert config.model.args["dropout"] == 0.25
    apply_override(config, "optimizer.clipnorm=null")
    assert config.optimizer.clipnorm is None


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epochz=3", "Unknown config key 'train.epochz'"),
        ("train.epochs=three", "'train.epochs' must be int"),
        ("train.epochs=2.5", "'train.epochs' must be int"),
        ("callbacks.tensorboard=1", "'callbacks.tensorboard' must be bool"),
        ("model.args.dropot=0.1", "Unknown argument 'model.args.dropot' of model 'lenet5_modern'.*dropout"),
        ("model.args.batch_norm=yes please", "model.args.batch_norm must be bool like its default False"),
        ("data.options.pad_to=big", "data.options.pad_to must be int like its default 32"),
        ("train", "--set takes key=value"),
        ("optimizer=sgd", "is a section"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(UserError, match=message):
        load_config("lenet", overrides=[override])


@pytest.mark.parametrize(
    "override, message",
    [
        ("optimizer.name=adamax", "optimizer.name='adamax'"),
        ("data.name=imagenet", "Unrecognized data.name='imagenet'. Supported values are: cifar10"),
        ("model.name=lenet7", "Unknown model 'lenet7'"),
        ("train.epochs=0", "train.epochs must be an integer of at least 1, got 0"),
        ("schedule.boundaries=[0.8, 0.2]", "schedule.boundaries"),
        ("callbacks.time_to_accuracy=[99.4]", r"callbacks.time_to_accuracy must be a list of accuracies in \(0, 1\)"),
        ("callbacks.time_to_accuracy=[0.99, high]", r"like \[0.99, 0.993\]; got \[0.99, 'high'\]"),
    ],
)
def test_bad_values_are_errors(override, message):
    with pytest.raises(UserError, match=message):
        load_config("lenet", overrides=[override])


def test_unknown_experiment_lists_the_configs():
    with pytest.raises(UserError, match="Unknown experiment 'lenett'.*lenet"):
        load_config("lenett")


def test_unknown_yaml_key_and_bad_yaml_name_the_file_and_line(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("model:\n  name: lenet5\n  argz: {}\n")
    with pytest.raises(UserError, match="Unknown config key 'model.argz' in .*x.yaml"):
        load_config(path=path)
    path.write_text("model:\n  name: lenet5\n train: [\n")
    with pytest.raises(UserError, match=r"Bad YAML in .*x.yaml, line 3"):
        load_config(path=path)
    path.write_text("model:\n  name: lenet5\n  args: {dropout: high}\n")
    with pytest.raises(UserError, match="model.args.dropout must be float like its default 0.0, got 'high'"):
        load_config(path=path)


def test_resolved_config_round_trips(tmp_path):
    config = load_config("lenet", overrides=["train.epochs=4"])
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_config(config))
    again = load_config(path=path)
    assert again == config


def test_cli_print_config_and_its_errors():
    ok = subprocess.run(
        [sys.executable, "-m", "kerasapps.train", "lenet", "--set", "train.epochs=7", "--print-config"],
        capture_output=True, text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert yaml.safe_load(ok.stdout)["train"]["epochs"] == 7
    assert ok.stderr == ""  # TensorFlow's start-up noise is kept out of user output

    bad = subprocess.run(
        [sys.executable, "-m", "kerasapps.train", "lenet", "--set", "train.epochs=x"], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["error: Config key 'train.epochs' must be int, got 'x' (str)."]


@pytest.mark.parametrize("experiment", list_experiments())
def test_every_bundled_experiment_loads_and_builds(experiment):
    """A new YAML file in kerasapps/configs is tested the moment it is added."""
    from kerasapps.models import build_model

    config = load_config(experiment)
    model = build_model(config.model.name, **config.model.args)
    assert model.count_params() > 0


def test_the_default_lenet_settings_are_what_docs_performance_says():
    import pathlib
    import re

    from kerasapps.config import get_value

    doc = (pathlib.Path(__file__).parents[1] / "docs" / "performance.md").read_text()
    table = doc.split("<!-- defaults:lenet -->")[1].split("<!-- end defaults -->")[0]
    rows = re.findall(r"^\| `([\w.]+)` \| (.+?) \|$", table, flags=re.M)
    assert len(rows) >= 10
    config = load_config("lenet")
    for key, value in rows:
        assert get_value(config, key) == yaml.safe_load(value), f"docs/performance.md says {key} is {value}"


def test_a_config_file_beside_an_experiment_states_what_differs_from_it(tmp_path):
    (tmp_path / "wide.yaml").write_text("train:\n  epochs: 2\nmodel:\n  args:\n    dropout: 0.25\n")
    config = load_config("lenet", path=tmp_path / "wide.yaml")
    lenet = load_config("lenet")
    assert (config.name, config.seed, config.train.epochs) == ("lenet", lenet.seed, 2)
    assert config.model.args == {**lenet.model.args, "dropout": 0.25}  # lenet's batch norm kept
    assert config.optimizer == lenet.optimizer and config.data == lenet.data
    (tmp_path / "other.yaml").write_text("model:\n  name: lenet5\n")  # another model: lenet's args are not its
    assert load_config("lenet", path=tmp_path / "other.yaml").model.args == {}
    alone = load_config(path=tmp_path / "wide.yaml")  # a file alone is the whole config
    assert (alone.name, alone.seed, alone.model.args) == ("wide", 0, {"dropout": 0.25})
