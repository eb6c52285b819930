"""Per-actor resting-face calibration: one actor's resting face is not everyone's.

A face that rests "sad" should not read sad all rehearsal. A profile records what the model
gives the actor's resting face (`resting`, the mean probabilities over a few seconds or a few
stills) and, from the model's mean output on faces people call neutral (`neutral_reference`
in the model's metadata, computed once when the model is packaged), a correction per emotion:

    correction_k = log(neutral_k) - log(resting_k)        (clamped to +-MAX_CORRECTION)
    p'_k = p_k * exp(correction_k) / sum_j p_j * exp(correction_j)

a label-shift correction that maps the actor's resting output exactly onto the model's
output for a neutral face in general, and moves every other face by the same log-ratio. It is
applied to each face's probabilities before smoothing (`CalibratedClassifier`). A profile
belongs to the model it was made with: applying it to another model is refused.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError
from acting_mirror.files import check_input_file, write_atomically

PROFILE_FORMAT = "acting-mirror resting profile v1"
MAX_CORRECTION = 3.0   # at most e^3 = 20x up or down for one emotion
MIN_PROBABILITY = 1e-4
MAX_PROFILE_BYTES = 1 << 20


class CalibrationError(MirrorError, ValueError):
    """A profile that cannot be made, read or applied; the message says why in one line."""


@dataclass(frozen=True)
class RestingProfile:
    model: str                      # the model's name
    model_fingerprint: str          # see model_fingerprint(): the profile fits this model only
    labels: tuple[str, ...]
    resting: tuple[float, ...]      # mean probabilities of the resting face, label order
    correction: tuple[float, ...]   # log-ratio added to each emotion (see the module docstring)
    faces: int                      # how many face crops were averaged
    source: str                     # what was measured: "camera 0", a clip, the stills
    created: str                    # UTC, ISO 8601
    format: str = PROFILE_FORMAT

    def describe(self) -> dict:
        """What the report and summary.json say of the profile."""
        return {"model": self.model, "faces": self.faces, "source": self.source, "created": self.created,
                "resting": dict(zip(self.labels, (round(v, 4) for v in self.resting), strict=True))}

    def save(self, path: str | Path) -> Path:
        data = {**asdict(self), "labels": list(self.labels), "resting": list(self.resting),
                "correction": list(self.correction)}
        return write_atomically(path, json.dumps(data, indent=2) + "\n", "profile", CalibrationError)


def model_fingerprint(metadata, model_folder: Path) -> str:
    """A short hash of what makes a model's outputs: its name, labels and weights file."""
    digest = hashlib.sha256(json.dumps([metadata.name, list(metadata.labels), metadata.parameters]).encode())
    for backend in ("keras", "tflite"):
        name = metadata.files.get(backend)
        if name and (model_folder / name).is_file():
            digest.update((model_folder / name).read_bytes())
            break
    return digest.hexdigest()[:16]


