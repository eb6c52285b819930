"""The windows and the keyboard (OpenCV HighGUI): the mirror, the details and the graph
windows, and the keys that drive them.

This is the only module that touches windows. `Windows.poll` turns the key pressed into
a `KeyAction`; keys without an action (arrows up and down, Home, End, function keys...)
give None, so no key can do something it does not say.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from enum import Enum
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError

MAIN_WINDOW = "Acting Mirror"
DETAILS_WINDOW = "Emotions for Person 0"
GRAPH_WINDOW = "Graph for Person 0"
SIDE_WINDOWS = (DETAILS_WINDOW, GRAPH_WINDOW)  # top to bottom in the column right of the mirror


class KeyAction(Enum):
    QUIT = "quit"
    PAUSE = "pause"                    # with a script on a camera, the first press starts the scene
    TOGGLE_DETAILS = "toggle details"
    TOGGLE_GRAPH = "toggle graph"
    TOGGLE_RECTANGLES = "toggle rectangles"
    SNAPSHOT = "snapshot"
    NEXT_CUE = "next cue"
    PREVIOUS_CUE = "previous cue"
    CALIBRATE = "calibrate"            # record a resting-face profile from the next few seconds


# Characters as HighGUI reports them (lower-cased: shift+q and caps lock still quit).
CHARACTER_ACTIONS: dict[str, KeyAction] = {
    "q": KeyAction.QUIT,
    "\x1b": KeyAction.QUIT,  # Esc
    " ": KeyAction.PAUSE,
    "d": KeyAction.TOGGLE_DETAILS,
    "g": KeyAction.TOGGLE_GRAPH,
    "r": KeyAction.TOGGLE_RECTANGLES,
    "s": KeyAction.SNAPSHOT,
    "c": KeyAction.CALIBRATE,
    "n": KeyAction.NEXT_CUE,
    "p": KeyAction.PREVIOUS_CUE,
}
# Special keys as cv2.waitKeyEx reports them: X11 keysyms (Linux), virtual-key codes << 16
# (Windows), Cocoa function-key characters (macOS).
LEFT_KEYS = (0xFF51, 0x250000, 0xF702)
RIGHT_KEYS = (0xFF53, 0x270000, 0xF703)
SPECIAL_ACTIONS: dict[int, KeyAction] = {
    **dict.fromkeys(LEFT_KEYS, KeyAction.PREVIOUS_CUE),
    **dict.fromkeys(RIGHT_KEYS, KeyAction.NEXT_CUE),
}
KEY_HELP = ("q/Esc quit, space pause (with a script on a camera: start the scene), d details, g graph, "
            "r rectangles, s snapshot, n/Right next cue, p/Left previous cue")

SIDE_WINDOW_GAP = 10   # pixels between the mirror and the column of side windows
SIDE_WINDOW_STACK_GAP = 40  # between side windows in the column: room for a window manager's title bar

X_SOCKET_DIR = "/tmp/.X11-unix"
X_TCP_BASE_PORT = 6000


class DisplayError(MirrorError, RuntimeError):
    """Windows cannot be shown here; the message says why."""


def key_action(code: int) -> KeyAction | None:
    """The action of a key code from cv2.waitKeyEx; None for no key or a key without one."""
    if code < 0:
        return None
    if code < 0x100:
        return CHARACTER_ACTIONS.get(chr(code).lower())
    return SPECIAL_ACTIONS.get(code)


def display_available() -> bool:
    """Whether windows can be shown: always on macOS/Windows; on Linux only with a
    reachable X display (or Wayland for a HighGUI that supports it).

    This matters because the Qt HighGUI of the opencv-python wheel aborts the whole
    process when it finds no display, instead of raising an error.
    """
    if not sys.platform.startswith("linux"):
        return True
    display = os.environ.get("DISPLAY")
    if display:
        return x_display_reachable(display)
    if os.environ.get("WAYLAND_DISPLAY"):
        return _highgui_supports_wayland()
    return False


def x_display_reachable(display: str) -> bool:
    """Whether an X server answers at `display` ("[host]:N[.screen]"), by opening its socket."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host in ("", "unix") or host.startswith("/"):
        path = f"{X_SOCKET_DIR}/X{number}"
        # Linux X servers listen on the socket file and on an abstract socket of the same name
        return any(_unix_socket_answers(address) for address in (path, "\0" + path))
    try:
        with socket.create_connection((host, X_TCP_BASE_PORT + int(number)), timeout=1.0):
            return True
    except OSError:
        return False


