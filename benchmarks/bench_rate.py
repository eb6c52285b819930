"""Camera rate: earlier code's capture loop against this one, case by case, in the same run.

Each side is a checkout (by default the commit before any camera-rate work, and the main
branch this work started from, each added as a temporary git worktree) run in a subprocess
on the same frames; the repetitions are interleaved (before, main, after, before, ...) and
medians count, because the machine's other work comes and goes. Each case prints the
headless frame rates (detect, classify, track, draw, write an MJPG file), their ratios, the
ratios of CPU time a frame (all the process's threads: steadier than the frame rate on a
machine shared with other work, blind to work moved onto an idle core), and the share of
face-frames whose label is the one shown when every face is classified every frame on a
detection of the whole frame every frame (this code with model.classify_every = 1 and
detector.full_frame_every = 1: "agreement"; a face that one side shows and the other does
not counts as a disagreement), and the same against the first base's labels ("vs before";
faces paired by box overlap). With --windows, a case also runs with the three windows open
on a private Xvfb (X11 with OpenCV's HighGUI).

    .venv/bin/python benchmarks/bench_rate.py [--bases COMMIT ...] [--frames N] [--repeats N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_COMMITS = ("e22963c", "d472f7e")  # main before the camera-rate work; main when this work started

# name -> (demo scenario, (width, height), frames relative to --frames)
CASES = {
    "one face 1280x720": ("one", (1280, 720), 1.0),
    "one face 1920x1080": ("one", (1920, 1080), 1.0),
    "crowd 800x1000 portrait": ("mixed crowd", (800, 1000), 0.5),
    "crowd 1920x1080": ("mixed crowd", (1920, 1080), 0.5),
    "crowd 1280x720": ("mixed crowd", (1280, 720), 0.5),
    "demo clip 640x480": ("demo", (640, 480), 1.0),
    "one face rolling 1280x720": ("roll", (1280, 720), 1.0),
}
WARMUP_FRAMES = 8


def measure(case: str, frames: int, reference: bool, windows: bool, out: Path) -> dict:
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
    config = Config().override(display={"details": windows, "graph": windows})
    if reference:
        config = config.override(model={"classify_every": 1}, detector={"full_frame_every": 1})
    pipeline = build_pipeline(config)
    labels: list[list] = []
    process = pipeline.process

    def recorded(frame):
        result = process(frame)
        labels.append(sorted([[f.box.x, f.box.y, f.box.w, f.box.h], f.label] for f in result.faces))
        return result

    pipeline.process = recorded
    fps = 0.0
    shown = None
    if windows:
        from acting_mirror.display import Windows

        shown = Windows()
    for count in (WARMUP_FRAMES, frames):  # a warm-up run, then the timed one
        pipeline.tracker = FaceTracker(pipeline.labels, config.tracking)
        pipeline.restart()
        labels.clear()
        app = MirrorApp(config, pipeline, ListSource(images[:count]), windows=shown,
                        video=VideoSink(out, 30.0, "MJPG"), pace=False, log=lambda _: None)
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = app.run()
        fps = summary.frames / (time.perf_counter() - started)
        cpu_ms = (time.process_time() - cpu_started) * 1000 / summary.frames
    if shown is not None:
        shown.close_all()
    return {"fps": fps, "cpu_ms": cpu_ms, "labels": labels}


def run_side(code_root: Path, case: str, frames: int, out: Path, reference: bool = False,
             windows: bool = False) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", case, "--frames", str(frames),
               "--out", str(out)] + ["--reference"] * reference + ["--windows"] * windows
    done = subprocess.run(command, cwd=code_root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(code_root), "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        raise SystemExit(f"{case} failed in {code_root}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def agreement(shown: list, reference: list) -> float:
    """Share of face-frames with the same label on both sides: a face of one side pairs with
    the face of the other in the same frame that overlaps it most (IoU > 0.5: the sides'
    detectors may place a box a few pixels apart); a face with no partner disagrees."""
    same = total = 0
    for faces, reference_faces in zip(shown, reference, strict=True):
        partners = 0
        for box, label in reference_faces:
            overlaps = [(iou(box, other), other_label) for other, other_label in faces]
            best = max(overlaps, default=(0.0, None))
            partners += best[0] > 0.5
            same += best[0] > 0.5 and best[1] == label
        total += len(reference_faces) + max(0, len(faces) - partners)
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


def compare(case: str, frames: int, bases: dict[str, Path], repeats: int, out: Path, windows: bool) -> dict:
    """Frame rates (medians of interleaved repetitions), ratios and agreement of one case."""
    sides = {**bases, "after": ROOT}
    rates: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    labels: dict[str, list] = {}
    for repeat in range(repeats):
        names = list(sides)
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:  # a new order each round
            result = run_side(sides[name], case, frames, out, windows=windows)
            rates[name].append(result["fps"])
            cpu[name].append(result["cpu_ms"])
            labels[name] = result["labels"]
    every_face = run_side(ROOT, case, frames, out, reference=True)["labels"]
    first = next(iter(bases))
    row = {"frames": frames, "fps": {name: statistics.median(values) for name, values in rates.items()},
           "cpu_ms": {name: statistics.median(values) for name, values in cpu.items()},
           "runs": rates, "agreement": agreement(labels["after"], every_face),
           "vs_before": agreement(labels["after"], labels[first])}
    row["ratio"] = {name: row["fps"]["after"] / row["fps"][name] for name in bases}
    # CPU time a frame (every thread of the process): what a machine shared with other work shows best
    row["cpu_ratio"] = {name: row["cpu_ms"][name] / row["cpu_ms"]["after"] for name in bases}
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bases", nargs="+", default=list(BASE_COMMITS), help="reference checkouts or commits")
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--windows", action="store_true", help="also each case with the three windows open (Xvfb)")
    parser.add_argument("--json")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.frames, args.reference, args.windows, Path(args.out))))
        return 0

    bases = {base: base_checkout(base) for base in args.bases}
    rows = {}
    header = "".join(f"{name[:10]:>11s}" for name in [*bases, "after"])
    ratios = "".join(f"{'x ' + name[:8]:>11s}" for name in bases)
    cpu_ratios = "".join(f"{'cpu x ' + name[:7]:>14s}" for name in bases)
    print(f"{'case':34s}{header}{ratios}{cpu_ratios} {'agreement':>10s} {'vs before':>10s}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, display_for(args.windows):
        out = Path(tmp) / "out.avi"
        for case in args.cases:
            frames = max(WARMUP_FRAMES, round(args.frames * CASES[case][2]))
            for windows in (False, True) if args.windows else (False,):
                name = f"{case}{', windows' if windows else ''}"
                row = rows[name] = compare(case, frames, bases, args.repeats, out, windows)
                fps = "".join(f"{row['fps'][side]:11.1f}" for side in [*bases, "after"])
                ratio = "".join(f"{row['ratio'][side]:11.2f}" for side in bases)
                cpu_ratio = "".join(f"{row['cpu_ratio'][side]:14.2f}" for side in bases)
                print(f"{name:34s}{fps}{ratio}{cpu_ratio} {row['agreement']:10.1%} {row['vs_before']:10.1%}",
                      flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


class display_for:
    """A private Xvfb for the windowed cases (DISPLAY points at it meanwhile); nothing without."""

    def __init__(self, wanted: bool):
        self.wanted, self.server, self.previous = wanted, None, None

    def __enter__(self):
        if self.wanted:
            read_end, write_end = os.pipe()  # Xvfb writes the display number it picked
            self.server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-noreset", "-screen", "0",
                                            "2560x1600x24", "-nolisten", "tcp"], pass_fds=(write_end,),
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os.close(write_end)
            with os.fdopen(read_end, "rb") as announced:
                number = announced.readline().strip().decode()
            self.previous = os.environ.get("DISPLAY")
            os.environ["DISPLAY"] = f":{number}"
        return self

    def __exit__(self, *exc):
        if self.server is not None:
            self.server.terminate()
            self.server.wait()
            if self.previous is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = self.previous


if __name__ == "__main__":
    raise SystemExit(main())
