"""The rehearsal timeline: every frame's tracked faces, kept for the live graph and the report.

One `add(result)` per frame. Rows are small (a box, a probability row, a label),
so a long rehearsal stays cheap; each person's probabilities live in a growing
numpy buffer so the live chart can read them every frame without re-stacking.

CSV layout (`write_csv` / `read_csv`), one row per frame and tracked face:

    frame,time_s,person,track,x,y,w,h,<one column per label, model order>,label

`person` is the person number (0: the main face), `track` the tracker's number for
the face (see track.py): when person 0 moves to another face, its track changes.
A frame where person 0 was not seen still has a person-0 row, with everything
after `person` empty, so filtering on person 0 gives every frame of the run.
Files written before the track column existed are read too.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError
from acting_mirror.files import write_atomically
from acting_mirror.types import Box, Face, FrameResult

LEADING_COLUMNS = ("frame", "time_s", "person", "track", "x", "y", "w", "h")
UNTRACKED_COLUMNS = ("frame", "time_s", "person", "x", "y", "w", "h")  # files from before the track column
LABEL_COLUMN = "label"


class TimelineError(MirrorError, ValueError):
    """A timeline CSV that is missing or malformed; the message names the file and line."""


class _GrowingRows:
    """Rows of floats appended one at a time, stored in a numpy array that doubles
    when full, so appending is amortised O(1) and reading is a view."""

    def __init__(self, width: int, capacity: int = 256):
        self._data = np.empty((capacity, width), np.float64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, row) -> None:
        if self._size == len(self._data):
            grown = np.empty((2 * len(self._data), self._data.shape[1]), np.float64)
            grown[:self._size] = self._data[:self._size]
            self._data = grown
        self._data[self._size] = row
        self._size += 1

    def view(self) -> np.ndarray:
        rows = self._data[:self._size]
        rows.flags.writeable = False  # callers get a view; they must not edit the timeline through it
        return rows


@dataclass
class _Track:
    """Everything recorded for one tracked person."""

    positions: list[int]      # frame positions (0..frames-1) where the person was seen
    times: _GrowingRows       # (n, 1) frame times
    probabilities: _GrowingRows
    boxes: list[Box]
    labels: list[str]
    tracks: list[int | None]
    times_sorted: bool = True


class Timeline:
    """Per-frame record of a run, in the model's label order."""

    def __init__(self, labels: Sequence[str]):
        if not labels:
            raise ValueError("a timeline needs at least one label")
        self.labels: tuple[str, ...] = tuple(labels)
        self._frame_indices: list[int] = []
        self._frame_times = _GrowingRows(1)
        self._tracks: dict[int, _Track] = {}
        self.cut_short = False  # read from a CSV whose last frame was cut off (and left out)

    # -- recording --------------------------------------------------------
    def add(self, result: FrameResult) -> None:
        """Record one frame (also frames without faces)."""
        position = len(self._frame_indices)
        self._frame_indices.append(int(result.index))
        self._frame_times.append(float(result.time_s))
        for face in result.faces:
            if len(face.probabilities) != len(self.labels):
                raise ValueError(f"frame {result.index}: person {face.track_id} has {len(face.probabilities)} "
                                 f"probabilities, expected {len(self.labels)} ({', '.join(self.labels)})")
            track = self._tracks.get(face.track_id)
            if track is None:
                track = _Track([], _GrowingRows(1), _GrowingRows(len(self.labels)), [], [], [])
                self._tracks[face.track_id] = track
            if len(track.times) and result.time_s < track.times.view()[-1, 0]:
                track.times_sorted = False
            track.positions.append(position)
            track.times.append(float(result.time_s))
            track.probabilities.append(face.probabilities)
            track.boxes.append(face.box)
            track.labels.append(face.label)
            track.tracks.append(face.track)

    # -- reading ----------------------------------------------------------
    @property
    def frames(self) -> int:
        return len(self._frame_indices)

    @property
    def times(self) -> np.ndarray:
        """Every frame's time, (frames,)."""
        return self._frame_times.view()[:, 0]

    @property
    def track_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._tracks))

    def face_frames(self, track_id: int = 0) -> int:
        """Frames where this person was seen."""
        track = self._tracks.get(track_id)
        return len(track.positions) if track else 0

    def person_tracks(self, track_id: int = 0) -> list[int]:
        """The tracks that held this person number, in the order they first did (for
        person 0: more than one means the main face moved to another face)."""
        track = self._tracks.get(track_id)
        found = track.tracks if track else []
        return list(dict.fromkeys(number for number in found if number is not None))

    def person_probabilities(self, track_id: int = 0, since_s: float | None = None) -> np.ndarray:
        """(T, C) probabilities of the frames where this person was seen, oldest first,
        optionally only from `since_s` on. A read-only view: cheap to call every frame."""
        track = self._tracks.get(track_id)
        if track is None:
            return np.zeros((0, len(self.labels)), np.float64)
        rows = track.probabilities.view()
        if since_s is None:
            return rows
        times = track.times.view()[:, 0]
        if track.times_sorted:
            return rows[int(np.searchsorted(times, since_s, side="left")):]
        return rows[times >= since_s]

    def person_series(self, track_id: int = 0) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """This person over every frame: times (F,), probabilities (F, C) with NaN rows
        where absent, and the shown labels with None where absent."""
        times = self.times.copy()
        probabilities = np.full((self.frames, len(self.labels)), np.nan)
        labels: list[str | None] = [None] * self.frames
        track = self._tracks.get(track_id)
        if track is not None:
            positions = np.asarray(track.positions, dtype=np.intp)
            probabilities[positions] = track.probabilities.view()
            for position, label in zip(track.positions, track.labels, strict=True):
                labels[position] = label
        return times, probabilities, labels

    def emotion_share(self, track_id: int = 0) -> dict[str, float]:
        """Share of this person's face frames per shown label, every label in model order
        (all zero when the person was never seen)."""
        track = self._tracks.get(track_id)
        counts = dict.fromkeys(self.labels, 0)
        if track is not None:
            for label in track.labels:
                counts[label] = counts.get(label, 0) + 1
        total = sum(counts.values())
        return {label: (count / total if total else 0.0) for label, count in counts.items()}

    def results(self) -> list[FrameResult]:
        """The recorded frames as FrameResults again (faces ordered by person)."""
        faces: list[list[Face]] = [[] for _ in range(self.frames)]
        for track_id in self.track_ids:
            track = self._tracks[track_id]
            rows = track.probabilities.view()
            for i, position in enumerate(track.positions):
                faces[position].append(Face(track.boxes[i], tuple(float(p) for p in rows[i]), track.labels[i],
                                            track_id, track.tracks[i]))
        times = self.times
        return [FrameResult(index, float(times[position]), tuple(faces[position]))
                for position, index in enumerate(self._frame_indices)]

    def summary(self, fps: float) -> dict:
        """Whole-run numbers for summary.json (person 0 for the per-person ones)."""
        times = self.times
        if self.frames == 0:
            duration = 0.0
        else:
            period = 1.0 / fps if fps > 0 else 0.0
            duration = float(times[-1] - times[0]) + period  # N frames at a steady rate last N periods
        return {
            "frames": self.frames,
            "duration_s": round(duration, 6),
            "fps": round(float(fps), 6),
            "labels": list(self.labels),
            "people": len(self._tracks),
            "face_frames": self.face_frames(0),
            "person0_tracks": self.person_tracks(0),
            "emotion_share": {label: round(share, 6) for label, share in self.emotion_share(0).items()},
        }

    # -- CSV --------------------------------------------------------------
    def columns(self) -> list[str]:
        return csv_columns(self.labels)

    def write_csv(self, path: str | Path) -> Path:
        """Write the timeline to `path` in one step (see acting_mirror.files.write_atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(self.columns())
        for result in self.results():
            writer.writerows(csv_frame_rows(result, len(self.labels)))
        return write_atomically(path, text.getvalue(), "timeline file", TimelineError)

    @classmethod
    def read_csv(cls, path: str | Path) -> Timeline:
        """Read a CSV written by `write_csv`; labels come from its header."""
        path = Path(path)
        try:
            handle = path.open(newline="")
        except FileNotFoundError:
            raise TimelineError(f"timeline file {path} not found") from None
        except OSError as error:
            raise TimelineError(f"timeline file {path} cannot be read ({error.strerror})") from None
        with handle:
            try:
                text = handle.read()
                rows = list(csv.reader(io.StringIO(text, newline="")))
            except (csv.Error, UnicodeDecodeError) as error:
                raise TimelineError(f"{path}: not a readable CSV file ({error})") from None
        cut_short = bool(text) and not text.endswith(("\n", "\r"))
        if cut_short and len(rows) > 1:
            rows = _without_last_frame(rows)  # a run killed mid-write: its last frame may be partial
        if not rows:
            raise TimelineError(f"{path}: empty file (expected a header: {','.join(LEADING_COLUMNS)},<labels>,label)")
        labels, leading = _labels_from_header(rows[0], path)
        timeline = cls(labels)
        pending: list[Face] = []
        current: tuple[int, float] | None = None
        for line_number, row in enumerate(rows[1:], start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            frame, time_s, face = _parse_row(row, labels, leading, f"{path}: line {line_number}")
            if current is not None and frame == current[0]:
                if not math.isclose(time_s, current[1], abs_tol=1e-6):
                    raise TimelineError(f"{path}: line {line_number}: frame {frame} has time {time_s}, "
                                        f"but an earlier row of that frame has {current[1]}")
            else:
                if current is not None:
                    if frame < current[0]:
                        raise TimelineError(f"{path}: line {line_number}: frame {frame} comes after frame "
                                            f"{current[0]}; rows must be in frame order")
                    timeline.add(FrameResult(current[0], current[1], tuple(pending)))
                current, pending = (frame, time_s), []
            if face is not None:
                if any(other.track_id == face.track_id for other in pending):
                    raise TimelineError(f"{path}: line {line_number}: person {face.track_id} appears twice "
                                        f"in frame {frame}")
                pending.append(face)
        if current is not None:
            timeline.add(FrameResult(current[0], current[1], tuple(pending)))
        timeline.cut_short = cut_short
        return timeline


def csv_columns(labels: Sequence[str]) -> list[str]:
    return [*LEADING_COLUMNS, *labels, LABEL_COLUMN]


def csv_frame_rows(result: FrameResult, label_count: int) -> list[list]:
    """One frame's CSV rows (see the module docstring); an empty person-0 row when person 0 is absent."""
    time_text = f"{result.time_s:.6f}"
    rows = []
    if result.person(0) is None:
        rows.append([result.index, time_text, 0, *([""] * (len(LEADING_COLUMNS) - 3 + label_count + 1))])
    for face in result.faces:
        box = face.box
        track = "" if face.track is None else face.track
        rows.append([result.index, time_text, face.track_id, track, box.x, box.y, box.w, box.h,
                     *(f"{p:.6f}" for p in face.probabilities), face.label])
    return rows


