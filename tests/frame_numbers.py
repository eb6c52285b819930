"""Frames that show their own number, so a test reading a stream can tell which frame it got:
eight black or white stripes, one bit each, which survive JPEG and MPEG-4 compression."""

from __future__ import annotations

import numpy as np

SIZE = (320, 240)
STRIPES = 8


def numbered_frame(number: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    stripe = width // STRIPES
    for bit in range(STRIPES):
        if number >> bit & 1:
            image[:, bit * stripe:(bit + 1) * stripe] = 255
    return image


def numbered_frames(count: int, size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    return [numbered_frame(number, size) for number in range(count)]


def frame_number(image: np.ndarray) -> int:
    stripe = image.shape[1] // STRIPES
    middles = image[:, stripe // 2::stripe][:, :STRIPES].mean(axis=(0, 2))
    return sum(1 << bit for bit, level in enumerate(middles) if level > 128)
