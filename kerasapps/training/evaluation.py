"""Re-evaluate a finished run on its test split: the library behind `kerasapps evaluate`.

    result = evaluate_run("lenet", data_dir="../shared/data")

Writes into the run folder: confusion_matrix.csv and .png, classification_report.csv
(per-class precision, recall, F1 and support, from scikit-learn) and evaluation.json.
"""

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix

from kerasapps import runs
from kerasapps.config import list_experiments, load_run_config
from kerasapps.data import load_experiment_data, make_pipeline
from kerasapps.plots import plot_confusion
from kerasapps.scores import predicted_classes


def evaluate_run(run, *, data_dir=None, runs_dir=None, log=print):
    """Evaluate run `run` (a folder, or an experiment name for its newest run) on its test split.

    Returns a dict with test loss and accuracy, the confusion matrix (rows: true
    class) and the per-class report (a pandas DataFrame).

    Raises:
        UserError: no such run, or a folder that is not a finished run.
    """
    run_dir = runs.resolve_run(run, runs_dir, experiments=list_experiments())
    config = load_run_config(run_dir)
    dataset, _, _ = load_experiment_data(config, data_dir=data_dir, log=log)
    model = runs.load_run_model(run_dir)
    test = make_pipeline(dataset.x_test, dataset.y_test, batch_size=config.train.batch_size)
    loss, accuracy = model.evaluate(test, verbose=0)
    predicted = predicted_classes(model.predict(test, verbose=0))
    names = dataset.info.class_names
    truth = dataset.y_test.astype(int).reshape(-1)
    labels = list(range(len(names)))
    matrix = confusion_matrix(truth, predicted, labels=labels)
    per_class = classification_report(
        truth, predicted, labels=labels, target_names=names, output_dict=True, zero_division=0
    )
    per_class.pop("accuracy", None)  # a scalar beside the rows; the accuracy is reported on its own
    report = pd.DataFrame(per_class).transpose().astype({"support": int})

    runs.write_atomic(
        run_dir / "confusion_matrix.csv",
        pd.DataFrame(matrix, index=pd.Index(names, name="true"), columns=names).to_csv(),
    )
    runs.write_atomic(run_dir / "classification_report.csv", report.to_csv(index_label="class"))
    plot_confusion(matrix, names, run_dir / "confusion_matrix.png", title=f"{config.name}: test accuracy {accuracy:.2%}")
    result = {"run_dir": str(run_dir), "dataset": dataset.info.name, "test_loss": float(loss), "test_accuracy": float(accuracy)}
    runs.write_json(run_dir / "evaluation.json", {**result, "confusion_matrix": matrix.tolist(), "class_names": names})
    log(f"{run_dir}: test accuracy {accuracy:.2%} (loss {loss:.4f}) on {len(truth):,} {dataset.info.name} examples")
    log(report.to_string(float_format=lambda v: f"{v:.4f}"))
    log(f"wrote confusion_matrix.csv, confusion_matrix.png and classification_report.csv in {run_dir}")
    return {**result, "confusion_matrix": np.asarray(matrix), "report": report}
