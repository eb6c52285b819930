"""Reading videos back in tests: every frame, the frame rate and the size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read_video(path: str | Path) -> tuple[list[np.ndarray], float, tuple[int, int]]:
    """(frames, fps, (width, height)) of a video OpenCV can play; fails the test otherwise."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"{path} is not a playable video"
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames, fps, size
