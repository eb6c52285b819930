"""What every sink shares: SinkError and one-line descriptions of OS errors."""

from __future__ import annotations

import errno

from acting_mirror.errors import MirrorError


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
