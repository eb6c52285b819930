"""Real HighGUI windows on a private Xvfb, driven with xdotool like a user would.

The opencv-python wheel's HighGUI is Qt (xcb only). Without a window manager, a user's
"close" is what a window manager would send: a WM_DELETE_WINDOW client message, which
`close_window` sends through libX11. (`xdotool windowclose` destroys the X window
behind Qt's back, which Qt never notices; `xdotool windowkill` kills the whole client.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
import time

import numpy as np
import pytest

from acting_mirror.demo import synth_frames
from acting_mirror.sinks import DETAILS_WINDOW, GRAPH_WINDOW, MAIN_WINDOW, WindowSink, display_available

pytestmark = pytest.mark.display

SIZE = (320, 240)


@pytest.fixture
def windows(xvfb_display):
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (Debian: apt-get install xdotool)")
    sink = WindowSink()
    yield sink
    sink.close_all()


def face() -> np.ndarray:
    return next(synth_frames("one", 1, SIZE))


def xdotool(*args: str) -> str:
    result = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=10)
    return result.stdout.strip()


def visible_windows(title: str) -> list[str]:
    """X ids of the mapped windows whose name is exactly `title`."""
    return xdotool("search", "--onlyvisible", "--name", f"^{title}$").split()


def poll_until(sink: WindowSink, condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sink.poll(20)
        if condition():
            return True
    return False


class _XClientMessageEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _XClientMessageEvent), ("pad", ctypes.c_long * 24)]


def close_window(window_id: int, display_name: str) -> None:
    """Ask a window to close as a window manager would (WM_PROTOCOLS / WM_DELETE_WINDOW)."""
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
    display = x11.XOpenDisplay(display_name.encode())
    assert display, f"cannot open X display {display_name}"
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


def test_display_detection(xvfb_display, monkeypatch):
    assert display_available() is True
    monkeypatch.setenv("DISPLAY", ":4242")  # no server there
    assert display_available() is False
    monkeypatch.setenv("DISPLAY", "not a display")
    assert display_available() is False


def test_windows_open_with_their_exact_titles(windows):
    image = face()
    for title in (MAIN_WINDOW, DETAILS_WINDOW, GRAPH_WINDOW):
        assert visible_windows(title) == []
        windows.show(title, image)
    for title in (MAIN_WINDOW, DETAILS_WINDOW, GRAPH_WINDOW):
        assert poll_until(windows, lambda title=title: len(visible_windows(title)) == 1), title
        assert xdotool("getwindowname", visible_windows(title)[0]) == title
    main_x, main_width = window_x_and_width(MAIN_WINDOW)
    assert main_width == SIZE[0]
    for title in (DETAILS_WINDOW, GRAPH_WINDOW):  # beside the mirror, not on top of it
        assert window_x_and_width(title)[0] >= main_x + main_width


def window_x_and_width(title: str) -> tuple[int, int]:
    geometry = xdotool("getwindowgeometry", "--shell", visible_windows(title)[0])
    values = dict(line.split("=", 1) for line in geometry.splitlines())
    return int(values["X"]), int(values["WIDTH"])


KEYS = [("q", "quit"), ("Escape", "quit"), ("shift+q", "quit"), ("space", "pause"), ("d", "toggle_details"),
        ("g", "toggle_graph"), ("r", "toggle_rectangles"), ("s", "snapshot"), ("n", "next_cue"),
        ("p", "prev_cue"), ("x", None)]


def test_keys_become_actions(windows):
    windows.show(MAIN_WINDOW, face())
    assert poll_until(windows, lambda: len(visible_windows(MAIN_WINDOW)) == 1)
    window_id = visible_windows(MAIN_WINDOW)[0]
    for key, expected in KEYS:
        xdotool("key", "--window", window_id, key)
        # a key without an action gives None; send "Escape" after it to see it was read
        if expected is None:
            xdotool("key", "--window", window_id, "Escape")
        actions = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(actions):
            actions.append(windows.poll(20))
        got = next(action for action in actions if action)
        assert got == (expected or "quit"), key
        if expected is None:
            assert actions[-1] == "quit" and actions.count("quit") == 1


def test_a_window_toggled_off_disappears(windows):
    image = face()
    for title in (MAIN_WINDOW, DETAILS_WINDOW, GRAPH_WINDOW):
        windows.show(title, image)
    assert poll_until(windows, lambda: len(visible_windows(DETAILS_WINDOW)) == 1)
    windows.close(DETAILS_WINDOW)
    assert poll_until(windows, lambda: visible_windows(DETAILS_WINDOW) == [])
    windows.close(DETAILS_WINDOW)  # closing a closed window is harmless
    assert len(visible_windows(MAIN_WINDOW)) == 1 and len(visible_windows(GRAPH_WINDOW)) == 1
    assert not windows.main_closed()
    windows.show(DETAILS_WINDOW, image)  # toggled back on
    assert poll_until(windows, lambda: len(visible_windows(DETAILS_WINDOW)) == 1)


def test_closing_the_main_window_is_noticed(windows, xvfb_display):
    image = face()
    windows.show(MAIN_WINDOW, image)
    windows.show(GRAPH_WINDOW, image)
    assert poll_until(windows, lambda: len(visible_windows(MAIN_WINDOW)) == 1)
    assert not windows.main_closed()
    close_window(int(visible_windows(MAIN_WINDOW)[0]), xvfb_display)
    assert poll_until(windows, windows.main_closed)
    assert visible_windows(MAIN_WINDOW) == []
    assert len(visible_windows(GRAPH_WINDOW)) == 1  # only the main window went


def test_closing_the_only_window_is_noticed(windows, xvfb_display):
    # Qt HighGUI forgets everything when its last window closes; that must read as closed too
    windows.show(MAIN_WINDOW, face())
    assert poll_until(windows, lambda: len(visible_windows(MAIN_WINDOW)) == 1)
    close_window(int(visible_windows(MAIN_WINDOW)[0]), xvfb_display)
    assert poll_until(windows, windows.main_closed)
    windows.close_all()
    windows.show(MAIN_WINDOW, face())  # and windows can be opened again afterwards
    assert poll_until(windows, lambda: len(visible_windows(MAIN_WINDOW)) == 1)
    assert not windows.main_closed()
