"""Model outputs -> classes and accuracy, the same for Keras models and .tflite files."""

import numpy as np


def predicted_classes(scores):
    """Class indices from model outputs: argmax, or a 0.5 threshold for one sigmoid unit."""
    scores = np.asarray(scores)
    return (scores[:, 0] > 0.5).astype(int) if scores.shape[-1] == 1 else scores.argmax(axis=-1)


def accuracy(scores, labels):
    """Fraction of `scores` whose predicted class equals `labels`."""
    return float(np.mean(predicted_classes(scores) == np.asarray(labels).reshape(-1)))
