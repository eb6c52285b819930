"""The pure renderers: arrays in, new arrays out, checked from their pixels."""

from __future__ import annotations

import numpy as np
import pytest

from acting_mirror.demo import background, synth_frames
from acting_mirror.render import RenderError
from acting_mirror.render.details import BAR_COLOUR, TARGET_COLOUR, TOP_BAR_COLOUR, bar_slots, details_canvas
from acting_mirror.render.graph import PolarChart, ThrottledGraph, emotion_over_time_chart, polar_chart
from acting_mirror.render.overlay import (
    NO_FACE_COLOUR,
    OFF_TARGET_COLOUR,
    ON_TARGET_COLOUR,
    draw_cue,
    draw_faces,
    draw_fps,
    draw_status,
    person_colour,
)
from acting_mirror.types import Box, Face

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
HAPPY = LABELS.index("happy")


def face(box: Box, track_id: int = 0, top: int = HAPPY, strength: float = 0.87) -> Face:
    probabilities = np.full(len(LABELS), (1 - strength) / (len(LABELS) - 1))
    probabilities[top] = strength
    return Face(box, tuple(float(p) for p in probabilities), LABELS[top], track_id)


def colour_mask(image: np.ndarray, colour) -> np.ndarray:
    return np.all(image == np.array(colour, np.uint8), axis=2)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return next(synth_frames("two", 1, (320, 240)))


# -- overlay -----------------------------------------------------------------

def test_draw_faces_draws_a_box_and_label_on_a_copy(frame):
    original = frame.copy()
    box = Box(40, 80, 80, 80)
    out = draw_faces(frame, [face(box)])
    assert out.shape == frame.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(frame, original)  # input untouched
    colour = person_colour(0)
    left_edge = out[box.y + 10:box.y + box.h - 10, box.x]
    assert np.all(left_edge == colour)  # the box border
    changed = np.any(out != frame, axis=2)
    assert changed[box.y - 12:box.y, box.x:box.x + 60].mean() > 0.5  # the label above it
    assert not changed[box.y + 10:box.y + box.h - 10, box.x + 10:box.x + box.w - 10].any()  # the face stays visible
    hidden = draw_faces(frame, [face(box)], show_boxes=False)
    np.testing.assert_array_equal(hidden, frame)
    assert hidden is not frame


