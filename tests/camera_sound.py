"""A camera run with a microphone, in its own process (PortAudio reads its devices once per process,
so each run gets the fake microphone it is started with): the command line's path, api.analyze,
over a tests.helpers.FaceCamera opened after the model loaded. Prints one JSON line at the end.

    python tests/camera_sound.py OUTPUT MODE [--device NAME] [--no-audio] [--show] [--without-sounddevice]
                                             [--script YAML --report DIR --take WAV --seconds S]

MODE: "clap"  - a white frame at the instant a beep reaches the microphone (measured on the
                playing side), after 2 s; the run stops after 5 s
      "speech" - the --take WAV file is played into the microphone from the start; runs --seconds
      "interrupt" - a tone plays; "recording" is printed after 3 s; the run waits for Ctrl-C (or q)
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_microphone import emit  # noqa: E402
from tests.helpers import FaceCamera  # noqa: E402

FPS = 15
RATE = 16000


class ClapCamera(FaceCamera):
    """A FaceCamera that gives a white frame at `flash_at` (monotonic time), the moment it is set to."""

    def __init__(self, fps: float, duration_s: float):
        super().__init__(fps, duration_s)
        self.flash_at: float | None = None
        self.frames_read = 0
        self.flashed_at: float | None = None

    def read(self):
        while self._next_at is not None and time.monotonic() < self._next_at:
            if self.flash_at is not None and self.flash_at <= self._next_at:
                time.sleep(max(0.0, self.flash_at - time.monotonic()))
                self.flashed_at, self.flash_at = time.monotonic(), None
                self._next_at = self.flashed_at + self._interval
                return True, np.full_like(self._frames[0], 255)
            time.sleep(min(0.005, max(0.0, self._next_at - time.monotonic())))
        self.frames_read += 1
        return super().read()


def main() -> int:
    from acting_mirror.api import analyze
    from acting_mirror.config import Config
    from acting_mirror.sources import open_camera

    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("mode", choices=("clap", "speech", "interrupt"))
    parser.add_argument("--device", default="")
    parser.add_argument("--no-audio", action="store_true")
    parser.add_argument("--script")
    parser.add_argument("--report")
    parser.add_argument("--take")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--show", action="store_true", help="the mirror's windows (on $DISPLAY)")
    parser.add_argument("--without-sounddevice", action="store_true",
                        help="a machine without sounddevice / PortAudio: importing it fails")
    args = parser.parse_args()
    if args.without_sounddevice:
        sys.modules["sounddevice"] = None  # what Python does for a module that must not load: ImportError
    seconds = {"clap": 5.0, "speech": args.seconds, "interrupt": 600.0}[args.mode]
    camera = ClapCamera(FPS, seconds)
    events: dict[str, float] = {}

    def opened():
        source = open_camera(0, fps=FPS, capture_factory=lambda index: camera)
        threading.Thread(target=act, args=(source.clock_start,), daemon=True).start()
        return source

    def act(clock_start: float) -> None:
        while camera.frames_read < 2:
            time.sleep(0.01)
        if args.without_sounddevice:  # nothing can play either: only the white frame, at 2 s
            time.sleep(max(0.0, 2.0 - (time.monotonic() - clock_start)))
            camera.flash_at = time.monotonic() + 0.05
            return
        emit(np.zeros(RATE // 10, np.float32), RATE)  # PulseAudio's first stream starts late
        if args.mode == "speech":
            with wave.open(args.take) as take:
                rate = take.getframerate()
                speech = np.frombuffer(take.readframes(take.getnframes()), "<i2").astype(np.float32) / 32768
            events["played_s"] = emit(speech, rate) - clock_start
            return
        time.sleep(max(0.0, 2.0 - (time.monotonic() - clock_start)))
        if args.mode == "clap":
            t = np.arange(RATE // 5) / RATE
            beep = (0.6 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
            played = emit(beep, RATE, on_start=lambda at: setattr(camera, "flash_at", at))
            events["beep_s"] = played - clock_start
        else:
            t = np.arange(RATE) / RATE
            tone = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
            emit(tone, RATE)
            print("recording", flush=True)
            while True:
                emit(tone, RATE)

    notes: list[str] = []
    config = Config().override(source={"camera_fps": float(FPS)},
                               output={"audio": not args.no_audio, "audio_device": args.device})
    analysis = analyze(opened, config=config, video_output=args.output, script=args.script, report_dir=args.report,
                       log=notes.append, show=args.show)
    print(json.dumps({"frames": analysis.run.frames, "output_frames": analysis.run.output_frames,
                      "stopped_by": analysis.run.stopped_by.value, "summary": analysis.run.lines(), "notes": notes,
                      "cues": analysis.cues, **events}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
