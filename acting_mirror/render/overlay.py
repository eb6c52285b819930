"""Drawing on the camera frame: face boxes and labels, fps, the script cue, a status line.

Every function returns a new BGR image and leaves its input untouched. Text scales
with the frame so it stays readable from 320x240 to 1080p.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from acting_mirror.render import check_image, text_colour_on
from acting_mirror.types import Face

# One distinct colour per person (BGR), chosen by track id; person 0 gets the first.
PERSON_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 200, 255),    # amber
    (255, 150, 30),   # blue
    (90, 200, 60),    # green
    (200, 80, 255),   # magenta
    (60, 60, 230),    # red
    (220, 220, 40),   # cyan
    (160, 160, 255),  # pink
    (30, 120, 200),   # brown-orange
    (255, 255, 255),  # white
    (140, 60, 120),   # purple
)
ON_TARGET_COLOUR = (60, 180, 60)
OFF_TARGET_COLOUR = (50, 50, 210)
NO_FACE_COLOUR = (128, 128, 128)
BAND_SHADE = 0.35  # how much of the picture shows through the cue band


def person_colour(track_id: int) -> tuple[int, int, int]:
    return PERSON_COLOURS[track_id % len(PERSON_COLOURS)]


def font_scale(image: np.ndarray, base: float = 1.0) -> float:
    """Hershey font scale for an image: 0.5 at 480 rows, growing with the smaller side."""
    return max(0.35, base * min(image.shape[:2]) / 960)


def face_caption(face: Face) -> str:
    return f"person {face.track_id} is {face.label} {face.confidence * 100:.0f}%"


def _thickness(scale: float) -> int:
    return max(1, round(scale * 2))


def text_box(text: str, scale: float) -> tuple[int, int, int]:
    """(width, height above baseline, baseline) of `text` in the overlay font."""
    import cv2

    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, _thickness(scale))
    return width, height, baseline


def put_label(image: np.ndarray, text: str, x: int, y: int, scale: float,
              background: tuple[int, int, int], foreground: tuple[int, int, int] | None = None) -> tuple[int, int]:
    """Text on a filled rectangle whose top-left is (x, y), moved inside the image; returns its (width, height)."""
    import cv2

    width, height, baseline = text_box(text, scale)
    pad = max(2, round(height * 0.3))
    box_w, box_h = width + 2 * pad, height + baseline + 2 * pad
    x, y = label_corner(image, x, y, box_w, box_h)
    cv2.rectangle(image, (x, y), (x + box_w - 1, y + box_h - 1), background, cv2.FILLED)
    cv2.putText(image, text, (x + pad, y + pad + height), cv2.FONT_HERSHEY_SIMPLEX, scale,
                foreground or text_colour_on(background), _thickness(scale), cv2.LINE_AA)
    return box_w, box_h


def label_corner(image: np.ndarray, x: int, y: int, box_w: int, box_h: int) -> tuple[int, int]:
    """Where a label box meant for (x, y) goes: moved inside the image where it fits."""
    return int(min(max(x, 0), max(0, image.shape[1] - box_w))), int(min(max(y, 0), max(0, image.shape[0] - box_h)))


def label_size(text: str, scale: float) -> tuple[int, int]:
    """(width, height) of put_label's box for `text`."""
    width, height, baseline = text_box(text, scale)
    pad = max(2, round(height * 0.3))
    return width + 2 * pad, height + baseline + 2 * pad


def label_height(scale: float) -> int:
    _, height, baseline = text_box("Ag", scale)
    return height + baseline + 2 * max(2, round(height * 0.3))


def fit_text(text: str, scale: float, max_width: int) -> str:
    """`text`, shortened with '...' until it fits `max_width` pixels."""
    if text_box(text, scale)[0] <= max_width:
        return text
    while text and text_box(text + "...", scale)[0] > max_width:
        text = text[:-1]
    return text + "..." if text else ""


