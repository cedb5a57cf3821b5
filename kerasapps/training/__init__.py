"""Training: the library under `kerasapps train` and `evaluate`.

    fit.py          the one fit: build and compile a config's model, train it on the pipelines
    optimizers.py   optimizer and learning-rate schedule from the config
    callbacks.py    a run's callbacks and the once-an-epoch NaN check
    run.py          train_and_evaluate(config): a whole run, saved in a run folder
    evaluation.py   evaluate_run(run): confusion matrix and per-class report of a finished run
"""

from kerasapps.training.evaluation import evaluate_run
from kerasapps.training.fit import (
    build_and_compile,
    build_experiment_model,
    compile_model,
    fit,
    seed_everything,
    set_inter_op_threads,
)
from kerasapps.training.run import library_versions, train_and_evaluate
