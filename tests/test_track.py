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


FPS = 10.0  # frame times of the runs below


def run(tracker: FaceTracker, frames_boxes: list[list[Box]], emotion: int = HAPPY, start: int = 0):
    """Frames at FPS from frame number `start` on."""
    return [tracker.update(boxes, one_hot(emotion, len(boxes)), (start + n) / FPS)
            for n, boxes in enumerate(frames_boxes)]


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
    tracker = FaceTracker(LABELS, TrackingConfig(iou_threshold=0.3))
    results = run(tracker, [[b] for b in boxes])
    assert [faces[0].track_id for faces in results] == [0] * 6
    assert tracker.tracks_started == 1


def test_person_0_is_the_largest_face_at_first_sight(cascade):
    boxes = detect(cascade, next(synth_frames("two", 1, SIZE)))
    assert len(boxes) == 2
    for order in (boxes, boxes[::-1]):
        faces = FaceTracker(LABELS).update(order, one_hot(HAPPY, 2), 0.0)
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
    tracker = FaceTracker(LABELS, TrackingConfig(max_missed_frames=5))
    before = run(tracker, boxes[:20], HAPPY)
    assert tracker.live_track_ids == ()  # gone for 10 > 5 frames: the track ended
    after = run(tracker, boxes[20:], SAD, start=20)
    assert all(faces[0].track_id == 0 for faces in before[:10] + after)
    assert tracker.tracks_started == 2
    assert after[0][0].label == "sad"  # a new track: no happy history carried over


def test_brief_miss_keeps_the_track(cascade):
    boxes = leave_clip_boxes(cascade)
    tracker = FaceTracker(LABELS, TrackingConfig(max_missed_frames=15, smoothing_frames=5))
    run(tracker, boxes[:20], HAPPY)
    assert tracker.live_track_ids == (0,)
    after = run(tracker, boxes[20:], SAD, start=20)
    assert all(faces[0].track_id == 0 for faces in after)
    assert tracker.tracks_started == 1
    # the same track: its history still holds the happy frames until the sad ones outnumber them
    assert [faces[0].label for faces in after[:4]] == ["happy", "happy", "sad", "sad"]


def two_face_boxes(cascade) -> tuple[list[Box], list[Box], list[Box]]:
    """Real detections: a big face and a small one together, and each alone."""
    with_both = frame_with_faces([(20, 50, 120), (200, 80, 80)])
    boxes_both = detect(cascade, with_both)
    boxes_big, boxes_small = detect(cascade, frame_with_faces([(20, 50, 120)])), \
        detect(cascade, frame_with_faces([(200, 80, 80)]))
    assert len(boxes_both) == 2 and len(boxes_big) == 1 and len(boxes_small) == 1
    return boxes_both, boxes_big, boxes_small


def test_person_0_moves_to_the_other_face_when_it_leaves_for_good(cascade):
    # A big face (person 0) leaves for good while a small face stays: the small one becomes
    # person 0 as soon as the big one's track ends, so the graph and report go on.
    boxes_both, _, boxes_small = two_face_boxes(cascade)
    tracker = FaceTracker(LABELS, TrackingConfig(max_missed_frames=3))
    results = run(tracker, [boxes_both] * 3 + [boxes_small] * 10)
    ids = [[(face.track_id, face.track) for face in faces] for faces in results]
    # track 1 is the big face, track 2 the small one; person 0 moves to track 2 when track 1 ends
    assert ids == [[(0, 1), (1, 2)]] * 3 + [[(1, 2)]] * 3 + [[(0, 2)]] * 7


def test_a_bystander_seen_first_gives_way_to_the_actor_after_a_while(cascade):
    # A small face (a poster, a bystander) is alone at first; then the actor sits down, much
    # bigger. The actor becomes person 0 once clearly larger for main_switch_s, not before.
    boxes_both, _, boxes_small = two_face_boxes(cascade)
    big = max(boxes_both, key=lambda b: b.area)
    config = TrackingConfig(main_switch_s=2.0, main_size_ratio=1.5)
    results = run(FaceTracker(LABELS, config), [boxes_small] * 10 + [boxes_both] * 30)
    person_0 = [next(face for face in faces if face.track_id == 0) for faces in results]
    assert all(face.track == 1 for face in person_0[:10])          # the bystander, alone
    actor_from = 10 + int(config.main_switch_s * FPS)               # the actor came in at frame 10 (1.0 s)
    assert all(face.track == 1 for face in person_0[10:actor_from])
    assert all(face.track == 2 and face.box == big for face in person_0[actor_from:])
    # the bystander now has the actor's old person number; nobody got a new one
    assert [(face.track_id, face.track) for face in results[-1]] == [(0, 2), (1, 1)]


def test_person_0_does_not_flicker_between_faces_of_about_the_same_size():
    # two faces whose sizes take turns being larger (never 1.5 times the other): no switch
    tracker = FaceTracker(LABELS)
    tracks = set()
    for n in range(100):
        grow = 10 if n % 20 < 10 else -10
        left, right = Box(20, 50, 100 + grow, 100 + grow), Box(200, 50, 100 - grow, 100 - grow)
        faces = tracker.update([left, right], one_hot(HAPPY, 2), n / FPS)
        tracks.add(next(face.track for face in faces if face.track_id == 0))
    assert tracks == {1}


