"""The loudness of a take over time, for the sound strip under the report's emotion lanes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOOR_DB = -60.0   # quieter than this reads as silence on the strip


@dataclass(frozen=True)
class SoundLevel:
    times: np.ndarray      # window starts, seconds
    db: np.ndarray         # RMS level of each window, dB relative to full scale, >= FLOOR_DB


def sound_level(samples: np.ndarray, sample_rate: int, window_s: float = 0.05, start: float = 0.0) -> SoundLevel:
    """RMS level in dBFS per `window_s` window of mono float audio in [-1, 1]; `start` shifts the times."""
    samples = np.asarray(samples, np.float32).reshape(-1)
    size = max(1, int(round(window_s * sample_rate)))
    count = len(samples) // size
    windows = samples[: count * size].reshape(count, size).astype(np.float64)
    rms = np.sqrt((windows**2).mean(axis=1)) if count else np.zeros(0)
    db = np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), FLOOR_DB)
    return SoundLevel(start + np.arange(count) * size / sample_rate, db)


def take_sound_level(source) -> SoundLevel | None:
    """The loudness of a file or URL take's sound (None: live, or no readable sound), for its report."""
    from acting_mirror.audio.cue_timing import TakeAudioError, read_take_audio

    if source.live or source.media_path is None:
        return None
    try:
        audio = read_take_audio(source.media_path)
    except TakeAudioError:
        return None  # the report stands without its sound strip
    if audio is None:
        return None
    samples, sample_rate, offset_s = audio
    return sound_level(samples, sample_rate, start=offset_s)
