"""Real HighGUI windows on a private Xvfb, driven with xdotool like a user would.

The opencv-python wheel's HighGUI is Qt (xcb only). A user's "close" is sent as a
window manager would send it (see xutil.close_window).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from xutil import close_window, require_xdotool, visible_windows, window_geometry, xdotool

from acting_mirror.demo import synth_frames
from acting_mirror.display import (
    DETAILS_WINDOW,
    GRAPH_WINDOW,
    MAIN_WINDOW,
    DisplayError,
    KeyAction,
    Windows,
    display_available,
)

pytestmark = pytest.mark.display

SIZE = (320, 240)


@pytest.fixture
def windows(xvfb_display):
    require_xdotool()
    sink = Windows()
    yield sink
    sink.close_all()


def face() -> np.ndarray:
    return next(synth_frames("one", 1, SIZE))


def poll_until(sink: Windows, condition, timeout_s: float = 5.0) -> bool:
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


def xwininfo_rect(window_id: str) -> tuple[int, int, int, int]:
    """(x, y, width, height) of a window on the screen, as xwininfo reports it."""
    text = subprocess.run(["xwininfo", "-id", window_id], capture_output=True, text=True, timeout=10).stdout
    values = dict(line.strip().split(":", 1) for line in text.splitlines() if ":" in line)
    return (int(values["Absolute upper-left X"]), int(values["Absolute upper-left Y"]), int(values["Width"]),
            int(values["Height"]))


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.parametrize("order", [(DETAILS_WINDOW, GRAPH_WINDOW), (GRAPH_WINDOW, DETAILS_WINDOW)])
def test_side_windows_are_tiled_so_none_covers_another(windows, order):
    from acting_mirror.render.details import details_canvas

    if shutil.which("xwininfo") is None:
        pytest.skip("xwininfo is not installed (Debian: apt-get install x11-utils)")
    sizes = {DETAILS_WINDOW: (360, 250), GRAPH_WINDOW: (400, 400)}  # what the app shows in them
    windows.show(MAIN_WINDOW, face())
    assert poll_until(windows, lambda: len(visible_windows(MAIN_WINDOW)) == 1)
    for title in order:
        windows.show(title, np.zeros((sizes[title][1], sizes[title][0], 3), np.uint8))
    for title in (MAIN_WINDOW, *order):
        assert poll_until(windows, lambda title=title: len(visible_windows(title)) == 1), title
    rects = {}
    def settled() -> bool:
        rects.update({title: xwininfo_rect(visible_windows(title)[0]) for title in (MAIN_WINDOW, *order)})
        return all(rects[title][2:] == sizes[title] for title in order)
    assert poll_until(windows, settled), rects
    titles = list(rects)
    for i, first in enumerate(titles):
        for second in titles[i + 1:]:
            assert not overlap(rects[first], rects[second]), (first, second, rects)
    # toggled off and on again (the d and g keys), a window finds a free place again
    windows.close(order[0])
    windows.show(order[0], details_canvas(None, ("happy", "sad", "angry")) if order[0] == DETAILS_WINDOW
                 else np.zeros((400, 400, 3), np.uint8))
    assert poll_until(windows, settled)
    assert not overlap(rects[order[0]], rects[order[1]]) and not overlap(rects[order[0]], rects[MAIN_WINDOW])


def window_x_and_width(title: str) -> tuple[int, int]:
    x, _, width, _ = window_geometry(visible_windows(title)[0])
    return x, width


KEYS = [("q", KeyAction.QUIT), ("Escape", KeyAction.QUIT), ("shift+q", KeyAction.QUIT), ("space", KeyAction.PAUSE),
        ("d", KeyAction.TOGGLE_DETAILS), ("g", KeyAction.TOGGLE_GRAPH), ("r", KeyAction.TOGGLE_RECTANGLES),
        ("s", KeyAction.SNAPSHOT), ("n", KeyAction.NEXT_CUE), ("p", KeyAction.PREVIOUS_CUE),
        ("Right", KeyAction.NEXT_CUE), ("Left", KeyAction.PREVIOUS_CUE),
        # keys without an action: waitKey's low byte made Left "Q" (quit), Right "S", Up "R", Home "P"
        ("x", None), ("Up", None), ("Down", None), ("Home", None), ("End", None), ("Prior", None), ("Next", None),
        ("F1", None), ("Insert", None)]


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
        assert got == (expected or KeyAction.QUIT), key
        if expected is None:
            assert actions[-1] is KeyAction.QUIT and actions.count(KeyAction.QUIT) == 1, key


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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux display rules")
def test_no_display_means_no_windows(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert display_available() is False
    with pytest.raises(DisplayError, match="no display"):
        Windows()  # instead of Qt aborting the whole process
