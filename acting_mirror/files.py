"""Writing outputs and reading inputs without harming what is already on the disk.

Every finished output file (summary.json, report.html, the charts, the batch index, a
take's files) is written whole under a new temporary name in its folder and then renamed
over the destination in one step (`write_atomically`): a reader never sees half a file, a
crash leaves the old one, and a symbolic link at the destination is replaced by the new
file instead of being written through (so a link planted in a report folder cannot make
the mirror overwrite the file it points to). Inputs are read only when they are regular
files of a sane size (`check_input_file`): a link to /dev/zero or a FIFO is refused in
one line instead of filling the memory or hanging.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from acting_mirror.errors import MirrorError


def write_atomically(path: str | Path, data: bytes | str, what: str,
                     error_class: type[MirrorError] = MirrorError) -> Path:
    """Write `data` to `path` through a temporary file in the same folder, then rename it into
    place. Raises `error_class` naming `what` when `path` is a folder or something that is not
    a file (a device, a FIFO), or the folder cannot be written."""
    path = Path(path)
    check_output_file(path, what, error_class)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise error_class(f"cannot write {what} {path}: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; an output is as readable as any file written
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise error_class(f"cannot write {what} {path}: {error.strerror}") from None
    return path


def check_output_file(path: str | Path, what: str, error_class: type[MirrorError] = MirrorError) -> None:
    """Refuse, before any work, an output path that is a folder or that is (or links to)
    something other than a regular file. A link to a regular file is fine here: the
    atomic rename replaces the link, never its target."""
    path = Path(path)
    if path.is_symlink():
        return
    if path.is_dir():
        raise error_class(f"cannot write {what} {path}: it is a directory")
    if path.exists() and not path.is_file():
        raise error_class(f"cannot write {what} {path}: it is not a regular file")


def check_input_file(path: str | Path, what: str, max_bytes: int,
                     error_class: type[MirrorError] = MirrorError) -> int:
    """The size of `path` when it is a regular file (links followed) of at most `max_bytes`;
    else `error_class` naming the problem. Call it before opening the file."""
    path = Path(path)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise error_class(f"{what} {path} not found") from None
    except OSError as error:
        raise error_class(f"{what} {path} cannot be read ({error.strerror})") from None
    if stat.S_ISDIR(status.st_mode):
        raise error_class(f"{what} {path} is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        link = f" (a link to {os.path.realpath(path)})" if path.is_symlink() else ""
        raise error_class(f"{what} {path}{link} is not a regular file")
    if status.st_size > max_bytes:
        raise error_class(f"{what} {path} is refused: it is too large ({status.st_size:,} bytes; "
                          f"at most {max_bytes:,})")
    return status.st_size
