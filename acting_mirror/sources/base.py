"""What every source shares: the `Source` interface, `SourceError`, and the small rules
about frame rates, URLs and frame counts that more than one kind of source needs.

Time: for files, web videos and the demo `Frame.time_s` is video time (index / fps). For a
live feed (a camera, an RTSP stream) it is the moment the frame was captured, in seconds on
the monotonic clock since `source.clock_start`; so `time.monotonic() - source.clock_start -
frame.time_s` (or `source.frame_age(frame)`) is how old the picture on screen is. A live web
broadcast's frames carry video time, and `clock_start` is when its frame 0 was (or would have
been) due, so `frame_age` is how late a frame is handed over.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from acting_mirror.errors import MirrorError
from acting_mirror.types import Frame

DEFAULT_FPS = 30.0
MAX_SANE_FPS = 240.0            # containers that claim more than this are lying
MAX_FAILED_READS = 5            # consecutive unreadable frames that mean "the video ends here"
URL_PATTERN = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)  # scheme://..., as opposed to a file path


class SourceError(MirrorError, RuntimeError):
    """An input that cannot be opened or read; the message is one line naming it."""


class Source:
    """A sequence of frames. Iterate it once; `close()` releases everything.

    fps:          the rate an output video must be written at (a file's own rate;
                  a live feed's measured rate, updated as it runs)
    frame_size:   (width, height)
    live:         True for a camera, an RTSP stream or a live broadcast (frames come in real time,
                  slow consumers skip)
    total_frames: for progress bars; None when unknown
    is_image:     True for a single photo
    media_path:   a local file holding the source's media (its sound is carried into the output); None for
                  a live feed or a stream
    """

    name: str
    fps: float
    frame_size: tuple[int, int]
    live: bool = False
    total_frames: int | None = None
    is_image: bool = False
    media_path: str | None = None  # a file or stream URL the take's sound can be read from

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device, file or temporary download; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        width, height = self.frame_size
        return f"<{type(self).__name__} {self.name!r} {width}x{height} @ {self.fps:.1f} fps>"


def is_url(text: str) -> bool:
    """`text` names a URL (http://, rtsp://, ...), not a file path."""
    return bool(URL_PATTERN.match(text))


def check_frame_limit(max_frames, name: str = "max_frames") -> None:
    """A frame limit as given (None: not given) is a whole number, 0 or more (0: no limit);
    else an ArgumentError or UsageError naming it as `name` (the flag or the argument)."""
    from acting_mirror.errors import ArgumentError, UsageError

    if max_frames is None:
        return
    if isinstance(max_frames, bool) or not isinstance(max_frames, int):
        raise ArgumentError(f"{name} must be a whole number, not {type(max_frames).__name__}")
    if max_frames < 0:
        raise UsageError(f"{name} must be >= 0")


def frames_to_read(source: Source, max_frames: int) -> int | None:
    """How many frames a run over `source` stopped after `max_frames` (0: no limit) reads; None when unknown."""
    if not max_frames:
        return source.total_frames
    return min(source.total_frames or max_frames, max_frames)


def sane_fps(value: float | None) -> float | None:
    """`value` if it is a believable frame rate, else None (containers often say 0, NaN or 1000)."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and 0 < value <= MAX_SANE_FPS else None


def capture_rate(capture, hint: float | None = None) -> float:
    """An opened capture's frame rate, else `hint` (what yt-dlp says), else DEFAULT_FPS."""
    import cv2

    return sane_fps(capture.get(cv2.CAP_PROP_FPS)) or sane_fps(hint) or DEFAULT_FPS
