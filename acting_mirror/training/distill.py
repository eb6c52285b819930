"""Distillation's teacher side: the teacher's probabilities for every training row, as
the app runs the teacher (its quantised TFLite file, averaged over its test-time views),
computed once and cached outside the repository.

The student then trains on (face, soft target, label) without running the teacher per
step: on this CPU the ensemble's forward pass over two views would cost more than the
student's own training step. Two ways:

- `teacher_probabilities`: the teacher sees the clean rows; the student sees them
  augmented, so it learns to give augmented faces the clean face's answer. A teacher
  that trained on these rows mostly repeats their labels there.
- `teacher_bank`: a fixed number of augmented copies of every row, each labelled by the
  teacher as it is, so teacher and student see the same picture ("consistent teaching",
  Beyer et al. 2022, "Knowledge distillation: a good teacher is patient and consistent").
  A teacher gives an augmented copy of a row it memorised a less certain, more
  informative answer than the row itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from acting_mirror.model import ModelError, load_classifier, load_metadata
from acting_mirror.training.data import Dataset
from acting_mirror.views import views_spec

CACHE_ENV = "ACTING_MIRROR_CACHE"  # overrides ~/.cache/acting-mirror (tests use a temporary folder)


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "acting-mirror")


def _teacher(teacher: str | Path, labels, threads: int):
    metadata, json_path = load_metadata(teacher)
    if tuple(metadata.labels) != tuple(labels):
        raise ModelError(f"teacher {json_path} has labels {', '.join(metadata.labels)}, "
                         f"but the student is trained on {', '.join(labels)}")
    backend = "tflite" if metadata.files.get("tflite") or metadata.files.get("tflite_dynamic") else "keras"
    return metadata, json_path, load_classifier(json_path, backend, threads=threads, quantized=True,
                                                test_time_views=True)


def _teacher_key(classifier):
    """What the teacher's answers depend on: its file, its views and how it prepares a crop."""
    key = hashlib.sha256()
    key.update(classifier.model_path.read_bytes())
    key.update(views_spec(classifier.views).encode())
    preparation = {"equalize": classifier.metadata.equalize, "sharpness": classifier.metadata.sharpness}
    key.update(json.dumps(preparation, sort_keys=True).encode())
    return key


def _classify_all(classifier, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.concatenate([classifier.classify(images[start:start + batch_size])
                           for start in range(0, len(images), batch_size)]).astype(np.float32)


def teacher_probabilities(teacher: str | Path, data: Dataset, labels: list[str] | tuple[str, ...],
                          threads: int = 1, batch_size: int = 256, log=print) -> np.ndarray:
    """(N, classes) probabilities of `teacher` for `data`'s images, averaged over the teacher's
    own test-time views; read from the cache when the same teacher file, views and images
    were seen before."""
    metadata, json_path, classifier = _teacher(teacher, labels, threads)
    key = _teacher_key(classifier)
    key.update(np.ascontiguousarray(data.images).tobytes())
    path = cache_root() / "teacher" / f"{metadata.name}-{key.hexdigest()[:16]}.npz"
    if path.is_file():
        log(f"teacher probabilities from the cache: {path}")
        return np.load(path)["probabilities"]
    log(f"teacher {metadata.name} ({classifier.model_path.name}, views {views_spec(classifier.views)}) "
        f"on {len(data)} faces")
    probabilities = _classify_all(classifier, data.images, batch_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, probabilities=probabilities)
    path.with_suffix(".json").write_text(json.dumps({
        "teacher": str(json_path), "model_file": classifier.model_path.name, "views": views_spec(classifier.views),
        "rows": len(data), "agreement_with_labels": float(np.mean(probabilities.argmax(1) == data.labels)),
    }, indent=2) + "\n")
    return probabilities


def teacher_bank(teacher: str | Path, data: Dataset, labels: list[str] | tuple[str, ...], copies: int,
                 augment: Callable[[np.ndarray], np.ndarray], augment_key: str, threads: int = 1,
                 batch_size: int = 256, log=print) -> tuple[np.ndarray, np.ndarray]:
    """`copies` augmented versions of every row of `data`, (N, copies, H, W) uint8, and the
    teacher's probabilities for each version as the app runs it, (N, copies, classes).

    `augment` maps a uint8 batch (B, H, W) to its augmented, app-prepared version (B, H, W);
    it is called `copies` times over the rows in order, so a seeded augmenter gives the same
    bank again. `augment_key` names it (augmentations, seed, preparation) for the cache."""
    if copies < 1:
        raise ValueError(f"teacher copies must be at least 1, got {copies}")
    metadata, json_path, classifier = _teacher(teacher, labels, threads)
    key = _teacher_key(classifier)
    key.update(np.ascontiguousarray(data.images).tobytes())
    key.update(f"{copies} copies; {augment_key}".encode())
    path = cache_root() / "teacher" / f"{metadata.name}-bank{copies}-{key.hexdigest()[:16]}.npz"
    if path.is_file():
        log(f"teacher's bank of augmented copies from the cache: {path}")
        with np.load(path) as cached:
            return cached["images"], cached["probabilities"]
    count, size = len(data), data.images.shape[1:]
    log(f"teacher {metadata.name} ({classifier.model_path.name}, views {views_spec(classifier.views)}) "
        f"on {copies} augmented copies of {count} faces")
    images = np.empty((count, copies, *size), np.uint8)
    for copy in range(copies):
        for start in range(0, count, batch_size):
            images[start:start + batch_size, copy] = augment(data.images[start:start + batch_size])
    flat = images.reshape(count * copies, *size)
    probabilities = _classify_all(classifier, flat, batch_size).reshape(count, copies, -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, images=images, probabilities=probabilities)  # uncompressed: faster to load than to unzip
    partial.replace(path)  # a killed run leaves no half-written bank behind under the real name
    path.with_suffix(".json").write_text(json.dumps({
        "teacher": str(json_path), "model_file": classifier.model_path.name, "views": views_spec(classifier.views),
        "rows": count, "copies": copies, "augment": augment_key,
        "agreement_with_labels": float(np.mean(probabilities.argmax(-1) == data.labels[:, None])),
        "mean_top_probability": float(probabilities.max(-1).mean()),
    }, indent=2) + "\n")
    return images, probabilities
