"""The live cue follower heard through a real fake microphone: PulseAudio's null sink, its
monitor remapped as a source, recorded with sounddevice while paplay speaks espeak-ng lines."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import time
import wave

import numpy as np
import pytest

from acting_mirror.audio.live_cues import LiveCueFollower
from tests.test_speech_alignment import LINES, RATE, make_take

NEEDED = ("pulseaudio", "pactl", "paplay", "espeak-ng")
pytestmark = pytest.mark.skipif(any(shutil.which(tool) is None for tool in NEEDED),
                                reason="needs PulseAudio and espeak-ng (.ci/run installs them)")
MIC_RATE = 16000
CHUNK = MIC_RATE // 10   # 100 ms


@pytest.fixture
def fake_microphone(tmp_path, monkeypatch):
    """A private PulseAudio server whose default source hears whatever is played into its default sink."""
    runtime = tmp_path / "pulse-runtime"
    runtime.mkdir()
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path)}
    server = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "-n", "--exit-idle-time=-1", "--disable-shm",
         "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=mirror_sink",
         "--load=module-remap-source master=mirror_sink.monitor source_name=mirror_mic"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        for setting in (["set-default-source", "mirror_mic"], ["set-default-sink", "mirror_sink"]):
            subprocess.run(["pactl", *setting], env=env, check=True, capture_output=True)
        for name, value in env.items():
            if name in ("XDG_RUNTIME_DIR", "HOME"):
                monkeypatch.setenv(name, value)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_cue_follows_the_lines_heard_through_the_microphone(fake_microphone, tmp_path):
    import sounddevice

    take, truth = make_take(tmp_path, 20)
    played = tmp_path / "take.wav"
    with wave.open(str(played), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((np.clip(take, -1, 1) * 32767).astype("<i2").tobytes())
    chunks: queue.Queue = queue.Queue()
    follower = LiveCueFollower(LINES, MIC_RATE)
    heard = []
    with sounddevice.InputStream(samplerate=MIC_RATE, channels=1, dtype="float32", blocksize=CHUNK,
                                 callback=lambda data, frames, when, status: chunks.put(data[:, 0].copy())):
        player = subprocess.Popen(["paplay", str(played)], env=fake_microphone)
        recorded = 0
        # the stream's own clock: samples recorded so far, not when the chunks arrive
        while player.poll() is None or not chunks.empty():
            try:
                chunk = chunks.get(timeout=1.0)
            except queue.Empty:
                continue
            cue = follower.feed(recorded / MIC_RATE, chunk)
            recorded += len(chunk)
            if cue is not None:
                heard.append(cue)
        assert player.returncode == 0
    assert [cue.index for cue in heard] == [0, 2, 3]  # in order; the skipped line and the unscripted one: no cue
    # when each line began, relative to the first one: the same gaps as in the take played
    gaps = np.array([cue.start_s for cue in heard]) - heard[0].start_s
    true_gaps = np.array([truth[cue.index][0] for cue in heard]) - truth[0][0]
    assert np.abs(gaps - true_gaps).max() <= 0.3, (gaps, true_gaps)
