"""The metadata file that travels with every model: labels, input, scaling, provenance.

`models/NAME.json` sits beside `NAME.keras` and `NAME.tflite`. The app reads the
label names, input size and pixel scaling from here and nowhere else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError
from acting_mirror.prepare import equalize_unlike, soften_to
from acting_mirror.views import View, views_from_json

EQUALIZE_KEYS = frozenset({"std_below", "mean_below", "mean_above"})
MAX_SHARPNESS = 3.0


class MetadataError(MirrorError, ValueError):
    """A model's metadata file is missing or malformed."""


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    labels: tuple[str, ...]           # display names, in model output order
    input_size: tuple[int, int]       # (height, width)
    channels: int                     # 1 = grayscale
    pixel_scale: float                # model input = pixel * pixel_scale + pixel_offset
    pixel_offset: float
    architecture: str
    parameters: int
    files: dict = field(default_factory=dict)       # backend -> file name beside the JSON
    training: dict = field(default_factory=dict)    # data, split, command, epochs, time...
    evaluation: dict = field(default_factory=dict)  # split -> metrics
    test_time_views: list = field(default_factory=list)  # [{zoom, flip}] averaged when views are on
    # {"std_below", "mean_below", "mean_above"} in grey levels: a crop whose contrast or brightness
    # lies outside these is histogram-equalized first, as the training faces were; {} = never
    equalize: dict = field(default_factory=dict)
    # crops sharper than this (acting_mirror.prepare.sharpness) are blurred down to it after
    # equalizing, 0 = never: the networks learnt from faces their augmentations had resampled,
    # softer than a FER row or a crop shrunk from a large face in a camera frame
    sharpness: float = 0.0
    # the model's mean probabilities (label order) on faces people call neutral, as the app runs
    # it: what a resting-face profile maps an actor's resting face onto (acting_mirror.calibration)
    neutral_reference: list = field(default_factory=list)

    @property
    def views(self) -> tuple[View, ...]:
        """The views averaged at test time (the crop and its mirror image when none are stored)."""
        return views_from_json(self.test_time_views)

    def equalized(self, crops: np.ndarray) -> np.ndarray:
        """uint8 crops (N, H, W), those unlike the training faces histogram-equalized (see
        `equalize_unlike`); unchanged when the model's `equalize` rule is empty."""
        return equalize_unlike(crops, self.equalize)

    def prepared(self, crops: np.ndarray) -> np.ndarray:
        """uint8 crops (N, H, W) as the network takes them before scaling: equalized where
        they are unlike the training faces, then softened where sharper than they were (see
        `sharpness`)."""
        return soften_to(self.equalized(crops), self.sharpness)

    def scale_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 crops (N, H, W) -> float32 model input (N, H, W, C)."""
        x = pixels.astype(np.float32) * np.float32(self.pixel_scale) + np.float32(self.pixel_offset)
        return x[..., None] if x.ndim == 3 else x

    def to_json(self) -> dict:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["input_size"] = list(self.input_size)
        return data

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def from_json(cls, data: dict, where: str = "metadata") -> ModelMetadata:
        required = ("name", "labels", "input_size", "channels", "pixel_scale", "pixel_offset",
                    "architecture", "parameters")
        missing = [key for key in required if key not in data]
        if missing:
            raise MetadataError(f"{where}: missing {', '.join(missing)}")
        labels = data["labels"]
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise MetadataError(f"{where}: 'labels' must be a non-empty list of names")
        if len(set(labels)) != len(labels):
            repeated = sorted({name for name in labels if labels.count(name) > 1})
            raise MetadataError(f"{where}: 'labels' names {', '.join(repeated)} more than once")
        size = data["input_size"]
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
            raise MetadataError(f"{where}: 'input_size' must be [height, width]")
        try:
            views_from_json(data.get("test_time_views", []))
        except ValueError as error:
            raise MetadataError(f"{where}: {error}") from None
        equalize = data.get("equalize", {})
        if not (isinstance(equalize, dict) and set(equalize) <= EQUALIZE_KEYS
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 256
                        for v in equalize.values())):
            raise MetadataError(f"{where}: 'equalize' must map {', '.join(sorted(EQUALIZE_KEYS))} "
                                "to grey levels (0-256)")
        sharpness = data.get("sharpness", 0.0)
        if not (isinstance(sharpness, (int, float)) and not isinstance(sharpness, bool)
                and 0 <= sharpness <= MAX_SHARPNESS):
            raise MetadataError(f"{where}: 'sharpness' must be a number from 0 (off) to {MAX_SHARPNESS:g}")
        reference = data.get("neutral_reference", [])
        if not (isinstance(reference, list) and (not reference or (
                len(reference) == len(labels)
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1 for v in reference)))):
            raise MetadataError(f"{where}: 'neutral_reference' must be empty or one probability (0-1] per label")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{
            **{k: v for k, v in data.items() if k in known},
            "labels": tuple(labels),
            "input_size": (size[0], size[1]),
        })

    @classmethod
    def load(cls, path: str | Path) -> ModelMetadata:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise MetadataError(f"model metadata {path} not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise MetadataError(f"model metadata {path} is not valid JSON ({error})") from None
        if not isinstance(data, dict):
            raise MetadataError(f"model metadata {path} must hold a JSON object")
        return cls.from_json(data, str(path))
