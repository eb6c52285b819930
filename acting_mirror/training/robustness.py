"""How a model holds up on faces as the app sees them: accuracy on a labelled split under
each condition a webcam or a video puts between the face and the classifier.

A FER-2013 face is a clean 48x48 crop framed by hand. The app's crop comes from a detector
box in a camera frame: the box jitters from frame to frame, the lens blurs, the sensor adds
noise, streams add JPEG blocks, a lamp lights one side, the head rolls, a far face has few
pixels. Each `Condition` below makes one of these from a clean face, at camera scale: the
face is first brought to `CAMERA_SCALE` times its size (192 px, a face at arm's length in a
720p frame), degraded there, then cut and shrunk back to the model's input with INTER_AREA,
as `acting_mirror.detect.crop_faces` does. The `clean` condition takes the same round trip
with nothing in between, so every drop measured against it is the degradation's alone.

Only numpy and OpenCV: the probe runs on the app's own path (LiteRT), without TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from acting_mirror.training.data import Dataset

CAMERA_SCALE = 4  # a 48 px face becomes 192 px, degraded at that size


def _cv2():
    import cv2

    return cv2


def to_camera_scale(face: np.ndarray) -> np.ndarray:
    """A 48x48 face at camera scale (bicubic; a FER face was itself shrunk from a photo)."""
    cv2 = _cv2()
    side = face.shape[0] * CAMERA_SCALE
    return cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)


def to_crop(face: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A camera-scale face back to the model's input size, as the app shrinks a detector crop."""
    cv2 = _cv2()
    height, width = size
    return cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA)


