"""The `lstm` experiment end to end on a few thousand reviews, then predict on raw text.

One short training run (module fixture) serves every test here: it must learn
above chance, and its run folder must carry the vocabulary that predict needs.
"""

import subprocess
import sys

import numpy as np
import pytest

from kerasapps.commands import predict
from kerasapps.commands.cli import run_main
from kerasapps.config import load_config
from kerasapps.data.text_preprocessing import read_vocabulary, vectorize
from kerasapps.deploy.classify import classify, read_lines
from kerasapps.errors import UserError
from kerasapps.runs import read_metrics
from kerasapps.training import train_and_evaluate

pytestmark = pytest.mark.slow  # trains or converts models: the full suite's tier


def positive_probabilities(source, texts):
    return np.array([p["probabilities"][1] for p in classify(source, texts)])


QUICK = [
    "data.limit_train=4000",
    "data.limit_test=1000",
    "data.options.sequence_length=128",
    "data.options.vocab_size=5000",
    "model.args.embedding_dim=32",
    "model.args.units=32",
    "train.epochs=3",
    "train.batch_size=32",
    "callbacks.tensorboard=false",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir):
    config = load_config("lstm", overrides=QUICK)
    run_dir, _ = train_and_evaluate(
        config, data_dir=str(data_dir), runs_dir=tmp_path_factory.mktemp("saved_models"), verbose=0, log=lambda _: None
    )
    return run_dir


def test_lstm_run_learns_above_chance_and_saves_the_vocabulary(run_dir):
    metrics = read_metrics(run_dir)
    assert metrics["examples"] == {"train": 3600, "validation": 400, "test": 1000}
    assert metrics["test_accuracy"] > 0.75, metrics["test_accuracy"]  # 0.832 on the 2-core CPU
    assert metrics["dataset"]["preprocessing"]["kind"] == "text"
    vocabulary = read_vocabulary(run_dir / "vocabulary.txt")
    assert len(vocabulary) == metrics["dataset"]["model_kwargs"]["vocab_size"] == 5000
    assert vocabulary[:3] == ["", "[UNK]", "the"]


def test_classify_texts_matches_the_model_on_ids(run_dir):
    import keras

    texts = ["A quietly brilliant film, moving and beautifully acted.", "Dull, boring<br />and a waste of time."]
    probabilities = positive_probabilities(run_dir, texts)
    assert probabilities.shape == (2,) and np.all((probabilities > 0) & (probabilities < 1))
    model = keras.saving.load_model(run_dir / "model.keras")
    spec = read_metrics(run_dir)["dataset"]["preprocessing"]
    expected = model.predict(vectorize(texts, spec, read_vocabulary(run_dir / "vocabulary.txt")), verbose=0)[:, 0]
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    assert probabilities[0] > probabilities[1]


@pytest.mark.parametrize(
    "texts, message",
    [([], "No text to classify"), (["good", "  \n"], "Text 2 is empty"),
     (["bad \udcff byte"], "Text 1 is not valid UTF-8")],
)  # fmt: skip
def test_classify_rejects_empty_and_undecodable_text(run_dir, texts, message):
    with pytest.raises(UserError, match=message):
        classify(run_dir, texts)


def test_read_lines_one_text_a_line(tmp_path):
    path = tmp_path / "reviews.txt"
    path.write_bytes("great film\r\nterrible film\n".encode())
    assert read_lines(path) == ["great film", "terrible film"]
    path.write_bytes(b"\ngreat film\n\n  \r\nterrible film\n\n")
    assert read_lines(path) == ["great film", "terrible film"]  # a blank line is not a review
    path.write_bytes(b"fine\ncaf\xe9 latin-1\n")
    with pytest.raises(UserError, match=r"reviews.txt, line 2: byte 0xe9 is not valid UTF-8"):
        read_lines(path)
    for blank in (b"", b"\n \n\r\n"):
        path.write_bytes(blank)
        with pytest.raises(UserError, match="holds no review: it is empty or all its lines are blank"):
            read_lines(path)


def test_an_image_run_reads_its_inputs_as_image_files(run_dir, tmp_path):
    import json
    import shutil

    other = tmp_path / "image_run"
    shutil.copytree(run_dir, other, symlinks=True)
    metrics = json.loads((other / "metrics.json").read_text())
    metrics["dataset"] = {"name": "mnist", "preprocessing": {"size": [28, 28], "channels": 1}}
    (other / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(UserError, match="No image file good"):
        classify(other, ["good"])


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "kerasapps", "predict", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_prints_probabilities_for_a_file(run_dir, tmp_path):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("a quietly brilliant film\nthe worst movie i have ever seen\n", encoding="utf-8")
    result = _cli(str(run_dir), "--file", str(reviews))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    p = [float(line.split("\t")[0]) for line in lines]
    np.testing.assert_allclose(p, positive_probabilities(run_dir, reviews.read_text().splitlines()), atol=1e-4)
    assert lines[0].split("\t")[1:] == ["pos" if p[0] >= 0.5 else "neg", "a quietly brilliant film"]


@pytest.mark.parametrize(
    "args, message",
    [(["{run}", ""], "error: Text argument 1 is empty"),
     (["{run}", "caf\udce9"], "error: Text argument 1 is not valid UTF-8"),
     (["{run}", "--file", "{bad}"], "line 1: byte 0xff is not valid UTF-8"),
     (["{run}", "good", "--file", "{bad}"], "error: Give inputs either as arguments or with --file"),
     (["{missing}", "good"], "error: No run folder")],
)  # fmt: skip
def test_cli_errors_are_one_line_and_exit_2(run_dir, tmp_path, capsys, args, message):
    """Run in-process (the subprocess test above covers `python -m`): the same `run_main`."""
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe not utf-8\n")
    argv = [a.format(run=run_dir, bad=bad, missing=tmp_path / "no" / "run") for a in args]
    with pytest.raises(SystemExit) as exit_info:
        run_main(predict.main, argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_evaluate_works_on_a_text_run(run_dir, data_dir):
    from kerasapps.training import evaluate_run

    result = evaluate_run(run_dir, data_dir=str(data_dir), log=lambda _: None)
    assert result["confusion_matrix"].sum() == 1000
    assert result["test_accuracy"] == pytest.approx(read_metrics(run_dir)["test_accuracy"], abs=1e-6)
    assert (run_dir / "confusion_matrix.csv").is_file()
