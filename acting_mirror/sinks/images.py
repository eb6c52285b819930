"""Images: snapshots, and a photo's annotated copy."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from acting_mirror.sinks.base import SinkError, os_error_reason
from acting_mirror.sinks.claims import check_output_path, make_folder


def save_snapshot(image: np.ndarray, directory: str | Path) -> Path:
    """Write `image` as a timestamped PNG in `directory` (created if needed); returns its path."""

    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SinkError(f"cannot save snapshot in {directory}: {os_error_reason(error)}") from None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    path = directory / f"snapshot-{stamp}.png"
    counter = 1
    while path.exists():  # two snapshots in the same millisecond
        path = directory / f"snapshot-{stamp}-{counter}.png"
        counter += 1
    write_image(image, path, "snapshot")
    return path


def write_image(image: np.ndarray, path: Path, what: str) -> None:
    """`image` as a file (its format from the suffix); SinkError naming the path and the cause."""
    import cv2

    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise SinkError(f"cannot write {what} {path}: OpenCV cannot encode {path.suffix or 'this'} images")
    try:
        path.write_bytes(encoded.tobytes())
    except OSError as error:
        raise SinkError(f"cannot write {what} {path}: {os_error_reason(error)}") from None


class ImageFileSink:
    """A photo's annotated copy as an image file: the photo's counterpart of VideoSink
    (the same write/close), so a photo runs through the same loop as a video."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.frames_written = 0
        check_output_path(self.path, "image")  # before the photo is analysed: no work for nothing
        make_folder(self.path.parent, f"image {self.path}")

    def write(self, image: np.ndarray) -> None:
        write_image(image, self.path, "image")
        self.frames_written = 1

    def close(self) -> None:
        """Nothing held open: each write is a complete file."""
