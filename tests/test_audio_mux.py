"""Video + live sound written by acting_mirror.audio.mux, read back: sync within one frame, and
never sound past the last picture."""

from __future__ import annotations

import av
import numpy as np
import pytest

from acting_mirror.audio.cue_timing import read_take_audio
from acting_mirror.audio.microphone import AudioChunk
from acting_mirror.audio.mux import AudioVideoWriter
from acting_mirror.demo import synth_frames

FPS, RATE, FLASH = 25, 16000, 30  # the white flash (and the beep) at frame 30 = 1.2 s


def beep(seconds: float, level: float = 0.6) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)


def flash_time(path) -> float:
    """Video time of the first nearly white frame in the file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.to_ndarray(format="gray").mean() > 200:
                return float(frame.pts * stream.time_base)
    raise AssertionError("no flash frame in the output")


def onset(path) -> tuple[float, float]:
    """(the beep's onset, the sound's length) in seconds of a written file."""
    samples, rate, start = read_take_audio(path)
    return start + int(np.argmax(np.abs(samples) > 0.3)) / rate, len(samples) / rate


@pytest.mark.parametrize("name", ["take.avi", "take.mp4"])
def test_the_beep_stays_on_the_flash_frame(tmp_path, name):
    frames = list(synth_frames("one", 50, (320, 240)))
    frames[FLASH] = np.full_like(frames[FLASH], 255)
    sound = np.zeros(2 * RATE, np.float32)
    beep_at = round(FLASH / FPS * RATE)
    sound[beep_at:beep_at + RATE // 10] = beep(0.1)
    path = tmp_path / name
    writer = AudioVideoWriter(path, FPS, RATE)
    try:
        # the sound arrives in 0.1-s chunks ahead of the pictures, as a microphone's does
        for index, image in enumerate(frames):
            if index % 2 == 0:
                piece = sound[index * RATE // FPS:(index + 4) * RATE // FPS]
                writer.add_audio(AudioChunk(index / FPS, piece, RATE))
            writer.write_frame(image)
    finally:
        writer.close()
    with av.open(str(path)) as container:
        codecs = (container.streams.video[0].codec_context.name, container.streams.audio[0].codec_context.name)
        first = next(container.decode(video=0)).to_ndarray(format="bgr24")
    assert codecs == (("h264", "aac") if name.endswith(".mp4") else ("mjpeg", "pcm_s16le"))
    assert np.abs(first.astype(int) - frames[0]).mean() < 6  # the picture (colours, range) survives
    heard, length = onset(path)
    assert length == pytest.approx(len(frames) / FPS, abs=0.05)
    assert abs(heard - flash_time(path)) < 1 / FPS
    assert abs(heard - FLASH / FPS) < 1 / FPS


def test_sound_is_placed_by_its_time_and_cut_at_the_last_frame(tmp_path):
    path = tmp_path / "late.avi"
    writer = AudioVideoWriter(path, FPS, RATE)
    try:
        writer.add_audio(AudioChunk(-0.5, np.zeros(RATE // 2, np.float32), RATE))  # before the first frame: cut
        writer.add_audio(AudioChunk(0.5, beep(2.0), RATE))  # after a gap, and a second past the pictures
        for image in synth_frames("one", 25, (160, 120)):
            writer.write_frame(image)
    finally:
        writer.close()
    heard, length = onset(path)
    assert heard == pytest.approx(0.5, abs=1 / FPS)
    assert length == pytest.approx(1.0, abs=0.05)  # silence before, nothing after the 25th frame


def test_no_sound_at_all_gives_silence_as_long_as_the_pictures(tmp_path):
    path = tmp_path / "odd.avi"
    writer = AudioVideoWriter(path, FPS, RATE)
    try:
        for image in synth_frames("one", 5, (161, 121)):  # an odd size takes the slower colour conversion
            writer.write_frame(image)
    finally:
        writer.close()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (161, 121)
        assert sum(1 for _ in container.decode(stream)) == 5
    samples, rate, _ = read_take_audio(path)
    assert len(samples) / rate == pytest.approx(5 / FPS, abs=0.01) and np.abs(samples).max() == 0
