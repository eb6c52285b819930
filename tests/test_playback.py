"""The arithmetic of playback and recording, on an injected clock: when a file's frames are
due (PlaybackClock) and which frame fills each slot of the output video (TimedVideo, writing
a real MJPG file through VideoSink, read back)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import read_video

from acting_mirror.clocks import PlaybackClock, TimedVideo
from acting_mirror.sinks import VideoSink

SHADES = (0, 60, 120, 180, 240)  # one grey level a frame, told apart after MJPG


class Clock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def frame(shade: int) -> np.ndarray:
    return np.full((48, 64, 3), shade, np.uint8)


def shades_of(path) -> list[int]:
    frames, _, _ = read_video(path)
    return [min(SHADES, key=lambda shade: abs(shade - float(image.mean()))) for image in frames]


def test_frames_are_due_at_the_file_time_from_the_start():
    clock = Clock()
    playback = PlaybackClock(0.1, clock)
    assert playback.due_in(0.0) == pytest.approx(0.0)
    assert playback.due_in(0.5) == pytest.approx(0.5)
    assert not playback.ready(0.1)
    clock.now += 0.1
    assert playback.ready(0.1)


def test_a_late_frame_within_one_period_keeps_the_schedule():
    clock = Clock()
    playback = PlaybackClock(0.1, clock)
    clock.now += 0.15  # frame 1 (at 0.1) is 0.05 s late: less than a frame
    assert playback.ready(0.1)
    assert playback.due_in(0.2) == pytest.approx(0.05)


def test_a_frame_late_by_more_than_a_period_shifts_later_frames():
    clock = Clock()
    playback = PlaybackClock(0.1, clock)
    clock.now += 0.45  # frame 1 (at 0.1) is 0.35 s late: playback waits for us
    assert playback.ready(0.1)
    assert playback.due_in(0.2) == pytest.approx(0.1)  # the next frame keeps its spacing


def test_a_pause_shifts_the_schedule_by_its_length():
    clock = Clock()
    playback = PlaybackClock(0.1, clock)
    assert playback.resume() == 0.0  # no pause, nothing to end
    clock.now += 0.2
    playback.pause()
    playback.pause()  # pausing twice keeps the first moment
    assert playback.paused
    clock.now += 3.0
    assert playback.resume() == pytest.approx(3.0)
    assert not playback.paused
    assert playback.due_in(0.5) == pytest.approx(0.3)


def test_start_restarts_the_schedule_now():
    clock = Clock()
    playback = PlaybackClock(0.1, clock)
    clock.now += 5.0
    playback.start()
    assert playback.due_in(0.2) == pytest.approx(0.2)


def test_every_file_frame_gets_exactly_one_slot(tmp_path):
    video = TimedVideo(VideoSink(tmp_path / "out.avi", 10.0))
    for index, shade in enumerate(SHADES):
        video.write(frame(shade), index / 10)
    video.close()
    assert shades_of(tmp_path / "out.avi") == list(SHADES)


def test_a_frame_is_repeated_over_a_gap_and_the_newer_of_two_in_a_slot_wins(tmp_path):
    video = TimedVideo(VideoSink(tmp_path / "out.avi", 10.0))
    video.write(frame(0), 0.0)
    video.write(frame(60), 0.3)    # slots 1 and 2 were missed: frame 0 fills them
    video.write(frame(120), 0.41)  # slot 4 ...
    video.write(frame(180), 0.44)  # ... shared: the newer frame takes it
    video.write(frame(240), 0.5)
    video.close()
    assert shades_of(tmp_path / "out.avi") == [0, 0, 0, 60, 180, 240]


def test_with_a_clock_close_holds_the_last_frame_until_the_run_ends(tmp_path):
    clock = Clock(50.0)
    video = TimedVideo(VideoSink(tmp_path / "out.avi", 10.0), clock)
    video.write(frame(0), 0.0)
    clock.now += 0.1
    video.write(frame(240), 0.1)
    assert video.now_s() == pytest.approx(0.1)
    clock.now += 0.4  # nothing new for 0.4 s, then the run ends
    video.close()
    assert shades_of(tmp_path / "out.avi") == [0, 240, 240, 240, 240]  # 5 slots: 0.5 s at 10 fps


def test_hold_until_writes_a_paused_frame_as_time_goes(tmp_path):
    video = TimedVideo(VideoSink(tmp_path / "out.avi", 10.0))
    video.write(frame(120), 0.0)
    video.hold_until(0.3)
    assert video.frames_written == 3
    video.close()
    assert shades_of(tmp_path / "out.avi") == [120, 120, 120, 120]
