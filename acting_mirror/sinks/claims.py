"""Claiming output files and folders before the first frame: never an input, never through a
link, room on the disk."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from acting_mirror.errors import MirrorError
from acting_mirror.sinks.base import SinkError, os_error_reason

MIN_FREE_FRAMES = 300             # free space asked for up front when the length is unknown (a camera)
MJPG_LOW_BYTES_PER_PIXEL = 1 / 30   # a low estimate of a typical MJPG frame, for the free-space check


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
        check_output_path(self.path, what)
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


def check_output_path(path: Path, what: str) -> None:
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
