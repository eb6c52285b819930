"""Where frames go: the output video and snapshots (the windows are in display.py).

This is the only module that writes output files.
Failures to write raise `SinkError` with a one-line message naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError

# Write failures: OpenCV's VideoWriter reports none (a full disk just stops the file
# growing), so the file's growth is watched and the finished file is read back.
FFMPEG_WRITE_BLOCK = 256 * 1024   # FFmpeg hands the file its data in blocks of up to this size
GROWTH_CHECK_FRAMES = 15          # the file's size is looked at every this many frames
LOW_SPACE_BYTES = FFMPEG_WRITE_BLOCK  # less free space than a block, with a file that stopped growing: a full disk
MIN_FREE_FRAMES = 300             # free space asked for up front when the length is unknown (a camera)
MJPG_MIN_BYTES_PER_PIXEL = 1 / 200  # a JPEG frame is never smaller than this (a flat black frame is ~1/60)
MJPG_LOW_BYTES_PER_PIXEL = 1 / 30   # a low estimate of a typical MJPG frame, for the free-space check
OTHER_MIN_FRAME_BYTES = 64        # inter-frame codecs can make tiny frames of a still scene


class SinkError(MirrorError, RuntimeError):
    """An output that cannot be written; the message is one line naming it."""


def os_error_reason(error: OSError) -> str:
    """The cause of an OSError in plain words (without its "[Errno N]" and path)."""
    reasons = {
        errno.EACCES: "permission denied", errno.EPERM: "permission denied",
        errno.EISDIR: "it is a directory", errno.ENOTDIR: "a folder on its path is a file",
        errno.ENOENT: "its folder does not exist", errno.ENOSPC: "no space left on device",
        errno.EROFS: "the file system is read-only", errno.EFBIG: "the file size limit is reached",
        errno.EEXIST: "a file is in the way", errno.ENAMETOOLONG: "the name is too long",
    }
    if getattr(errno, "EDQUOT", None) is not None:
        reasons[errno.EDQUOT] = "disk quota exceeded"
    if error.errno in reasons:
        return reasons[error.errno]
    return (error.strerror or str(error) or type(error).__name__).lower()


def describe_os_error(error: OSError) -> str:
    """An OSError as "FILE: cause" (never a bare "[Errno N] ..." without the file)."""
    reason = os_error_reason(error)
    if error.filename is not None and error.filename2 is not None:
        return f"{error.filename} -> {error.filename2}: {reason}"
    if error.filename is not None:
        return f"{error.filename}: {reason}"
    return reason


# -- outputs are never inputs ---------------------------------------------

def same_file(first: str | Path, second: str | Path) -> bool:
    """Whether two paths are the same file on disk (links and relative paths included)."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return False  # one of them does not exist (yet): it cannot be the other


def refuse_overwriting_inputs(outputs: Iterable[tuple[str, str | Path]],
                              inputs: Iterable[tuple[str, str | Path]]) -> None:
    """SinkError if an output (what, path) is one of the inputs (what, path): writing it
    would destroy the input while it is read. Checked before anything is opened."""
    inputs = list(inputs)
    for output_what, output in outputs:
        for input_what, source in inputs:
            if same_file(output, source):
                alias = "" if Path(output) == Path(source) else f" (it is {source})"
                raise SinkError(f"refusing to write the {output_what} {output} over the {input_what}{alias}: "
                                f"choose another output path")


# -- claiming an output file ----------------------------------------------

class OutputClaim:
    """An output file checked and held before the run starts: its folder exists, the
    path is (or can be) a regular file we may write, and an exclusive lock on it keeps
    a second run from writing the same file at the same time. Nothing already in the
    file is changed until the real writing starts. release() lets it go; a file the
    claim created is removed again if nothing was written to it."""

    def __init__(self, path: str | Path, what: str):
        self.path = Path(path)
        self.what = what
        self.created = False
        self._fd: int | None = None
        _check_output_path(self.path, what)
        make_folder(self.path.parent, f"{what} {self.path}")
        existed = self.path.exists()
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                               | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except OSError as error:
            raise SinkError(f"cannot write {what} {self.path}: {os_error_reason(error)}") from None
        self.created = not existed
        if not self._lock():
            self.release(remove_if_unused=False)
            raise SinkError(f"cannot write {what} {self.path}: another run is writing it right now")

    def _lock(self) -> bool:
        try:
            import fcntl
        except ImportError:  # Windows: the OS already refuses a second writer of an open file
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:  # a file system without locks (some network mounts): write without one
            return True
        return True

    def open_truncated(self):
        """A text handle on the claimed file, emptied (the lock stays with the claim)."""
        os.ftruncate(self._fd, 0)
        return os.fdopen(os.dup(self._fd), "w", newline="", encoding="utf-8")

    def release(self, remove_if_unused: bool = True) -> None:
        if self._fd is None:
            return
        if remove_if_unused and self.created:
            with contextlib.suppress(OSError):
                if os.fstat(self._fd).st_size == 0:
                    os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def _check_output_path(path: Path, what: str) -> None:
    if path.is_dir():
        raise SinkError(f"cannot write {what} {path}: it is a directory")
    if path.exists() and not path.is_file():
        link = f" (a link to {os.path.realpath(path)})" if path.is_symlink() else ""
        mode = path.stat().st_mode
        kind = "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
        raise SinkError(f"cannot write {what} {path}{link}: it is {kind}, not a file that can hold the {what}")
    if path.is_symlink():
        # written as the run goes, so it cannot be renamed into place: refuse rather than write through the link
        raise SinkError(f"cannot write {what} {path}: it is a symbolic link (to {os.path.realpath(path)}); "
                        "refusing to write through it: remove the link or choose another path")


