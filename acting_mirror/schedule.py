"""Which faces of a frame the classifier reads: person 0 every frame, the others less often.

The tracker smooths each face's probabilities over several frames, so a crowd face that
barely changed can reuse its last reading for a frame or two without the label a viewer
sees moving. A face is read again when its policy says so: every k-th frame, when its
crop changed enough since its last reading, or when it is new. `every_frames=1` reads
every face every frame (today's behaviour, used to measure agreement).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acting_mirror.track import greedy_match, match_scores
from acting_mirror.types import Box, Detection, Face

MAIN_PERSON = 0


@dataclass(frozen=True)
class ClassifyPolicy:
    """When a tracked face (not person 0) is read again: on its turn, one frame in
    `every_frames` (turns are spread over the tracks, so each frame reads about 1/k of
    the crowd rather than all of it every k-th frame), or sooner when its crop changed
    by more than `change_threshold` (mean grey difference, 0-255, of 12x12 thumbnails:
    coarse enough that a box moving by a few pixels is no change, a different face is)."""

    every_frames: int = 3
    change_threshold: float = 25.0

    def due(self, frame_number: int, track: int, frames_since: int, crop: np.ndarray, last_crop: np.ndarray) -> bool:
        if frames_since >= self.every_frames or (frame_number + track) % self.every_frames == 0:
            return True
        return float(np.abs(thumbnail(crop) - thumbnail(last_crop)).mean()) > self.change_threshold


def thumbnail(crop: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(crop, (12, 12), interpolation=cv2.INTER_AREA).astype(np.float32)


@dataclass
class _Reading:
    """A track's last classifier output, the crop it came from, and frames since."""

    probabilities: np.ndarray
    crop: np.ndarray
    frames_since: int = 0


class ClassifySchedule:
    """Call `classify` with a frame's detections and crops, then `remember` with the
    tracker's faces for those detections; faces not due reuse their last reading."""

    def __init__(self, policy: ClassifyPolicy | None = None, iou_threshold: float = 0.3):
        self.policy = policy or ClassifyPolicy()
        self.iou_threshold = iou_threshold
        self._frame_number = 0
        self.last_read: tuple[int, ...] = ()       # the detections the classifier read in the last call
        self._previous: list[Face] = []            # the last frame's faces
        self._readings: dict[int, _Reading] = {}   # track number -> last reading
        # this frame's (box, crop, probabilities, the reading reused or None)
        self._frame: list[tuple[Box, np.ndarray, np.ndarray, _Reading | None]] = []

    @property
    def reads_every_face(self) -> bool:
        return self.policy.every_frames <= 1

    def restart(self) -> None:
        self._previous, self._readings, self._frame, self._frame_number = [], {}, [], 0

    def due(self, detections: list[Detection], crops: np.ndarray) -> list[_Reading | None]:
        """Per detection: the reading to reuse, or None when the classifier must read it."""
        if self.reads_every_face or not self._previous:
            return [None] * len(detections)
        boxes = [d.box for d in detections]
        pairs = greedy_match(match_scores([f.box for f in self._previous], boxes, self.iou_threshold))
        reuse: list[_Reading | None] = [None] * len(detections)
        for row, col in pairs:
            face = self._previous[row]
            reading = self._readings.get(face.track) if face.track is not None else None
            if reading is None or face.track_id == MAIN_PERSON:
                continue
            if not self.policy.due(self._frame_number, face.track, reading.frames_since + 1, crops[col],
                                   reading.crop):
                reuse[col] = reading
        return reuse

    def classify(self, classifier, detections: list[Detection], crops: np.ndarray) -> np.ndarray:
        """(N, C) probabilities for the frame's detections: fresh for the faces due, the
        last reading for the others. The due crops go to the classifier in one call, in
        detection order (largest first), so test-time views still go to the largest."""
        reuse = self.due(detections, crops)
        fresh = [i for i, reading in enumerate(reuse) if reading is None]
        self.last_read = tuple(fresh)
        probabilities = np.zeros((len(detections), len(classifier.labels)), np.float32)
        if fresh:
            probabilities[fresh] = self._read(classifier, crops[fresh], fresh, self.views_now(classifier))
        for i, reading in enumerate(reuse):
            if reading is not None:
                probabilities[i] = reading.probabilities
        self._frame = [(d.box, crops[i], probabilities[i], reuse[i]) for i, d in enumerate(detections)]
        return probabilities

    def views_now(self, classifier) -> tuple:
        """The test-time views this frame's readings get. Every face every frame: all of them.
        Otherwise one, in turn, changing every `every_frames` frames: a crowd face, read once in
        that many frames, gets each view in turn, and person 0 about as often each within the
        tracker's smoothing; each reading costs one pass instead of one a view."""
        views = classifier.views
        if self.reads_every_face or len(views) < 2:
            return views
        return (views[(self._frame_number // self.policy.every_frames) % len(views)],)

    @staticmethod
    def _read(classifier, crops: np.ndarray, rows: list[int], views: tuple) -> np.ndarray:
        """The classifier's output for the crops of detections `rows`: test-time `views` go to
        the rows among the frame's largest `views_max_faces`, as when every face is read."""
        if not classifier.test_time_views:
            return classifier.classify(crops, test_time_views=False)
        limit = classifier.views_max_faces
        with_views = len(rows) if limit <= 0 else sum(row < limit for row in rows)  # rows ascend: those come first
        if with_views == 0:
            return classifier.classify(crops, test_time_views=False)
        return classifier.classify_views(crops, views, with_views)

    def remember(self, faces: tuple[Face, ...]) -> None:
        """The tracker's faces for the detections last passed to `classify`."""
        by_box = {box: (crop, probs, reused) for box, crop, probs, reused in self._frame}
        readings: dict[int, _Reading] = {}
        for face in faces:
            if face.track is None or face.box not in by_box:
                continue
            crop, probs, reused = by_box[face.box]
            if reused is not None:
                reused.frames_since += 1
                readings[face.track] = reused
            else:
                readings[face.track] = _Reading(probs, crop)
        self._readings = readings  # tracks not seen this frame are read afresh when they come back
        self._previous = list(faces)
        self._frame = []
        self._frame_number += 1
