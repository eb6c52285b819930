"""Tracking: give each detected face a stable id across frames and smooth its probabilities.

Each face is followed by a track (numbered 1, 2, ... in the order they start, never
reused). The tracks carry person numbers: person 0 is the main face (the actor), as in
the original app the biggest one, with hysteresis so it does not flicker: it starts
as the largest face, and moves to another face only when that face has been clearly
larger (tracking.main_size_ratio times the area) for tracking.main_switch_s seconds,
or at once when person 0's track has ended. The face it leaves takes the other's
number. Other faces get person numbers 1, 2, ... that are never reused. A Face carries
both: `track_id` is its person number, `track` its track, so a switch shows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from acting_mirror.config import TrackingConfig
from acting_mirror.errors import MirrorError
from acting_mirror.types import Box, Face

MAIN_PERSON = 0
# Fast motion: a face whose centre moved less than this fraction of the mean box side
# still continues its track when the boxes barely overlap. Two faces side by side have
# centres at least about one mean side apart, so below 1 a neighbour is not taken for it.
CENTRE_SHIFT_LIMIT = 0.75
# ... but only when its size changed less than this factor (a small face next to a big one is another face).
SIZE_RATIO_LIMIT = 2.0


class TrackingError(MirrorError, ValueError):
    """Detections and probabilities that do not fit together or do not fit the labels."""


@dataclass
class _Track:
    number: int                         # the track's own number (1, 2, ...)
    person: int                         # its person number (0: the main face)
    box: Box
    history: deque = field(repr=False)  # the last `smoothing_frames` raw probability vectors
    missed: int = 0                     # consecutive frames without a matching face

    def smoothed(self) -> np.ndarray:
        return np.mean(np.stack(self.history), axis=0)


def _as_array(boxes: Sequence[Box]) -> np.ndarray:
    """Boxes -> float (N, 4) of x0, y0, x1, y1."""
    if not boxes:
        return np.zeros((0, 4))
    return np.array([(b.x, b.y, b.x + b.w, b.y + b.h) for b in boxes], dtype=float)


def iou_matrix(first: Sequence[Box], second: Sequence[Box]) -> np.ndarray:
    """Intersection over union of every box in `first` with every box in `second`, shape (len(first), len(second))."""
    a, b = _as_array(first)[:, None, :], _as_array(second)[None, :, :]
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_scores(tracks: Sequence[Box], detections: Sequence[Box], iou_threshold: float) -> np.ndarray:
    """Score of each (track, detection) pair, 0 where they cannot match.

    Overlap matches score 1 + IoU and always beat centre-shift matches, which score
    in (0.25, 1] (closer is higher), so greedy matching prefers overlap first."""
    iou = iou_matrix(tracks, detections)
    a, b = _as_array(tracks)[:, None, :], _as_array(detections)[None, :, :]
    side_a = ((a[..., 2] - a[..., 0]) + (a[..., 3] - a[..., 1])) / 2
    side_b = ((b[..., 2] - b[..., 0]) + (b[..., 3] - b[..., 1])) / 2
    shift = np.hypot((a[..., 0] + a[..., 2] - b[..., 0] - b[..., 2]) / 2,
                     (a[..., 1] + a[..., 3] - b[..., 1] - b[..., 3]) / 2)
    mean_side = np.maximum((side_a + side_b) / 2, 1e-9)
    relative_shift = shift / mean_side
    size_ratio = np.maximum(side_a, side_b) / np.maximum(np.minimum(side_a, side_b), 1e-9)
    near = (relative_shift < CENTRE_SHIFT_LIMIT) & (size_ratio <= SIZE_RATIO_LIMIT)
    scores = np.where(near, 1.0 - relative_shift, 0.0)
    return np.where(iou >= iou_threshold, 1.0 + iou, scores)


def greedy_match(scores: np.ndarray) -> list[tuple[int, int]]:
    """(row, column) pairs, best score first, each row and column used once; zero scores never match."""
    rows, cols = np.nonzero(scores > 0)
    order = np.argsort(-scores[rows, cols], kind="stable")
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs = []
    for k in order:
        row, col = int(rows[k]), int(cols[k])
        if row not in used_rows and col not in used_cols:
            used_rows.add(row)
            used_cols.add(col)
            pairs.append((row, col))
    return pairs


class FaceTracker:
    """Call `update` once per frame with that frame's detections; it returns the tracked faces."""

    def __init__(self, labels: tuple[str, ...], config: TrackingConfig | None = None):
        if not labels:
            raise TrackingError("tracker: no emotion labels given")
        self.labels = tuple(labels)
        self.config = (config or TrackingConfig()).validate()
        self.tracks_started = 0      # every track ever begun: a face lost for a while and found again counts twice
        self._tracks: list[_Track] = []
        self._next_person = MAIN_PERSON + 1
        self._challenger: tuple[_Track, float] | None = None  # a clearly larger face, and since when

    @property
    def live_track_ids(self) -> tuple[int, ...]:
        """Person numbers of the tracks still alive (seen now or missing for at most max_missed_frames)."""
        return tuple(sorted(track.person for track in self._tracks))

    def update(self, boxes: Sequence[Box], probabilities: np.ndarray, time_s: float) -> tuple[Face, ...]:
        """One frame's detections (N boxes, (N, C) probabilities in label order) at `time_s`
        -> its faces, sorted by person number."""
        boxes = list(boxes)
        probabilities = np.asarray(probabilities, dtype=float)
        if len(boxes) == 0 and probabilities.size == 0:
            probabilities = probabilities.reshape(0, len(self.labels))
        if probabilities.ndim != 2 or probabilities.shape != (len(boxes), len(self.labels)):
            raise TrackingError(f"tracker: expected probabilities of shape ({len(boxes)}, {len(self.labels)}) "
                                f"for {len(boxes)} faces, got {probabilities.shape}")

        config = self.config
        pairs = greedy_match(match_scores([t.box for t in self._tracks], boxes, config.iou_threshold))
        track_of_detection: dict[int, _Track] = {}
        for row, col in pairs:
            track = self._tracks[row]
            track.box, track.missed = boxes[col], 0
            track.history.append(probabilities[col])
            track_of_detection[col] = track

        matched_rows = {row for row, _ in pairs}
        for row, track in enumerate(self._tracks):
            if row not in matched_rows:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= config.max_missed_frames]

        # New faces, largest first; each starts a track with a new person number.
        for i in sorted((i for i in range(len(boxes)) if i not in track_of_detection),
                        key=lambda i: (-boxes[i].area, i)):
            self.tracks_started += 1
            track = _Track(self.tracks_started, -1, boxes[i],
                           deque([probabilities[i]], maxlen=config.smoothing_frames))
            self._tracks.append(track)
            track_of_detection[i] = track
        self._choose_main(time_s)

        faces = []
        for i, box in enumerate(boxes):
            track = track_of_detection[i]
            smoothed = track.smoothed()
            faces.append(Face(box, tuple(float(p) for p in smoothed), self.labels[int(np.argmax(smoothed))],
                              track.person, track.number))
        return tuple(sorted(faces, key=lambda face: face.track_id))

    def _choose_main(self, time_s: float) -> None:
        """Give out person numbers: person 0 to the main face (see the module doc), the next
        free numbers to new tracks."""
        visible = [t for t in self._tracks if t.missed == 0]
        main = next((t for t in self._tracks if t.person == MAIN_PERSON), None)
        if main is None and visible:  # at the start, or person 0's track has ended: the largest face now
            main = max(visible, key=lambda t: (t.box.area, -t.number))
            main.person, self._challenger = MAIN_PERSON, None
        for track in self._tracks:
            if track.person < 0:
                track.person, self._next_person = self._next_person, self._next_person + 1
        others = [t for t in visible if t is not main]
        if main is None or not others:
            self._challenger = None
            return
        largest = max(others, key=lambda t: (t.box.area, -t.number))
        if main.missed == 0 and largest.box.area < self.config.main_size_ratio * main.box.area:
            self._challenger = None
            return
        if self._challenger is None or self._challenger[0] is not largest or time_s < self._challenger[1]:
            self._challenger = (largest, time_s)
        if time_s - self._challenger[1] >= self.config.main_switch_s:
            main.person, largest.person = largest.person, MAIN_PERSON
            self._challenger = None
