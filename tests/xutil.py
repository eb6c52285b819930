"""Driving real X windows in tests like a user would: find them, press keys, close them.

Without a window manager, a user's "close" is what a window manager would send: a
WM_DELETE_WINDOW client message, which `close_window` sends through libX11.
(`xdotool windowclose` destroys the X window behind Qt's back, which Qt never notices;
`xdotool windowkill` kills the whole client.)
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest


def require_xdotool() -> None:
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (Debian: apt-get install xdotool)")


def xdotool(*args: str, attempts: int = 5) -> str:
    """Run xdotool; its output. Tried again when it died of an X error: a window that
    closes while `xdotool search` walks the window tree makes it fail (BadWindow)."""
    for _ in range(attempts):
        result = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=10)
        if "X Error" not in result.stderr:
            break
    return result.stdout.strip()


def visible_windows(title: str) -> list[str]:
    """X ids of the mapped windows whose name is exactly `title`."""
    return xdotool("search", "--onlyvisible", "--name", f"^{title}$").split()


def press(window_id: str, key: str) -> None:
    """Send one key (xdotool's key names: q, space, Escape, shift+q) to a window."""
    xdotool("key", "--window", window_id, key)


def wait_until(condition: Callable[[], object], timeout_s: float = 10.0, interval_s: float = 0.05) -> bool:
    """Poll `condition` until it is true or `timeout_s` has passed; whether it came true."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def window_geometry(window_id: str) -> tuple[int, int, int, int]:
    """(x, y, width, height) of a window on the screen."""
    values = dict(line.split("=", 1) for line in xdotool("getwindowgeometry", "--shell", window_id).splitlines())
    return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])


class _XClientMessageEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _XClientMessageEvent), ("pad", ctypes.c_long * 24)]


def _libx11():
    library = ctypes.util.find_library("X11")
    if library is None:
        pytest.skip("libX11 not found")
    x11 = ctypes.CDLL(library)
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.POINTER(_XEvent)]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    return x11


def _open_display(x11, display_name: str, timeout_s: float = 10.0) -> int:
    """XOpenDisplay, tried again for a while: it fails while the server resets (see x_connection)."""
    deadline = time.monotonic() + timeout_s
    while not (display := x11.XOpenDisplay(display_name.encode())):
        assert time.monotonic() < deadline, f"cannot open X display {display_name}"
        time.sleep(0.05)
    return display


@contextlib.contextmanager
def x_connection(display_name: str) -> Iterator[None]:
    """Keep a client connected to the X server meanwhile.

    An X server started without -noreset resets itself whenever its last client
    disconnects, and a client that connects during the reset fails (Qt then aborts the
    whole process). Every xdotool call is a client that comes and goes, so without a
    client that stays, the app's windows could fail to open.
    """
    x11 = _libx11()
    display = _open_display(x11, display_name)
    try:
        yield
    finally:
        x11.XCloseDisplay(display)


def close_window(window_id: int, display_name: str) -> None:
    """Ask a window to close as a window manager would (WM_PROTOCOLS / WM_DELETE_WINDOW)."""
    x11 = _libx11()
    display = _open_display(x11, display_name)
    try:
        event = _XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window_id
        event.xclient.message_type = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
        assert x11.XSendEvent(display, window_id, 0, 0, ctypes.byref(event))
        x11.XFlush(display)
    finally:
        x11.XCloseDisplay(display)