def test_each_person_has_a_distinct_stable_colour(frame):
    boxes = [Box(20, 60, 60, 60), Box(120, 60, 60, 60), Box(220, 60, 60, 60)]
    out = draw_faces(frame, [face(b, track_id) for track_id, b in enumerate(boxes)])
    edge_colours = [tuple(out[b.y + b.h // 2, b.x]) for b in boxes]
    assert len(set(edge_colours)) == 3
    again = draw_faces(frame, [face(boxes[0], 2)])  # person 2 drawn elsewhere keeps its colour
    assert tuple(again[boxes[0].y + 30, boxes[0].x]) == edge_colours[2]


def label_patch(out: np.ndarray, plain: np.ndarray, box: Box) -> np.ndarray:
    """The label drawn above a box with room above it: the changed block over the box's top edge."""
    changed = np.any(out != plain, axis=2)
    rows = np.nonzero(changed[:box.y].any(axis=1))[0]
    cols = np.nonzero(changed[rows[0]:rows[-1] + 1].any(axis=0))[0]
    return out[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


@pytest.mark.parametrize("edge_box", [Box(100, 0, 70, 70), Box(270, 0, 50, 60), Box(0, 2, 60, 60)],
                         ids=["top", "top-right", "top-left"])
def test_label_at_the_frame_edge_stays_whole(edge_box):
    plain = background(320, 240)
    # the same person drawn in the middle gives the full label to look for
    middle = Box(100, 120, edge_box.w, edge_box.h)
    reference = label_patch(draw_faces(plain, [face(middle)]), plain, middle)
    assert reference.shape[1] > edge_box.w  # the label is wider than the box: it would stick out at the right
    out = draw_faces(plain, [face(edge_box)])
    import cv2

    match = cv2.matchTemplate(out, reference, cv2.TM_SQDIFF)
    assert match.min() == 0  # the whole label is in the frame, pixel for pixel


def test_fps_status_and_cue_draw_on_copies(frame):
    original = frame.copy()
    height, width = frame.shape[:2]
    fps = draw_fps(frame, 14.9)
    changed = np.any(fps != frame, axis=2)
    assert changed.any() and not changed[height // 4:].any() and not changed[:, :width // 2].any()  # top right
    status = draw_status(frame, "PAUSED")
    assert np.any(status != frame) and status.shape == frame.shape
    cue = draw_cue(frame, "To be or not to be", ("angry", "happy"), True, 2.3, 12.0)
    assert cue.shape == frame.shape and cue.dtype == np.uint8
    np.testing.assert_array_equal(frame, original)
    changed = np.any(cue != frame, axis=2)
    assert not changed[:height // 2].any()  # only a band at the bottom
    assert cue[-10:].mean() < frame[-10:].mean()  # darkened so the text reads


def test_cue_indicator_colour_follows_the_state(frame):
    states = {True: ON_TARGET_COLOUR, False: OFF_TARGET_COLOUR, None: NO_FACE_COLOUR}
    band = slice(frame.shape[0] * 3 // 4, None)  # the bottom band, darkened: no mid-grey left from the picture
    images = {state: draw_cue(frame, "Say it", ("sad",), state, 1.5)[band] for state in states}
    for state, colour in states.items():
        own = colour_mask(images[state], colour).sum()
        assert own > 200, f"{state}: {own} indicator pixels"
        for other, other_colour in states.items():
            if other is not state:
                assert colour_mask(images[state], other_colour).sum() < own / 10
    assert np.any(draw_cue(frame, "Say it", ("sad",), True, 1.5) != draw_cue(frame, "Say it", ("sad",), True, 4.5))
    assert np.any(draw_cue(frame, "Say it", ("sad",), True, 1.5) != draw_cue(frame, "Say it", ("happy",), True, 1.5))


def test_overlay_rejects_what_is_not_a_bgr_image():
    with pytest.raises(RenderError, match="BGR uint8"):
        draw_faces(np.zeros((10, 10), np.uint8), [])
    with pytest.raises(RenderError, match="BGR uint8"):
        draw_fps(np.zeros((10, 10, 3), np.float32), 1.0)


# -- details -----------------------------------------------------------------

def bar_lengths(canvas: np.ndarray, slots) -> list[int]:
    """Bar length per slot, measured along the slot's middle row from the bar colours."""
    lengths = []
    for x0, y0, x1, y1 in slots:
        row = canvas[(y0 + y1) // 2, x0:x1]
        filled = np.all(row == BAR_COLOUR, axis=1) | np.all(row == TOP_BAR_COLOUR, axis=1)
        lengths.append(int(filled.sum()))
    return lengths


def test_details_bars_follow_the_probabilities():
    probabilities = np.random.default_rng(3).dirichlet(np.ones(len(LABELS)))
    canvas = details_canvas(probabilities, LABELS)
    assert canvas.shape == (250, 360, 3) and canvas.dtype == np.uint8
    slots = bar_slots(LABELS, (360, 250))
    lengths = bar_lengths(canvas, slots)
    assert int(np.argmax(lengths)) == int(np.argmax(probabilities))
    for (x0, _, x1, _), length, p in zip(slots, lengths, probabilities, strict=True):
        assert abs(length - p * (x1 - x0)) <= 1
    top_rows = [i for i, (x0, y0, x1, y1) in enumerate(slots)
                if colour_mask(canvas[y0:y1, x0:x1], TOP_BAR_COLOUR).any()]
    assert top_rows == [int(np.argmax(probabilities))]  # only the top emotion is highlighted


def test_details_marks_targets_and_shows_no_face():
    probabilities = [0.1, 0.0, 0.05, 0.6, 0.1, 0.05, 0.1]
    plain = details_canvas(probabilities, LABELS)
    marked = details_canvas(probabilities, LABELS, targets=("sad",))
    slots = bar_slots(LABELS)
    assert np.any(plain != marked)
    target_rows = np.nonzero(colour_mask(marked, TARGET_COLOUR).any(axis=1))[0]
    sad = slots[LABELS.index("sad")]
    assert target_rows.min() >= sad[1] - 3 and target_rows.max() <= sad[3] + 3  # marked on the sad row only
    assert not colour_mask(plain, TARGET_COLOUR).any()

    empty = details_canvas(None, LABELS, targets=("sad",))
    assert empty.shape == plain.shape
    assert bar_lengths(empty, slots) == [0] * len(LABELS)
    assert np.any(empty != details_canvas([0.0] * len(LABELS), LABELS, targets=("sad",)))  # says "no face"
    assert details_canvas(probabilities, LABELS, size=(500, 300)).shape == (300, 500, 3)
    with pytest.raises(RenderError, match="probabilities"):
        details_canvas([0.5, 0.5], LABELS)


# -- graph -------------------------------------------------------------------

def distribution(top: int, strength: float = 0.7) -> np.ndarray:
    row = np.full(len(LABELS), (1 - strength) / (len(LABELS) - 1))
    row[top] = strength
    return row


def inside_axes(chart: PolarChart, shape) -> np.ndarray:
    cx, cy = chart.pixel(0, 0.0)
    ex, ey = chart.pixel(0, 1.0)
    ys, xs = np.indices(shape[:2])
    return np.hypot(xs - cx, ys - cy) < np.hypot(ex - cx, ey - cy) - 2


def polygon_mask(chart: PolarChart, values: np.ndarray, shape, grow: int = 0) -> np.ndarray:
    """The polygon of `values` rasterised by OpenCV from the chart's own coordinates; `grow` pixels
    dilates (> 0) or erodes (< 0) it to allow for the edge lines."""
    import cv2

    points = np.array([chart.pixel(i, v) for i, v in enumerate(values)], np.float64)
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    if grow:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(grow) + 1, 2 * abs(grow) + 1))
        mask = cv2.dilate(mask, kernel) if grow > 0 else cv2.erode(mask, kernel)
    return mask.astype(bool)


def test_polar_chart_shape_dtype_and_empty_history():
    rows = np.tile(distribution(HAPPY), (20, 1))
    for size in ((400, 400), (333, 251)):
        image = polar_chart(rows, LABELS, size)
        assert image.shape == (size[1], size[0], 3) and image.dtype == np.uint8
    empty = polar_chart(np.zeros((0, len(LABELS))), LABELS)
    assert empty.shape == (400, 400, 3)
    assert np.any(empty != polar_chart(rows, LABELS))
    assert np.any(polar_chart(rows, LABELS) != polar_chart(np.tile(distribution(0), (20, 1)), LABELS))
    with pytest.raises(RenderError, match="shape"):
        polar_chart(np.zeros((5, 3)), LABELS)


@pytest.mark.parametrize("top", [HAPPY, LABELS.index("angry"), LABELS.index("surprise")])
def test_polar_chart_fill_is_the_mean_polygon(top):
    rng = np.random.default_rng(top)
    # noisy rows whose mean leans towards `top`
    rows = rng.dirichlet(np.ones(len(LABELS)), size=60) * 0.4 + distribution(top, 0.9) * 0.6
    mean = rows.mean(axis=0)
    chart = PolarChart(LABELS, size=(600, 600))
    axes = inside_axes(chart, (600, 600))
    # a zero distribution draws no area: what differs from it inside the axes is the data
    nothing = chart.draw(np.zeros((1, len(LABELS))))
    image = chart.draw(rows, recent=len(rows))  # 'now' = the mean: the orange line runs along the fill's edge
    drawn = np.any(image != nothing, axis=2) & axes
    blue_fill = (image[..., 0].astype(int) - image[..., 2].astype(int) > 30) & axes

    inner = polygon_mask(chart, mean, image.shape, grow=-3)
    assert blue_fill[inner].mean() > 0.97          # the polygon's inside is filled...
    assert polygon_mask(chart, mean, image.shape, grow=4)[drawn].mean() > 0.97  # ...and nothing outside it
    other = np.roll(mean, 3)  # the same shape turned towards another emotion does not fit
    assert blue_fill[polygon_mask(chart, other, image.shape, grow=-3)].mean() < 0.5
    # the fill's mass lies towards the dominant emotion
    cx, cy = chart.pixel(top, 0.0)
    tx, ty = chart.pixel(top, 1.0)
    ys, xs = np.nonzero(blue_fill)
    towards = np.array([tx - cx, ty - cy])
    centroid = np.array([xs.mean() - cx, ys.mean() - cy])
    assert centroid @ towards / (np.linalg.norm(centroid) * np.linalg.norm(towards)) > 0.95


def test_throttled_graph_redraws_only_when_due_and_shows_the_latest_data():
    now = [100.0]
    graph = ThrottledGraph(LABELS, interval_s=0.5, clock=lambda: now[0])
    first, second, third = (np.tile(distribution(i), (10, 1)) for i in (0, HAPPY, 5))
    image_1 = graph.image(first)
    assert graph.redraws == 1
    np.testing.assert_array_equal(image_1, polar_chart(first, LABELS))
    now[0] += 0.3
    cached = graph.image(second)
    assert graph.redraws == 1  # not due yet: the old picture
    np.testing.assert_array_equal(cached, image_1)
    now[0] += 0.25
    redrawn = graph.image(second)
    assert graph.redraws == 2
    np.testing.assert_array_equal(redrawn, polar_chart(second, LABELS))
    now[0] += 0.01
    final = graph.image(third, force=True)  # the last frame of a run is always drawn
    assert graph.redraws == 3
    np.testing.assert_array_equal(final, polar_chart(third, LABELS))


def test_emotion_over_time_chart():
    times = np.arange(40) / 10
    rows = np.random.default_rng(1).dirichlet(np.ones(len(LABELS)), size=40)
    shown = [LABELS[int(i)] for i in rows.argmax(axis=1)]
    plain = emotion_over_time_chart(times, rows, shown, LABELS)
    assert plain.shape == (460, 960, 3) and plain.dtype == np.uint8
    cued = emotion_over_time_chart(times, rows, shown, LABELS, cue_spans=[(1.0, 2.0, "#2e9d4a", "1")])
    blue, green, red = (cued[:70].astype(int)[..., i] for i in range(3))  # the cue row is at the top
    columns = np.nonzero(((green > red + 40) & (green > blue + 40)).any(axis=0))[0]
    assert columns.size > 0  # the cue over 1-2 s of 0-4 s: the second quarter of the time axis
    assert columns.min() > 960 * 0.25 and columns.max() < 960 * 0.55
    assert emotion_over_time_chart(times, rows, shown, LABELS, size=(600, 200)).shape == (200, 600, 3)
    assert emotion_over_time_chart(np.zeros(0), np.zeros((0, len(LABELS))), [], LABELS).shape == (460, 960, 3)
    with pytest.raises(RenderError, match="times"):
        emotion_over_time_chart(times, rows, shown[:5], LABELS)
