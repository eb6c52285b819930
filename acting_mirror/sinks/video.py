"""The output video through OpenCV's VideoWriter, with its write failures caught (a full disk,
a file size limit)."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np

from acting_mirror.sinks.base import SinkError
from acting_mirror.sinks.claims import OutputClaim

# Write failures: OpenCV's VideoWriter reports none (a full disk just stops the file
# growing), so the file's growth is watched and the finished file is read back.
FFMPEG_WRITE_BLOCK = 256 * 1024   # FFmpeg hands the file its data in blocks of up to this size
GROWTH_CHECK_FRAMES = 15          # the file's size is looked at every this many frames
LOW_SPACE_BYTES = FFMPEG_WRITE_BLOCK  # less free space than a block, with a file that stopped growing: a full disk
MJPG_MIN_BYTES_PER_PIXEL = 1 / 200  # a JPEG frame is never smaller than this (a flat black frame is ~1/60)
OTHER_MIN_FRAME_BYTES = 64        # inter-frame codecs can make tiny frames of a still scene


# -- video ----------------------------------------------------------------

class VideoSink:
    """Frames to a video file.

    The file is claimed when the sink is made (see OutputClaim: folder created, kind
    and permission checked, locked against a second run); the writer opens on the first
    frame, which sets the size; later frames of another size are resized to it (a writer
    silently drops mismatched frames). `fps` may be changed until then. close() always
    releases the writer (also via `with` and after errors), so an interrupted run still
    leaves a playable file of every frame written.

    OpenCV's writer reports no write errors, so the sink watches the file grow while
    frames go in, and reads the finished file back: a full disk, a size limit or a
    removed file raise SinkError (write() during the run, close() at the end), and
    `failure` then holds the reason.
    """

    def __init__(self, path: str | Path, fps: float, codec: str = "MJPG"):
        self.path = Path(path)
        self.fps = float(fps)
        self.codec = codec
        self.frames_written = 0
        self.frame_size: tuple[int, int] | None = None
        self.failure: str | None = None
        self._writer = None
        self._closed = False
        self._size = 0               # file size at the last growth
        self._grown_at = 0           # frames written at the last growth
        self._largest_step = 0       # the largest single growth seen
        self._min_frame_bytes = float(OTHER_MIN_FRAME_BYTES)
        if len(codec) != 4:
            raise SinkError(f"cannot write video {self.path}: codec {codec!r} is not a four-character code")
        self._claim = OutputClaim(self.path, "video")

    def _open(self, width: int, height: int) -> None:
        import cv2

        if not (0 < self.fps <= 1000):
            raise SinkError(f"cannot write video {self.path}: frame rate {self.fps} is out of range")
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.codec), self.fps, (width, height))
        if not writer.isOpened():
            writer.release()
            raise SinkError(f"cannot write video {self.path} with codec {self.codec}")
        self._writer = writer
        self.frame_size = (width, height)
        if self.codec.upper() == "MJPG":
            self._min_frame_bytes = width * height * MJPG_MIN_BYTES_PER_PIXEL

    def write(self, image: np.ndarray) -> None:
        import cv2

        if self.failure is not None:
            raise SinkError(self._failure_message())
        if self._closed:
            raise SinkError(f"video {self.path} is already closed")
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        height, width = image.shape[:2]
        if self._writer is None:
            self._open(width, height)
        if (width, height) != self.frame_size:
            image = cv2.resize(image, self.frame_size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(image, dtype=np.uint8))
        self.frames_written += 1
        if self.frames_written % GROWTH_CHECK_FRAMES == 0:
            self._check_growth()

    def _check_growth(self) -> None:
        """Fail when the frames written since the file last grew should have filled
        FFmpeg's write block twice over: the bytes are not reaching the disk."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            self._fail("the file was removed while it was written")
        if size > self._size:
            self._largest_step = max(self._largest_step, size - self._size)
            self._size, self._grown_at = size, self.frames_written
            return
        stalled = self.frames_written - self._grown_at
        per_frame = self._size / self._grown_at if self._grown_at else self._min_frame_bytes
        if _free_bytes(self.path) < LOW_SPACE_BYTES or \
                stalled * per_frame > 2 * max(self._largest_step, FFMPEG_WRITE_BLOCK):
            self._fail(self._stall_reason(size))

    def _stall_reason(self, size: int) -> str:
        if not self.path.exists():
            return "the file was removed while it was written"
        if _free_bytes(self.path) < LOW_SPACE_BYTES:
            return "no space left on device"
        limit = _file_size_limit()
        if limit is not None and size >= limit - FFMPEG_WRITE_BLOCK:
            return f"the file size limit of {limit} bytes is reached"
        return "the file stopped growing while frames were written to it"

    def _fail(self, reason: str):
        self.failure = reason
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        raise SinkError(self._failure_message())

    def _failure_message(self) -> str:
        return f"cannot write video {self.path}: {self.failure} (the file is incomplete)"

    def _verify(self) -> None:
        """Read the finished file's frame count back: every frame written must be in it."""
        import cv2

        from acting_mirror.quiet import native_stderr_silenced

        with native_stderr_silenced():
            capture = cv2.VideoCapture(str(self.path))
            count = capture.get(cv2.CAP_PROP_FRAME_COUNT) if capture.isOpened() else 0
            capture.release()
        if count < self.frames_written:
            try:
                size = os.stat(self.path).st_size
            except OSError:
                size = 0
            self._fail(self._stall_reason(size))

    def close(self) -> None:
        """Finish the file; SinkError if it does not hold every frame written."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                self._writer.release()
                self._writer = None
                if self.failure is None and self.frames_written:
                    self._verify()
        finally:
            self._claim.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is None:
            self.close()
        else:  # do not hide the exception that ended the writing
            with contextlib.suppress(SinkError):
                self.close()


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path.parent if str(path.parent) else ".").free
    except OSError:
        return LOW_SPACE_BYTES  # unknown: do not call the disk full on that alone


def _file_size_limit() -> int | None:
    """The process's file size limit (ulimit -f) in bytes, if it has one."""
    try:
        import resource
    except ImportError:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft
