"""Keep native libraries' chatter off the user's terminal.

FFmpeg, TensorFlow and LiteRT print straight to file descriptor 2 ("moov atom not
found", "Created TensorFlow Lite XNNPACK delegate", oneDNN notices), bypassing
Python. Around the calls that do so we point fd 2 at /dev/null, so a user sees our
one-line messages only. ACTING_MIRROR_DEBUG=1 shows everything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    if os.environ.get("ACTING_MIRROR_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded, some test runners)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_libraries() -> None:
    """Environment defaults read by OpenCV and TensorFlow when they load."""
    if os.environ.get("ACTING_MIRROR_DEBUG"):
        return
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


MAX_ERROR_CHARS = 300  # an error line never runs longer than this (a value echoed back may be huge)


def debugging() -> bool:
    """ACTING_MIRROR_DEBUG=1: keep tracebacks and native libraries' output."""
    return bool(os.environ.get("ACTING_MIRROR_DEBUG"))


def one_line(message: object, limit: int = MAX_ERROR_CHARS) -> str:
    """`message` as one line of at most `limit` characters (whitespace runs collapsed)."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[:limit - 5].rstrip() + " ..."


def report_error(prefix: str, error: BaseException, text: str | None = None) -> None:
    """One line for the user on stderr, `prefix` + `text` (default: the error's own text);
    with ACTING_MIRROR_DEBUG=1 the traceback first, so our own bugs stay findable."""
    if debugging():
        import traceback

        traceback.print_exception(error)
    print(one_line(f"{prefix}{error if text is None else text}"), file=sys.stderr)
