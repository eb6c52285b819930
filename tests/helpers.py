"""What the tests share: running the command line as a user would (a subprocess), reading
its outputs back (videos, timelines, one-line errors), and one fake camera filming the demo
face in real time (cv2.VideoCapture's interface).

    python tests/helpers.py OUTPUT.avi SECONDS [--graph] [--details]

runs the mirror with windows on $DISPLAY over a 30 fps FaceCamera for SECONDS and prints
the run's summary as JSON. A fresh process, because what a real start costs (matplotlib's
first import and figure when the graph is on) must happen during the run, as it does
for a user.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCENE = ROOT / "examples" / "scene.yaml"
SIZE = (320, 240)  # the clips' and the fake camera's frame size


# -- the command line -------------------------------------------------------


def run_cli(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m acting_mirror ARGS` in `cwd`, headless unless `env` gives a DISPLAY."""
    environment = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "TF_CPP_MIN_LOG_LEVEL": "3",
                   **(env or {})}
    return subprocess.run([sys.executable, "-m", "acting_mirror", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=environment)


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    # the one notice that may come before an error: which config file is in force
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and "XNNPACK" not in line and not line.startswith("acting-mirror: settings from ")]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]


# -- outputs ----------------------------------------------------------------


def read_video(path: str | Path) -> tuple[list[np.ndarray], float, tuple[int, int]]:
    """(frames, fps, (width, height)) of a video OpenCV can play; fails the test otherwise."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"{path} is not a playable video"
    fps = capture.get(cv2.CAP_PROP_FPS)
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames, fps, size


def video_info(path: Path) -> tuple[int, tuple[int, int], float, list[np.ndarray]]:
    frames, fps, size = read_video(path)
    return len(frames), size, fps, frames


def read_timeline(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# -- a fake camera --------------------------------------------------------


class FaceCamera:
    """A capture device (the `capture_factory` interface) filming the demo face at `fps`
    in real time, for at most `duration_s` seconds; then it stops giving pictures."""

    def __init__(self, fps: float, duration_s: float, size: tuple[int, int] = SIZE):
        from acting_mirror import demo

        frames = list(demo.synth_frames("one", 40, size))
        self._frames = frames + frames[::-1]  # back and forth, so the face never jumps
        self._interval = 1.0 / fps
        self._ends_at = time.monotonic() + duration_s
        self._next_at: float | None = None
        self._count = 0
        self.released = False

    def isOpened(self) -> bool:  # cv2.VideoCapture's method names
        return not self.released

    def read(self):
        now = time.monotonic()
        if self.released or now >= self._ends_at:
            time.sleep(self._interval)
            return False, None
        self._next_at = now if self._next_at is None else self._next_at
        if self._next_at > now:
            time.sleep(self._next_at - now)
        self._next_at += self._interval
        image = self._frames[self._count % len(self._frames)].copy()
        self._count += 1
        return True, image

    def get(self, prop: int) -> float:
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        self.released = True


def camera_run(output: Path, seconds: float, graph: bool, details: bool) -> dict:
    """The command line's path (api.analyze with windows) over a FaceCamera opened after the model loaded."""
    from acting_mirror.api import analyze
    from acting_mirror.config import Config
    from acting_mirror.sources import open_camera

    config = Config().override(display={"graph": graph, "details": details}, source={"camera_fps": 30.0})
    run = analyze(lambda: open_camera(0, fps=30.0, capture_factory=lambda index: FaceCamera(30.0, seconds)),
                  config=config, show=True, video_output=output, log=lambda _: None).run
    return {"frames": run.frames, "seconds": run.seconds, "output_frames": run.output_frames,
            "stopped_by": run.stopped_by.value}


if __name__ == "__main__":
    arguments = sys.argv[1:]
    print(json.dumps(camera_run(Path(arguments[0]), float(arguments[1]), "--graph" in arguments,
                                "--details" in arguments)))
