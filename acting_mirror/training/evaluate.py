"""Evaluation: a classifier on a FER-2013 split -> accuracy, its 95% interval, per-class
metrics and the confusion matrix, as a JSON-ready dict; on a file with FER+ votes also the
accuracy against the majority of 10 annotators, the per-class recall against it and the
mean cross-entropy against their vote distribution.

Data labels are FER-2013 indices; the model's own label list (display names, from
its metadata) decides which rows count and in which order, so a 6-class model
trained without disgust is scored on the 6 classes it knows.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from acting_mirror.metadata import ModelMetadata
from acting_mirror.training.data import (
    FER_CLASSES,
    FER_DISPLAY_NAMES,
    Dataset,
    DatasetError,
    class_index,
    majority_labels,
    vote_distribution,
    votes_trainable,
)
from acting_mirror.views import View, views_from_json, views_spec

# scipy.stats.binomtest(...).proportion_ci method: the Wilson score interval keeps
# close to its nominal 95% coverage; Clopper-Pearson ("exact") is conservative.
CI_METHOD = "wilson"


def label_lookup(model_labels: Sequence[str]) -> np.ndarray:
    """FER index -> model output index (-1 where the model has no such class)."""
    lookup = np.full(len(FER_CLASSES), -1, dtype=np.int64)
    for model_index, name in enumerate(model_labels):
        try:
            fer_index = class_index(name)
        except DatasetError:
            raise DatasetError(f"model label {name!r} is not a FER-2013 class, so the data cannot be "
                               "matched to it") from None
        lookup[fer_index] = model_index
    return lookup


def match_labels(dataset: Dataset, model_labels: Sequence[str]) -> tuple[Dataset, dict[str, int]]:
    """Keep the rows of classes the model knows, labelled by model output index.

    Returns the matched dataset and {display name: rows dropped} for the classes
    the model leaves out."""
    lookup = label_lookup(model_labels)
    mapped = lookup[dataset.labels]
    keep = mapped >= 0
    dropped = {FER_DISPLAY_NAMES[i]: int(np.sum(dataset.labels == i))
               for i in range(len(FER_CLASSES)) if lookup[i] < 0 and np.any(dataset.labels == i)}
    if not np.any(keep):
        raise DatasetError(f"{dataset.source}: no rows of the model's classes ({', '.join(model_labels)})")
    return replace(dataset.subset(keep), labels=mapped[keep]), dropped


def _fit_size(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if images.shape[1:] == tuple(size):
        return images
    import cv2

    height, width = size
    return np.stack([cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA) for image in images])


def predict(classifier, images: np.ndarray, batch_size: int = 256, views: tuple[View, ...] | None = None,
            progress: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Probabilities for uint8 crops in batches (one pass); with `views` also each crop's
    mean over those views (None otherwise). A one-pass crop that is also a view is run once."""
    from tqdm import tqdm

    if batch_size < 1:
        raise ValueError("batch size must be positive")
    images = _fit_size(images, classifier.input_size)
    plain, averaged = [], []
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="evaluating", unit="batch", disable=not progress, leave=False):
        crops = images[start:start + batch_size]
        by_view = {view: classifier.classify_views(crops, (view,)) for view in views or ()}
        plain.append(by_view[View()] if View() in by_view else classifier.classify(crops, test_time_views=False))
        if views:
            averaged.append(np.mean([by_view[view] for view in views], axis=0))
    if not plain:
        raise DatasetError("nothing to evaluate: no images")
    return np.concatenate(plain), (np.concatenate(averaged) if views else None)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict:
    """Accuracy with its 95% interval, per-class precision/recall/F1/support and the
    confusion matrix (counts and row-normalised), all as plain JSON types."""
    from scipy.stats import binomtest
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    n = int(len(y_true))
    if n == 0:
        raise DatasetError("nothing to evaluate: no rows")
    indices = list(range(len(labels)))
    counts = confusion_matrix(y_true, y_pred, labels=indices)
    normalized = confusion_matrix(y_true, y_pred, labels=indices, normalize="true")
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=indices, zero_division=0)
    macro = precision_recall_fscore_support(y_true, y_pred, labels=indices, average="macro", zero_division=0)
    weighted = precision_recall_fscore_support(y_true, y_pred, labels=indices, average="weighted",
                                               zero_division=0)
    correct = int(np.trace(counts))
    interval = binomtest(correct, n).proportion_ci(confidence_level=0.95, method=CI_METHOD)
    return {
        "accuracy": correct / n,
        "n": n,
        "correct": correct,
        "ci95": [float(interval.low), float(interval.high)],
        "ci_method": f"{CI_METHOD} (scipy.stats.binomtest proportion_ci)",
        "labels": list(labels),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(labels)
        },
        "macro": {"precision": float(macro[0]), "recall": float(macro[1]), "f1": float(macro[2])},
        "weighted": {"precision": float(weighted[0]), "recall": float(weighted[1]), "f1": float(weighted[2])},
        "confusion_matrix": counts.astype(int).tolist(),
        "confusion_matrix_normalized": np.round(normalized, 6).tolist(),
    }


