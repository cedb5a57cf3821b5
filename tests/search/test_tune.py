import inspect
import json
import os
import socket
import subprocess
import sys
import time

import keras
import keras_tuner
import pandas as pd
import pytest

from kerasapps import search
from kerasapps.commands.cli import run_main
from kerasapps.commands.train import main as train_main
from kerasapps.commands.tune import main as tune_main
from kerasapps.config import get_value, list_experiments, load_config, read_yaml
from kerasapps.data import DatasetInfo, load_dataset
from kerasapps.errors import UserError
from kerasapps.search.hypermodel import ExperimentHyperModel
from kerasapps.search.trials import BUILD_CONFIG_FILE, CHECKPOINT_FILE, trial_files
from kerasapps.training import build_experiment_model

# No warm-up: a one-epoch trial would spend all of it warming up (the searches, not the schedule, are tested).
TINY = ["data.limit_train=300", "data.limit_test=100", "train.epochs=1", "schedule.warmup_epochs=0", "callbacks.tensorboard=false"]
QUIET = {"verbose": 0, "log": lambda _: None}


def _config(space=None, extra=()):
    config = load_config("lenet", overrides=[*TINY, *extra])
    if space is not None:
        config.tune.space = space
    return config


@pytest.fixture(scope="module")
def mnist(data_dir):
    return load_dataset("mnist", data_dir=data_dir, options={"pad_to": 32}, log=lambda _: None)


def _hypermodel(config, mnist):
    return ExperimentHyperModel(config, search.parse_space(config), mnist, 270)


# --- the space --------------------------------------------------------------------


def test_default_hyperparameters_build_exactly_the_default_config_model(mnist):
    config = _config()
    hypermodel = _hypermodel(config, mnist)
    hp = keras_tuner.HyperParameters()
    trial = hypermodel.trial_config(hp)  # every entry starts from the experiment's own value
    for entry in hypermodel.entries:
        assert get_value(trial, entry.key) == get_value(config, entry.key), entry.key
    assert (trial.optimizer, trial.train, trial.data) == (config.optimizer, config.train, config.data)
    tuned = hypermodel.build(hp)
    plain = build_experiment_model(config, mnist.info.model_kwargs)
    assert [layer.get_config() for layer in tuned.layers] == [layer.get_config() for layer in plain.layers]
    assert [w.shape for w in tuned.weights] == [w.shape for w in plain.weights]
    assert tuned.count_params() == plain.count_params() == 62_132  # lenet5_modern with batch norm
    assert float(keras.ops.convert_to_numpy(tuned.optimizer.learning_rate)) == pytest.approx(config.optimizer.learning_rate)
    assert hp.values["model.args.c5"] == "conv" and not hp.is_active("model.args.kernel_size")


def test_each_kind_of_space_entry_maps_onto_the_config(mnist):
    space = {
        "model.args.c1_filters": {"min": 4, "max": 16, "step": 2},
        "optimizer.learning_rate": {"min": 1.0e-4, "max": 1.0e-2, "sampling": "log"},
        "model.args.dropout": {"min": 0.0, "max": 0.5, "step": 0.25},
        "model.args.batch_norm": {"values": [False, True]},
        "optimizer.name": {"values": ["adam", "sgd"]},
        "optimizer.momentum": {"min": 0.0, "max": 0.9, "when": {"optimizer.name": ["sgd"]}},
    }
    config = _config(space)
    hp = keras_tuner.HyperParameters()
    _hypermodel(config, mnist).declare_hyperparameters(hp)
    kinds = {p.name: p for p in hp.space}
    assert isinstance(kinds["model.args.c1_filters"], keras_tuner.engine.hyperparameters.Int)
    assert (kinds["model.args.c1_filters"].min_value, kinds["model.args.c1_filters"].max_value,
            kinds["model.args.c1_filters"].step) == (4, 16, 2)
    assert isinstance(kinds["optimizer.learning_rate"], keras_tuner.engine.hyperparameters.Float)
    assert kinds["optimizer.learning_rate"].sampling == "log"
    assert kinds["model.args.dropout"].step == 0.25
    assert kinds["model.args.batch_norm"].values == [False, True]
    assert kinds["optimizer.momentum"].conditions[0].name == "optimizer.name"

    entries = search.parse_space(config)
    values = {"model.args.c1_filters": 10, "optimizer.learning_rate": 0.003, "model.args.dropout": 0.25,
              "model.args.batch_norm": True, "optimizer.name": "adam", "optimizer.momentum": 0.8}
    trial = search.config_for(config, values, entries)
    assert trial.model.args["c1_filters"] == 10 and trial.model.args["dropout"] == 0.25
    assert trial.model.args["batch_norm"] is True and trial.optimizer.learning_rate == 0.003
    assert trial.optimizer.momentum == 0.0  # inactive: optimizer.name is adam
    assert search.config_for(config, {**values, "optimizer.name": "sgd"}, entries).optimizer.momentum == 0.8
    assert config.model.args.get("c1_filters") is None  # the experiment's config is untouched
    assert search.config_for(config, {"tuner/epochs": 3}, entries) == config