def correction_for(resting: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The per-emotion log-ratio that moves `resting` onto `reference` (both probabilities)."""
    resting = np.clip(np.asarray(resting, np.float64), MIN_PROBABILITY, 1.0)
    reference = np.clip(np.asarray(reference, np.float64), MIN_PROBABILITY, 1.0)
    return np.clip(np.log(reference) - np.log(resting), -MAX_CORRECTION, MAX_CORRECTION)


def apply_correction(probabilities: np.ndarray, correction: np.ndarray) -> np.ndarray:
    """(N, K) probabilities, each row moved by the correction and renormalised."""
    probabilities = np.asarray(probabilities, np.float32)
    if probabilities.size == 0:
        return probabilities
    weighted = probabilities.astype(np.float64) * np.exp(np.asarray(correction, np.float64))
    return (weighted / weighted.sum(axis=1, keepdims=True)).astype(np.float32)


def make_profile(probabilities: np.ndarray, metadata, model_folder: Path, source: str) -> RestingProfile:
    """The profile of a resting face from the model's probabilities for its crops (N, K)."""
    probabilities = np.asarray(probabilities, np.float64).reshape(-1, len(metadata.labels))
    if len(probabilities) == 0:
        raise CalibrationError(f"no face found in {source}: a profile needs the resting face in view")
    if not metadata.neutral_reference:
        raise CalibrationError(f"model {metadata.name} has no neutral reference to calibrate against; "
                               "run: acting-mirror-model reference --model MODEL.json --data FER_CSV")
    resting = probabilities.mean(axis=0)
    correction = correction_for(resting, np.asarray(metadata.neutral_reference))
    created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    return RestingProfile(metadata.name, model_fingerprint(metadata, model_folder), tuple(metadata.labels),
                          tuple(float(v) for v in resting), tuple(float(v) for v in correction),
                          len(probabilities), source, created)


def load_profile(path: str | Path, metadata, model_folder: Path) -> RestingProfile:
    """Read a profile and check that it was made with this model."""
    path = Path(path)
    check_input_file(path, "profile", MAX_PROFILE_BYTES, CalibrationError)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CalibrationError(f"profile {path} is not valid JSON ({error})") from None
    fields = RestingProfile.__dataclass_fields__
    if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT or not set(fields) <= set(data):
        raise CalibrationError(f"{path} is not a resting-face profile (make one with: acting-mirror calibrate)")
    try:
        profile = RestingProfile(**{
            **{key: data[key] for key in fields},
            "labels": tuple(str(v) for v in data["labels"]),
            "resting": tuple(float(v) for v in data["resting"]),
            "correction": tuple(float(v) for v in data["correction"]),
            "faces": int(data["faces"]),
        })
    except (TypeError, ValueError) as error:
        raise CalibrationError(f"profile {path} is malformed ({error})") from None
    if profile.model_fingerprint != model_fingerprint(metadata, model_folder) or profile.labels != metadata.labels:
        raise CalibrationError(f"profile {path} was made with model {profile.model}, not with the model in use "
                               f"({metadata.name}): record a new one with acting-mirror calibrate")
    if len(profile.correction) != len(profile.labels) or not np.all(np.abs(profile.correction) <= MAX_CORRECTION):
        raise CalibrationError(f"profile {path} is malformed (one correction per emotion, within "
                               f"+-{MAX_CORRECTION:g})")
    return profile


class CalibratedClassifier:
    """A classifier whose probabilities pass through a profile's correction (none: unchanged).
    Everything else (labels, input size, metadata) is the wrapped classifier's own."""

    def __init__(self, classifier, profile: RestingProfile | None = None):
        self.classifier = classifier
        self.profile = profile

    def __getattr__(self, name):
        return getattr(self.classifier, name)

    def _corrected(self, probabilities: np.ndarray) -> np.ndarray:
        if self.profile is None:
            return probabilities
        return apply_correction(probabilities, np.asarray(self.profile.correction))

    def classify(self, crops: np.ndarray, test_time_views: bool | None = None) -> np.ndarray:
        return self._corrected(self.classifier.classify(crops, test_time_views=test_time_views))

    def classify_views(self, crops: np.ndarray, views, max_faces: int = 0) -> np.ndarray:
        return self._corrected(self.classifier.classify_views(crops, views, max_faces))

    def raw(self, crops: np.ndarray) -> np.ndarray:
        """The model's own probabilities, as the app runs it, without the correction."""
        return self.classifier.classify(crops)


class RestingRecorder:
    """Collects the raw probabilities of person 0 for `seconds` of frame time (the live key)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.started_s: float | None = None
        self.rows: list[np.ndarray] = []

    def add(self, probabilities: np.ndarray | None, time_s: float) -> None:
        if self.started_s is None:
            self.started_s = time_s
        if probabilities is not None:
            self.rows.append(np.asarray(probabilities, np.float64).ravel())

    def remaining_s(self, time_s: float) -> float:
        return self.seconds if self.started_s is None else max(0.0, self.seconds - (time_s - self.started_s))

    def probabilities(self, labels: int) -> np.ndarray:
        return np.array(self.rows, np.float64).reshape(-1, labels)
