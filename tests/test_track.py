"""FaceTracker on real Haar detections of the demo clips (real faces); probabilities are
synthetic vectors because the model is not under test here."""

from __future__ import annotations

import time

import numpy as np
import pytest

from acting_mirror.config import TrackingConfig
from acting_mirror.demo import background, face_patch, paste, synth_frames
from acting_mirror.track import FaceTracker, TrackingError, iou_matrix
from acting_mirror.types import Box

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
HAPPY, SAD = LABELS.index("happy"), LABELS.index("sad")
SIZE = (320, 240)


@pytest.fixture(scope="module")
def cascade():
    import cv2

    classifier = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    assert not classifier.empty()
    return classifier


def detect(cascade, frame: np.ndarray) -> list[Box]:
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
    return [Box(*map(int, rect)) for rect in found]


def one_hot(index: int, count: int, strength: float = 0.8) -> np.ndarray:
    """A probability vector with `strength` on one emotion and the rest spread evenly."""
    vector = np.full(len(LABELS), (1 - strength) / (len(LABELS) - 1))
    vector[index] = strength
    return np.tile(vector, (count, 1))


def run(tracker: FaceTracker, frames_boxes: list[list[Box]], emotion: int = HAPPY):
    return [tracker.update(boxes, one_hot(emotion, len(boxes))) for boxes in frames_boxes]


def frame_with_faces(layout: list[tuple[int, int, int]]) -> np.ndarray:
    """A real-face frame with a face patch of `side` at each (x, y, side)."""
    frame = background(*SIZE)
    for x, y, side in layout:
        paste(frame, face_patch(side), x, y)
    return frame


def centre_x(face) -> float:
    return face.box.center[0]


def test_moving_face_keeps_id_0(cascade):
    boxes = [detect(cascade, frame) for frame in synth_frames("one", 12, SIZE)]
    assert all(len(b) == 1 for b in boxes)
    assert boxes[-1][0].x - boxes[0][0].x > 100  # it really travels
    tracker = FaceTracker(LABELS)
    results = run(tracker, boxes)
    assert [[face.track_id for face in faces] for faces in results] == [[0]] * 12
    assert tracker.tracks_started == 1


def test_fast_motion_keeps_id_by_centre_shift(cascade):
    boxes = [detect(cascade, frame)[0] for frame in synth_frames("one", 6, SIZE)]
    overlaps = [iou_matrix([a], [b])[0, 0] for a, b in zip(boxes, boxes[1:], strict=False)]
    assert min(overlaps) < 0.3  # boxes barely overlap between some frames: only the centre rule can match them
    tracker = FaceTracker(LABELS, iou_threshold=0.3)
    results = run(tracker, [[b] for b in boxes])
    assert [faces[0].track_id for faces in results] == [0] * 6
    assert tracker.tracks_started == 1


def test_person_0_is_the_largest_face_at_first_sight(cascade):
    boxes = detect(cascade, next(synth_frames("two", 1, SIZE)))
    assert len(boxes) == 2
    for order in (boxes, boxes[::-1]):
        faces = FaceTracker(LABELS).update(order, one_hot(HAPPY, 2))
        assert [face.track_id for face in faces] == [0, 1]
        assert faces[0].box == max(boxes, key=lambda b: b.area)


def test_two_moving_faces_keep_their_ids(cascade):
    boxes = [detect(cascade, frame) for frame in synth_frames("two", 12, SIZE)]
    assert all(len(b) == 2 for b in boxes)
    results = run(FaceTracker(LABELS), boxes)
    for faces in results:
        assert [face.track_id for face in faces] == [0, 1]
        # the big face starts on the left and stays on the left
        assert centre_x(faces[0]) < centre_x(faces[1])


def test_person_0_stays_when_the_other_face_grows_larger(cascade):
    # Face A (left) shrinks while face B (right) grows: B ends up larger, A stays person 0.
    sides = [(110 - 5 * i, 60 + 5 * i) for i in range(11)]
    frames = [frame_with_faces([(10, 60, a), (170, 60, b)]) for a, b in sides]
    boxes = [detect(cascade, frame) for frame in frames]
    assert all(len(b) == 2 for b in boxes)
    first, last = sorted(boxes[0], key=lambda b: b.x), sorted(boxes[-1], key=lambda b: b.x)
    assert first[0].area > first[1].area and last[0].area < last[1].area
    results = run(FaceTracker(LABELS), boxes)
    for faces in results:
        assert [face.track_id for face in faces] == [0, 1]
        assert centre_x(faces[0]) < centre_x(faces[1])


def leave_clip_boxes(cascade) -> list[list[Box]]:
    boxes = [detect(cascade, frame) for frame in synth_frames("leave", 30, SIZE)]
    present = [len(b) == 1 for b in boxes]
    assert present == [True] * 10 + [False] * 10 + [True] * 10
    return boxes


def test_face_gone_longer_than_max_missed_comes_back_as_person_0(cascade):
    boxes = leave_clip_boxes(cascade)
    tracker = FaceTracker(LABELS, max_missed_frames=5)
    before = run(tracker, boxes[:20], HAPPY)
    assert tracker.live_track_ids == ()  # gone for 10 > 5 frames: the track ended
    after = run(tracker, boxes[20:], SAD)
    assert all(faces[0].track_id == 0 for faces in before[:10] + after)
    assert tracker.tracks_started == 2
    assert after[0][0].label == "sad"  # a new track: no happy history carried over


