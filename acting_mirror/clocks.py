"""The clocks of a run: the measured frame rate, when a file's frames are due on screen, and
where each frame goes in the output video's constant-rate timeline.

Each takes its clock as an argument (time.monotonic by default), so tests drive them with a
fake clock and no waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import numpy as np


class FpsMeter:
    """Frames per second over the last `window` frames."""

    def __init__(self, window: int = 30, clock: Callable[[], float] = time.monotonic):
        self._times: deque[float] = deque(maxlen=window)
        self._clock = clock

    def tick(self) -> float:
        self._times.append(self._clock())
        return self.fps

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


class PlaybackClock:
    """When a file's frames are due on screen, in wall time: at the file's own timing,
    shifted by however long playback stood still (pauses, and frames that came late:
    after a slow frame the clock waits for us instead of rushing the next frames).
    Also measures pauses for a camera, whose scene clock must stand still meanwhile."""

    def __init__(self, frame_period_s: float, clock: Callable[[], float] = time.monotonic):
        self.frame_period_s = frame_period_s
        self._clock = clock
        self._start = clock()
        self._offset = 0.0                  # how long playback stood still so far
        self._paused_at: float | None = None

    def start(self) -> None:
        self._start, self._offset, self._paused_at = self._clock(), 0.0, None

    def due_in(self, time_s: float) -> float:
        """Seconds until the frame at `time_s` (file time) is due; negative when late."""
        return self._start + self._offset + time_s - self._clock()

    def ready(self, time_s: float) -> bool:
        """Whether the frame at `time_s` is due; when it is late by more than a frame,
        playback catches up by waiting for us (later frames keep their spacing)."""
        late_s = -self.due_in(time_s)
        if late_s < 0:
            return False
        if late_s > self.frame_period_s:
            self._offset += late_s
        return True

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self._clock()

    def resume(self) -> float:
        """End a pause; how long it lasted (0 when there was none)."""
        if self._paused_at is None:
            return 0.0
        paused_for = self._clock() - self._paused_at
        self._offset += paused_for
        self._paused_at = None
        return paused_for


class TimedVideo:
    """The output video at a constant nominal rate (the sink's), frames placed by their time.

    Each frame fills the rate's time slots from its own time until the next frame's, so a
    frame is repeated when the pipeline fell behind and dropped when two frames share a
    slot, as a recorder does: the file's timing follows the frames' clock over the whole
    run (for a camera, the wall clock), whatever the processing rate did meanwhile. For a
    file every frame gets exactly one slot. With a `clock` (in the frames' time), close()
    holds the last frame until the run's end.
    """

    def __init__(self, sink, clock: Callable[[], float] | None = None):
        self._sink = sink
        self._fps = getattr(sink, "fps", None)  # None: a sink without a rate (a photo's image file)
        self._clock = clock
        self._first_s: float | None = None
        self._held: np.ndarray | None = None   # the newest frame, written once the next one's slot is known
        self._held_slot = 0
        self._clock_offset = 0.0  # clock() - frame time, at the first frame

    @property
    def fps(self) -> float | None:
        return self._fps

    @property
    def frames_written(self) -> int:
        return self._sink.frames_written

    @property
    def path(self):
        return getattr(self._sink, "path", None)

    @property
    def failure(self) -> str | None:
        return getattr(self._sink, "failure", None)

    def _slot(self, time_s: float) -> int:
        return round((time_s - self._first_s) * self.fps)

    def write(self, image: np.ndarray, time_s: float) -> None:
        if self._fps is None:
            self._sink.write(image)
            return
        if self._first_s is None:
            self._first_s = time_s
            if self._clock is not None:
                self._clock_offset = self._clock() - time_s
        slot = max(self._slot(time_s), self._held_slot)
        if self._held is not None and slot > self._held_slot:
            self._write_held(slot - self._held_slot)
        self._held, self._held_slot = image, slot  # two frames in one slot: the newer one wins

    def hold_until(self, time_s: float) -> None:
        """Write the newest frame into the slots before `time_s` now (a paused camera
        run), rather than all at once when the next frame comes."""
        if self._held is not None:
            slot = self._slot(time_s)
            if slot > self._held_slot:
                self._write_held(slot - self._held_slot)
                self._held_slot = slot

    def now_s(self) -> float | None:
        """The clock in the frames' time (None without a clock or before the first frame)."""
        if self._clock is None or self._first_s is None:
            return None
        return self._clock() - self._clock_offset

    def _write_held(self, copies: int) -> None:
        for _ in range(copies):
            self._sink.write(self._held)

    def close(self, hold_to_now: bool = True) -> None:
        """Write the last frame (until the clock's now with `hold_to_now`: a camera run the user
        stopped; one slot without: a feed that stopped sending is not padded) and close."""
        try:
            if self._held is not None:
                end_slot = self._held_slot + 1
                now_s = self.now_s() if hold_to_now else None
                if now_s is not None:
                    end_slot = max(end_slot, self._slot(now_s))
                self._write_held(end_slot - self._held_slot)
                self._held = None
        finally:
            self._sink.close()  # also lets a claimed file go when no frame came
