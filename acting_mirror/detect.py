"""Face detection with OpenCV's Haar cascade, at a reduced resolution for speed.

Boxes come back in full-resolution pixels. Crops for the classifier are cut from
the full-resolution grayscale frame, so shrinking for detection costs no
classification detail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acting_mirror.config import DetectorConfig
from acting_mirror.errors import MirrorError
from acting_mirror.types import Box


class DetectorError(MirrorError, RuntimeError):
    """The cascade file cannot be found or loaded."""


def cascade_search_path(name: str) -> list[Path]:
    """Where a cascade is looked for: the path itself, the project's
    haarcascade_files/, then OpenCV's bundled data."""
    import cv2

    from acting_mirror.paths import package_root

    path = Path(name)
    candidates = [path] if path.is_absolute() or path.parent != Path(".") else []
    candidates.append(package_root() / "haarcascade_files" / path.name)
    bundled = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if bundled:
        candidates.append(Path(bundled) / path.name)
    return candidates


def find_cascade(name: str) -> Path:
    candidates = cascade_search_path(name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DetectorError(f"face cascade {name} not found (looked in {', '.join(str(c.parent) for c in candidates)})")


class FaceDetector:
    def __init__(self, config: DetectorConfig):
        import cv2

        self.config = config
        path = find_cascade(config.cascade)
        try:
            self._cascade = cv2.CascadeClassifier(str(path))
        except (cv2.error, SystemError):  # OpenCV raises on some malformed XML instead of staying empty
            self._cascade = None
        if self._cascade is None or self._cascade.empty():
            raise DetectorError(f"face cascade {path} could not be loaded (not a cascade XML file?)")
        self.cascade_path = path

    def detection_scale(self, frame_width: int) -> float:
        """Factor from full resolution to detection resolution (<= 1)."""
        target = self.config.detection_width
        return min(1.0, target / frame_width) if target else 1.0

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Faces in a full-resolution grayscale frame, largest first."""
        import cv2

        scale = self.detection_scale(gray.shape[1])
        small = gray
        if scale < 1.0:
            small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        min_side = max(8, int(round(self.config.min_size * scale)))
        found = self._cascade.detectMultiScale(
            small,
            scaleFactor=self.config.scale_factor,
            minNeighbors=self.config.min_neighbors,
            minSize=(min_side, min_side),
        )
        boxes = [to_full_resolution(tuple(map(int, r)), scale, gray.shape) for r in found]
        return sorted(boxes, key=lambda b: b.area, reverse=True)


def to_full_resolution(rect: tuple[int, int, int, int], scale: float, shape: tuple[int, ...]) -> Box:
    """Map a box found on the shrunk frame back to full-resolution pixels, clipped to the frame."""
    x, y, w, h = (v / scale for v in rect)
    height, width = shape[:2]
    x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
    x1, y1 = min(width, int(round(x + w))), min(height, int(round(y + h)))
    return Box(x0, y0, x1 - x0, y1 - y0)


def crop_faces(gray: np.ndarray, boxes: list[Box], size: tuple[int, int]) -> np.ndarray:
    """Resize each face to the model's (height, width); returns uint8 (N, H, W)."""
    import cv2

    height, width = size
    crops = np.empty((len(boxes), height, width), np.uint8)
    for i, box in enumerate(boxes):
        face = gray[box.y:box.y + box.h, box.x:box.x + box.w]
        crops[i] = cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA)
    return crops
