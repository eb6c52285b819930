"""The loudness envelope and the sound strip under the report's emotion lanes."""

from __future__ import annotations

import numpy as np

from acting_mirror.audio.level import FLOOR_DB, sound_level
from acting_mirror.render.graph import emotion_over_time_chart

LABELS = ("angry", "disgust", "scared", "happy", "sad", "surprised", "neutral")
RATE = 16000


def tone_take() -> np.ndarray:
    """4 s: silence, a 440 Hz tone at half scale from 2 s to 3 s, silence."""
    take = np.zeros(RATE * 4, np.float32)
    t = np.arange(RATE) / RATE
    take[RATE * 2:RATE * 3] = 0.5 * np.sin(2 * np.pi * 440 * t)
    return take


def test_sound_level_is_the_rms_in_dbfs_per_window():
    level = sound_level(tone_take(), RATE, window_s=0.1, start=10.0)
    assert len(level.times) == 40 and level.times[0] == 10.0 and abs(level.times[1] - 10.1) < 1e-9
    loud = level.db[20:30]
    np.testing.assert_allclose(loud, 20 * np.log10(0.5 / np.sqrt(2)), atol=0.2)  # a sine's RMS
    assert (level.db[:20] == FLOOR_DB).all() and (level.db[30:] == FLOOR_DB).all()


def test_the_sound_strip_shows_the_loud_part_under_the_lanes():
    times = np.arange(40) / 10
    rows = np.random.default_rng(1).dirichlet(np.ones(len(LABELS)), size=40)
    shown = [LABELS[int(i)] for i in rows.argmax(axis=1)]
    level = sound_level(tone_take(), RATE)
    chart = emotion_over_time_chart(times, rows, shown, LABELS, sound_level=(level.times, level.db))
    plain = emotion_over_time_chart(times, rows, shown, LABELS)
    assert chart.shape == plain.shape == (460, 960, 3)
    blue, green, red = (chart.astype(int)[..., i] for i in range(3))
    strip_colour = (np.abs(red - 0x4A) < 12) & (np.abs(green - 0x6F) < 12) & (np.abs(blue - 0xA5) < 12)
    rows_with, columns = np.nonzero(strip_colour)
    assert rows_with.size > 0 and rows_with.min() > 460 * 0.7  # at the bottom, under the lanes
    # the tone over 2-3 s of 0-4 s, on an axis from 10% to 84% of the width
    first, last = (960 * (0.1 + 0.74 * t / 4) for t in (2, 3))
    assert abs(columns.min() - first) < 10 and abs(columns.max() - last) < 10
    assert not ((np.abs(plain[..., 2].astype(int) - 0x4A) < 12) & (np.abs(plain[..., 1].astype(int) - 0x6F) < 12)
                & (np.abs(plain[..., 0].astype(int) - 0xA5) < 12)).any()