def test_brief_miss_keeps_the_track(cascade):
    boxes = leave_clip_boxes(cascade)
    tracker = FaceTracker(LABELS, max_missed_frames=15, smoothing_frames=5)
    run(tracker, boxes[:20], HAPPY)
    assert tracker.live_track_ids == (0,)
    after = run(tracker, boxes[20:], SAD)
    assert all(faces[0].track_id == 0 for faces in after)
    assert tracker.tracks_started == 1
    # the same track: its history still holds the happy frames until the sad ones outnumber them
    assert [faces[0].label for faces in after[:4]] == ["happy", "happy", "sad", "sad"]


def test_person_0_returns_while_person_1_stays(cascade):
    # A big face (person 0) leaves for 8 frames and comes back; a small face stays throughout.
    with_both = frame_with_faces([(20, 50, 120), (200, 80, 80)])
    only_small = frame_with_faces([(200, 80, 80)])
    boxes_both, boxes_small = detect(cascade, with_both), detect(cascade, only_small)
    assert len(boxes_both) == 2 and len(boxes_small) == 1
    tracker = FaceTracker(LABELS, max_missed_frames=3)
    frames = [boxes_both] * 3 + [boxes_small] * 8 + [boxes_both] * 3
    results = run(tracker, frames)
    assert [[face.track_id for face in faces] for faces in results] == [[0, 1]] * 3 + [[1]] * 8 + [[0, 1]] * 3
    big = max(boxes_both, key=lambda b: b.area)
    assert all(faces[0].box == big for faces in results[-3:])


def test_new_ids_are_never_reused():
    tracker = FaceTracker(LABELS, max_missed_frames=0)
    main, other, third = Box(10, 10, 100, 100), Box(200, 10, 50, 50), Box(200, 150, 50, 50)
    assert [f.track_id for f in tracker.update([main, other], one_hot(HAPPY, 2))] == [0, 1]
    assert [f.track_id for f in tracker.update([main], one_hot(HAPPY, 1))] == [0]  # 1 ends (max_missed 0)
    assert [f.track_id for f in tracker.update([main, third], one_hot(HAPPY, 2))] == [0, 2]


def test_smoothing_is_the_mean_of_the_last_k_vectors():
    rng = np.random.default_rng(7)
    vectors = rng.dirichlet(np.ones(len(LABELS)), size=9)
    tracker = FaceTracker(LABELS, smoothing_frames=4)
    box = Box(50, 50, 80, 80)
    for n in range(1, len(vectors) + 1):
        (face,) = tracker.update([box], vectors[n - 1:n])
        expected = vectors[max(0, n - 4):n].mean(axis=0)
        np.testing.assert_allclose(face.probabilities, expected, rtol=1e-12)
        assert face.label == LABELS[int(np.argmax(expected))]
        assert isinstance(face.probabilities, tuple) and all(isinstance(p, float) for p in face.probabilities)


def test_a_single_frame_spike_does_not_flip_the_label():
    box = Box(50, 50, 80, 80)
    spike = one_hot(SAD, 1, strength=0.95)
    smooth, raw = FaceTracker(LABELS, smoothing_frames=5), FaceTracker(LABELS, smoothing_frames=1)
    labels = {"smooth": [], "raw": []}
    for frame in range(10):
        vector = spike if frame == 6 else one_hot(HAPPY, 1, strength=0.6)
        labels["smooth"].append(smooth.update([box], vector)[0].label)
        labels["raw"].append(raw.update([box], vector)[0].label)
    assert labels["smooth"] == ["happy"] * 10
    assert labels["raw"][6] == "sad"  # without smoothing the spike shows


def test_from_config_and_bad_input():
    tracker = FaceTracker.from_config(LABELS, TrackingConfig(iou_threshold=0.4, max_missed_frames=7,
                                                             smoothing_frames=3))
    assert (tracker.iou_threshold, tracker.max_missed_frames, tracker.smoothing_frames) == (0.4, 7, 3)
    assert tracker.update([], np.zeros((0, len(LABELS)))) == ()
    with pytest.raises(TrackingError, match="shape"):
        tracker.update([Box(0, 0, 10, 10)], np.zeros((2, len(LABELS))))
    with pytest.raises(TrackingError, match="shape"):
        tracker.update([Box(0, 0, 10, 10)], np.zeros((1, 3)))
    with pytest.raises(TrackingError, match="smoothing_frames"):
        FaceTracker(LABELS, smoothing_frames=0)


def test_twenty_faces_stay_put_and_update_is_fast(cascade):
    import cv2

    frame = next(synth_frames("crowd", 1, (640, 480)))
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    boxes = [Box(*map(int, r)) for r in cascade.detectMultiScale(gray, 1.1, 5, minSize=(30, 30))]
    assert len(boxes) == 20
    rng = np.random.default_rng(0)
    tracker = FaceTracker(LABELS)
    first = tracker.update(boxes, rng.dirichlet(np.ones(len(LABELS)), size=20))
    assert sorted(f.track_id for f in first) == list(range(20))
    id_at = {f.box: f.track_id for f in first}
    assert first[0].track_id == 0 and first[0].box.area == max(b.area for b in boxes)
    start = time.perf_counter()
    for _ in range(50):
        # every face jitters by a few pixels; the detector's order changes from frame to frame
        moved = [Box(b.x + int(rng.integers(-4, 5)), b.y + int(rng.integers(-4, 5)), b.w, b.h) for b in boxes]
        order = rng.permutation(20)
        faces = tracker.update([moved[i] for i in order], rng.dirichlet(np.ones(len(LABELS)), size=20))
        by_original = {moved[i]: i for i in order}
        assert all(id_at[boxes[by_original[f.box]]] == f.track_id for f in faces)
    per_update_ms = (time.perf_counter() - start) / 50 * 1000
    assert per_update_ms < 20, f"{per_update_ms:.1f} ms per update of 20 faces"
