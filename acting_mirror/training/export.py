"""Export: a Keras model -> TFLite (float32, optionally dynamic-range quantised), checked
against Keras on the same crops and recorded in the model's metadata `files`.

Both sides of the check run through acting_mirror.model's classifiers, i.e. the same
scaling and LiteRT interpreter the app uses.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from acting_mirror.model import KerasClassifier, ModelError, TFLiteClassifier, load_metadata

FLOAT_TOLERANCE = 1e-4  # max |probability difference| accepted for the float32 file


class ExportError(ModelError):
    """A model that cannot be converted, or whose TFLite output disagrees with Keras."""


@dataclass(frozen=True)
class BackendCheck:
    variant: str          # "tflite" (float32) or "tflite_dynamic"
    samples: str          # "random" or "face"
    count: int
    max_abs_diff: float   # largest |p_keras - p_tflite| over all crops and classes
    top1_agreement: float  # share of crops whose most likely class is the same

    def describe(self) -> str:
        return (f"{self.variant} vs keras on {self.count} {self.samples} crops: max |dp| = {self.max_abs_diff:.2e}, "
                f"same top class {100 * self.top1_agreement:.1f}%")


@dataclass(frozen=True)
class ExportResult:
    json_path: Path
    files: dict           # metadata key -> written .tflite path
    checks: list


def face_crops(count: int, size: tuple[int, int] = (48, 48), seed: int = 0) -> np.ndarray:
    """uint8 grayscale face crops (count, H, W): the demo's real face with random shifts,
    zoom, mirroring, brightness and contrast, as a detector would hand them over."""
    import cv2

    from acting_mirror.demo import face_patch

    patch = cv2.cvtColor(face_patch(192), cv2.COLOR_BGR2GRAY)  # face is the central 96x96
    rng = np.random.default_rng(seed)
    height, width = size
    crops = np.empty((count, height, width), np.uint8)
    for i in range(count):
        side = int(96 * rng.uniform(0.85, 1.25))
        cx, cy = 96 + rng.integers(-10, 11), 96 + rng.integers(-10, 11)
        top, left = int(np.clip(cy - side // 2, 0, 192 - side)), int(np.clip(cx - side // 2, 0, 192 - side))
        crop = cv2.resize(patch[top:top + side, left:left + side], (width, height), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = crop.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30)
        crops[i] = np.clip(crop, 0, 255).astype(np.uint8)
    return crops


def sample_crops(count: int, size: tuple[int, int], seed: int = 0) -> dict[str, np.ndarray]:
    """The check's inputs: uniform random uint8 crops and real face crops."""
    rng = np.random.default_rng(seed)
    return {
        "random": rng.integers(0, 256, (count, *size), dtype=np.uint8),
        "face": face_crops(count, size, seed),
    }


def convert(keras_model, quantize: bool = False) -> bytes:
    """TFLiteConverter.from_keras_model; `quantize`: dynamic-range (int8 weights, float I/O)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # the converter prints its whole SavedModel signature; keep the user's terminal readable
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def compare(reference, candidate, variant: str, samples: dict[str, np.ndarray]) -> list[BackendCheck]:
    checks = []
    for kind, crops in samples.items():
        expected, actual = reference.classify(crops), candidate.classify(crops)
        checks.append(BackendCheck(
            variant=variant, samples=kind, count=len(crops),
            max_abs_diff=float(np.max(np.abs(expected - actual))),
            top1_agreement=float(np.mean(expected.argmax(axis=1) == actual.argmax(axis=1))),
        ))
    return checks


def export_model(path: str | Path, quantize: bool = False, samples: int = 32,
                 tolerance: float = FLOAT_TOLERANCE, threads: int = 2, log=print) -> ExportResult:
    """Write NAME.tflite (and NAME_dynamic.tflite with `quantize`) beside NAME.keras,
    check them against Keras on `samples` random and `samples` face crops, and list them
    in the metadata's `files`. A float32 file that differs by more than `tolerance`
    is deleted and raises ExportError; the quantised one is only reported."""
    if samples < 1:
        raise ValueError("--samples must be at least 1")
    if tolerance < 0:
        raise ValueError("--tolerance must be >= 0")
    metadata, json_path = load_metadata(path)
    keras_name = metadata.files.get("keras")
    if not keras_name:
        raise ModelError(f"model {json_path} lists no keras file to export")
    keras_path = json_path.parent / keras_name
    if not keras_path.is_file():
        raise ModelError(f"model file {keras_path} not found")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    reference = KerasClassifier(metadata, keras_path, threads=threads)
    import keras

    keras_model = keras.models.load_model(keras_path, compile=False)
    crops = sample_crops(samples, metadata.input_size)
    variants = [("tflite", False, keras_path.with_suffix(".tflite"))]
    if quantize:
        variants.append(("tflite_dynamic", True, keras_path.with_name(f"{keras_path.stem}_dynamic.tflite")))
    written, checks = {}, []
    for key, quantized, target in variants:
        log(f"converting {keras_path.name} -> {target.name}" + (" (dynamic-range quantised)" if quantized else ""))
        try:
            target.write_bytes(convert(keras_model, quantized))
        except (ValueError, RuntimeError) as error:  # converter failures
            raise ExportError(f"cannot convert {keras_path} to TFLite ({error})") from None
        variant_checks = compare(reference, TFLiteClassifier(metadata, target, threads=threads), key, crops)
        for check in variant_checks:
            log("  " + check.describe())
        worst = max(check.max_abs_diff for check in variant_checks)
        if not quantized and worst > tolerance:
            target.unlink()
            raise ExportError(f"{target.name} differs from {keras_path.name} by {worst:.2e} > {tolerance:g}; "
                              "not written, metadata unchanged")
        written[key] = target
        checks += variant_checks
        log(f"  wrote {target} ({target.stat().st_size / 1024:.0f} KiB)")
    updated = replace(metadata, files={**metadata.files, **{key: p.name for key, p in written.items()}})
    updated.save(json_path)
    log(f"updated {json_path} files: {', '.join(f'{k}={v}' for k, v in updated.files.items())}")
    return ExportResult(json_path, written, checks)
