"""The camera-rate machinery: which faces are read each frame, the video written on its
own thread, and that reading crowd faces less often keeps the labels a viewer sees."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import read_video

from acting_mirror import demo
from acting_mirror.app import MirrorApp, build_pipeline
from acting_mirror.config import Config
from acting_mirror.schedule import ClassifyPolicy
from acting_mirror.sinks import SinkError, VideoSink
from acting_mirror.threaded_sink import ThreadedSink
from acting_mirror.types import Frame
from tests.frame_numbers import frame_number, numbered_frames

CROWD_SIZE = (640, 800)


@pytest.fixture(scope="module")
def crowd_clip(tmp_path_factory):
    """A real-face crowd clip (20 swaying faces) written to a file and read back."""
    path = demo.write_clip(tmp_path_factory.mktemp("crowd") / "crowd.avi", "mixed crowd", 24, 15.0, CROWD_SIZE)
    frames, _, _ = read_video(path)
    return frames


def run_labels(frames, classify_every: int):
    """Per frame: the pipeline's result and the boxes its schedule read. classify_every = 1 is
    the reference: every face every frame, on the whole frame read every frame."""
    overrides = {"detector": {"full_frame_every": 1}} if classify_every == 1 else {}
    pipeline = build_pipeline(Config().override(model={"classify_every": classify_every}, **overrides))
    results, read = [], []
    for index, image in enumerate(frames):
        results.append(pipeline.process(Frame(image, index, index / 15)))
        boxes = list(pipeline.last_crops)  # the frame's detections, in the order the schedule saw them
        read.append({boxes[row] for row in pipeline.schedule.last_read})
    return results, read


def test_policy_reads_a_face_on_its_turn_after_k_frames_or_when_it_changed():
    policy = ClassifyPolicy(every_frames=3, change_threshold=25.0)
    face = demo.face_patch(96)[24:72, 24:72, 0].copy()
    other = np.flipud(face).copy()  # another picture in the same box
    # track 1's turn comes when (frame + 1) % 3 == 0
    assert [policy.due(frame, 1, 1, face, face) for frame in range(6)] == [False, False, True, False, False, True]
    assert policy.due(0, 1, 3, face, face)       # k frames since its last reading
    assert policy.due(0, 1, 1, other, face)      # a changed crop is read at once
    assert not policy.due(0, 1, 1, np.roll(face, 2, axis=1), face)  # a box a few pixels off is no change


def test_person_0_is_read_every_frame_and_every_face_at_least_every_k_frames(crowd_clip):
    results, read = run_labels(crowd_clip, classify_every=3)
    assert len(results[0].faces) >= 15
    last_read: dict[int, int] = {}
    fewer = 0
    for index, (result, boxes_read) in enumerate(zip(results, read, strict=True)):
        person0 = result.person(0)
        assert person0 is not None and person0.box in boxes_read, f"frame {index}: person 0 not read"
        for face in result.faces:
            if face.box in boxes_read:
                last_read[face.track] = index
            elif face.track in last_read:
                assert index - last_read[face.track] < 3, f"frame {index}: track {face.track} not read for 3 frames"
        fewer += len(boxes_read) < len(result.faces)
    assert fewer >= len(results) - 2  # after the first frames a crowd frame reads only part of the crowd


def test_reading_crowd_faces_less_often_keeps_at_least_97_percent_of_the_labels(crowd_clip):
    every, _ = run_labels(crowd_clip, classify_every=1)
    scheduled, _ = run_labels(crowd_clip, classify_every=3)
    same = total = 0
    for reference, result in zip(every, scheduled, strict=True):
        wanted = {face.box: face.label for face in reference.faces}
        for face in result.faces:
            total += 1
            same += wanted.get(face.box) == face.label
    assert total >= 15 * len(crowd_clip)
    assert same / total >= 0.97


def test_one_followed_face_read_with_views_in_turn_keeps_its_boxes_and_labels():
    """The one-face camera case as the app runs it by default (the detector follows the face
    between full-frame passes, person 0 read with one view a frame) against every frame read
    whole with every view: the same face in every frame, where it was, with the same label."""
    from acting_mirror.track import iou_matrix

    frames = list(demo.synth_frames("one", 48, (1280, 720)))
    reference, _ = run_labels(frames, classify_every=1)
    followed, _ = run_labels(frames, classify_every=3)
    same = 0
    for index, (expected, result) in enumerate(zip(reference, followed, strict=True)):
        assert len(result.faces) == len(expected.faces) == 1, f"frame {index}"
        assert iou_matrix([expected.faces[0].box], [result.faces[0].box])[0, 0] > 0.75, f"frame {index}"
        same += result.faces[0].label == expected.faces[0].label
    assert same / len(frames) >= 0.97


def test_test_time_views_are_taken_in_turn_when_faces_are_read_less_often():
    """Each reading gets one of the model's views, the view changing every k frames: a crowd
    face, read once in k frames, alternates between them, and person 0 gets each about as
    often within the tracker's smoothing. Read every frame, every face gets all of them."""
    from acting_mirror.model import load_configured_classifier
    from acting_mirror.schedule import ClassifySchedule

    classifier = load_configured_classifier(Config().model)
    assert len(classifier.views) == 2
    every = ClassifySchedule(ClassifyPolicy(every_frames=1))
    assert every.views_now(classifier) == classifier.views
    schedule = ClassifySchedule(ClassifyPolicy(every_frames=3))
    seen = []
    for _ in range(12):
        seen.append(schedule.views_now(classifier))
        schedule.remember(())  # the next frame
    assert all(len(views) == 1 for views in seen)
    for track in range(1, 7):  # the frames of each track's turn
        turns = [seen[frame][0] for frame in range(12) if (frame + track) % 3 == 0]
        assert all(a != b for a, b in zip(turns, turns[1:], strict=False)), f"track {track}: {turns}"
    assert all(len(set(seen[i:i + 5])) == 2 for i in range(8))  # person 0's five smoothed readings: both views


