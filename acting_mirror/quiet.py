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
