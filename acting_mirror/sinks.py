"""Where frames go: the output video, snapshots and the on-screen windows.

This is the only module that touches windows (OpenCV HighGUI) and output files.
Failures to write raise `SinkError` with a one-line message naming the path.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

MAIN_WINDOW = "Acting Mirror"
DETAILS_WINDOW = "Emotions for Person 0"
GRAPH_WINDOW = "Graph for Person 0"

# Keys the windows understand, as the characters HighGUI reports (lower-cased).
KEY_ACTIONS: dict[str, str] = {
    "q": "quit",
    "\x1b": "quit",  # Esc
    " ": "pause",
    "d": "toggle_details",
    "g": "toggle_graph",
    "r": "toggle_rectangles",
    "s": "snapshot",
    "n": "next_cue",
    "p": "prev_cue",
}

SIDE_WINDOW_GAP = 10      # pixels between the main window and the details/graph windows
SIDE_WINDOW_CASCADE = 40  # vertical step between side windows

X_SOCKET_DIR = "/tmp/.X11-unix"
X_TCP_BASE_PORT = 6000


class SinkError(RuntimeError):
    """An output that cannot be written; the message is one line naming it."""


# -- video ----------------------------------------------------------------

class VideoSink:
    """Frames to a video file.

    The writer opens on the first frame, which sets the size; later frames of another
    size are resized to it (a writer silently drops mismatched frames). `fps` may be
    changed until then. close() always releases the writer (also via `with` and after
    errors), so an interrupted run still leaves a playable file of every frame written.
    """

    def __init__(self, path: str | Path, fps: float, codec: str = "MJPG"):
        self.path = Path(path)
        self.fps = float(fps)
        self.codec = codec
        self.frames_written = 0
        self.frame_size: tuple[int, int] | None = None
        self._writer = None
        self._closed = False
        if len(codec) != 4:
            raise SinkError(f"cannot write video {self.path}: codec {codec!r} is not a four-character code")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SinkError(f"cannot write video {self.path}: {error.strerror or error}") from None

    def _open(self, width: int, height: int) -> None:
        import cv2

        if not (0 < self.fps <= 1000):
            raise SinkError(f"cannot write video {self.path}: frame rate {self.fps} is out of range")
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.codec), self.fps, (width, height))
        if not writer.isOpened():
            writer.release()
            raise SinkError(f"cannot write video {self.path} with codec {self.codec}")
        self._writer = writer
        self.frame_size = (width, height)

    def write(self, image: np.ndarray) -> None:
        import cv2

        if self._closed:
            raise SinkError(f"video {self.path} is already closed")
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        height, width = image.shape[:2]
        if self._writer is None:
            self._open(width, height)
        if (width, height) != self.frame_size:
            image = cv2.resize(image, self.frame_size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(image, dtype=np.uint8))
        self.frames_written += 1

    def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def save_snapshot(image: np.ndarray, directory: str | Path) -> Path:
    """Write `image` as a timestamped PNG in `directory` (created if needed); returns its path."""
    import cv2

    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SinkError(f"cannot save snapshot in {directory}: {error.strerror or error}") from None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    path = directory / f"snapshot-{stamp}.png"
    counter = 1
    while path.exists():  # two snapshots in the same millisecond
        path = directory / f"snapshot-{stamp}-{counter}.png"
        counter += 1
    if not cv2.imwrite(str(path), image):
        raise SinkError(f"cannot write snapshot {path}")
    return path


class ImageFileSink:
    """A photo's annotated copy as an image file: the photo's counterpart of VideoSink
    (the same write/close), so a photo runs through the same loop as a video."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.frames_written = 0

    def write(self, image: np.ndarray) -> None:
        import cv2

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SinkError(f"cannot write image {self.path}: {error.strerror or error}") from None
        if not cv2.imwrite(str(self.path), image):
            raise SinkError(f"cannot write image {self.path}")
        self.frames_written = 1

    def close(self) -> None:
        """Nothing held open: each write is a complete file."""


# -- display --------------------------------------------------------------

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


class WindowSink:
    """The OpenCV HighGUI windows and the keyboard.

    show(title, image) opens a window on first use; close(title) takes it away; poll()
    lets HighGUI process events (nothing is drawn or closed without it) and turns the key
    pressed into an action name (KEY_ACTIONS); main_closed() tells whether the user closed
    the main window.
    """

    def __init__(self, main_title: str = MAIN_WINDOW):
        if not display_available():
            raise SinkError("no display to open windows on (set DISPLAY, or run without windows)")
        self.main_title = main_title
        self._open: set[str] = set()
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
            if title == self.main_title:
                height, width = image.shape[:2]
                cv2.resizeWindow(title, width, height)
            else:
                self._place_beside_main(title)
            self._open.add(title)
        cv2.imshow(title, image)
        if title == self.main_title:
            self._main_shown = True
            self._main_closed = False

    def _place_beside_main(self, title: str) -> None:
        """Put a side window right of the main one (cascaded), not on top of it."""
        import cv2

        if self.main_title not in self._open:
            return
        with contextlib.suppress(cv2.error):
            x, y, width, _ = cv2.getWindowImageRect(self.main_title)
            others = len(self._open - {self.main_title})
            cv2.moveWindow(title, max(0, x) + width + SIDE_WINDOW_GAP, max(0, y) + others * SIDE_WINDOW_CASCADE)

    def close(self, title: str) -> None:
        """Take a window away (nothing happens if it is not open)."""
        import cv2

        if title in self._open:
            self._open.discard(title)
            with contextlib.suppress(cv2.error):  # the user closed it already and HighGUI forgot it
                cv2.destroyWindow(title)

    def poll(self, delay_ms: int = 1) -> str | None:
        """Process window events for up to `delay_ms`; the action of the key pressed, if any."""
        import cv2

        key = cv2.waitKey(max(1, int(delay_ms)))
        if key < 0:
            return None
        return KEY_ACTIONS.get(chr(key & 0xFF).lower())

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

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close_all()