def test_threaded_sink_writes_every_frame_in_order(tmp_path):
    frames = numbered_frames(60)
    sink = ThreadedSink(VideoSink(tmp_path / "order.avi", 30.0), queue_frames=2)
    for image in frames:
        sink.write(image)
    sink.close()
    assert sink.frames_written == 60
    written, _, _ = read_video(tmp_path / "order.avi")
    assert [frame_number(image) for image in written] == list(range(60))


class InterruptedSource:
    """Numbered frames, then Ctrl-C, as a camera run the user stops."""

    live = False
    is_image = False
    fps = 30.0
    name = "interrupted"

    def __init__(self, frames, interrupt_after: int):
        self.frames, self.interrupt_after = frames, interrupt_after

    def __iter__(self):
        for index, image in enumerate(self.frames):
            if index == self.interrupt_after:
                raise KeyboardInterrupt
            yield Frame(image, index, index / self.fps)


def test_an_interrupted_run_writes_every_processed_frame(tmp_path):
    config = Config().override(display={"details": False, "graph": False})
    source = InterruptedSource(numbered_frames(80), interrupt_after=50)
    app = MirrorApp(config, build_pipeline(config), source, video=VideoSink(tmp_path / "stopped.avi", 30.0),
                    pace=False, log=lambda _: None)
    summary = app.run()
    assert summary.stopped_by.name == "INTERRUPT"
    assert summary.frames == 50 and summary.output_frames == 50
    written, _, _ = read_video(tmp_path / "stopped.avi")
    # the fps tag covers the top-right corner; the stripes' middles are below it
    assert [frame_number(image[image.shape[0] // 2:]) for image in written] == list(range(50))


def test_an_error_of_the_wrapped_sink_reaches_the_caller(tmp_path):
    sink = ThreadedSink(VideoSink(tmp_path / "closed.avi", 30.0))
    sink.sink.close()  # the sink underneath refuses frames from now on
    sink.write(numbered_frames(1)[0])
    with pytest.raises(SinkError, match="already closed"):
        sink.close()


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080), (120, 90)])
def test_cached_labels_draw_exactly_what_put_label_draws(size):
    from acting_mirror.render.labels import LabelCache
    from acting_mirror.render.overlay import draw_faces, put_label
    from acting_mirror.types import Box, Face

    width, height = size
    frame = demo.background(width, height)
    demo.paste(frame, demo.face_patch(min(width, height) // 2), width // 4, height // 4)
    faces = [Face(Box(x, y, width // 5, height // 5), (0.1, 0.05, 0.05, 0.6, 0.1, 0.05, 0.05), "happy", person)
             for person, (x, y) in enumerate([(0, 0), (width // 2, height // 3), (width - width // 5, height - 10)])]
    cache = LabelCache()
    for _ in range(2):  # drawn, then copied from the cache
        assert np.array_equal(draw_faces(frame, faces, put=cache.put_label), draw_faces(frame, faces))
    wide = "a caption far wider than this small image " * 3  # cut at the image's edge as put_label cuts it
    direct, cached = frame.copy(), frame.copy()
    assert cache.put_label(cached, wide, 5, 5, 0.5, (0, 0, 200)) == put_label(direct, wide, 5, 5, 0.5, (0, 0, 200))
    assert np.array_equal(cached, direct)