@pytest.mark.parametrize(
    "space, message",
    [
        ({"model.args.c1_filter": {"min": 4, "max": 8}}, "Unknown argument 'model.args.c1_filter' of model"),
        ({"optimizer.lr": {"values": [0.1]}}, "Unknown config key 'optimizer.lr'"),
        ({"model.args.c1_filters": {"min": 16, "max": 4}}, "empty range, min=16 > max=4"),
        ({"train.batch_size": {"values": []}}, "values must be a non-empty list, got []"),
        ({"model.args.c1_filters": {"min": 8, "max": 16}}, "own value 6 is outside min=8..max=16"),
        ({"train.batch_size": {"min": 16.0, "max": 256}}, "must be ints, got"),
        ({"optimizer.learning_rate": {"min": 0.0, "max": 0.1, "sampling": "log"}}, "needs min > 0, got min=0.0"),
        ({"model.args.c5": {"values": ["conv", 1]}}, "all ints, all floats, all strings or all bools, got ['conv', 1]"),
        ({"model.args.kernel_size": {"values": [5], "when": {"optimizer.name": ["sgd"]}}}, "refers to 'optimizer.name'"),
        ({"data.limit_train": {"values": [300, 600]}}, "data cannot be tuned"),
        ({"train.epochs": {"range": [1, 3]}}, "unknown entry key 'range'"),
    ],
)
def test_bad_spaces_are_errors_that_echo_the_entry(space, message):
    with pytest.raises(UserError, match="tune.space") as error:
        search.parse_space(_config(space))
    assert message in str(error.value)


def test_a_choice_whose_feature_map_vanishes_fails_before_any_trial(data_dir, runs_dir, mnist):
    config = _config({"model.args.kernel_size": {"values": [5, 7]}})
    with pytest.raises(UserError) as error:
        search.search(config, data_dir=str(data_dir), runs_dir=runs_dir, **QUIET)
    text = str(error.value)
    assert "tune.space 'model.args.kernel_size'" in text and "model.args.kernel_size=7" in text
    assert "Layer 'S4'" in text and "not a positive whole number" in text
    assert not list(runs_dir.rglob("trial_*"))  # not one trial ran
    # A conditional entry is checked with its parent at the values that activate it: 9x9 builds with a dense C5.
    conditional = _config({"model.args.c5": {"values": ["conv", "dense"]},
                           "model.args.kernel_size": {"values": [5, 9], "when": {"model.args.c5": ["dense"]}}})
    search.check_space(conditional, search.parse_space(conditional), mnist.info)
    unconditional = _config({"model.args.c5": {"values": ["conv", "dense"]}, "model.args.kernel_size": {"values": [5, 9]}})
    with pytest.raises(UserError, match="kernel_size=9 cannot run: Layer 'C5'"):
        search.check_space(unconditional, search.parse_space(unconditional), mnist.info)


@pytest.mark.parametrize("experiment", [e for e in list_experiments() if load_config(e).tune.space])
def test_every_experiments_space_parses_and_builds(experiment):
    config = load_config(experiment)
    entries = search.parse_space(config)
    assert entries and all(entry.candidates() for entry in entries)
    # The builders' default shapes stand in for the dataset's (loading IMDB or CIFAR-10 here would be slow).
    search.check_space(config, entries, DatasetInfo(name="stub", source="", class_names=[], model_kwargs={}))


# --- searches ---------------------------------------------------------------------


