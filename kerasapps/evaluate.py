"""python -m kerasapps.evaluate RUN: re-evaluate a saved model on the test split.

Writes confusion_matrix.csv, confusion_matrix.png and evaluation.json into the
run folder. RUN is a run folder or an experiment name (its newest finished run).
"""

import argparse

from kerasapps.cli import add_common_arguments, add_location_arguments, run_main


def evaluate_run(run, *, data_dir=None, runs_dir=None, log=print):
    """Evaluate run `run` on the test split of the dataset it was trained on.

    Returns a dict with test loss, accuracy and the confusion matrix (rows: true class).
    """
    import keras
    import numpy as np
    import pandas as pd

    from kerasapps import runs
    from kerasapps.data import make_pipeline
    from kerasapps.plots import plot_confusion
    from kerasapps.training import predicted_classes, prepare_run_data

    run_dir = runs.resolve_run(run, runs_dir)
    config, dataset, _, _ = prepare_run_data(run_dir, data_dir=data_dir, log=log)
    trained_on = dataset.info.name
    model = keras.saving.load_model(run_dir / runs.MODEL_FILE)
    test = make_pipeline(dataset.x_test, dataset.y_test, batch_size=config.train.batch_size)
    loss, accuracy = model.evaluate(test, verbose=0)
    scores = model.predict(test, verbose=0)
    predicted = predicted_classes(scores)
    names = dataset.info.class_names
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(matrix, (dataset.y_test.astype(int).reshape(-1), predicted), 1)

    pd.DataFrame(matrix, index=pd.Index(names, name="true"), columns=names).to_csv(run_dir / "confusion_matrix.csv")
    plot_confusion(matrix, names, run_dir / "confusion_matrix.png", title=f"{config.name}: test accuracy {accuracy:.2%}")
    result = {"run_dir": str(run_dir), "dataset": trained_on, "test_loss": float(loss), "test_accuracy": float(accuracy)}
    runs.write_json(run_dir / "evaluation.json", {**result, "confusion_matrix": matrix.tolist(), "class_names": names})
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    log(f"{run_dir}: test accuracy {accuracy:.2%} (loss {loss:.4f}) on {len(dataset.y_test):,} {trained_on} examples")
    log("per-class accuracy: " + ", ".join(f"{n} {a:.1%}" for n, a in zip(names, per_class)))
    log(f"wrote confusion_matrix.csv and confusion_matrix.png in {run_dir}")
    return {**result, "confusion_matrix": matrix}


def main(argv):
    parser = argparse.ArgumentParser(
        prog="python -m kerasapps.evaluate",
        description="Re-evaluate a saved model on its dataset's test split; write a confusion matrix (CSV and PNG).",
    )
    parser.add_argument("run", metavar="RUN", help="a run folder, or an experiment name for its newest run")
    add_location_arguments(parser)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    evaluate_run(args.run, data_dir=args.data_dir, runs_dir=args.runs_dir)
    return 0


if __name__ == "__main__":
    run_main(main)
