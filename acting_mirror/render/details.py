"""The details canvas: one horizontal bar per emotion for person 0.

Bars are proportional to the probability; the top emotion is drawn in its own
colour, target emotions get an outline and a "target" tag.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from acting_mirror.render import RenderError, check_size

BACKGROUND = (30, 30, 30)
TRACK_COLOUR = (60, 60, 60)        # the empty part of each bar
BAR_COLOUR = (200, 160, 90)        # a bar
TOP_BAR_COLOUR = (60, 200, 255)    # the most likely emotion's bar
TARGET_COLOUR = (80, 220, 80)      # outline and tag of a target emotion
TEXT_COLOUR = (230, 230, 230)
TARGET_TAG = "target"
HEADER_SHARE = 0.14                # of the canvas height, for the header line


def _text_width(text: str, scale: float) -> int:
    import cv2

    return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]


def _layout(labels: Sequence[str], size: tuple[int, int]):
    """Font scale, padding, header height and one bar slot (x0, y0, x1, y1) per label for (width, height)."""
    width, height = check_size(size)
    header = max(16, int(height * HEADER_SHARE))
    row = (height - header - 4) / len(labels)
    pad = max(3, width // 60)
    scale = max(0.3, min(0.6, row / 50))
    while True:  # shrink the text until the bars get a fair share of the width
        label_w = max(_text_width(label, scale) for label in labels) + 2 * pad
        percent_w = _text_width("100%", scale) + 2 * pad
        tag_w = _text_width(TARGET_TAG, scale * 0.8) + 2 * pad
        bar_w = width - label_w - percent_w - tag_w - 2 * pad
        if bar_w >= width * 0.3 or scale <= 0.3:
            break
        scale -= 0.05
    x0 = pad + label_w
    inset = max(2, int(row * 0.18))
    slots = [(x0, int(header + i * row + inset), x0 + max(10, bar_w), int(header + (i + 1) * row - inset))
             for i in range(len(labels))]
    return scale, pad, header, slots


def bar_slots(labels: Sequence[str], size: tuple[int, int] = (360, 250)) -> list[tuple[int, int, int, int]]:
    """Where each emotion's bar may extend: (x0, y0, x1, y1), x1 and y1 exclusive; a bar of
    probability p fills x0 .. x0 + round(p * (x1 - x0))."""
    return _layout(labels, size)[3]


def details_canvas(probabilities: Sequence[float] | None, labels: Sequence[str], targets: Sequence[str] = (),
                   size: tuple[int, int] = (360, 250)) -> np.ndarray:
    """A (height, width, 3) BGR canvas for `size` = (width, height) with one bar per emotion;
    probabilities None means no face: empty bars and "no face"."""
    import cv2

    labels = list(labels)
    if not labels:
        raise RenderError("details: no emotion labels given")
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=float)
        if probabilities.shape != (len(labels),):
            raise RenderError(f"details: {len(labels)} labels but probabilities of shape {probabilities.shape}")
    width, height = check_size(size)
    scale, pad, header, slots = _layout(labels, size)
    font = cv2.FONT_HERSHEY_SIMPLEX
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)

    top = int(np.argmax(probabilities)) if probabilities is not None else None
    title = "no face" if top is None else f"person 0: {labels[top]} {probabilities[top] * 100:.0f}%"
    (_, title_h), _ = cv2.getTextSize(title, font, scale * 1.2, 1)
    cv2.putText(canvas, title, (pad, (header + title_h) // 2), font, scale * 1.2,
                TEXT_COLOUR if top is not None else (150, 150, 150), 1, cv2.LINE_AA)

    for i, (label, (x0, y0, x1, y1)) in enumerate(zip(labels, slots, strict=True)):
        is_top, is_target = i == top, label in targets
        (_, text_h), _ = cv2.getTextSize(label, font, scale, 1)
        baseline_y = (y0 + y1 + text_h) // 2
        cv2.putText(canvas, label, (pad, baseline_y), font, scale, TOP_BAR_COLOUR if is_top else TEXT_COLOUR,
                    2 if is_top else 1, cv2.LINE_AA)
        cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), TRACK_COLOUR, cv2.FILLED)
        if probabilities is not None:
            p = float(np.clip(probabilities[i], 0.0, 1.0))
            length = round(p * (x1 - x0))
            if length > 0:
                cv2.rectangle(canvas, (x0, y0), (x0 + length - 1, y1 - 1), TOP_BAR_COLOUR if is_top else BAR_COLOUR,
                              cv2.FILLED)
            percent = f"{p * 100:.0f}%"
        else:
            percent = "--"
        cv2.putText(canvas, percent, (x1 + pad, baseline_y), font, scale, TEXT_COLOUR, 1, cv2.LINE_AA)
        if is_target:
            # outline just outside the slot so it never hides the bar's length
            cv2.rectangle(canvas, (x0 - 2, y0 - 2), (x1 + 1, y1 + 1), TARGET_COLOUR, 1)
            tag_x = width - pad - cv2.getTextSize(TARGET_TAG, font, scale * 0.8, 1)[0][0]
            cv2.putText(canvas, TARGET_TAG, (tag_x, baseline_y), font, scale * 0.8, TARGET_COLOUR, 1, cv2.LINE_AA)
    return canvas