@pytest.mark.slow
def test_random_search_cli_writes_trials_and_a_best_config_that_trains(data_dir, runs_dir, capsys):
    """In-process: the distributed test below runs `kerasapps tune` end to end."""
    sets = [a for s in TINY for a in ("--set", s)]
    with pytest.raises(SystemExit) as exit_info:
        run_main(tune_main, ["lenet", "--tuner", "random", "--max-trials", "3", *sets])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0, err
    assert out.count("trial done: val_accuracy=") == 3 and "Trial 3 Complete" in out
    folder = runs_dir / "lenet" / "tune" / "random"
    trials = pd.read_csv(folder / "trials.csv")
    assert list(trials["trial"]) == [1, 2, 3] and set(trials["status"]) == {"COMPLETED"}  # keras-tuner's "Trial #1"..
    assert all((folder / name).is_dir() for name in trials["folder"])
    assert trials["val_accuracy"].between(0, 1).all() and (trials["epochs"] == 1).all() and (trials["seconds"] > 0).all()
    for key in search.parse_space(load_config("lenet")):
        assert key.key in trials
    assert (folder / "objective.png").stat().st_size > 0 and (folder / "oracle.json").is_file()

    best = folder / "best_config.yaml"
    best_trial = trials.loc[trials["val_accuracy"].idxmax()]
    saved = read_yaml(best)
    assert saved["model"]["args"]["c1_filters"] == best_trial["model.args.c1_filters"]
    assert saved["train"]["batch_size"] == best_trial["train.batch_size"]
    assert saved["train"]["epochs"] == 1  # a complete config, --set values included,
    assert saved["data"]["limit_train"] is None and saved["data"]["limit_test"] is None  # but the whole dataset
    assert "It trains on the whole dataset: the search's data.limit_train=300, data.limit_test=100 are left out." in out

    assert train_main(["--config", str(best), "--set", "data.limit_train=300"]) == 0  # quick here
    metrics = json.loads((runs_dir / "lenet" / "latest" / "metrics.json").read_text())
    assert metrics["examples"]["train"] == 270 and 0 <= metrics["test_accuracy"] <= 1


@pytest.mark.slow
def test_failing_trial_is_recorded_and_the_search_goes_on_then_retrains(data_dir, runs_dir):
    # Without batch norm, which keeps even a rate of 1e9 from diverging.
    config = _config({"optimizer.learning_rate": {"values": [1.0e9, 0.003]}},
                     extra=["optimizer.name=sgd", "optimizer.learning_rate=0.003", "schedule.name=constant", "tune.tuner=grid", "tune.max_trials=2",
                            "model.args.batch_norm=false"])  # fmt: skip
    result = search.search(config, data_dir=str(data_dir), runs_dir=runs_dir, retrain=True, **QUIET)
    trials = result.trials.set_index("optimizer.learning_rate")
    assert trials.loc[1.0e9, "status"] == "FAILED" and "training diverged" in trials.loc[1.0e9, "message"]
    assert trials.loc[0.003, "status"] == "COMPLETED"
    assert read_yaml(result.best_config_path)["optimizer"]["learning_rate"] == 0.003
    assert result.retrain_run.parent == runs_dir / "lenet" and (result.retrain_run / "model.keras").is_file()
    assert result.retrain_metrics["test_accuracy"] > 0