def test_a_briefly_larger_face_does_not_take_person_0(cascade):
    boxes_both, boxes_big, boxes_small = two_face_boxes(cascade)
    tracker = FaceTracker(LABELS, TrackingConfig(main_switch_s=2.0))
    results = run(tracker, [boxes_small] * 5 + [boxes_both] * 15 + [boxes_small] * 5)  # the big one: 1.5 s
    assert all(next(f for f in faces if f.track_id == 0).track == 1 for faces in results)


def test_new_ids_are_never_reused():
    tracker = FaceTracker(LABELS, TrackingConfig(max_missed_frames=0))
    main, other, third = Box(10, 10, 100, 100), Box(200, 10, 50, 50), Box(200, 150, 50, 50)
    assert [f.track_id for f in tracker.update([main, other], one_hot(HAPPY, 2), 0.0)] == [0, 1]
    assert [f.track_id for f in tracker.update([main], one_hot(HAPPY, 1), 0.1)] == [0]  # 1 ends (max_missed 0)
    assert [(f.track_id, f.track) for f in tracker.update([main, third], one_hot(HAPPY, 2), 0.2)] == [(0, 1), (2, 3)]


def test_smoothing_is_the_mean_of_the_last_k_vectors():
    rng = np.random.default_rng(7)
    vectors = rng.dirichlet(np.ones(len(LABELS)), size=9)
    tracker = FaceTracker(LABELS, TrackingConfig(smoothing_frames=4))
    box = Box(50, 50, 80, 80)
    for n in range(1, len(vectors) + 1):
        (face,) = tracker.update([box], vectors[n - 1:n], n / FPS)
        expected = vectors[max(0, n - 4):n].mean(axis=0)
        np.testing.assert_allclose(face.probabilities, expected, rtol=1e-12)
        assert face.label == LABELS[int(np.argmax(expected))]
        assert isinstance(face.probabilities, tuple) and all(isinstance(p, float) for p in face.probabilities)


def test_a_single_frame_spike_does_not_flip_the_label():
    box = Box(50, 50, 80, 80)
    spike = one_hot(SAD, 1, strength=0.95)
    smooth = FaceTracker(LABELS, TrackingConfig(smoothing_frames=5))
    raw = FaceTracker(LABELS, TrackingConfig(smoothing_frames=1))
    labels = {"smooth": [], "raw": []}
    for frame in range(10):
        vector = spike if frame == 6 else one_hot(HAPPY, 1, strength=0.6)
        labels["smooth"].append(smooth.update([box], vector, frame / FPS)[0].label)
        labels["raw"].append(raw.update([box], vector, frame / FPS)[0].label)
    assert labels["smooth"] == ["happy"] * 10
    assert labels["raw"][6] == "sad"  # without smoothing the spike shows


def test_config_and_bad_input():
    from acting_mirror.config import ConfigError

    config = TrackingConfig(iou_threshold=0.4, max_missed_frames=7, smoothing_frames=3)
    tracker = FaceTracker(LABELS, config)
    assert tracker.config is config
    assert tracker.update([], np.zeros((0, len(LABELS))), 0.0) == ()
    with pytest.raises(TrackingError, match="shape"):
        tracker.update([Box(0, 0, 10, 10)], np.zeros((2, len(LABELS))), 0.1)
    with pytest.raises(TrackingError, match="shape"):
        tracker.update([Box(0, 0, 10, 10)], np.zeros((1, 3)), 0.2)
    with pytest.raises(ConfigError, match="smoothing_frames"):  # the config's own check, done once
        FaceTracker(LABELS, TrackingConfig(smoothing_frames=0))


def test_twenty_faces_stay_put_and_update_is_fast(cascade):
    import cv2

    frame = next(synth_frames("crowd", 1, (640, 480)))
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    boxes = [Box(*map(int, r)) for r in cascade.detectMultiScale(gray, 1.1, 5, minSize=(30, 30))]
    assert len(boxes) == 20
    rng = np.random.default_rng(0)
    tracker = FaceTracker(LABELS)
    first = tracker.update(boxes, rng.dirichlet(np.ones(len(LABELS)), size=20), 0.0)
    assert sorted(f.track_id for f in first) == list(range(20))
    id_at = {f.box: f.track_id for f in first}
    assert first[0].track_id == 0 and first[0].box.area == max(b.area for b in boxes)
    start = time.perf_counter()
    for n in range(1, 51):
        # every face jitters by a few pixels; the detector's order changes from frame to frame
        moved = [Box(b.x + int(rng.integers(-4, 5)), b.y + int(rng.integers(-4, 5)), b.w, b.h) for b in boxes]
        order = rng.permutation(20)
        faces = tracker.update([moved[i] for i in order], rng.dirichlet(np.ones(len(LABELS)), size=20), n / FPS)
        by_original = {moved[i]: i for i in order}
        assert all(id_at[boxes[by_original[f.box]]] == f.track_id for f in faces)
    per_update_ms = (time.perf_counter() - start) / 50 * 1000
    assert per_update_ms < 20, f"{per_update_ms:.1f} ms per update of 20 faces"
