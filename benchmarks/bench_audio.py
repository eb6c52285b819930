"""Sound benchmarks, each a ratio against a reference measured in the same run.

1. Headless frame rate with sound: the one-face demo clip (640x480, 30 FPS) with a speech-like
   track, analysed to an annotated output.avi with its sound (the default) against --no-audio.
2. The camera's writer: the same frames to recording.MicrophoneVideoSink's writer (PyAV, with a
   16 kHz microphone track) as .avi (MJPEG + PCM) and .mp4 (H.264 + AAC), against OpenCV's
   silent MJPEG writer (today's output.avi without a microphone).
3. Live cue latency through a real fake microphone (PulseAudio, tests/fake_microphone.py): the
   tests' espeak-ng take is played into it, and a CueListener fed by a MicrophoneRecorder reports
   each line; latency = when the frame loop could see the cue minus when the line began (target:
   median <= 0.6 s). Needs pulseaudio and espeak-ng. The offline aligner's CPU seconds per second
   of audio are in benchmarks/bench_speech.py.

    .venv/bin/python benchmarks/bench_audio.py [--frames 300] [--repeats 4] [--no-live]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from acting_mirror import demo  # noqa: E402
from acting_mirror.audio.microphone import AudioChunk  # noqa: E402
from acting_mirror.audio.mux import AudioVideoWriter  # noqa: E402
from acting_mirror.audio.soundtrack import add_soundtrack  # noqa: E402

FPS, MIC_RATE, TRACK_RATE = 30, 16000, 48000


def clip_with_sound(path: Path, frames: list[np.ndarray]) -> Path:
    """The frames at FPS (MJPEG) with a 48 kHz track of noise bursts, a take's sound."""
    seconds = len(frames) / FPS
    rng = np.random.default_rng(0)
    sound = (0.2 * rng.standard_normal(round(seconds * TRACK_RATE)) *
             (np.sin(np.arange(round(seconds * TRACK_RATE)) / TRACK_RATE * 3) > 0)).astype(np.float32)
    with av.open(str(path), "w") as container:
        video = container.add_stream("mjpeg", rate=FPS)
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuvj420p"
        audio = container.add_stream("pcm_s16le", rate=TRACK_RATE, layout="mono")
        for image in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(video.encode(None))
        frame = av.AudioFrame.from_ndarray((sound * 32767).astype(np.int16).reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate, frame.pts = TRACK_RATE, 0
        container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    return path


def headless_rate(clip: Path, output: Path, audio: bool) -> tuple[float, str]:
    """Frames per second of a whole headless run (loop, writer, sound) and its video line."""
    from acting_mirror.api import analyze, default_config

    config = default_config().override(output={"audio": audio})
    began = time.perf_counter()
    run = analyze(str(clip), config=config, video_output=output, log=lambda _: None).run
    return run.frames / (time.perf_counter() - began), run.lines()[-1]


def opencv_rate(frames: list[np.ndarray], path: Path) -> float:
    height, width = frames[0].shape[:2]
    began = time.perf_counter()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
    for image in frames:
        writer.write(image)
    writer.release()
    return len(frames) / (time.perf_counter() - began)


def microphone_writer_rate(frames: list[np.ndarray], path: Path) -> float:
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, MIC_RATE // FPS).astype(np.float32)  # a frame's sound
    began = time.perf_counter()
    writer = AudioVideoWriter(path, FPS, MIC_RATE)
    try:
        for index, image in enumerate(frames):
            writer.add_audio(AudioChunk(index / FPS, noise, MIC_RATE))
            writer.write_frame(image)
    finally:
        writer.close()
    return len(frames) / (time.perf_counter() - began)


def live_cue_latencies(folder: Path) -> list[float]:
    """Seconds from each scripted line's start to its cue being handed to the frame loop."""
    from acting_mirror.audio.live_cues import CueListener
    from acting_mirror.audio.microphone import MicrophoneRecorder
    from tests.fake_microphone import ENVIRONMENT, emit, pulse_server
    from tests.test_speech_alignment import LINES, RATE, make_take

    take, truth = make_take(folder, 20)
    with pulse_server(folder) as env:
        os.environ.update({name: env[name] for name in ENVIRONMENT})
        clock_start = time.monotonic()
        with MicrophoneRecorder(clock_start) as microphone:
            listener = CueListener(LINES, microphone)
            emit(np.zeros(RATE // 10, np.float32), RATE)  # PulseAudio's first stream starts late
            started: list[float] = []
            player = threading.Thread(target=lambda: emit(take, RATE, on_start=started.append))
            player.start()
            seen: dict[int, float] = {}
            while player.is_alive():
                for heard in listener.heard():  # polled as the frame loop does, every frame at 30 FPS
                    seen[heard.index] = time.monotonic()
                time.sleep(1 / FPS)
            player.join()
            time.sleep(0.5)
            for heard in listener.heard():
                seen[heard.index] = time.monotonic()
            listener.close()
    return [seen[index] - (started[0] + truth[index][0]) for index in sorted(seen) if index in truth]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=4, help="headless runs of each kind")
    parser.add_argument("--no-live", action="store_true", help="skip the fake-microphone latency")
    args = parser.parse_args(argv)
    frames = list(demo.synth_frames("one", args.frames, (640, 480)))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        clip = clip_with_sound(folder / "take.avi", frames)
        headless_rate(clip, folder / "warm.avi", False)  # model load and first-call costs out of the runs
        rates: dict[bool, list[float]] = {False: [], True: []}
        for repeat in range(args.repeats):  # alternated, the best of each: a shared machine's noise is one-sided
            for audio in ((False, True) if repeat % 2 == 0 else (True, False)):
                rate, line = headless_rate(clip, folder / f"{audio}.avi", audio)
                assert ("with the source's sound" in line) == audio, line
                rates[audio].append(rate)
        silent, with_sound = max(rates[False]), max(rates[True])
        began = time.perf_counter()  # what the sound adds, measured alone: the remux after the run
        add_soundtrack(folder / "False.avi", clip, args.frames, FPS)
        remux_s = time.perf_counter() - began
        print(f"headless run, one face, 640x480, {args.frames} frames, output.avi:")
        print(f"  {'--no-audio (reference)':34s} {silent:7.1f} frames/s   (best of {args.repeats})")
        print(f"  {'with the take sound':34s} {with_sound:7.1f} frames/s   x{with_sound / silent:.2f}")
        print(f"  the sound's own cost (its remux): {remux_s:.2f} s, {remux_s * silent / args.frames:.1%} of the run")
        opencv_rate(frames[:10], folder / "warm2.avi")
        reference = opencv_rate(frames, folder / "opencv.avi")
        print("camera writer, 640x480:")
        print(f"  {'OpenCV MJPEG, silent (reference)':34s} {reference:7.1f} frames/s")
        for name in ("mic.avi", "mic.mp4"):
            rate = microphone_writer_rate(frames, folder / name)
            label = "PyAV MJPEG + PCM .avi" if name.endswith(".avi") else "PyAV H.264 + AAC .mp4"
            print(f"  {label:34s} {rate:7.1f} frames/s   x{rate / reference:.2f}")
        if not args.no_live:
            latencies = live_cue_latencies(folder)
            print(f"live cue latency through the fake microphone: {len(latencies)} of 3 lines, median "
                  f"{statistics.median(latencies):.2f} s, max {max(latencies):.2f} s (target: median <= 0.6 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