@pytest.mark.slow
def test_interrupted_search_resumes_where_it_stopped(data_dir, runs_dir, monkeypatch):
    config = _config(extra=["tune.tuner=random", "tune.max_trials=3"])
    fit = ExperimentHyperModel.fit
    calls, interrupt_at = [], [2]

    def interrupt_second_trial(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == interrupt_at[0]:
            raise KeyboardInterrupt
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(ExperimentHyperModel, "fit", interrupt_second_trial)
    quiet = {**QUIET, "trial_processes": False}  # the patched fit exists in this process only
    with pytest.raises(KeyboardInterrupt):
        search.search(config, data_dir=str(data_dir), runs_dir=runs_dir, **quiet)
    folder = search.tune_dir(config, runs_dir=runs_dir)
    before = pd.read_csv(folder / "trials.csv")
    assert list(before["status"]) == ["COMPLETED", "RUNNING"]

    calls.clear()
    interrupt_at[0] = None
    result = search.search(config, data_dir=str(data_dir), runs_dir=runs_dir, **quiet)
    assert len(calls) == 2  # the interrupted trial and the third; the first is not run again
    after = result.trials
    assert list(after["status"]) == ["COMPLETED"] * 3
    assert after.loc[0, "val_accuracy"] == before.loc[0, "val_accuracy"]
    assert after.loc[1, "model.args.c1_filters"] == before.loc[1, "model.args.c1_filters"]

    changed = _config(extra=["tune.tuner=random", "tune.max_trials=1", "optimizer.name=sgd"])
    with pytest.raises(UserError, match=r"started with another config \(optimizer.name: 'adam' then, 'sgd' now\)"):
        search.search(changed, data_dir=str(data_dir), runs_dir=runs_dir, **quiet)
    calls.clear()
    restarted = search.search(changed, data_dir=str(data_dir), runs_dir=runs_dir, overwrite=True, **quiet)
    assert len(calls) == 1 and list(restarted.trials["status"]) == ["COMPLETED"]


@pytest.mark.slow
def test_hyperband_continues_a_trial_from_its_checkpoint_in_a_fresh_process(data_dir, runs_dir):
    config = _config(extra=["tune.tuner=hyperband", "tune.hyperband_factor=2", "train.epochs=2", "tune.max_trials=3",
                            "tune.executions_per_trial=2"])  # fmt: skip
    lines = []
    result = search.search(config, data_dir=str(data_dir), runs_dir=runs_dir, verbose=0, log=lines.append)
    # Hyperband's first bracket trains two trials 1 epoch, then the better one its 2nd; the cap stops the next bracket.
    trials = result.trials.set_index("trial")
    assert list(trials.index) == [1, 2, 3] and set(trials["status"]) == {"COMPLETED"}
    continued = trials.loc[3]
    assert continued["tuner/trial_id"] in ("0", "1")  # keras-tuner's id (folder trial_0 or trial_1): its checkpoint loaded
    assert (continued["tuner/initial_epoch"], continued["tuner/epochs"], continued["epochs"]) == (1, 2, 1)
    assert sum(line.startswith("trial done:") for line in lines) == 6  # two executions a trial
    for name in trials["folder"]:
        folder = result.tune_dir / name
        assert (folder / CHECKPOINT_FILE).is_file() and (folder / BUILD_CONFIG_FILE).is_file()


def test_the_keras_tuner_internals_trials_rely_on(tmp_path):
    """`search.trials` takes where a trial's files go from keras-tuner beyond its documented API; this fails
    the day keras-tuner changes it: its own Tuner (`load_model`, in-process trials) reads the files there."""
    for method in (keras_tuner.Tuner.get_trial_dir, keras_tuner.Tuner._get_checkpoint_fname,
                   keras_tuner.Tuner._get_build_config_fname):  # fmt: skip
        assert list(inspect.signature(method).parameters) == ["self", "trial_id"], method.__name__
    tuner = keras_tuner.RandomSearch(lambda hp: None, objective="val_accuracy", max_trials=1, directory=tmp_path)
    keras_tuners_own = (tuner._get_checkpoint_fname("7"), tuner._get_build_config_fname("7"))
    assert trial_files(tuner, "7") == tuple(os.path.abspath(path) for path in keras_tuners_own)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_distributed_search_chief_and_two_workers_on_localhost(data_dir, runs_dir, tmp_path):
    address = f"127.0.0.1:{_free_port()}"
    base = [sys.executable, "-m", "kerasapps", "tune", "lenet", "--tuner", "random", "--max-trials", "3",
            "--oracle", address, *[a for s in TINY for a in ("--set", s)]]
    processes, logs = [], []
    try:
        for role in ["chief", "worker", "worker"]:
            log = open(tmp_path / f"{role}{len(processes)}.log", "w+")
            processes.append(subprocess.Popen([*base, "--distributed", role], stdout=log, stderr=subprocess.STDOUT))
            logs.append(log)
            if role == "chief":
                time.sleep(1)
        deadline = time.monotonic() + 240
        for process in processes:
            process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
        log.close()
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    trials = pd.read_csv(runs_dir / "lenet" / "tune" / "random" / "trials.csv")
    assert sorted(trials["trial"]) == [1, 2, 3] and set(trials["status"]) == {"COMPLETED"}
    worker_trials = [out.count("trial done:") for out in outputs[1:]]
    assert sum(worker_trials) == 3 and "trial done:" not in outputs[0]  # the chief only serves
    assert (runs_dir / "lenet" / "tune" / "random" / "best_config.yaml").is_file()
    assert all("chief writes the results" in out for out in outputs[1:])
    assert not any("oneDNN" in out for out in outputs)  # TensorFlow's start-up noise stays out
    assert os.environ.get("KERASTUNER_TUNER_ID") is None


def test_the_trials_table_of_a_search_whose_every_trial_failed_keeps_their_messages():
    from types import SimpleNamespace

    from kerasapps.search.tuner import trials_table

    config = load_config("lenet")
    failed = SimpleNamespace(
        status="FAILED", message="Traceback ...\nTrainingDiverged: the loss became nan at epoch 1",
        metrics=SimpleNamespace(metrics={}, get_last_value=lambda name: None),
        hyperparameters=keras_tuner.HyperParameters(),
    )  # fmt: skip
    table = trials_table(SimpleNamespace(trials={"0": failed, "1": failed}), config, [])
    assert list(table["status"]) == ["FAILED", "FAILED"] and table["epochs"].isna().all()
    assert table["message"][0] == "TrainingDiverged: the loss became nan at epoch 1"
