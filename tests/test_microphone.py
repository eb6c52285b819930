"""Recording through a real PulseAudio fake microphone (acting_mirror.audio.microphone)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from acting_mirror.audio.microphone import MicrophoneRecorder, MicrophoneUnavailable, parse_device
from tests.fake_microphone import MISSING, emit, fake_microphone_fixture

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)} (.ci/run installs them)")
RATE = 16000


fake_microphone = pytest.fixture(name="fake_microphone")(fake_microphone_fixture)


def tone(seconds: float, hz: float = 800.0, level: float = 0.6) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_every_listener_gets_what_is_played_on_the_video_clock(fake_microphone, tmp_path):
    clock_start = time.monotonic() - 5.0  # the camera opened 5 s ago: chunk times count from then
    with MicrophoneRecorder(clock_start) as recorder:
        first, second = recorder.listen(), recorder.listen()
        emit(np.zeros(RATE // 10, np.float32), RATE)  # PulseAudio's first stream reports its start late
        time.sleep(0.5)  # some silence first, so the beeps' onsets are inside the recording
        played = []
        for _ in range(3):
            played.append(emit(tone(0.2), RATE) - clock_start)
            time.sleep(0.3)
    chunks = [first.get_nowait() for _ in range(first.qsize())]
    assert len(chunks) == second.qsize() > 0
    steps = [later.start_seconds - before.end_seconds for before, later in itertools.pairwise(chunks)]
    # consecutive, but for the start's estimate getting better (earlier) as blocks arrive: by at most a
    # block in all (measured: 0-13 ms). Steps are compared with a tolerance: they are float sums.
    assert all(-0.1 - 1e-9 <= step <= 1e-9 for step in steps) and sum(steps) >= -0.1, steps
    samples = np.concatenate([chunk.samples for chunk in chunks])
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert chunks[0].start_seconds > 5.0
    loud = np.abs(samples) > 0.3
    assert loud.any(), "the beeps played into the sink were not recorded"
    rises = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    onsets = [chunks[0].start_seconds + rise / RATE for rise in rises]
    onsets = [onset for index, onset in enumerate(onsets) if index == 0 or onset - onsets[index - 1] > 0.25]
    # each beep is stamped where the playing side says it reached the sink: within a 30-FPS frame
    # (measured: 22 ms late, steadily, PulseAudio's null sink's own delay to its monitor)
    errors = np.array(onsets) - played
    assert len(errors) == 3 and np.median(np.abs(errors)) < 1 / 30 and np.abs(errors).max() < 0.06, errors


def test_an_unknown_device_is_one_line(fake_microphone):
    with pytest.raises(MicrophoneUnavailable, match="cannot record from microphone no-such-mic") as raised:
        MicrophoneRecorder(time.monotonic(), device="no-such-mic")
    assert "\n" not in str(raised.value)


def test_a_device_is_an_index_or_a_name():
    assert parse_device("3") == 3 and parse_device(" 12 ") == 12
    assert parse_device("USB Audio") == "USB Audio"
    assert parse_device("") is None and parse_device(None) is None


def test_the_command_line_names_the_microphone():
    from acting_mirror.cli import build_parser, make_config

    config = make_config(build_parser().parse_args(["--camera", "0", "--audio-device", "USB Audio"]))
    assert (config.output.audio_device, config.output.audio) == ("USB Audio", True)
    config = make_config(build_parser().parse_args(["--camera", "0", "--no-audio"]))
    assert (config.output.audio_device, config.output.audio) == ("", False)