def evaluate_model(classifier, dataset: Dataset, batch_size: int = 256, views: tuple[View, ...] | None = None,
                   progress: bool = False) -> dict:
    """Score `classifier` (from acting_mirror.model.load_classifier) on a FER-labelled dataset.

    The result holds the metrics of `classification_metrics`, the model, backend and
    data, the rows dropped for classes the model lacks, and with `views` a `tta` object
    with the same metrics for the mean over those test-time views."""
    matched, dropped = match_labels(dataset, classifier.labels)
    probabilities, averaged = predict(classifier, matched.images, batch_size, views, progress)
    results = {
        "model": classifier.metadata.name,
        "backend": classifier.backend,
        "model_file": classifier.model_path.name,
        "data": matched.source,
        **classification_metrics(matched.labels, probabilities.argmax(axis=1), classifier.labels),
        "dropped_rows": dropped,
    }
    if matched.votes is not None:
        results["ferplus"] = vote_metrics(matched.votes, probabilities, classifier.labels)
    if averaged is not None:
        results["tta"] = {"method": "mean of the probabilities over the views: "
                                    + "; ".join(view.describe() for view in views),
                          "views": [view.to_json() for view in views],
                          **classification_metrics(matched.labels, averaged.argmax(axis=1), classifier.labels)}
        if matched.votes is not None:
            results["tta"]["ferplus"] = vote_metrics(matched.votes, averaged, classifier.labels)
    return results


def vote_metrics(votes: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]) -> dict:
    """The FER+ figures of `probabilities` (rows in the model's label order) against the votes
    ((N, 10), FER+ columns): accuracy with its interval and per-class recall against the
    majority (faces with one top emotion among the 7, see `majority_labels`), and the mean
    cross-entropy against the vote distribution over the emotions the model knows (faces whose
    top vote is one of them, see `votes_trainable`)."""
    lookup = label_lookup(labels)
    majority = majority_labels(votes)
    known = (majority >= 0) & (lookup[np.maximum(majority, 0)] >= 0)
    majority_metrics = classification_metrics(lookup[majority[known]], probabilities[known].argmax(axis=1), labels)
    distribution = vote_distribution(votes)
    in_model_order = np.zeros((len(votes), len(labels)), np.float64)
    for fer_index, model_index in enumerate(lookup):
        if model_index >= 0:
            in_model_order[:, model_index] = distribution[:, fer_index]
    totals = in_model_order.sum(axis=1)
    scored = votes_trainable(votes) & (totals > 0)
    target = in_model_order[scored] / totals[scored, None]
    cross_entropy = -np.sum(target * np.log(np.clip(probabilities[scored], 1e-7, 1.0)), axis=1)
    return {
        "majority_accuracy": majority_metrics["accuracy"],
        "majority_n": majority_metrics["n"],
        "majority_ci95": majority_metrics["ci95"],
        "majority_recall": {name: m["recall"] for name, m in majority_metrics["per_class"].items()},
        "majority_confusion_matrix_normalized": majority_metrics["confusion_matrix_normalized"],
        "cross_entropy": float(np.mean(cross_entropy)),
        "cross_entropy_n": int(scored.sum()),
    }


def headline(results: dict) -> dict:
    """The numbers worth keeping in a model's metadata."""
    summary = {
        "accuracy": round(results["accuracy"], 4),
        "n": results["n"],
        "ci95": [round(v, 4) for v in results["ci95"]],
        "ci_method": results["ci_method"],
        "macro_f1": round(results["macro"]["f1"], 4),
        "recall": {name: round(m["recall"], 4) for name, m in results["per_class"].items()},
        "backend": results.get("backend"),
        "model_file": results.get("model_file"),
        "data": Path(results["data"]).name if results.get("data") else None,
        "date": datetime.date.today().isoformat(),
    }
    if "sharpness" in results:
        summary["sharpness"] = results["sharpness"]
    if "ferplus" in results:
        summary["ferplus"] = _vote_headline(results["ferplus"])
    if "tta" in results:
        summary["tta_accuracy"] = round(results["tta"]["accuracy"], 4)
        summary["tta_views"] = views_spec(views_from_json(results["tta"]["views"]))
        if "ferplus" in results["tta"]:
            summary["tta_ferplus"] = _vote_headline(results["tta"]["ferplus"])
    return summary


def _vote_headline(figures: dict) -> dict:
    return {
        "majority_accuracy": round(figures["majority_accuracy"], 4),
        "majority_n": figures["majority_n"],
        "majority_ci95": [round(v, 4) for v in figures["majority_ci95"]],
        "majority_recall": {name: round(value, 4) for name, value in figures["majority_recall"].items()},
        "cross_entropy": round(figures["cross_entropy"], 4),
    }


