"""A fake camera filming the demo face in real time (cv2.VideoCapture's interface), and a
camera run of the whole app in a fresh process:

    python tests/cameras.py OUTPUT.avi SECONDS [--graph] [--details]

runs the mirror with windows on $DISPLAY over a 30 fps FaceCamera for SECONDS and prints
the run's summary as JSON. A fresh process, because what a real start costs (matplotlib's
first import and figure when the graph is on) must happen during the run, as it does
for a user.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

SIZE = (320, 240)


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
