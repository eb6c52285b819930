"""A model's neutral reference: its mean probabilities on faces people call neutral, as the
app runs it (quantised file, test-time views, the metadata's preprocessing). Computed once
when a model is packaged and kept in its metadata; a resting-face profile maps an actor's
resting face onto it (acting_mirror.calibration)."""

from __future__ import annotations

import numpy as np

from acting_mirror.training.data import FER_CLASSES, Dataset, DatasetError, majority_labels

NEUTRAL = FER_CLASSES.index("neutral")


def neutral_faces(dataset: Dataset) -> np.ndarray:
    """The faces whose FER+ majority is neutral (with votes), else those labelled neutral."""
    labels = majority_labels(dataset.votes) if dataset.votes is not None else dataset.labels
    faces = dataset.images[labels == NEUTRAL]
    if len(faces) == 0:
        raise DatasetError(f"{dataset.source}: no neutral faces to take the reference from")
    return faces


def neutral_reference(classifier, dataset: Dataset, batch_size: int = 256) -> np.ndarray:
    """The classifier's mean probabilities (its label order) over the neutral faces of `dataset`."""
    faces = neutral_faces(dataset)
    total = np.zeros(len(classifier.labels), np.float64)
    for start in range(0, len(faces), batch_size):
        total += classifier.classify(faces[start:start + batch_size]).sum(axis=0)
    return total / len(faces)