def make_folder(folder: str | Path, what: str, error_class: type[MirrorError] = SinkError) -> Path:
    """Create `folder` (and its parents) for `what`; `error_class` (a SinkError unless the
    caller owns another kind of output) naming the real cause."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise error_class(f"cannot write {what}: {folder} is a file, not a folder") from None
    except OSError as error:
        raise error_class(f"cannot write {what}: cannot create folder {folder} ({os_error_reason(error)})") \
            from None
    if not folder.is_dir():
        raise error_class(f"cannot write {what}: {folder} is a file, not a folder")
    return folder


def check_folder_writable(folder: str | Path, what: str) -> None:
    """SinkError now, before the first frame, if `folder` could not be created or written
    later (it is not created here: snapshots may never be taken)."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise SinkError(f"cannot write {what} in {folder}: {existing} is a file, not a folder")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise SinkError(f"cannot write {what} in {folder}: permission denied on {existing}")


def check_free_space(path: str | Path, frame_size: tuple[int, int], frames: int | None, what: str = "video") -> None:
    """SinkError when the disk holding `path` clearly cannot take `frames` frames of
    `frame_size` (an MJPG frame is rarely smaller than MJPG_LOW_BYTES_PER_PIXEL a pixel).
    Unknown length (a camera): room for MIN_FREE_FRAMES frames."""
    path = Path(path)
    width, height = frame_size
    count = frames if frames and frames > 0 else MIN_FREE_FRAMES
    needed = int(count * width * height * MJPG_LOW_BYTES_PER_PIXEL)
    try:
        free = shutil.disk_usage(path.parent if str(path.parent) else ".").free
    except OSError:
        return  # no answer about space: the growth check still watches the file
    if free < needed:
        raise SinkError(f"cannot write {what} {path}: no space left on device ({_megabytes(free)} free, "
                        f"about {_megabytes(needed)} needed for {count} frames)")


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


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


class TimelineFile:
    """timeline.csv written as the run goes, so a crash keeps every frame up to it: each
    frame's rows reach the OS at once (a killed process loses nothing) and are synced to
    the disk at least every `sync_interval_s` (a power cut loses at most that).
    The file is claimed like a video (folder, permission, one run at a time)."""

    def __init__(self, path: str | Path, labels, sync_interval_s: float = 1.0, clock=None):
        import csv
        import time

        from acting_mirror.timeline import csv_columns

        self.path = Path(path)
        self.frames_written = 0
        self.failure: str | None = None
        self._labels = tuple(labels)
        self._clock = clock or time.monotonic
        self._sync_interval_s = sync_interval_s
        self._claim = OutputClaim(self.path, "report file")
        self._handle = None
        try:
            self._handle = self._claim.open_truncated()
            self._writer = csv.writer(self._handle)
            self._writer.writerow(csv_columns(self._labels))
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:
            self.close()
            raise SinkError(f"cannot write report file {self.path}: {os_error_reason(error)}") from None
        self._synced = self._clock()

    def write(self, result) -> None:
        from acting_mirror.timeline import csv_frame_rows

        if self.failure is not None or self._handle is None:
            return
        try:
            self._writer.writerows(csv_frame_rows(result, len(self._labels)))
            self._handle.flush()
            if self._clock() - self._synced >= self._sync_interval_s:
                os.fsync(self._handle.fileno())
                self._synced = self._clock()
        except OSError as error:
            self.failure = os_error_reason(error)
            raise SinkError(f"cannot write report file {self.path}: {self.failure}") from None
        self.frames_written += 1

    def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            try:
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as error:
                self.failure = self.failure or os_error_reason(error)
            finally:
                with contextlib.suppress(OSError):
                    handle.close()
        self._claim.release(remove_if_unused=False)


def save_snapshot(image: np.ndarray, directory: str | Path) -> Path:
    """Write `image` as a timestamped PNG in `directory` (created if needed); returns its path."""

    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SinkError(f"cannot save snapshot in {directory}: {os_error_reason(error)}") from None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    path = directory / f"snapshot-{stamp}.png"
    counter = 1
    while path.exists():  # two snapshots in the same millisecond
        path = directory / f"snapshot-{stamp}-{counter}.png"
        counter += 1
    write_image(image, path, "snapshot")
    return path


def write_image(image: np.ndarray, path: Path, what: str) -> None:
    """`image` as a file (its format from the suffix); SinkError naming the path and the cause."""
    import cv2

    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise SinkError(f"cannot write {what} {path}: OpenCV cannot encode {path.suffix or 'this'} images")
    try:
        path.write_bytes(encoded.tobytes())
    except OSError as error:
        raise SinkError(f"cannot write {what} {path}: {os_error_reason(error)}") from None


class ImageFileSink:
    """A photo's annotated copy as an image file: the photo's counterpart of VideoSink
    (the same write/close), so a photo runs through the same loop as a video."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.frames_written = 0
        _check_output_path(self.path, "image")  # before the photo is analysed: no work for nothing
        make_folder(self.path.parent, f"image {self.path}")

    def write(self, image: np.ndarray) -> None:
        write_image(image, self.path, "image")
        self.frames_written = 1

    def close(self) -> None:
        """Nothing held open: each write is a complete file."""
