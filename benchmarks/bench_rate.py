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
detector.full_frame_every = 1: "agreement", over the face-frames both show; "faces -/+":
how many face-frames only the reference shows, and only this code shows), and the same
against the last base's labels ("vs before": the commit before any camera-rate work ran
another model, whose labels differ on faces other than the astronaut's). With --windows,
a case also runs with the three windows open on a private Xvfb (X11 with OpenCV's HighGUI);
with --faces FER_CSV, two cases of FER-2013 faces whose expressions change are added.

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
# with --faces FER_CSV: clips of real FER-2013 faces, whose expressions differ (the astronaut
# smiles in every frame, so her labels cannot show a schedule's or a view's lag)
FACE_CASES = {
    "FER faces, one 1280x720": ("fer one", (1280, 720), 1.0),
    "FER faces, crowd 1280x720": ("fer crowd", (1280, 720), 0.5),
}
FER_FACES = 60             # PublicTest faces used, in file order
FER_CUT_FRAMES = 15        # a FER clip's faces change every this many frames (half a second at 30 FPS)
WARMUP_FRAMES = 8


def measure(case: str, frames: int, reference: bool, windows: bool, out: Path, faces_csv: str | None = None) -> dict:
    """One case with the code on sys.path: frames per second and each frame's labels."""
    sys.path.insert(0, os.getcwd())
    from acting_mirror import demo
    from acting_mirror.app import MirrorApp, build_pipeline
    from acting_mirror.config import Config
    from acting_mirror.sinks import VideoSink
    from acting_mirror.track import FaceTracker
    from benchmarks.bench_pipeline import ListSource

    scenario, size, _ = {**CASES, **FACE_CASES}[case]
    if scenario.startswith("fer"):
        images = fer_frames(fer_faces(Path(faces_csv)), scenario, frames, size)
    else:
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


def fer_faces(path: Path) -> list:
    """The first FER_FACES PublicTest faces of a FER-2013 CSV (gzipped or not), 48x48 grey."""
    import csv
    import gzip

    import numpy as np

    faces = []
    with (gzip.open(path, "rt") if path.suffix == ".gz" else open(path)) as lines:
        for row in csv.DictReader(lines):
            if row["Usage"] == "PublicTest":
                faces.append(np.array(row["pixels"].split(), np.uint8).reshape(48, 48))
                if len(faces) == FER_FACES:
                    break
    return faces


def fer_frames(faces: list, scenario: str, count: int, size: tuple[int, int]) -> list:
    """FER faces enlarged onto the demo background, each place showing the next face every
    FER_CUT_FRAMES frames: one face drifting as the demo's "one", or 20 in a swaying grid."""
    import cv2

    from acting_mirror import demo

    width, height = size
    layouts = [demo.face_layout("one" if scenario == "fer one" else "mixed crowd", index, count, width, height)
               for index in range(count)]
    backdrop = demo.background(width, height)
    frames = []
    for index, layout in enumerate(layouts):
        frame = backdrop.copy()
        for place, (x, y, side) in enumerate(layout):
            face = faces[(place * 7 + index // FER_CUT_FRAMES) % len(faces)]
            inner = side // 2  # a face fills half its demo patch; the background is its margin
            patch = cv2.cvtColor(cv2.resize(face, (inner, inner), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
            demo.paste(frame, patch, x + (side - inner) // 2, y + (side - inner) // 2)
        frames.append(frame)
    return frames


def run_side(code_root: Path, case: str, frames: int, out: Path, reference: bool = False,
             windows: bool = False, faces_csv: str | None = None) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", case, "--frames", str(frames),
               "--out", str(out)] + ["--reference"] * reference + ["--windows"] * windows
    command += ["--faces", faces_csv] if faces_csv else []
    done = subprocess.run(command, cwd=code_root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(code_root), "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        raise SystemExit(f"{case} failed in {code_root}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def agreement(shown: list, reference: list) -> tuple[float, int, int]:
    """The share of face-frames shown by both sides with the same label (a face of one side
    pairs with the face of the other in the same frame that overlaps it most, IoU > 0.5: the
    sides' detectors may place a box a few pixels apart), and how many face-frames only
    the reference shows, and only `shown` shows (a detection difference, not a label's)."""
    same = paired = shown_only = 0
    for faces, reference_faces in zip(shown, reference, strict=True):
        partners = 0
        for box, label in reference_faces:
            overlaps = [(iou(box, other), other_label) for other, other_label in faces]
            best = max(overlaps, default=(0.0, None))
            partners += best[0] > 0.5
            same += best[0] > 0.5 and best[1] == label
        paired += partners
        shown_only += max(0, len(faces) - partners)
    reference_only = sum(len(faces) for faces in reference) - paired
    return (same / paired if paired else 1.0), reference_only, shown_only


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


def compare(case: str, frames: int, bases: dict[str, Path], repeats: int, out: Path, windows: bool,
            faces_csv: str | None) -> dict:
    """Frame rates (medians of interleaved repetitions), ratios and agreement of one case."""
    sides = {**bases, "after": ROOT}
    rates: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    labels: dict[str, list] = {}
    for repeat in range(repeats):
        names = list(sides)
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:  # a new order each round
            result = run_side(sides[name], case, frames, out, windows=windows, faces_csv=faces_csv)
            rates[name].append(result["fps"])
            cpu[name].append(result["cpu_ms"])
            labels[name] = result["labels"]
    every_face = run_side(ROOT, case, frames, out, reference=True, faces_csv=faces_csv)["labels"]
    newest = list(bases)[-1]  # the newest base runs the same model: its labels are comparable
    row = {"frames": frames, "fps": {name: statistics.median(values) for name, values in rates.items()},
           "cpu_ms": {name: statistics.median(values) for name, values in cpu.items()},
           "runs": rates, "face_frames": sum(len(faces) for faces in every_face)}
    row["agreement"], row["reference_only"], row["after_only"] = agreement(labels["after"], every_face)
    row["vs_before"], row["before_only"], _ = agreement(labels["after"], labels[newest])
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
    parser.add_argument("--faces", help="a FER-2013 CSV: adds cases of its faces, whose expressions differ")
    parser.add_argument("--json")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.frames, args.reference, args.windows, Path(args.out),
                                 args.faces)))
        return 0

    bases = {base: base_checkout(base) for base in args.bases}
    rows = {}
    header = "".join(f"{name[:10]:>11s}" for name in [*bases, "after"])
    ratios = "".join(f"{'x ' + name[:8]:>11s}" for name in bases)
    cpu_ratios = "".join(f"{'cpu x ' + name[:7]:>14s}" for name in bases)
    print(f"{'case':34s}{header}{ratios}{cpu_ratios} {'agreement':>10s} {'faces -/+':>10s} {'vs before':>10s}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp, display_for(args.windows):
        out = Path(tmp) / "out.avi"
        cases = {name: CASES[name] for name in args.cases} | (FACE_CASES if args.faces else {})
        for case, (_, _, share) in cases.items():
            frames = max(WARMUP_FRAMES, round(args.frames * share))
            for windows in (False, True) if args.windows else (False,):
                name = f"{case}{', windows' if windows else ''}"
                row = rows[name] = compare(case, frames, bases, args.repeats, out, windows, args.faces)
                fps = "".join(f"{row['fps'][side]:11.1f}" for side in [*bases, "after"])
                ratio = "".join(f"{row['ratio'][side]:11.2f}" for side in bases)
                cpu_ratio = "".join(f"{row['cpu_ratio'][side]:14.2f}" for side in bases)
                found = f"-{row['reference_only']}/+{row['after_only']}"
                print(f"{name:34s}{fps}{ratio}{cpu_ratio} {row['agreement']:10.1%} {found:>10s} "
                      f"{row['vs_before']:10.1%}", flush=True)
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
