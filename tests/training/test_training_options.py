"""Each option branch of the training config builds what it says."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasapps.config import load_config
from kerasapps.data import DatasetInfo
from kerasapps.errors import UserError
from kerasapps.training import build_experiment_model, compile_model
from kerasapps.training.callbacks import SaveBest, run_callbacks
from kerasapps.training.fit import set_inter_op_threads
from kerasapps.training.optimizers import make_learning_rate, make_optimizer

INFO = DatasetInfo("mnist", "test", [str(i) for i in range(10)], {"input_shape": (32, 32, 1), "num_classes": 10})


def test_step_schedule_divides_at_the_boundaries():
    config = load_config(
        "lenet", overrides=["schedule.name=step", "schedule.warmup_epochs=0", "optimizer.learning_rate=0.1", "train.epochs=4"]
    )
    schedule = make_learning_rate(config, steps_per_epoch=10)  # 40 steps, boundaries at 20 and 30
    rates = [float(schedule(step)) for step in (0, 20, 21, 30, 31, 39)]
    assert rates == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_cosine_schedule_with_warmup_rises_then_decays():
    config = load_config("lenet", overrides=["schedule.warmup_epochs=1", "optimizer.learning_rate=0.01", "train.epochs=3"])
    schedule = make_learning_rate(config, steps_per_epoch=10)
    assert float(schedule(0)) == 0 and float(schedule(10)) == pytest.approx(0.01)
    assert float(schedule(29)) < 0.001
    constant = load_config("lenet", overrides=["schedule.name=constant", "schedule.warmup_epochs=0"])
    assert make_learning_rate(constant, 10) == constant.optimizer.learning_rate
    warmed = make_learning_rate(load_config("lenet", overrides=["schedule.name=constant", "train.epochs=3"]), 10)
    assert [float(warmed(step)) for step in (0, 5, 10, 29)] == pytest.approx([0, 0.005, 0.01, 0.01])
    with pytest.raises(UserError, match="set schedule.warmup_epochs=0 for step"):
        load_config("lenet", overrides=["schedule.name=step"])


@pytest.mark.parametrize("name, cls", [("sgd", keras.optimizers.SGD), ("adamw", keras.optimizers.AdamW),
                                       ("rmsprop", keras.optimizers.RMSprop), ("adam", keras.optimizers.Adam)])
def test_optimizer_choice_and_clipping_reach_keras(name, cls):
    config = load_config("lenet", overrides=[f"optimizer.name={name}", "optimizer.clipnorm=1.5",
                                             "optimizer.momentum=0.9", "optimizer.weight_decay=0.0001"])
    optimizer = make_optimizer(config, steps_per_epoch=10)
    assert type(optimizer) is cls
    assert optimizer.clipnorm == 1.5
    assert optimizer.weight_decay == pytest.approx(1e-4)
    if name == "sgd":
        assert optimizer.momentum == 0.9


def test_mixed_precision_computes_in_bfloat16_and_restores_the_policy():
    config = load_config("lenet", overrides=["train.mixed_precision=true", "train.steps_per_execution=4"])
    model = build_experiment_model(config, INFO.model_kwargs)
    assert model.get_layer("C1").compute_dtype == "bfloat16"
    assert model.get_layer("C1").variable_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"
    assert model.layers[-1].compute_dtype == "float32"  # the softmax: bfloat16 would round the loss
    assert model(np.zeros((1, 32, 32, 1), np.float32)).dtype == "float32"
    compile_model(model, config, steps_per_epoch=10)
    assert model.steps_per_execution == 4
    x = np.random.default_rng(0).random((64, 32, 32, 1), dtype=np.float32)
    history = model.fit(x, np.arange(64) % 10, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("name, output", [("resnet20", "predictions"), ("googlenet", "predictions"), ("lstm", None)])
def test_mixed_precision_keeps_every_family_s_output_layer_in_float32(name, output):
    config = load_config("lenet", overrides=["train.mixed_precision=true"])
    config.model.name, config.model.args = name, {}
    kwargs = {"input_shape": (32, 32, 3), "num_classes": 10} if name != "lstm" else {"vocab_size": 100, "sequence_length": 20}
    info = DatasetInfo(name="x", source="test", class_names=[], model_kwargs=kwargs)
    model = build_experiment_model(config, info.model_kwargs)
    last = model.get_layer(output) if output else model.layers[-1]
    assert last.compute_dtype == "float32"
    assert sum(layer.compute_dtype == "bfloat16" for layer in model.layers) > 1


def test_mixed_precision_auto_is_half_precision_on_a_gpu_only_and_other_words_are_refused():
    from kerasapps.errors import UserError
    from kerasapps.training.fit import mixed_precision_policy

    assert (mixed_precision_policy(True), mixed_precision_policy(False)) == ("mixed_bfloat16", "float32")
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    assert (mixed_precision_policy("auto") != "float32") == on_gpu
    assert load_config("lenet", overrides=["train.mixed_precision=auto"]).train.mixed_precision == "auto"
    with pytest.raises(UserError, match="train.mixed_precision"):
        load_config("lenet", overrides=["train.mixed_precision=sometimes"])


def test_binary_output_gets_binary_crossentropy():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    compile_model(model, load_config("lenet"), steps_per_epoch=1)
    assert model.loss == "binary_crossentropy"


def test_optional_callbacks_follow_the_config(tmp_path):
    config = load_config("lenet", overrides=["callbacks.early_stopping_patience=2", "callbacks.tensorboard=false"])
    kinds = {type(c).__name__ for c in run_callbacks(config, tmp_path, has_validation=True, resume=False, save=None)}
    assert {"BackupAndRestore", "CSVLogger", "SaveBest", "EarlyStopping"} <= kinds
    assert "TensorBoard" not in kinds
    config = load_config("lenet", overrides=["callbacks.checkpoint=false"])
    kinds = {type(c).__name__ for c in run_callbacks(config, tmp_path, has_validation=True, resume=False, save=None)}
    assert "SaveBest" not in kinds and "TensorBoard" in kinds


def test_save_best_saves_each_epoch_that_beats_every_earlier_one():
    saved = []
    callback = SaveBest(lambda model, path: saved.append(path), "best.keras", "val_accuracy")
    for epoch, accuracy in enumerate([0.5, 0.7, 0.6, 0.7, 0.9]):
        callback.on_epoch_end(epoch, {"val_accuracy": accuracy})
    assert len(saved) == 3 and callback.best == 0.9  # epochs 1, 2 and 5


# --- TensorFlow's inter-op thread pool ------------------------------------------------

INTER_OP_SCRIPT = """
import tensorflow as tf
from kerasapps.training.fit import set_inter_op_threads
set_inter_op_threads(1)
tf.constant(1.0) + 1.0  # the first op fixes the pools
print(tf.config.threading.get_inter_op_parallelism_threads())
"""


def test_inter_op_threads_reach_tensorflow_before_its_first_op():
    done = subprocess.run([sys.executable, "-c", INTER_OP_SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1"]


def test_inter_op_threads_after_the_first_op_say_they_were_not_applied():
    tf.constant(1.0) + 1.0  # this test process has run ops already
    current = tf.config.threading.get_inter_op_parallelism_threads()
    lines = []
    set_inter_op_threads(current, log=lines.append)  # already so: nothing to say
    set_inter_op_threads(current + 3, log=lines.append)
    assert lines == [f"train.inter_op_threads={current + 3} not applied: TensorFlow already runs in this process."]
    assert tf.config.threading.get_inter_op_parallelism_threads() == current
    with pytest.raises(UserError, match="train.inter_op_threads must be an integer of at least 0, got -1"):
        load_config("lenet", overrides=["train.inter_op_threads=-1"])
