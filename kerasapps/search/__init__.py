"""Hyperparameter search with keras-tuner: the library under `kerasapps tune`.

    space.py        the `tune.space` section: parsed, checked before any trial, applied to a config
    hypermodel.py   the keras-tuner HyperModel: a trial is the experiment's config with its values
    tuner.py        search(config): the tuners, distributed mode, trials.csv and best_config.yaml
    trials.py       each trial in a fresh process; the one place that relies on keras-tuner beyond its documented API
"""

from kerasapps.search.space import SpaceEntry, check_space, config_for, parse_space
from kerasapps.search.tuner import SearchResult, search, tune_dir
