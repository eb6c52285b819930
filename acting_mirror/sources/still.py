"""Still pictures: a single photo (a one-frame source), and the built-in demo clip of a real
face, drawn frame by frame, that needs no camera, network or file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from acting_mirror.sources.base import DEFAULT_FPS, MAX_SANE_FPS, Source, SourceError, sane_fps
from acting_mirror.types import Frame

IMAGE_SUFFIXES = frozenset({".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"})  # opened as a photo


class ImageSource(Source):
    """A single photo as a one-frame source."""

    is_image = True
    total_frames = 1

    def __init__(self, image: np.ndarray, name: str):
        self.name = name
        self.fps = DEFAULT_FPS
        self._image = image
        height, width = image.shape[:2]
        self.frame_size = (width, height)

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(self._image, 0, 0.0)


def open_image(path: str | Path) -> Source:
    """A photo file as a one-frame source; SourceError if missing or not an image."""
    import cv2

    path = Path(path)
    if not path.exists():
        raise SourceError(f"image file {path} not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if image is None:
        raise SourceError(f"{path} is not an image OpenCV can read")
    return ImageSource(image, path.name)


class DemoSource(Source):
    """The built-in demo: a real face alone, then joined by a second one (acting_mirror.demo "demo")."""

    def __init__(self, count: int, fps: float, size: tuple[int, int]):
        self.name = "demo"
        self.fps = float(fps)
        self.frame_size = (int(size[0]), int(size[1]))
        self.total_frames = int(count)

    def __iter__(self) -> Iterator[Frame]:
        from acting_mirror.demo import synth_frames

        for index, image in enumerate(synth_frames("demo", self.total_frames, self.frame_size)):
            yield Frame(image, index, index / self.fps)


def open_demo(count: int = 300, fps: float = DEFAULT_FPS, size: tuple[int, int] = (640, 480)) -> Source:
    """Demo frames that need no camera, network or file; played like a video file."""
    if count < 1 or sane_fps(fps) is None:
        raise SourceError(f"demo needs count >= 1 and 0 < fps <= {MAX_SANE_FPS:g}")
    return DemoSource(count, fps, size)
