"""Camera rate: today's capture loop against this one, case by case, in the same run.

The reference is the code of another checkout (by default the commit before this work,
added as a temporary git worktree), run in a subprocess on the same frames. Each case
prints both headless frame rates (detect, classify, track, draw, write an MJPG file),
their ratio, how many face-frames show the same label as when every face is classified
every frame (model.classify_every = 1: "agreement"), and as the reference code shows
("vs before", faces paired by box overlap).

    .venv/bin/python benchmarks/bench_rate.py [--base PATH_OR_COMMIT] [--frames N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_COMMIT = "e22963c"  # the main branch before the camera-rate work

# name -> (demo scenario, (width, height), frames relative to --frames)
CASES = {
    "one face 1280x720": ("one", (1280, 720), 1.0),
    "one face 1920x1080": ("one", (1920, 1080), 1.0),
    "crowd 800x1000 portrait": ("mixed crowd", (800, 1000), 0.5),
    "crowd 1920x1080": ("mixed crowd", (1920, 1080), 0.5),
    "crowd 1280x720": ("mixed crowd", (1280, 720), 0.5),
    "demo clip 640x480": ("demo", (640, 480), 1.0),
}
WARMUP_FRAMES = 8


def measure(case: str, frames: int, every: int | None, out: Path) -> dict:
    """One case with the code on sys.path: frames per second and each frame's labels."""
    sys.path.insert(0, os.getcwd())
    from acting_mirror import demo
    from acting_mirror.app import MirrorApp, build_pipeline
    from acting_mirror.config import Config
    from acting_mirror.sinks import VideoSink
    from acting_mirror.track import FaceTracker
    from benchmarks.bench_pipeline import ListSource

    scenario, size, _ = CASES[case]
    images = list(demo.synth_frames(scenario, frames, size))
    config = Config().override(display={"details": False, "graph": False})
    if every is not None:
        config = config.override(model={"classify_every": every})
    pipeline = build_pipeline(config)
    labels: list[list] = []
    process = pipeline.process

    def recorded(frame):
        result = process(frame)
        labels.append(sorted([[f.box.x, f.box.y, f.box.w, f.box.h], f.label] for f in result.faces))
        return result

    pipeline.process = recorded
    fps = 0.0
    for count in (WARMUP_FRAMES, frames):  # a warm-up run, then the timed one
        pipeline.tracker = FaceTracker(pipeline.labels, config.tracking)
        pipeline.restart()
        labels.clear()
        app = MirrorApp(config, pipeline, ListSource(images[:count]), video=VideoSink(out, 30.0, "MJPG"),
                        pace=False, log=lambda _: None)
        started = time.perf_counter()
        summary = app.run()
        fps = summary.frames / (time.perf_counter() - started)
    return {"fps": fps, "labels": labels}


def run_side(code_root: Path, case: str, frames: int, every: int | None, out: Path) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", case, "--frames", str(frames),
               "--out", str(out)]
    if every is not None:
        command += ["--every", str(every)]
    done = subprocess.run(command, cwd=code_root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(code_root), "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        raise SystemExit(f"{case} failed in {code_root}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def agreement(shown: list, reference: list) -> float:
    """Share of face-frames with the same label as the reference's face in the same frame
    at the same place (the box overlapping it most, IoU > 0.5: the before side's detector
    may place a box a pixel apart)."""
    same = total = 0
    for faces, reference_faces in zip(shown, reference, strict=True):
        for box, label in faces:
            total += 1
            overlaps = [(iou(box, other), other_label) for other, other_label in reference_faces]
            best = max(overlaps, default=(0.0, None))
            same += best[0] > 0.5 and best[1] == label
    return same / total if total else 1.0


def iou(first, second) -> float:
    (x0, y0, w0, h0), (x1, y1, w1, h1) = first, second
    width = max(0, min(x0 + w0, x1 + w1) - max(x0, x1))
    height = max(0, min(y0 + h0, y1 + h1) - max(y0, y1))
    union = w0 * h0 + w1 * h1 - width * height
    return width * height / union if union else 0.0


def base_checkout(base: str) -> Path:
    path = Path(base)
    if path.is_dir():
        return path
    path = Path(tempfile.gettempdir()) / f"rate_base_{base}"
    if not path.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), base], check=True,
                       capture_output=True)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=BASE_COMMIT, help="reference checkout folder or commit")
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--json")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--every", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.frames, args.every, Path(args.out))))
        return 0

    base = base_checkout(args.base)
    rows = {}
    print(f"{'case':26s} {'before':>8s} {'after':>8s} {'ratio':>6s} {'agreement':>10s} {'vs before':>10s}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.avi"
        for case in args.cases:
            frames = max(WARMUP_FRAMES, round(args.frames * CASES[case][2]))
            before = run_side(base, case, frames, None, out)
            after = run_side(ROOT, case, frames, None, out)
            every_frame = run_side(ROOT, case, frames, 1, out)
            row = {"frames": frames, "before_fps": before["fps"], "after_fps": after["fps"],
                   "ratio": after["fps"] / before["fps"],
                   "agreement": agreement(after["labels"], every_frame["labels"]),
                   "after_matches_before": agreement(after["labels"], before["labels"])}
            rows[case] = row
            print(f"{case:26s} {row['before_fps']:8.1f} {row['after_fps']:8.1f} {row['ratio']:6.2f} "
                  f"{row['agreement']:10.1%} {row['after_matches_before']:10.1%}",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
