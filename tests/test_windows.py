"""Real HighGUI windows on a private Xvfb, driven with xdotool like a user would.

The opencv-python wheel's HighGUI is Qt (xcb only). A user's "close" is sent as a
window manager would send it (see xutil.close_window).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from xutil import close_window, require_xdotool, visible_windows, window_geometry, xdotool

from acting_mirror.demo import synth_frames
from acting_mirror.sinks import DETAILS_WINDOW, GRAPH_WINDOW, MAIN_WINDOW, WindowSink, display_available

pytestmark = pytest.mark.display

SIZE = (320, 240)


@pytest.fixture
def windows(xvfb_display):
    require_xdotool()
    sink = WindowSink()
    yield sink
    sink.close_all()


def face() -> np.ndarray:
    return next(synth_frames("one", 1, SIZE))


def poll_until(sink: WindowSink, condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sink.poll(20)
        if condition():
            return True
    return False


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
    x, _, width, _ = window_geometry(visible_windows(title)[0])
    return x, width


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