def _without_last_frame(rows: list[list[str]]) -> list[list[str]]:
    """The rows without those of the last frame (by its frame number, the first cell)."""
    last = rows[-1][0].strip() if rows[-1] else ""
    end = len(rows) - 1
    while end > 1 and rows[end - 1] and rows[end - 1][0].strip() == last:
        end -= 1
    return rows[:end]


def _labels_from_header(header: list[str], path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The labels and the leading columns (with or without `track`) of a header."""
    header = [name.strip() for name in header]
    expected = ",".join(LEADING_COLUMNS) + ",<labels>," + LABEL_COLUMN
    leading = LEADING_COLUMNS if tuple(header[:len(LEADING_COLUMNS)]) == LEADING_COLUMNS else UNTRACKED_COLUMNS
    if (len(header) < len(leading) + 2 or tuple(header[:len(leading)]) != leading
            or header[-1] != LABEL_COLUMN):
        # its content is not echoed: the file may be anything a link in a report folder points to
        raise TimelineError(f"{path}: line 1 is not a timeline header (expected {expected})")
    labels = tuple(header[len(leading):-1])
    if any(not label for label in labels) or len(set(labels)) != len(labels):
        raise TimelineError(f"{path}: line 1: label columns must be distinct, non-empty names, got {','.join(labels)}")
    return labels, leading


def _parse_row(row: list[str], labels: tuple[str, ...], leading: tuple[str, ...],
               where: str) -> tuple[int, float, Face | None]:
    """One CSV row -> (frame, time, face or None for an empty person-0 row)."""
    width = len(leading) + len(labels) + 1
    if len(row) != width:
        raise TimelineError(f"{where}: {len(row)} values, expected {width}")
    cells = [cell.strip() for cell in row]
    frame = _number(cells[0], int, "frame", where)
    time_s = _number(cells[1], float, "time_s", where)
    person = _number(cells[2], int, "person", where)
    if frame < 0 or person < 0:
        raise TimelineError(f"{where}: frame and person must be >= 0")
    rest = cells[3:]
    if all(not cell for cell in rest):
        if person != 0:
            raise TimelineError(f"{where}: person {person} has an empty row (only person 0 rows may be empty)")
        return frame, time_s, None
    track = None
    if leading is LEADING_COLUMNS:
        track = _number(rest[0], int, "track", where) if rest[0] else None  # empty: written without tracker
        rest = rest[1:]
    missing = [name for name, cell in zip((*UNTRACKED_COLUMNS[3:], *labels, LABEL_COLUMN), rest, strict=True)
               if not cell]
    if missing:
        raise TimelineError(f"{where}: empty {', '.join(missing)} (a face row needs every value)")
    x, y, w, h = (_number(cell, int, name, where) for cell, name in zip(rest[:4], UNTRACKED_COLUMNS[3:], strict=True))
    probabilities = tuple(_number(cell, float, name, where) for cell, name in zip(rest[4:-1], labels, strict=True))
    if any(not -1e-6 <= p <= 1 + 1e-6 for p in probabilities):
        raise TimelineError(f"{where}: probabilities must be between 0 and 1")
    label = rest[-1]
    if label not in labels:
        raise TimelineError(f"{where}: label {label!r} is not one of the columns ({', '.join(labels)})")
    return frame, time_s, Face(Box(x, y, w, h), probabilities, label, person, track)


def _number(text: str, kind: type, name: str, where: str):
    try:
        value = kind(text)
    except ValueError:
        raise TimelineError(f"{where}: {name} {text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and not math.isfinite(value):
        raise TimelineError(f"{where}: {name} {text!r} is not a finite number")
    return value