def draw_faces(frame: np.ndarray, faces: Sequence[Face], show_boxes: bool = True, put=put_label) -> np.ndarray:
    """A copy of `frame` with a box and a "person N is LABEL P%" label per face; `put` draws
    each label (put_label, or a render.labels.LabelCache's, which draws the same pixels)."""
    import cv2

    check_image(frame)
    out = frame.copy()
    if not show_boxes:
        return out
    scale = font_scale(out, 0.9)
    line = max(2, round(min(out.shape[:2]) / 240))
    for face in faces:
        colour = person_colour(face.track_id)
        box = face.box
        cv2.rectangle(out, (box.x, box.y), (box.x + box.w - 1, box.y + box.h - 1), colour, line)
        # above the box when there is room, otherwise just inside its top edge
        above = box.y - label_height(scale)
        put(out, face_caption(face), box.x, above if above >= 0 else box.y + line, scale, colour)
    return out


def draw_fps(frame: np.ndarray, fps: float) -> np.ndarray:
    """A copy of `frame` with a small "12.3 fps" tag in the top-right corner."""
    check_image(frame)
    out = frame.copy()
    scale = font_scale(out, 0.6)
    text = f"{fps:.1f} fps"
    width = text_box(text, scale)[0]
    put_label(out, text, out.shape[1] - width - 8, 0, scale, (40, 40, 40))
    return out


def cue_indicator(on_target: bool | None, held_s: float) -> tuple[str, tuple[int, int, int]]:
    if on_target is None:
        return "NO FACE", NO_FACE_COLOUR
    state = "ON TARGET" if on_target else "OFF TARGET"
    return f"{state}  held {held_s:.1f} s", ON_TARGET_COLOUR if on_target else OFF_TARGET_COLOUR


def draw_cue(frame: np.ndarray, line: str, targets: Sequence[str], on_target: bool | None, held_s: float,
             remaining_s: float | None = None) -> np.ndarray:
    """A copy of `frame` with a band at the bottom: the script line, the target emotions and
    an ON TARGET / OFF TARGET / NO FACE indicator with how long it has been held."""
    import cv2

    check_image(frame)
    out = frame.copy()
    height, width = out.shape[:2]
    scale = font_scale(out, 0.8)
    row = label_height(scale)
    margin = max(4, row // 4)
    band_top = max(0, height - 2 * row - 3 * margin)
    band = out[band_top:]
    band[:] = cv2.convertScaleAbs(band, alpha=BAND_SHADE)  # darken so the text reads on any picture

    # the line to say, in full width
    put_label(out, fit_text(line, scale, width - 2 * margin - 8), margin, band_top + margin, scale,
              (20, 20, 20), (255, 255, 255))
    # the indicator on the right of the second row, the targets on its left
    text, colour = cue_indicator(on_target, held_s)
    indicator_w = text_box(text, scale)[0] + 2 * max(2, round(text_box(text, scale)[1] * 0.3))
    second = band_top + 2 * margin + row
    put_label(out, text, width - indicator_w - margin, second, scale, colour)
    target_text = "target: " + (" / ".join(targets) if targets else "-")
    if remaining_s is not None:
        target_text += f"   ({remaining_s:.0f} s left)"
    room = width - indicator_w - 3 * margin - 8
    if room > 20:
        put_label(out, fit_text(target_text, scale, room), margin, second, scale, (20, 20, 20), (255, 255, 255))
    return out


def draw_status(frame: np.ndarray, text: str) -> np.ndarray:
    """A copy of `frame` with `text` (e.g. PAUSED) in a box at the top centre."""
    check_image(frame)
    out = frame.copy()
    scale = font_scale(out, 1.1)
    text = fit_text(text, scale, out.shape[1] - 20)
    width = text_box(text, scale)[0]
    put_label(out, text, (out.shape[1] - width) // 2, max(4, out.shape[0] // 12), scale, (0, 0, 0), (0, 220, 255))
    return out
