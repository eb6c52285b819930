"""Recording through a real PulseAudio fake microphone (acting_mirror.audio.microphone)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from acting_mirror.audio.microphone import MicrophoneRecorder, MicrophoneUnavailable, parse_device
from tests.fake_microphone import ENVIRONMENT, MISSING, play, pulse_server, write_wav

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)} (.ci/run installs them)")
RATE = 16000


@pytest.fixture
def fake_microphone(tmp_path, monkeypatch):
    with pulse_server(tmp_path) as env:
        for name in ENVIRONMENT:
            monkeypatch.setenv(name, env[name])
        yield env


def tone(seconds: float, hz: float = 800.0, level: float = 0.6) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_every_listener_gets_what_is_played_on_the_video_clock(fake_microphone, tmp_path):
    wav = write_wav(tmp_path / "tone.wav", tone(0.6), RATE)
    clock_start = time.monotonic() - 5.0  # the camera opened 5 s ago: chunk times count from then
    with MicrophoneRecorder(clock_start) as recorder:
        first, second = recorder.listen(), recorder.listen()
        time.sleep(0.4)  # some silence first, so the tone's onset is inside the recording
        played_from = time.monotonic() - clock_start
        assert play(wav, fake_microphone).wait(timeout=30) == 0
        played_until = time.monotonic() - clock_start
        time.sleep(0.3)
    chunks = [first.get_nowait() for _ in range(first.qsize())]
    assert len(chunks) == second.qsize() > 0
    assert all(later.start_seconds == pytest.approx(before.end_seconds) for before, later in itertools.pairwise(chunks))
    samples = np.concatenate([chunk.samples for chunk in chunks])
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert np.abs(samples).max() > 0.3, "the tone played into the sink was not recorded"
    # the tone's onset is stamped between when it began to play and when it ended (the clock is shared)
    onset = chunks[0].start_seconds + int(np.argmax(np.abs(samples) > 0.3)) / RATE
    assert played_from - 0.02 <= onset <= played_until
    assert chunks[0].start_seconds > 5.0


def test_an_unknown_device_is_one_line(fake_microphone):
    with pytest.raises(MicrophoneUnavailable, match="cannot record from microphone no-such-mic") as raised:
        MicrophoneRecorder(time.monotonic(), device="no-such-mic")
    assert "\n" not in str(raised.value)


def test_a_device_is_an_index_or_a_name():
    assert parse_device("3") == 3 and parse_device(" 12 ") == 12
    assert parse_device("USB Audio") == "USB Audio"
    assert parse_device("") is None and parse_device(None) is None
