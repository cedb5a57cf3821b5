"""A bfloat16-trained model (`train.mixed_precision`) still exports: LiteRT gets its float32 twin."""

import numpy as np

from kerasapps.config import load_config
from kerasapps.data import DatasetInfo
from kerasapps.deploy.convert import computes_in_float32, convert, float32_twin
from kerasapps.deploy.interpreter import LiteModel
from kerasapps.training import build_experiment_model

INFO = DatasetInfo("mnist", "test", [str(i) for i in range(10)], {"input_shape": (32, 32, 1), "num_classes": 10})


def test_a_mixed_precision_lenet_converts_through_its_float32_twin():
    config = load_config("lenet", overrides=["train.mixed_precision=true"])
    model = build_experiment_model(config, INFO.model_kwargs)
    assert not computes_in_float32(model)
    twin = float32_twin(model)
    assert computes_in_float32(twin) and twin.count_params() == model.count_params()
    x = np.random.default_rng(0).random((16, 32, 32, 1), dtype=np.float32)
    bf16, f32 = model.predict(x, verbose=0), twin.predict(x, verbose=0)
    np.testing.assert_allclose(f32, bf16, atol=0.02)  # bfloat16 keeps about 3 significant digits
    assert np.any(f32 != bf16)  # ...so the twin really computes in float32

    content = convert(model, "float32")  # bfloat16 kernels do not exist in LiteRT: this used to fail
    scores = LiteModel(content).predict(x)
    np.testing.assert_allclose(scores, f32, atol=1e-5)
