"""Label images drawn once per text, size and colour, then copied into each frame.

A crowd's captions cost a putText each per frame; most of them read the same as on the
frame before, so the cache draws a caption's box once and copies its pixels after that.
The copy is pixel for pixel what put_label draws (tests/test_rate.py checks it).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from acting_mirror.render.overlay import label_corner, label_size, put_label

CACHED_LABELS = 512  # about 25 captions a frame for 20 frames, and the fps tags


class LabelCache:
    """put_label with memory: the same arguments, the same pixels; the least recently
    used label images go first when more than `capacity` are held."""

    def __init__(self, capacity: int = CACHED_LABELS):
        self.capacity = capacity
        self._images: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def label_image(self, text: str, scale: float, background: tuple[int, int, int],
                    foreground: tuple[int, int, int] | None = None) -> np.ndarray:
        key = (text, scale, tuple(background), None if foreground is None else tuple(foreground))
        image = self._images.get(key)
        if image is None:
            box_w, box_h = label_size(text, scale)
            image = np.empty((box_h, box_w, 3), np.uint8)
            put_label(image, text, 0, 0, scale, background, foreground)  # its box fills the image
            self._images[key] = image
            if len(self._images) > self.capacity:
                self._images.popitem(last=False)
        else:
            self._images.move_to_end(key)
        return image

    def put_label(self, image: np.ndarray, text: str, x: int, y: int, scale: float,
                  background: tuple[int, int, int], foreground: tuple[int, int, int] | None = None) -> tuple[int, int]:
        """put_label's drawing, copied from the cache; returns the box's (width, height)."""
        box_w, box_h = label_size(text, scale)
        if box_w > image.shape[1] or box_h > image.shape[0]:  # cut at the image's edge: drawn there
            return put_label(image, text, x, y, scale, background, foreground)
        x, y = label_corner(image, x, y, box_w, box_h)
        image[y:y + box_h, x:x + box_w] = self.label_image(text, scale, background, foreground)
        return box_w, box_h
