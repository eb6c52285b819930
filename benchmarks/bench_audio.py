"""Output writing with sound against today's silent writer, measured in the same run.

The frames of the one-face demo clip (1280x720) go to OpenCV's MJPEG VideoWriter (today's
output.avi) and to acting_mirror.audio.mux's AudioVideoWriter with a 48 kHz track, as `.avi`
(MJPEG + PCM) and `.mp4` (H.264 + AAC). Printed: frames per second of each and the ratio to
OpenCV's; absolute numbers on a shared machine are noise, the ratio is the result.

    .venv/bin/python benchmarks/bench_audio.py [--frames 150]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from acting_mirror.audio.track import AudioChunk  # noqa: E402

from acting_mirror.audio.mux import AudioVideoWriter  # noqa: E402
from acting_mirror.demo import synth_frames  # noqa: E402

FPS, RATE = 25, 48000


def opencv_rate(frames: list[np.ndarray], path: Path) -> float:
    height, width = frames[0].shape[:2]
    began = time.perf_counter()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
    for image in frames:
        writer.write(image)
    writer.release()
    return len(frames) / (time.perf_counter() - began)


def sound_rate(frames: list[np.ndarray], path: Path) -> float:
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, RATE // FPS).astype(np.float32)  # one frame of sound
    began = time.perf_counter()
    with AudioVideoWriter(path, FPS, sample_rate=RATE) as writer:
        for index, image in enumerate(frames):
            writer.write_frame(image)
            writer.write_audio(AudioChunk(index / FPS, noise, RATE))
    return len(frames) / (time.perf_counter() - began)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args(argv)
    frames = list(synth_frames("one", args.frames, (1280, 720)))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        opencv_rate(frames[:10], folder / "warm.avi")  # first-call costs out of the measurement
        reference = opencv_rate(frames, folder / "silent.avi")
        rows = [("OpenCV MJPEG, silent (today)", reference),
                ("PyAV MJPEG + PCM .avi", sound_rate(frames, folder / "sound.avi")),
                ("PyAV H.264 + AAC .mp4", sound_rate(frames, folder / "sound.mp4"))]
    for name, rate in rows:
        print(f"{name:32s} {rate:7.1f} frames/s   x{rate / reference:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
