"""Timeline: recording frames, per-person series, and the CSV round trip."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from acting_mirror.timeline import Timeline, TimelineError
from acting_mirror.training.data import FER_DISPLAY_NAMES
from acting_mirror.types import Box, Face, FrameResult

LABELS = FER_DISPLAY_NAMES


def one_hot_face(label: str, track_id: int, box: Box, strength: float = 0.7, track: int | None = None) -> Face:
    rest = (1.0 - strength) / (len(LABELS) - 1)
    probabilities = tuple(strength if name == label else rest for name in LABELS)
    return Face(box, probabilities, label, track_id, track)


def make_timeline() -> Timeline:
    """Frames 0-5 at 5 fps: person 0 happy, happy, absent, sad, absent (person 1 there), happy."""
    timeline = Timeline(LABELS)
    plan = [("happy", None), ("happy", "angry"), (None, None), ("sad", "angry"), (None, "neutral"), ("happy", None)]
    for index, (person0, person1) in enumerate(plan):
        faces = []
        if person0:  # the last frame's person 0 is another tracked face: person 0 moved to it
            faces.append(one_hot_face(person0, 0, Box(10 + index, 20, 30, 30), track=3 if index == 5 else 1))
        if person1:
            faces.append(one_hot_face(person1, 1, Box(100, 20, 25, 25), track=2))
        timeline.add(FrameResult(index, index / 5, tuple(faces)))
    return timeline


def test_counts_share_and_series():
    timeline = make_timeline()
    assert timeline.frames == 6
    assert timeline.face_frames(0) == 4
    assert timeline.face_frames(1) == 3
    assert timeline.face_frames(7) == 0
    share = timeline.emotion_share(0)
    assert list(share) == list(LABELS)
    assert share["happy"] == pytest.approx(3 / 4)
    assert share["sad"] == pytest.approx(1 / 4)
    assert sum(share.values()) == pytest.approx(1.0)
    assert all(value == 0.0 for value in Timeline(LABELS).emotion_share(0).values())

    times, probabilities, labels = timeline.person_series(0)
    np.testing.assert_allclose(times, np.arange(6) / 5)
    assert labels == ["happy", "happy", None, "sad", None, "happy"]
    absent = np.isnan(probabilities).all(axis=1)
    assert absent.tolist() == [label is None for label in labels]
    assert probabilities[3, LABELS.index("sad")] == pytest.approx(0.7)


def test_person_probabilities_is_a_growing_view_with_since():
    timeline = Timeline(LABELS)
    rng = np.random.default_rng(1)
    rows = rng.dirichlet(np.ones(len(LABELS)), size=1500)
    for index, row in enumerate(rows):
        face = Face(Box(0, 0, 40, 40), tuple(row), LABELS[int(row.argmax())], 0) if index % 3 else None
        timeline.add(FrameResult(index, index / 30, (face,) if face else ()))
    seen = rows[[i for i in range(len(rows)) if i % 3]]
    got = timeline.person_probabilities(0)
    np.testing.assert_allclose(got, seen)
    # no re-stacking per call: two calls read the same buffer, and it is read-only
    assert np.shares_memory(got, timeline.person_probabilities(0))
    with pytest.raises(ValueError):
        got[0, 0] = 1.0
    since = timeline.person_probabilities(0, since_s=40.0)
    expected = [row for i, row in enumerate(rows) if i % 3 and i / 30 >= 40.0]
    np.testing.assert_allclose(since, expected)
    assert timeline.person_probabilities(5).shape == (0, len(LABELS))


def test_csv_round_trip(tmp_path):
    timeline = make_timeline()
    path = timeline.write_csv(tmp_path / "timeline.csv")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["frame", "time_s", "person", "track", "x", "y", "w", "h", *LABELS, "label"]
    person0 = [row for row in rows[1:] if row[2] == "0"]
    assert [row[0] for row in person0] == [str(i) for i in range(6)]  # every frame has a person-0 row
    empty = [row for row in person0 if row[-1] == ""]
    assert [row[0] for row in empty] == ["2", "4"]
    assert all(cell == "" for row in empty for cell in row[3:])
    assert len(rows) - 1 == 4 + 2 + 3  # person 0 seen, person 0 empty rows, person 1 rows

    again = Timeline.read_csv(path)
    assert again.labels == LABELS
    assert again.frames == timeline.frames
    for before, after in zip(timeline.results(), again.results(), strict=True):
        assert after.index == before.index
        assert [(f.track_id, f.track) for f in after.faces] == [(f.track_id, f.track) for f in before.faces]
        assert after.time_s == pytest.approx(before.time_s)
        for face_before, face_after in zip(before.faces, after.faces, strict=True):
            assert face_after.box == face_before.box
            assert face_after.label == face_before.label
            np.testing.assert_allclose(face_after.probabilities, face_before.probabilities, atol=1e-6)
    assert again.summary(5.0) == timeline.summary(5.0)
    assert again.person_tracks(0) == [1, 3] and again.summary(5.0)["person0_tracks"] == [1, 3]


def test_a_csv_from_before_the_track_column_is_read(tmp_path):
    path = make_timeline().write_csv(tmp_path / "timeline.csv")
    rows = list(csv.reader(path.open(newline="")))
    old = tmp_path / "old.csv"
    with old.open("w", newline="") as handle:
        csv.writer(handle).writerows([row[:3] + row[4:] for row in rows])  # drop the track column
    again = Timeline.read_csv(old)
    assert again.frames == 6 and again.face_frames(0) == 4
    assert all(face.track is None for result in again.results() for face in result.faces)


def test_summary_numbers():
    summary = make_timeline().summary(5.0)
    assert summary["frames"] == 6
    assert summary["duration_s"] == pytest.approx(6 / 5)
    assert summary["fps"] == 5.0
    assert summary["face_frames"] == 4
    assert summary["emotion_share"]["happy"] == pytest.approx(0.75)


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("frame,time_s,person,x,y,w,h,label\n", "not a timeline header"),
    ("frame,time,person,x,y,w,h,happy,sad,label\n", "not a timeline header"),
    ("frame,time_s,person,x,y,w,h,happy,sad,label\n0,0.0,0,1,2,3,4,0.9,0.1\n", "line 2: 9 values, expected 10"),
    ("frame,time_s,person,x,y,w,h,happy,sad,label\n0,0.0,0,1,2,3,4,0.9,0.1,happy\n1,0.1,0,1,two,3,4,0.9,0.1,happy\n",
     "line 3: y 'two' is not an integer"),
    ("frame,time_s,person,x,y,w,h,happy,sad,label\n0,0.0,0,1,2,3,4,0.9,0.1,angry\n",
     "line 2: label 'angry' is not one of the columns"),
    ("frame,time_s,person,x,y,w,h,happy,sad,label\n0,0.0,0,1,2,3,4,,0.1,happy\n", "line 2: empty happy"),
    ("frame,time_s,person,x,y,w,h,happy,sad,label\n0,0.0,1,,,,,,,\n", "only person 0 rows may be empty"),
    ("frame,time_s,person,x,y,w,h,happy,sad,label\n0,0.0,0,1,2,3,4,1.9,0.1,happy\n", "between 0 and 1"),
    ("frame,time_s,person,x,y,w,h,happy,sad,label\n3,0.3,0,,,,,,,\n2,0.2,0,,,,,,,\n", "line 3: frame 2 comes after"),
])
def test_read_csv_rejects_bad_files(tmp_path, text, message):
    path = tmp_path / "timeline.csv"
    path.write_text(text)
    with pytest.raises(TimelineError, match=message) as caught:
        Timeline.read_csv(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_read_csv_missing_file(tmp_path):
    with pytest.raises(TimelineError, match="not found"):
        Timeline.read_csv(tmp_path / "nope.csv")


def test_wrong_probability_count_is_refused():
    with pytest.raises(ValueError, match="expected 7"):
        Timeline(LABELS).add(FrameResult(0, 0.0, (Face(Box(0, 0, 5, 5), (0.5, 0.5), "happy", 0),)))
