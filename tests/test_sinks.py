"""Video and snapshot output, read back with OpenCV. (Windows are in test_windows.py.)"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import read_video

from acting_mirror.demo import synth_frames
from acting_mirror.sinks import SinkError, VideoSink, save_snapshot

SIZE = (160, 120)


def test_video_sink_writes_a_file_opencv_reads_back(tmp_path):
    images = list(synth_frames("two", 15, SIZE))
    path = tmp_path / "out" / "output.avi"
    sink = VideoSink(path, fps=12.5)
    assert path.stat().st_size == 0  # claimed (and locked) up front; the writer opens on the first frame
    for image in images:
        sink.write(image)
    sink.close()
    sink.close()  # idempotent
    assert sink.frames_written == 15 and sink.frame_size == SIZE
    frames, fps, size = read_video(path)
    assert len(frames) == 15 and size == SIZE and fps == pytest.approx(12.5)
    for frame, image in zip(frames, images, strict=True):
        assert np.abs(frame.astype(int) - image).mean() < 6  # MJPG is lossy, but these are our frames


def test_an_interrupted_run_leaves_a_playable_file(tmp_path):
    path = tmp_path / "interrupted.avi"
    with pytest.raises(KeyboardInterrupt), VideoSink(path, fps=10.0) as sink:
        for index, image in enumerate(synth_frames("one", 20, SIZE)):
            if index == 7:
                raise KeyboardInterrupt  # Ctrl-C in the middle of the run
            sink.write(image)
    frames, fps, size = read_video(path)
    assert len(frames) == 7 and size == SIZE and fps == pytest.approx(10.0)


def test_fps_can_be_set_until_the_first_frame(tmp_path):
    path = tmp_path / "live.avi"
    with VideoSink(path, fps=30.0) as sink:
        sink.fps = 17.0  # e.g. a camera's measured rate, known only after it ran a while
        for image in synth_frames("one", 3, SIZE):
            sink.write(image)
    assert read_video(path)[1] == pytest.approx(17.0)


def test_frames_of_another_size_or_gray_are_fitted_to_the_video(tmp_path):
    path = tmp_path / "mixed.avi"
    first, second = synth_frames("one", 2, SIZE)
    with VideoSink(path, fps=10.0) as sink:
        sink.write(first)
        sink.write(cv2.resize(second, (320, 240)))
        sink.write(cv2.cvtColor(first, cv2.COLOR_BGR2GRAY))
    frames, _, size = read_video(path)
    assert len(frames) == 3 and size == SIZE


def test_uncreatable_directory(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be")
    path = blocker / "videos" / "output.avi"
    with pytest.raises(SinkError, match=r"cannot write video .*a_file/videos/output\.avi"):
        VideoSink(path, fps=30.0)


def test_writer_that_cannot_open(tmp_path):
    sink = VideoSink(tmp_path / "output.avi", fps=30.0, codec="ZZZZ")
    with pytest.raises(SinkError, match=r"output\.avi with codec ZZZZ"):
        sink.write(next(synth_frames("one", 1, SIZE)))
    sink.close()
    with pytest.raises(SinkError, match="four-character"):
        VideoSink(tmp_path / "output.avi", fps=30.0, codec="MJPEG")


def test_snapshots_are_timestamped_pngs(tmp_path):
    image = next(synth_frames("one", 1, SIZE))
    directory = tmp_path / "snaps" / "today"
    first = save_snapshot(image, directory)
    second = save_snapshot(image, directory)
    assert first != second and first.parent == directory and first.suffix == ".png"
    assert first.name.startswith("snapshot-")
    np.testing.assert_array_equal(cv2.imread(str(first)), image)  # PNG: lossless
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SinkError, match="cannot save snapshot"):
        save_snapshot(image, blocker / "snaps")



def test_a_second_writer_of_the_same_file_is_refused(tmp_path):
    path = tmp_path / "take.avi"
    first, second = synth_frames("one", 2, SIZE)
    sink = VideoSink(path, fps=10.0)
    sink.write(first)
    with pytest.raises(SinkError, match=r"take\.avi: another run is writing it"):
        VideoSink(path, fps=10.0)
    sink.write(second)
    sink.close()
    assert len(read_video(path)[0]) == 2  # the refused writer changed nothing
    VideoSink(path, fps=10.0).close()  # free again once closed; a claim that writes nothing keeps the file
    assert len(read_video(path)[0]) == 2


def test_a_claimed_file_that_gets_no_frame_is_removed(tmp_path):
    path = tmp_path / "never.avi"
    VideoSink(path, fps=10.0).close()
    assert not path.exists()


def test_a_file_removed_while_written_is_a_failure(tmp_path):
    path = tmp_path / "gone.avi"
    sink = VideoSink(path, fps=10.0)
    images = list(synth_frames("one", 60, SIZE))
    with pytest.raises(SinkError, match=r"gone\.avi: the file was removed while it was written"):
        for index, image in enumerate(images):
            if index == 20:
                path.unlink()
            sink.write(image)
    assert sink.failure is not None
    sink.close()
