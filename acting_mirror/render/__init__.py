"""Pure rendering: arrays (or summary data) in, new arrays (or a page) out; no windows, no files.

overlay: boxes, labels, fps, script cue and status on the camera frame.
details: the per-emotion bar canvas for person 0.
graph:   matplotlib (Agg, no pyplot) charts: the live polar chart and the report's timeline.
html:    the report's self-contained page, from summary.json's data and the charts' PNGs.
"""

from __future__ import annotations

import numpy as np

from acting_mirror.errors import MirrorError


class RenderError(MirrorError, ValueError):
    """An input a renderer cannot draw (wrong image shape or type, mismatched labels)."""


def check_image(image: np.ndarray, name: str = "frame") -> None:
    """Renderers draw on BGR uint8 (H, W, 3) images only."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise RenderError(f"{name} must be a BGR uint8 image of shape (H, W, 3), got shape {shape} of {dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise RenderError(f"{name} is empty (shape {image.shape})")


def check_size(size: tuple[int, int], name: str = "size") -> tuple[int, int]:
    """A (width, height) pair of positive ints."""
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise RenderError(f"{name} must be (width, height), got {size!r}") from None
    if width < 16 or height < 16:
        raise RenderError(f"{name} must be at least 16 x 16 pixels, got {width} x {height}")
    return width, height


def text_colour_on(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on a BGR background."""
    blue, green, red = background
    luminance = 0.114 * blue + 0.587 * green + 0.299 * red
    return (0, 0, 0) if luminance > 140 else (255, 255, 255)