def update_metadata_evaluation(json_path: str | Path, split: str, results: dict,
                               store_views: bool = False, store_sharpness: bool = False) -> ModelMetadata:
    """Store the headline numbers of `results` under `evaluation[split]` in a metadata JSON.

    The latest evaluation is the headline; `by_file` keeps one line per model file
    (Keras, float32 and quantised TFLite), so evaluating another backend adds to it.
    With `store_views`, the evaluated test-time views become the model's own; with
    `store_sharpness`, the sharpness rule evaluated (`results["sharpness"]`)."""
    json_path = Path(json_path)
    metadata = ModelMetadata.load(json_path)
    summary = headline(results)
    by_file = dict(metadata.evaluation.get(split, {}).get("by_file", {}))
    kept = ("backend", "accuracy", "sharpness", "tta_accuracy", "tta_views", "n")
    by_file[summary["model_file"]] = {key: summary[key] for key in kept if key in summary}
    updated = replace(metadata, evaluation={**metadata.evaluation, split: {**summary, "by_file": by_file}})
    if store_views and "tta" in results:
        updated = replace(updated, test_time_views=results["tta"]["views"])
    if store_sharpness:
        updated = replace(updated, sharpness=float(results["sharpness"]))
    updated.save(json_path)
    return updated


def format_results(results: dict) -> str:
    """A readable report: accuracy and interval, per-class table, normalised confusion matrix."""
    lines = [_accuracy_line("accuracy", results)]
    if results.get("sharpness"):
        lines.append(f"  (crops sharper than {results['sharpness']:g} blurred down to it)")
    if "ferplus" in results:
        lines += _vote_lines("FER+", results["ferplus"])
    if "tta" in results:
        lines.append(_accuracy_line(f"with {len(results['tta']['views'])} test-time views", results["tta"]))
        lines.append(f"  ({results['tta']['method']})")
        if "ferplus" in results["tta"]:
            lines += _vote_lines("FER+ with the views", results["tta"]["ferplus"])
    if results.get("dropped_rows"):
        dropped = ", ".join(f"{count} {name}" for name, count in results["dropped_rows"].items())
        lines.append(f"rows left out (classes the model lacks): {dropped}")
    labels = results["labels"]
    name_width = max(12, *(len(name) for name in labels))
    lines += ["", f"{'':{name_width}} precision    recall        f1   support"]
    for name in labels:
        m = results["per_class"][name]
        lines.append(f"{name:>{name_width}} {m['precision']:9.3f} {m['recall']:9.3f} {m['f1']:9.3f} {m['support']:9d}")
    for average in ("macro", "weighted"):
        m = results[average]
        lines.append(f"{average + ' avg':>{name_width}} {m['precision']:9.3f} {m['recall']:9.3f} {m['f1']:9.3f} "
                     f"{results['n']:9d}")
    lines += ["", "confusion matrix (rows: true class, % of the row; columns: predicted)"]
    column = max(6, *(len(name) + 1 for name in labels))
    lines.append(" " * name_width + "".join(f"{name:>{column}}" for name in labels))
    for name, row in zip(labels, results["confusion_matrix_normalized"], strict=True):
        lines.append(f"{name:>{name_width}}" + "".join(f"{100 * value:{column}.1f}" for value in row))
    return "\n".join(lines)


def _vote_lines(title: str, figures: dict) -> list[str]:
    low, high = figures["majority_ci95"]
    recall = ", ".join(f"{name} {value:.3f}" for name, value in figures["majority_recall"].items())
    return [f"{title} majority accuracy: {figures['majority_accuracy']:.4f} (n={figures['majority_n']}), "
            f"95% CI [{low:.4f}, {high:.4f}]; cross-entropy against the votes "
            f"{figures['cross_entropy']:.4f} (n={figures['cross_entropy_n']})",
            f"  recall against the majority: {recall}"]


def _accuracy_line(title: str, results: dict) -> str:
    low, high = results["ci95"]
    return (f"{title}: {results['accuracy']:.4f} ({results['correct']}/{results['n']}), "
            f"95% CI [{low:.4f}, {high:.4f}] ({CI_METHOD})")


def plot_confusion_matrix(results: dict, path: str | Path, title: str | None = None) -> Path:
    """Draw the row-normalised confusion matrix to a PNG (Agg canvas, no window)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    path = Path(path)
    labels = results["labels"]
    figure = Figure(figsize=(1.1 * len(labels) + 2.5, 1.0 * len(labels) + 2.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    display = ConfusionMatrixDisplay(np.asarray(results["confusion_matrix_normalized"]), display_labels=labels)
    display.plot(ax=axes, cmap="Blues", values_format=".2f", colorbar=True, xticks_rotation=45)
    display.im_.set_clim(0.0, 1.0)
    low, high = results["ci95"]
    axes.set_title(title or f"{results.get('model', 'model')}: accuracy {results['accuracy']:.3f} "
                            f"[{low:.3f}, {high:.3f}], n={results['n']}", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def write_json(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