def _unix_socket_answers(address: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(address)
        except OSError:
            return False
    return True


def _highgui_supports_wayland() -> bool:
    """The opencv-python wheel's Qt has only the X11 (xcb) platform plugin."""
    import cv2

    if getattr(cv2, "currentUIFramework", lambda: "")() != "QT":
        return True
    plugins = Path(cv2.__file__).parent / "qt" / "plugins" / "platforms"
    return any("wayland" in plugin.name for plugin in plugins.glob("*")) or not plugins.is_dir()


class Windows:
    """The OpenCV HighGUI windows and the keyboard.

    show(title, image) opens a window on first use; close(title) takes it away; poll()
    lets HighGUI process events (nothing is drawn or closed without it) and turns the key
    pressed into a KeyAction; main_closed() tells whether the user closed the main window.
    The side windows are tiled in a column right of the main window, so none covers another.
    """

    def __init__(self, main_title: str = MAIN_WINDOW):
        if not display_available():
            raise DisplayError("no display to open windows on (set DISPLAY, or run without windows)")
        self.main_title = main_title
        self._open: set[str] = set()
        self._placed: dict[str, tuple[int, int, int, int]] = {}  # side window -> (x, y, width, height) it was put at
        self._main_shown = False
        self._main_closed = False

    def show(self, title: str, image: np.ndarray) -> None:
        import cv2

        if title not in self._open:
            # GUI_NORMAL: no Qt toolbar/status bar, whose shortcuts would steal our keys
            flags = cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL
            if title == self.main_title:
                flags = cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL  # resizable mirror
            cv2.namedWindow(title, flags)
            height, width = image.shape[:2]
            if title == self.main_title:
                cv2.resizeWindow(title, width, height)
            else:
                self._place_beside_main(title, width, height)
            self._open.add(title)
        cv2.imshow(title, image)
        if title == self.main_title:
            self._main_shown = True
            self._main_closed = False

    def _place_beside_main(self, title: str, width: int, height: int) -> None:
        """Put a side window in the column right of the main window, at the first height
        where it covers no other side window."""
        import cv2

        if self.main_title not in self._open:
            return
        with contextlib.suppress(cv2.error):
            main_x, main_y, main_width, _ = cv2.getWindowImageRect(self.main_title)
            x, y = max(0, main_x) + main_width + SIDE_WINDOW_GAP, max(0, main_y)
            for _, top, _, other_height in sorted(self._placed.values(), key=lambda rect: rect[1]):
                if top < y + height + SIDE_WINDOW_STACK_GAP and y < top + other_height + SIDE_WINDOW_STACK_GAP:
                    y = top + other_height + SIDE_WINDOW_STACK_GAP
            cv2.moveWindow(title, x, y)
            self._placed[title] = (x, y, width, height)

    def close(self, title: str) -> None:
        """Take a window away (nothing happens if it is not open)."""
        import cv2

        self._placed.pop(title, None)
        if title in self._open:
            self._open.discard(title)
            with contextlib.suppress(cv2.error):  # the user closed it already and HighGUI forgot it
                cv2.destroyWindow(title)

    def poll(self, delay_ms: int = 1) -> KeyAction | None:
        """Process window events for up to `delay_ms`; the action of the key pressed, if any.
        waitKeyEx, not waitKey: waitKey keeps only the low byte, which turns Left (0xFF51) into "Q"."""
        import cv2

        return key_action(cv2.waitKeyEx(max(1, int(delay_ms))))

    def main_closed(self) -> bool:
        """True once the user has closed the main window (after it was shown)."""
        import cv2

        if self._main_shown and not self._main_closed and self.main_title in self._open:
            try:
                visible = cv2.getWindowProperty(self.main_title, cv2.WND_PROP_VISIBLE)
            except cv2.error:  # Qt HighGUI drops its state when the user closes its last window
                visible = -1
            if visible < 1:
                self._main_closed = True
                self._open.discard(self.main_title)
        return self._main_closed

    def close_all(self) -> None:
        import cv2

        if self._open or self._main_shown:
            cv2.destroyAllWindows()
            cv2.waitKey(1)  # let HighGUI actually take the windows down
        self._open.clear()
        self._placed.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close_all()