def _clip(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _box_jitter(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The detector's box moved by up to 10% of its side each way and 10% larger or smaller,
    as YuNet's box wanders between frames of a still face; edges repeat past the frame."""
    cv2 = _cv2()
    side = face.shape[0]
    shift_x, shift_y = rng.uniform(-0.10, 0.10, 2) * side
    scale = rng.uniform(0.90, 1.10)
    centre = (side - 1) / 2
    # the window of side `side * scale` centred at centre + shift, mapped onto the output square
    matrix = np.float32([[scale, 0, centre + shift_x - scale * centre],
                         [0, scale, centre + shift_y - scale * centre]])
    return cv2.warpAffine(face, matrix, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _blur(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Defocus or motion of a webcam: Gaussian blur of sigma 2-4 px at camera scale."""
    cv2 = _cv2()
    return cv2.GaussianBlur(face, (0, 0), sigmaX=float(rng.uniform(2.0, 4.0)))


def _noise(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise of a webcam in a dim room: Gaussian, sigma 10-20 grey levels per pixel."""
    return _clip(face.astype(np.float32) + rng.normal(0.0, rng.uniform(10.0, 20.0), face.shape))


def _jpeg(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A compressed stream or a downloaded video: JPEG at quality 10-30."""
    cv2 = _cv2()
    quality = int(rng.integers(10, 31))
    ok, encoded = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV's encoder does not fail on a uint8 image
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)


def _side_light(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A lamp or a window on one side: brightness falls linearly from x1.2 to x0.4 across the
    face, from a random side."""
    side = face.shape[1]
    ramp = np.linspace(1.2, 0.4, side, dtype=np.float32)
    if rng.random() < 0.5:
        ramp = ramp[::-1]
    return _clip(face.astype(np.float32) * ramp[None, :])


def _low_light(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dark room: a third of the light (gamma 1.5, x0.5) and the sensor noise that comes with it."""
    unit = face.astype(np.float32) / 255.0
    dark = 255.0 * 0.5 * unit ** 1.5
    return _clip(dark + rng.normal(0.0, 6.0, face.shape))


def _roll(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A head tilted 15 degrees, left or right, and not levelled (alignment off or landmarks missed)."""
    cv2 = _cv2()
    side = face.shape[0]
    angle = 15.0 if rng.random() < 0.5 else -15.0
    matrix = cv2.getRotationMatrix2D(((side - 1) / 2, (side - 1) / 2), angle, 1.0)
    return cv2.warpAffine(face, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _far(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A face far from the camera: 20 px across in the frame, so the crop is enlarged from 20 px."""
    cv2 = _cv2()
    side = face.shape[0]
    small = cv2.resize(face, (20, 20), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class Condition:
    name: str
    apply: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None  # on one camera-scale face

    @property
    def description(self) -> str:
        if self.apply is None:
            return "the face at camera scale and back, nothing else"
        return " ".join((self.apply.__doc__ or "").split("\n\n")[0].split())


CONDITIONS: tuple[Condition, ...] = (
    Condition("clean", None),
    Condition("box_jitter", _box_jitter),
    Condition("blur", _blur),
    Condition("noise", _noise),
    Condition("jpeg", _jpeg),
    Condition("side_light", _side_light),
    Condition("low_light", _low_light),
    Condition("roll", _roll),
    Condition("far", _far),
)
CONDITION_NAMES = tuple(condition.name for condition in CONDITIONS)


def conditions_named(names: Sequence[str] | None) -> tuple[Condition, ...]:
    """The conditions by name, `clean` always first (every drop is measured against it)."""
    if not names:
        return CONDITIONS
    unknown = [name for name in names if name not in CONDITION_NAMES]
    if unknown:
        raise ValueError(f"unknown condition {unknown[0]!r}; choose from {', '.join(CONDITION_NAMES)}")
    wanted = {"clean", *names}
    return tuple(condition for condition in CONDITIONS if condition.name in wanted)


def degrade(images: np.ndarray, condition: Condition, seed: int = 0,
            size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 faces (N, H, W) -> the crops the app would get of them under `condition`, (N, *size).

    Deterministic for a seed: each condition draws from its own stream, so the faces of one
    condition do not change when another is added or left out."""
    size = size or images.shape[1:3]
    rng = np.random.default_rng([seed, CONDITION_NAMES.index(condition.name)])
    out = np.empty((len(images), *size), np.uint8)
    for i, face in enumerate(images):
        large = to_camera_scale(face)
        if condition.apply is not None:
            large = condition.apply(large, rng)
        out[i] = to_crop(large, size)
    return out


def probe(classifier, dataset: Dataset, conditions: Sequence[Condition] = CONDITIONS, seed: int = 0,
          views=None, batch_size: int = 256) -> dict:
    """Accuracy of `classifier` on `dataset` under each condition: one pass, and with `views`
    (the model's own by default, as the app runs it) their mean. Drops are in points against
    `clean`; per-class recall shows who loses most."""
    from acting_mirror.training.evaluate import evaluate_model

    views = classifier.views if views is None else views
    results = {"model": classifier.metadata.name, "model_file": classifier.model_path.name,
               "data": dataset.source, "n": len(dataset), "seed": seed, "camera_scale": CAMERA_SCALE,
               "views": [view.to_json() for view in views], "conditions": {}}
    for condition in conditions:
        crops = degrade(dataset.images, condition, seed, classifier.input_size)
        scored = evaluate_model(classifier, Dataset(crops, dataset.labels, dataset.source), batch_size,
                                views=views)
        results["conditions"][condition.name] = {
            "description": condition.description,
            "one_pass": scored["accuracy"],
            "as_the_app_runs_it": scored["tta"]["accuracy"],
            "recall_as_the_app_runs_it": {name: m["recall"] for name, m in scored["tta"]["per_class"].items()},
        }
    clean = results["conditions"].get("clean")
    if clean:
        for entry in results["conditions"].values():
            entry["drop_points"] = round(100 * (clean["as_the_app_runs_it"] - entry["as_the_app_runs_it"]), 2)
    return results


def format_probe(results: Sequence[dict]) -> str:
    """One table: a row per condition, a column pair per model (as the app runs it, drop)."""
    names = list(results[0]["conditions"])
    header = f"{'condition':12}" + "".join(f" {r['model'][:22]:>22} {'drop':>6}" for r in results)
    lines = [header]
    for name in names:
        cells = ""
        for r in results:
            entry = r["conditions"][name]
            cells += f" {100 * entry['as_the_app_runs_it']:21.2f}% {entry.get('drop_points', float('nan')):6.2f}"
        lines.append(f"{name:12}" + cells)
    lines.append("(accuracy as the app runs each model, with its own views; drop: points below clean)")
    return "\n".join(lines)
