"""Small frozen records passed between the pipeline's steps."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in full-resolution frame pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)


@dataclass(frozen=True)
class Detection:
    """One face a detector found, in full-resolution frame pixels. `box` frames the face the
    way the emotion models were trained (FER-2013); `landmarks` are the right eye, left eye,
    nose tip, right and left mouth corners (the person's right and left) as (x, y), or empty
    when the detector gives none (Haar)."""

    box: Box
    landmarks: tuple[tuple[float, float], ...] = ()
    score: float = 1.0


@dataclass(frozen=True)
class Frame:
    """One picture from a source. `time_s` is video time for files and URLs,
    seconds since start for a camera."""

    image: np.ndarray  # BGR uint8 (H, W, 3)
    index: int
    time_s: float


@dataclass(frozen=True)
class Face:
    """A tracked face in one frame. `probabilities` are smoothed over the track's
    recent frames and follow the model's label order; `label` is their argmax.
    `track_id` is the person number (0: the main face); `track` the number of the
    track that follows this face (None where unknown), which stays with the face
    when person numbers move (see track.py)."""

    box: Box
    probabilities: tuple[float, ...]
    label: str
    track_id: int
    track: int | None = None

    @property
    def confidence(self) -> float:
        return max(self.probabilities)


@dataclass(frozen=True)
class FrameResult:
    """Everything the pipeline learnt about one frame."""

    index: int
    time_s: float
    faces: tuple[Face, ...]

    def person(self, track_id: int = 0) -> Face | None:
        return next((face for face in self.faces if face.track_id == track_id), None)


class StopReason(Enum):
    """Why a run stopped, as its summary says."""

    END_OF_INPUT = "end of input"
    MAX_FRAMES = "--max-frames"
    QUIT_KEY = "q"
    WINDOW_CLOSED = "window closed"
    INTERRUPT = "interrupt (Ctrl-C)"
    OUTPUT_ERROR = "an output error"
    ENDED_EARLY = "the input ending early"
