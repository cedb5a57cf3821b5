"""What a new user reads when something goes wrong: Ctrl-C, an unknown run, an image given to a
text model, blank lines in --file, and TensorFlow's native start-up lines on stderr."""

import subprocess
import sys

import pytest
from PIL import Image

from kerasapps.commands import evaluate, export, predict, train
from kerasapps.commands.cli import run_main
from kerasapps.data.idx import read_idx


def _fails_with(main, argv, capsys):
    """Run `main` through `run_main`; it must exit 2 with one `error:` line. Returns that line."""
    with pytest.raises(SystemExit) as exit_info:
        run_main(main, argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    return err.strip()


def _digit_png(path, data_dir):
    """MNIST's first test digit (a 7) as a PNG: an image predict takes as it is, with no note."""
    Image.fromarray(read_idx(str(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz"))[0]).save(path)
    return path


# --- Ctrl-C -------------------------------------------------------------------------


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    "main, library, hint",
    [(train.main, "kerasapps.training.train_and_evaluate",
      "`kerasapps train EXPERIMENT --resume` continues the run from its last finished epoch."),
     (export.main, "kerasapps.deploy.export_run", None)],
)  # fmt: skip
def test_ctrl_c_in_train_says_how_to_resume(monkeypatch, capsys, tmp_path, main, library, hint):
    monkeypatch.setattr(library, _interrupt)
    argv = ["lenet", "--runs-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        run_main(main, argv)
    assert exit_info.value.code == 130
    err = capsys.readouterr().err.strip()
    if hint is None:
        assert err == "interrupted."
    else:
        assert err.startswith("interrupted. ") and hint in err and err.count("\n") == 0, err


# --- an unknown run -------------------------------------------------------------------


def _fake_finished_run(runs_dir, experiment):
    run_dir = runs_dir / experiment / "20260101-000000"
    run_dir.mkdir(parents=True)
    for name in ("config.yaml", "metrics.json", "model.keras"):
        (run_dir / name).write_text("{}")


def test_unknown_run_suggests_what_works(runs_dir, capsys):
    argv = ["nosuch", "--runs-dir", str(runs_dir)]
    err = _fails_with(evaluate.main, argv, capsys)
    assert "'nosuch' is no experiment" in err and "kerasapps train nosuch" not in err
    assert "No experiment has a finished run" in err and "`kerasapps train EXPERIMENT` (" in err and "lenet" in err

    _fake_finished_run(runs_dir, "lenet")
    err = _fails_with(evaluate.main, argv, capsys)
    assert "Experiments with finished runs: lenet." in err and "kerasapps train" not in err

    err = _fails_with(evaluate.main, ["lstm", "--runs-dir", str(runs_dir)], capsys)
    assert "Train one with `kerasapps train lstm`." in err and "Experiments with finished runs: lenet." in err


# --- predict with a text model --------------------------------------------------------


def test_text_model_refuses_an_image_file(tiny_lstm_run, data_dir, tmp_path, capsys):
    digit = _digit_png(tmp_path / "digit0_7.png", data_dir)
    err = _fails_with(predict.main, [str(tiny_lstm_run), str(digit)], capsys)
    assert err == (
        f"error: {digit} is an image file; run {tiny_lstm_run} reads texts: "
        "pass the review text, or --file FILE with one review a line."
    )


def test_text_model_still_reads_a_review_ending_in_png(tiny_lstm_run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_main(predict.main, [str(tiny_lstm_run), "i saw it as no_such_poster.png"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.count("\n") == 1


def test_blank_lines_in_file_are_skipped(tiny_lstm_run, tmp_path, capsys):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("\na quietly brilliant film\n\n   \nthe worst movie i have ever seen\n\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        run_main(predict.main, [str(tiny_lstm_run), "--file", str(reviews)])
    captured = capsys.readouterr()
    assert exit_info.value.code == 0, captured.err
    assert [line.split("\t")[2] for line in captured.out.splitlines()] == [
        "a quietly brilliant film", "the worst movie i have ever seen",
    ]  # fmt: skip

    reviews.write_text("\n  \n\r\n", encoding="utf-8")
    err = _fails_with(predict.main, [str(tiny_lstm_run), "--file", str(reviews)], capsys)
    assert err == f"error: {reviews} holds no review: it is empty or all its lines are blank. Write one review a line."


# --- predict prints only the predictions ------------------------------------------------


@pytest.fixture(scope="module")
def float32_tflite(small_lenet_run, data_dir, tmp_path_factory):
    from kerasapps.deploy import export_run

    out = tmp_path_factory.mktemp("tflite")
    export_run(small_lenet_run, quantize="none", out=out, data_dir=str(data_dir), log=lambda _: None)
    return out / small_lenet_run.parent.name / "float32.tflite"


def test_predict_writes_nothing_on_stderr(small_lenet_run, float32_tflite, data_dir, tmp_path):
    digit = _digit_png(tmp_path / "digit.png", data_dir)
    for source in (small_lenet_run, float32_tflite):
        result = subprocess.run(
            ["kerasapps", "predict", str(source), str(digit)], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert result.stdout.count("\n") == 1 and result.stdout.strip().endswith(str(digit))


def test_commands_probe_the_devices_while_quiet():
    """A command imports TensorFlow once its arguments are parsed, and probes the devices then, quietly:
    later (MediaPipe reading a .tflite's metadata imports TensorFlow by itself, the first image decoded)
    CUDA would print `failed call to cuInit` on a machine without a GPU."""
    script = (
        "import sys\n"
        "from kerasapps.commands import predict\n"
        "from kerasapps.commands.cli import parse\n"
        "parse(predict.build_parser(), ['model.tflite', 'digit.png'])\n"
        "from tensorflow.python.eager import context\n"
        "sys.exit(0 if context.context()._physical_devices is not None else 3)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr
