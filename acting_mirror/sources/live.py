"""Live feeds: a camera, an RTSP stream, a live web broadcast. Each is read by a thread of
its own, so the mirror always shows the present; a consumer slower than the feed skips frames
(`dropped_frames`) rather than falling behind. See base.py for what `Frame.time_s` means here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

import numpy as np

from acting_mirror.quiet import debugging, native_stderr_silenced
from acting_mirror.sources.base import DEFAULT_FPS, MAX_FAILED_READS, Source, SourceError, capture_rate
from acting_mirror.sources.file import RTSP_PROTOCOLS, STREAM_TIMEOUT_MS, open_capture
from acting_mirror.types import Frame

MAX_CAMERA_INDEX = 99           # OpenCV reads 100 and up as a capture backend number plus an index
CAMERA_FIRST_FRAME_TIMEOUT_S = 5.0
CAMERA_RATE_WINDOW = 60         # capture timestamps the measured camera rate is taken over
STREAM_STALL_S = 5.0            # an RTSP stream sending no picture this long has stopped (its connection may hang on)
BROADCAST_BUFFER_S = 1.0        # a live web broadcast's frames read ahead of their time, at most


class LiveSource(Source):
    """A live feed (a camera, an RTSP stream) read by a background thread that keeps only
    the newest frame.

    Iterating returns the newest frame not yet returned (waiting for one if needed), so
    a slow consumer always sees the present, never a queue of old frames; the frames it
    never saw are counted in `dropped_frames`. `Frame.index` is the feed's frame count,
    so it jumps when frames were dropped. `fps` is the measured capture rate.
    """

    live = True

    def __init__(self, capture, name: str, requested_fps: float,
                 first_frame_timeout_s: float = CAMERA_FIRST_FRAME_TIMEOUT_S, stall_timeout_s: float | None = None):
        self.name = name
        self._stall_timeout_s = stall_timeout_s  # no new picture this long: the feed has stopped
        self._stalled = False
        self.dropped_frames = 0
        self.ended_early: str | None = None
        self._capture = capture
        self._requested_fps = requested_fps
        self._condition = threading.Condition()
        self._latest: Frame | None = None
        self._last_returned = -1
        self._ended = False
        self._stopping = False
        self._error: str | None = None
        self._capture_times: deque[float] = deque(maxlen=CAMERA_RATE_WINDOW)
        self.clock_start = time.monotonic()  # Frame.time_s is seconds since this (monotonic clock)
        self._thread = threading.Thread(target=self._read_frames, name=f"acting-mirror {self.name}", daemon=True)
        self._thread.start()
        with self._condition:
            self._condition.wait_for(lambda: self._first() is not None or self._ended, first_frame_timeout_s)
            first = self._first()
        if first is None:
            self.close()
            reason = f": {self._error}" if self._error else ""
            raise SourceError(f"{name} opened but gave no picture{reason}")
        height, width = first.image.shape[:2]
        self.frame_size = (width, height)

    @property
    def fps(self) -> float:
        """Capture rate measured over the last frames; the requested rate until measurable."""
        with self._condition:
            times = list(self._capture_times)
        if len(times) >= 3 and times[-1] > times[0]:
            return (len(times) - 1) / (times[-1] - times[0])
        return self._requested_fps

    def frame_age(self, frame: Frame) -> float:
        """Seconds since `frame` was captured."""
        return time.monotonic() - self.clock_start - frame.time_s

    def _read_frames(self) -> None:
        """Reader thread: owns the capture from here on and releases it when done."""
        count = 0
        failed = 0
        try:
            while not self._stopping and failed < MAX_FAILED_READS:
                ok, image = self._capture.read()
                captured = time.monotonic()
                if not ok or image is None:
                    failed += 1
                    continue
                failed = 0
                with self._condition:
                    self._store(image, count, captured)
                    self._capture_times.append(captured)
                    self._condition.notify_all()
                count += 1
        except Exception as error:  # a driver error ends the stream; __iter__ reports it
            self._error = f"{type(error).__name__}: {error}"
            if debugging():
                import traceback

                traceback.print_exc()
        finally:
            self._capture.release()
            with self._condition:
                self._ended = True
                self._condition.notify_all()

    # What is kept of the frames read, and which one a consumer gets: here the newest only.
    # These three run holding self._condition.
    def _store(self, image: np.ndarray, index: int, captured: float) -> None:
        if self._has_new_frame():
            self.dropped_frames += 1
        self._latest = Frame(image, index, captured - self.clock_start)

    def _first(self) -> Frame | None:
        return self._latest

    def _take(self) -> Frame | None:
        """The next frame for the consumer, waiting for it; None at the end."""
        if not self._condition.wait_for(lambda: self._stopping or self._ended or self._has_new_frame(),
                                        self._stall_timeout_s):
            self._stalled = True  # the sender keeps the connection but sends nothing
            return None
        if self._stopping or not self._has_new_frame():
            return None
        self._last_returned = self._latest.index
        return self._latest

    def _has_new_frame(self) -> bool:
        return self._latest is not None and self._latest.index > self._last_returned

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._condition:
                frame = self._take()
            if frame is None:
                break
            yield frame
        if self._error and not self._stopping:
            raise SourceError(f"{self.name} failed: {self._error}")
        if self._stalled and not self._stopping:
            self.ended_early = f"{self.name} stopped sending pictures (none for {self._stall_timeout_s:g} s)"
        elif self._ended and not self._stopping:  # a live feed has no end: unplugged, or its sender stopped
            self.ended_early = f"{self.name} stopped sending pictures"

    def close(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


class BroadcastSource(LiveSource):
    """A live broadcast from the web (yt-dlp says `is_live`: a live YouTube stream, an HLS
    playlist with no end yet).

    Its frames come in bursts, a segment of a few seconds at a time: read like a file, the
    mirror falls further behind the broadcast with every slow frame; read like a camera, it
    shows a picture or two a segment. So a thread reads them into a buffer of at most
    BROADCAST_BUFFER_S seconds, and iterating gives each frame at its own time (`Frame.time_s`
    = index / fps, counted from `clock_start`): the broadcast plays at its own rate. A consumer
    slower than that skips the frames whose time has passed (`dropped_frames`); a broadcast
    that stalls delays the schedule rather than skipping what comes after the stall.
    """

    def __init__(self, capture, name: str, fps: float):
        self._buffer: deque[Frame] = deque()
        self._capacity = max(2, round(BROADCAST_BUFFER_S * fps))
        self._rate = fps
        self._playing = False
        super().__init__(capture, name, fps, STREAM_TIMEOUT_MS / 1000)

    @property
    def fps(self) -> float:
        return self._rate  # the broadcast's own rate: frames arrive in bursts, so no rate is measured

    def _store(self, image: np.ndarray, index: int, captured: float) -> None:
        # a full buffer holds the reader (and FFmpeg's downloads) back until the consumer catches up
        self._condition.wait_for(lambda: self._stopping or len(self._buffer) < self._capacity)
        self._buffer.append(Frame(image, index, index / self._rate))

    def _first(self) -> Frame | None:
        return self._buffer[0] if self._buffer else None

    def _take(self) -> Frame | None:
        while True:
            starved = not self._buffer  # the consumer is ahead of the broadcast
            self._condition.wait_for(lambda: self._stopping or self._ended or bool(self._buffer))
            if self._stopping or not self._buffer:
                return None
            now = time.monotonic() - self.clock_start
            late = now - self._buffer[0].time_s
            if not self._playing or (starved and late > 1 / self._rate):
                self.clock_start += late  # the first frame, or the first after a stall: due now
                now -= late
                self._playing = True
            while len(self._buffer) > 1 and self._buffer[1].time_s <= now:  # the consumer fell behind
                self._buffer.popleft()
                self.dropped_frames += 1
            wait_s = self._buffer[0].time_s - now
            if wait_s <= 0:
                self._condition.notify_all()  # room in the buffer for the reader
                return self._buffer.popleft()
            self._condition.wait(wait_s)


class CameraSource(LiveSource):
    """A capture device (see LiveSource), named "camera N"."""

    def __init__(self, capture, index: int, requested_fps: float,
                 first_frame_timeout_s: float = CAMERA_FIRST_FRAME_TIMEOUT_S):
        super().__init__(capture, f"camera {index}", requested_fps, first_frame_timeout_s)


def open_camera(index: int, fps: float = DEFAULT_FPS, capture_factory: Callable[[int], object] | None = None) -> Source:
    """Camera `index`, read continuously by a thread (see CameraSource).

    `capture_factory(index)` makes the device (default cv2.VideoCapture); it needs
    isOpened(), read(), get(prop), set(prop, value) and release().
    """
    import cv2

    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_CAMERA_INDEX:
        # OpenCV crashes on -1 (its "any camera") and overflows on huge numbers
        raise SourceError(f"camera index must be between 0 and {MAX_CAMERA_INDEX}, not {str(index)[:30]}")
    factory = capture_factory or cv2.VideoCapture
    with native_stderr_silenced():  # V4L2 and FFmpeg explain a missing camera at length on fd 2
        capture = factory(index)
        opened = capture.isOpened()
    if not opened:
        capture.release()
        raise SourceError(f"camera {index} could not be opened")
    capture.set(cv2.CAP_PROP_FPS, float(fps))
    return CameraSource(capture, index, float(fps))


def open_stream(url: str, name: str) -> Source:
    """An RTSP stream at `url` (shown as `name`: without its password), read like a camera."""
    opened = open_capture(url, stream=True, protocols=RTSP_PROTOCOLS)
    if opened is None:
        raise SourceError(f"cannot open stream {name}")
    # the sender sets the pace, as a camera does: read it like one, newest frame first (the
    # frame read while opening, to check the stream decodes, is older than those that follow)
    capture, _ = opened
    return LiveSource(capture, name, capture_rate(capture), STREAM_TIMEOUT_MS / 1000, stall_timeout_s=STREAM_STALL_S)
