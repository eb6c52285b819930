"""Distillation's teacher side: the teacher's probabilities for every training row, as
the app runs the teacher (its quantised TFLite file, averaged over its test-time views),
computed once and cached outside the repository.

The student then trains on (face, soft target, label) without running the teacher per
step: on this CPU the ensemble's forward pass over two views would cost more than the
student's own training step. The teacher sees the clean rows; the student sees them
augmented, so it also learns to give augmented faces the clean face's answer.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from acting_mirror.model import ModelError, load_classifier, load_metadata
from acting_mirror.training.data import Dataset
from acting_mirror.views import views_spec

CACHE_ENV = "ACTING_MIRROR_CACHE"  # overrides ~/.cache/acting-mirror (tests use a temporary folder)


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "acting-mirror")


def teacher_probabilities(teacher: str | Path, data: Dataset, labels: list[str] | tuple[str, ...],
                          threads: int = 1, batch_size: int = 256, log=print) -> np.ndarray:
    """(N, classes) probabilities of `teacher` for `data`'s images, averaged over the teacher's
    own test-time views; read from the cache when the same teacher file, views and images
    were seen before."""
    metadata, json_path = load_metadata(teacher)
    if tuple(metadata.labels) != tuple(labels):
        raise ModelError(f"teacher {json_path} has labels {', '.join(metadata.labels)}, "
                         f"but the student is trained on {', '.join(labels)}")
    backend = "tflite" if metadata.files.get("tflite") or metadata.files.get("tflite_dynamic") else "keras"
    classifier = load_classifier(json_path, backend, threads=threads, quantized=True, test_time_views=True)
    key = hashlib.sha256()
    key.update(classifier.model_path.read_bytes())
    key.update(views_spec(classifier.views).encode())
    key.update(np.ascontiguousarray(data.images).tobytes())
    path = cache_root() / "teacher" / f"{metadata.name}-{key.hexdigest()[:16]}.npz"
    if path.is_file():
        log(f"teacher probabilities from the cache: {path}")
        return np.load(path)["probabilities"]
    log(f"teacher {metadata.name} ({classifier.model_path.name}, views {views_spec(classifier.views)}) "
        f"on {len(data)} faces")
    probabilities = np.concatenate([classifier.classify(data.images[start:start + batch_size])
                                    for start in range(0, len(data), batch_size)]).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, probabilities=probabilities)
    path.with_suffix(".json").write_text(json.dumps({
        "teacher": str(json_path), "model_file": classifier.model_path.name, "views": views_spec(classifier.views),
        "rows": len(data), "agreement_with_labels": float(np.mean(probabilities.argmax(1) == data.labels)),
    }, indent=2) + "\n")
    return probabilities
