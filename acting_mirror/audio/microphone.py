"""Recording a microphone with sounddevice (PortAudio) into timestamped `AudioChunk`s.

Timestamps are on the monotonic clock the live video frames use: `start_seconds` is seconds since
the `clock_start` given (the camera source's `clock_start`), so audio and video line up by their
timestamps, not by when each started. Samples are float32 in [-1, 1], mono, shape (n,).

Several readers take the same sound (the recording, the live cue follower): each gets its own
queue from `listen()`, filled by PortAudio's callback, so a slow reader never delays another.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from acting_mirror.errors import MirrorError

SAMPLE_RATE = 16000   # what speech recognition needs, and plenty for a rehearsal's voice
BLOCK_S = 0.05        # PortAudio hands over this much sound at a time: the live cue follower hears a line
                      # ~0.06 s sooner than with 0.1 s blocks (median 0.96-0.98 s vs 1.04 s, bench_audio.py)


class MicrophoneUnavailable(MirrorError):
    """No PortAudio, no such device, or the device refused to open."""


@dataclass(frozen=True)
class AudioChunk:
    """A run of consecutive samples and when its first sample was.

    start_seconds: time of samples[0], on the clock of the video frames it goes with.
    samples: float32 mono in [-1, 1], shape (n,).
    sample_rate: samples per second.
    """

    start_seconds: float
    samples: np.ndarray
    sample_rate: int

    @property
    def end_seconds(self) -> float:
        return self.start_seconds + len(self.samples) / self.sample_rate


def parse_device(text: str | int | None) -> int | str | None:
    """A device as the user gave it: a whole number is PortAudio's index, anything else (part of) a name."""
    if text is None or text == "":
        return None
    if isinstance(text, int) or str(text).strip().isdigit():
        return int(text)
    return str(text)


class MicrophoneRecorder:
    """A running input stream whose chunks go to every queue handed out by `listen()`.

    device: a sounddevice device index or (part of a) name; None is the default input.
    clock_start: `time.monotonic()` value that chunk times count from (the video source's).
    Raises MicrophoneUnavailable (one line) when recording cannot start.
    """

    def __init__(self, clock_start: float, device: int | str | None = None, sample_rate: int = SAMPLE_RATE,
                 block_s: float = BLOCK_S):
        try:
            import sounddevice
        except (ImportError, OSError) as error:  # OSError: the module is there, libportaudio is not
            raise MicrophoneUnavailable(f"cannot record sound ({error})") from None
        self.clock_start = clock_start
        self.sample_rate = sample_rate
        self.device = device
        self._listeners: list[queue.Queue[AudioChunk]] = []
        self._lock = threading.Lock()
        self._first_s: float | None = None  # start_seconds of the first sample recorded
        self._recorded = 0  # samples recorded so far
        self._stream = None
        try:
            self._stream = sounddevice.InputStream(
                samplerate=sample_rate, channels=1, dtype="float32", device=device,
                blocksize=max(1, round(block_s * sample_rate)), callback=self._on_block)
            self._stream.start()
        except Exception as error:  # PortAudioError, ValueError (no such device): both one line
            self.close()
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            if reason.startswith("Error querying device"):  # PortAudio's words for a device that is not there
                reason = "no input device found" if device is None else "no such device"
            raise MicrophoneUnavailable(f"cannot record from {self.name} ({reason})") from None

    @property
    def name(self) -> str:
        return "the default microphone" if self.device is None else f"microphone {self.device}"

    def listen(self) -> queue.Queue[AudioChunk]:
        """A new queue that receives every chunk recorded from now on, oldest first."""
        listener: queue.Queue[AudioChunk] = queue.Queue()
        with self._lock:
            self._listeners.append(listener)
        return listener

    @property
    def recorded_until_s(self) -> float | None:
        """The end of the sound recorded so far, on the chunks' clock (None before the first block)."""
        if self._first_s is None:
            return None
        return self._first_s + self._recorded / self.sample_rate

    def _on_block(self, data: np.ndarray, frames: int, times, status) -> None:
        # Chunks are placed by counting samples from the recording's start. The start is the earliest
        # (arrival - samples recorded so far): a block cannot arrive before its last sample was
        # recorded. PortAudio's own ADC times were measured 0.3-0.6 s off through PulseAudio's ALSA
        # plugin; this estimate matched the playing side's DAC times within 5 ms.
        arrived_s = time.monotonic() - self.clock_start
        start_s = arrived_s - (self._recorded + frames) / self.sample_rate
        self._first_s = start_s if self._first_s is None else min(self._first_s, start_s)
        chunk = AudioChunk(self._first_s + self._recorded / self.sample_rate, data[:, 0].copy(), self.sample_rate)
        self._recorded += frames
        with self._lock:
            for listener in self._listeners:
                listener.put(chunk)

    def close(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            try:
                stream.stop()
            finally:
                stream.close()

    def __enter__(self) -> MicrophoneRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_microphone(clock_start: float, device: int | str | None, log) -> MicrophoneRecorder | None:
    """The microphone recording on the camera's clock, or None after one line saying why not
    (no PortAudio, no such device): the run then goes on silent."""
    try:
        return MicrophoneRecorder(clock_start, device)
    except MicrophoneUnavailable as error:
        log(f"note: {error}; recording without sound")
        return None
