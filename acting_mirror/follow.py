"""Detection that follows the faces: the whole frame now and then, the faces' surroundings between.

A webcam actor's face fills a small part of a 720p frame, yet YuNet reads the whole frame
every frame. Between full-frame passes this detector reads only each face it found last
with its surroundings (the box grown by FOLLOW_MARGIN of its side on every side: how far a
face may move from one frame to the next), at the full pass's scale (the same detail on
the face) or smaller for a big face, all of them side by side in one small mosaic: one
YuNet call on a few times fewer pixels than the frame. In each tile the face nearest its
middle is that face's new place. The whole frame is read again every `full_frame_every`
frames (a new face is found within that many frames), at once when a tile has lost its
face (it moved too far, turned away, left), and whenever the mosaic would cost nearly as
much as the frame. Boxes come back in frame pixels, framed as the wrapped detector frames
them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from acting_mirror.detect import YUNET_STRIDE, YuNetDetector, resized_to, stride_size, to_frame_rows
from acting_mirror.types import Box, Detection

FOLLOW_MARGIN = 0.5    # of a face's side, around each face
FACE_PX = 64            # a followed face is at most this tall at YuNet's input (at the full pass's scale if less)
TILE_GAP = 8            # black pixels between tiles, so no face spans two
MOSAIC_SHARE = 0.5      # a mosaic of more than this share of the full frame's pixels: read the full frame


@dataclass(frozen=True)
class Tile:
    """One followed face's surroundings: the part of the frame, and where and how big it
    lies in the mosaic."""

    frame: Box
    x: int
    y: int
    w: int
    h: int


class FollowingDetector:
    """Wraps a YuNetDetector; `detect(image)` as it: Detections largest first, in frame pixels."""

    def __init__(self, detector: YuNetDetector, full_frame_every: int, face_px: int = FACE_PX,
                 mosaic_detector: YuNetDetector | None = None):
        self.detector = detector
        # its own net for the mosaics: a net whose input size changes rebuilds its layers
        # (2 ms), so the full-frame net keeps the frame's size and this one the mosaic's
        self.mosaic_detector = mosaic_detector or YuNetDetector(detector.config)
        self.kind = detector.kind
        self.full_frame_every = full_frame_every
        self.face_px = face_px
        self.full_frames = 0      # frames read whole so far (the others: mosaics)
        self._last: list[Detection] = []
        self._since_full = 0      # frames since the last full-frame pass
        self._shape: tuple[int, ...] = ()
        self._mosaic_size = (0, 0)  # (width, height), kept while the tiles fit it well enough

    def describe(self) -> str:
        return f"{self.detector.describe()}, whole frame every {self.full_frame_every} frames, faces followed between"

    def restart(self) -> None:
        """Forget the faces: the next frame is read whole (a new source starts)."""
        self._last, self._since_full, self._shape = [], 0, ()

    def detect(self, image: np.ndarray) -> list[Detection]:
        tiles = self.tiles(image.shape) if self._since_full < self.full_frame_every else None
        if tiles is not None:
            found = self.detect_in_tiles(image, tiles)
            if found is not None:
                self._last, self._since_full = found, self._since_full + 1
                return found
        self.full_frames += 1
        self._last, self._since_full, self._shape = self.detector.detect(image), 1, image.shape
        return self._last

    def tiles(self, shape: tuple[int, ...]) -> list[Tile] | None:
        """The mosaic's tiles around the last faces for a frame of `shape`, or None when the
        whole frame must be read (no faces to follow, another frame size, a mosaic as dear)."""
        if not self._last or shape != self._shape or len(shape) != 3:
            return None
        height, width = shape[:2]
        full_scale = self.detector.frame_scale(width, height)
        regions = [grown(d.box, FOLLOW_MARGIN, width, height) for d in self._last]
        sizes = []
        for detection, region in zip(self._last, regions, strict=True):
            scale = min(full_scale, self.face_px / max(detection.box.w, detection.box.h))
            sizes.append((max(1, round(region.w * scale)), max(1, round(region.h * scale))))
        tiles = shelf_packed(regions, sizes)
        used = self.mosaic_size(max(t.x + t.w for t in tiles), max(t.y + t.h for t in tiles))
        if used[0] * used[1] > MOSAIC_SHARE * self.detector.input_pixels(width, height):
            return None
        return tiles

    def mosaic_size(self, width: int, height: int) -> tuple[int, int]:
        """The mosaic's (width, height) for tiles reaching to (width, height): the last one
        while they fit it and fill at least half of it (a breathing face does not resize the
        net every frame), else a new one with a stride's room to grow."""
        last_w, last_h = self._mosaic_size
        if width <= last_w and height <= last_h and last_w * last_h <= 2 * width * height:
            return self._mosaic_size
        self._mosaic_size = stride_size(width + YUNET_STRIDE // 2, height + YUNET_STRIDE // 2)
        return self._mosaic_size

    def detect_in_tiles(self, image: np.ndarray, tiles: list[Tile]) -> list[Detection] | None:
        """Each tile's face, in frame pixels, largest first; None when a tile holds none."""
        used = self.mosaic_size(max(t.x + t.w for t in tiles), max(t.y + t.h for t in tiles))
        mosaic = np.zeros((used[1], used[0], 3), np.uint8)
        for tile in tiles:
            part = image[tile.frame.y:tile.frame.y + tile.frame.h, tile.frame.x:tile.frame.x + tile.frame.w]
            mosaic[tile.y:tile.y + tile.h, tile.x:tile.x + tile.w] = resized_to(part, (tile.w, tile.h))
        rows = self.mosaic_detector.rows_in(mosaic)
        centres = rows[:, 0:2] + rows[:, 2:4] / 2
        found = []
        for tile in tiles:
            middle = np.array([tile.x + tile.w / 2, tile.y + tile.h / 2])
            inside = np.flatnonzero((np.abs(centres - middle) < [tile.w / 2, tile.h / 2]).all(axis=1))
            if len(inside) == 0:
                return None
            nearest = inside[np.argmin(np.hypot(*(centres[inside] - middle).T))]
            scale_x, scale_y = tile.w / tile.frame.w, tile.h / tile.frame.h
            offset = (tile.frame.x - tile.x / scale_x, tile.frame.y - tile.y / scale_y)
            (row,) = to_frame_rows(rows[nearest:nearest + 1], scale_x, scale_y, offset)
            detection = self.detector.detection(row, image.shape)
            if detection is None:
                return None
            found.append(detection)
        return sorted(found, key=lambda d: d.box.area, reverse=True)


def grown(box: Box, margin: float, width: int, height: int) -> Box:
    """A box grown by `margin` of its larger side on every side, clipped to a width x height frame."""
    pad = margin * max(box.w, box.h)
    x0, y0 = max(0, math.floor(box.x - pad)), max(0, math.floor(box.y - pad))
    x1, y1 = min(width, math.ceil(box.x + box.w + pad)), min(height, math.ceil(box.y + box.h + pad))
    return Box(x0, y0, x1 - x0, y1 - y0)


def shelf_packed(regions: list[Box], sizes: list[tuple[int, int]]) -> list[Tile]:
    """Tiles of the given (width, height) sizes laid out in rows about as wide as the mosaic
    is tall, the tallest first, TILE_GAP apart: one tile per region, in the regions' order."""
    area = sum((w + TILE_GAP) * (h + TILE_GAP) for w, h in sizes)
    row_width = max(max(w for w, _ in sizes), math.ceil(math.sqrt(area)))
    placed: dict[int, Tile] = {}
    x = y = row_height = 0
    for index in sorted(range(len(sizes)), key=lambda i: -sizes[i][1]):
        w, h = sizes[index]
        if x and x + w > row_width:
            x, y, row_height = 0, y + row_height + TILE_GAP, 0
        placed[index] = Tile(regions[index], x, y, w, h)
        x, row_height = x + w + TILE_GAP, max(row_height, h)
    return [placed[i] for i in range(len(sizes))]


def follow_faces(detector, full_frame_every: int):
    """`detector` following its faces between full-frame passes every `full_frame_every`
    frames; as it is when that is 1 or it is not YuNet (Haar reads the frame shrunk already)."""
    if full_frame_every <= 1 or not isinstance(detector, YuNetDetector):
        return detector
    return FollowingDetector(detector, full_frame_every)
