"""A real fake microphone for tests: a private PulseAudio server in user mode with a null sink whose
monitor is remapped as the default source, so what paplay plays into the default sink is what
PortAudio's default input (ALSA's `pulse` device) records. Not a mock: the sound goes through
PulseAudio, ALSA, PortAudio and sounddevice as a real microphone's does."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

TOOLS = ("pulseaudio", "pactl", "paplay", "espeak-ng")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]
ENVIRONMENT = ("XDG_RUNTIME_DIR", "HOME")  # where PulseAudio's clients find the server


@contextmanager
def pulse_server(root: Path) -> Iterator[dict[str, str]]:
    """Starts PulseAudio under `root`; yields the environment a process needs to use it."""
    runtime = root / "pulse-runtime"
    runtime.mkdir(exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(root)}
    server = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "-n", "--exit-idle-time=-1", "--disable-shm",
         "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=mirror_sink",
         "--load=module-remap-source master=mirror_sink.monitor source_name=mirror_mic"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
                break
            assert server.poll() is None, "pulseaudio exited at start"
            time.sleep(0.1)
        for setting in (["set-default-source", "mirror_mic"], ["set-default-sink", "mirror_sink"]):
            subprocess.run(["pactl", *setting], env=env, check=True, capture_output=True)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=10)


def fake_microphone_fixture(tmp_path, monkeypatch):
    """A pytest fixture's body: this process's PortAudio hears a private server (yields its environment)."""
    with pulse_server(tmp_path) as env:
        for name in ENVIRONMENT:
            monkeypatch.setenv(name, env[name])
        rescan_devices()
        try:
            yield env
        finally:
            monkeypatch.undo()
            rescan_devices()  # later tests see no server that is gone


def rescan_devices() -> None:
    """PortAudio lists the devices once, when sounddevice is imported: an earlier camera test in this
    process (no sound server then) left it with no default input. Terminating and initialising
    PortAudio again (sounddevice's way to re-scan) lists this server's devices."""
    import sys

    sounddevice = sys.modules.get("sounddevice")
    if sounddevice is not None:
        sounddevice._terminate()
        sounddevice._initialize()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Mono float samples in [-1, 1] as a 16-bit WAV file (what paplay plays)."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def play(path: Path, env: dict[str, str]) -> subprocess.Popen:
    """Plays a WAV file into the fake microphone (returns at once; wait() for its end)."""
    return subprocess.Popen(["paplay", str(path)], env=env)


def emit(samples: np.ndarray, rate: int, on_start=None) -> float:
    """Plays `samples` into the fake microphone through PortAudio; returns when sample 0 reached the
    sink, on the monotonic clock (PortAudio's DAC time of the first buffer). `on_start(time)` is
    called with that time as soon as it is known, while the sound still plays."""
    import sounddevice

    padded = np.concatenate([samples.astype(np.float32), np.zeros(rate // 5, np.float32)])
    position, started = 0, []

    def fill(out, frames, times, status):
        nonlocal position
        if not started:
            started.append(time.monotonic() - (stream.time - times.outputBufferDacTime))
            if on_start is not None:
                on_start(started[0])
        piece = padded[position:position + frames]
        out[:len(piece), 0], out[len(piece):, 0] = piece, 0
        position += frames
        if position >= len(padded):
            raise sounddevice.CallbackStop

    stream = sounddevice.OutputStream(samplerate=rate, channels=1, dtype="float32", blocksize=rate // 100,
                                      callback=fill)
    with stream:
        while stream.active:
            time.sleep(0.01)
    return started[0]
