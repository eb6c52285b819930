"""Video files, and the OpenCV capture every file or network stream is read through.

`open_capture` opens a file or stream with FFmpeg held to the protocols the input may use
(a playlist or a redirect may not reach file: from the web); `VideoSource` reads it frame by
frame, skipping damaged frames and saying why a video ended before its stated length.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from acting_mirror.quiet import native_stderr_silenced
from acting_mirror.sources.base import MAX_FAILED_READS, Source, SourceError, capture_rate
from acting_mirror.types import Frame

EXACT_COUNT_SLACK = 0.01        # a file read back this close to its header's frame count ended normally
ESTIMATE_SLACK = 0.05           # a stream's length (from its duration) is only an estimate
STREAM_TIMEOUT_MS = 15000       # OpenCV/FFmpeg open and read timeouts for network streams
# What FFmpeg may open (its protocol_whitelist), per kind of input
FILE_PROTOCOLS = "file,crypto"
WEB_PROTOCOLS = "http,https,tcp,tls,crypto"
RTSP_PROTOCOLS = "rtsp,rtsps,rtp,srtp,udp,tcp,tls"
FFMPEG_OPTIONS_VARIABLE = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


class VideoSource(Source):
    """Frames read one by one from an opened OpenCV capture (a file or a network stream).

    A frame that cannot be decoded is skipped but still counted, so `time_s` keeps in
    step with the video; after MAX_FAILED_READS unreadable frames in a row the video
    is taken to end there (a truncated file ends cleanly, without an exception).
    """

    def __init__(self, capture, first_image: np.ndarray, name: str, *, fps_hint: float | None = None,
                 total_hint: int | None = None, cleanup: Callable[[], None] | None = None, stream: bool = False,
                 media_path: str | None = None):
        import cv2

        self.name = name
        self.media_path = media_path
        self._capture = capture
        self._first_image: np.ndarray | None = first_image
        self._cleanup = cleanup
        self.fps = capture_rate(capture, fps_hint)
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.total_frames = int(count) if count and math.isfinite(count) and count > 0 else total_hint
        self._exact_count = bool(count and math.isfinite(count) and count > 0) and not stream
        self.skipped_frames = 0             # damaged frames skipped in the middle
        self.ended_early: str | None = None  # set when reading ends before the stated length, with why
        height, width = first_image.shape[:2]
        self.frame_size = (width, height)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        if self._first_image is not None:
            image, self._first_image = self._first_image, None
            yield Frame(image, index, index / self.fps)
            index += 1
        failed = 0
        last_good = 0
        while self._capture is not None and failed < MAX_FAILED_READS:
            with native_stderr_silenced():  # FFmpeg reports damaged packets ("overread") on fd 2
                ok, image = self._capture.read()
            if ok and image is not None:
                self.skipped_frames += failed  # unreadable frames followed by good ones: damage, skipped
                failed = 0
                last_good = index
                yield Frame(image, index, index / self.fps)
            else:
                failed += 1
            index += 1
        if self._capture is not None:
            self.ended_early = self._early_end(last_good + 1)

    def _early_end(self, frames_read: int) -> str | None:
        """Why the input ended before its stated length, or None when it did not."""
        if not self.total_frames:
            return None
        slack = max(2, int(self.total_frames * (EXACT_COUNT_SLACK if self._exact_count else ESTIMATE_SLACK)))
        if frames_read >= self.total_frames - slack:
            return None
        cause = "the file is truncated or damaged" if self._exact_count else "the stream broke off"
        return f"frame {frames_read + 1} of {self.total_frames} could not be read ({cause})"

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        if self._cleanup is not None:
            cleanup, self._cleanup = self._cleanup, None
            cleanup()


@contextmanager
def ffmpeg_protocols(protocols: str) -> Iterator[None]:
    """Let FFmpeg use only `protocols` for the capture opened inside (and everything it opens
    later, such as a playlist's segments): OpenCV reads OPENCV_FFMPEG_CAPTURE_OPTIONS at
    each open. Without this a playlist or a redirect could reach file: or FFmpeg's other protocols."""
    previous = os.environ.get(FFMPEG_OPTIONS_VARIABLE)
    options = [item for item in (previous or "").split("|")
               if item and not item.startswith("protocol_whitelist;")]
    os.environ[FFMPEG_OPTIONS_VARIABLE] = "|".join([*options, f"protocol_whitelist;{protocols}"])
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(FFMPEG_OPTIONS_VARIABLE, None)
        else:
            os.environ[FFMPEG_OPTIONS_VARIABLE] = previous


def open_capture(target: str, stream: bool = False, protocols: str = FILE_PROTOCOLS):
    """(capture, first image) if OpenCV can open `target` and decode a frame, else None."""
    import cv2

    # FFmpeg prints "moov atom not found" and the like on fd 2
    with native_stderr_silenced(), ffmpeg_protocols(protocols):
        if stream:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
            capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
        else:
            capture = cv2.VideoCapture(target)
        if capture.isOpened():
            ok, image = capture.read()
            if ok and image is not None:
                return capture, image
        capture.release()
    return None


def open_video(path: str | Path) -> Source:
    """A video file, every frame in order; SourceError if missing or not a video."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"video file {path} not found")
    if not path.is_file():
        raise SourceError(f"{path} is not a file")
    opened = open_capture(str(path))
    if opened is None:
        raise SourceError(f"{path} is not a video OpenCV can read")
    return VideoSource(*opened, path.name, media_path=str(path))
