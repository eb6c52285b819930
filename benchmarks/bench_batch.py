"""Batch throughput: takes per minute through `acting-mirror batch` with the local process pool
and with Ray, at 1 and 2 workers, and a profile of one take (where its time goes).

    .venv/bin/python benchmarks/bench_batch.py                      # 6 takes of 10 s, 640x480, 30 FPS
    .venv/bin/python benchmarks/bench_batch.py --takes 4 --seconds 3 --engines local   # quicker

The takes are clips of the real demo face (acting_mirror.demo), scored against the example
scene. Each configuration runs the whole batch from a fresh output folder; the time includes
starting the workers (and, reported apart, starting Ray). Writes benchmarks/batch_results.json.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENE = ROOT / "examples" / "scene.yaml"

# where a take's time goes: a profile entry (file name suffix, function name) -> stage
STAGES = {
    ("", "<method 'read' of 'cv2.VideoCapture' objects>"): "decode",
    ("detect.py", "detect"): "detection",
    ("model.py", "classify"): "classification",
    ("track.py", "update"): "tracking",
    ("app.py", "render_main"): "overlay drawing",
    ("report.py", "write_report"): "report (charts, csv, html)",
    ("app.py", "build_pipeline"): "model and detector loading",
}


def make_takes(folder: Path, count: int, seconds: float, fps: float, size: tuple[int, int]) -> list[Path]:
    from acting_mirror import demo

    scenarios = ("one", "leave")
    return [demo.write_clip(folder / f"take{i + 1}.avi", scenarios[i % 2], int(seconds * fps), fps, size)
            for i in range(count)]


def time_batch(takes: list[Path], engine: str, workers: int, work: Path) -> dict:
    from acting_mirror.batch.run import run_batch

    out = work / f"{engine}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    ray_start = 0.0
    if engine == "ray":
        import ray

        started = time.perf_counter()
        ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - started
    try:
        started = time.perf_counter()
        result = run_batch(takes, out, script=SCENE, engine=engine, workers=workers, progress=False,
                           log=lambda message: None)
        wall = time.perf_counter() - started
    finally:
        if engine == "ray":
            ray.shutdown()
    assert len(result.analysed) == len(takes), result.lines()
    records = [json.loads((out / name / "take.json").read_text()) for name in result.analysed]
    return {"engine": engine, "workers": workers, "takes": len(takes), "wall_s": round(wall, 2),
            "takes_per_min": round(60 * len(takes) / wall, 2), "ray_start_s": round(ray_start, 2),
            "mean_take_s": round(sum(r["seconds"] for r in records) / len(records), 2),
            "mean_take_cpu_s": round(sum(r["cpu_s"] for r in records) / len(records), 2)}


def profile_take(take: Path) -> dict:
    """One take in this process, one thread (as a batch worker runs it), under cProfile."""
    import cv2

    from acting_mirror.api import analyze, default_config

    cv2.setNumThreads(1)
    config = default_config().override(model={"threads": 1})
    with tempfile.TemporaryDirectory() as directory:
        analyze(take, config=config, script=SCENE, report_dir=directory)  # warm the caches and imports
        profiler = cProfile.Profile()
        started, cpu_started = time.perf_counter(), time.process_time()
        profiler.enable()
        analysis = analyze(take, config=config, script=SCENE, report_dir=directory)
        profiler.disable()
        total, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (calls, primitive, tottime, cumtime, callers)
    stages = {stage: 0.0 for stage in STAGES.values()}
    for (file, _, name), (_, _, _, cumulative, _) in stats.items():
        for (suffix, function), stage in STAGES.items():
            if name == function and file.endswith(suffix) and (suffix or file == "~"):
                stages[stage] += cumulative
    stages["other"] = max(0.0, total - sum(stages.values()))
    return {"frames": analysis.run.frames, "total_s": round(total, 3), "cpu_s": round(cpu, 3),
            "ms_per_frame": round(1000 * total / analysis.run.frames, 2),
            "stages_s": {stage: round(seconds, 3) for stage, seconds in stages.items()},
            "stages_share": {stage: round(seconds / total, 3) for stage, seconds in stages.items()}}


def add_take_arguments(parser: argparse.ArgumentParser, seconds: float) -> None:
    """--takes, --seconds, --fps and --size: the takes a batch benchmark makes."""
    parser.add_argument("--takes", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--size", default="640x480")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_take_arguments(parser, seconds=10.0)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "batch_results.json"))
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="acting-mirror-bench-batch-"))
    try:
        takes = make_takes(work / "takes", args.takes, args.seconds, args.fps, size)
        results = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                               "python": platform.python_version(), "load_average_before": os.getloadavg()},
                   "takes": {"count": args.takes, "seconds": args.seconds, "fps": args.fps, "size": args.size},
                   "runs": []}
        if not args.no_profile:
            results["profile"] = profile_take(takes[0])
            print(json.dumps(results["profile"], indent=2))
        for engine in args.engines.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                run = time_batch(takes, engine, workers, work)
                results["runs"].append(run)
                print(run, flush=True)
        results["machine"]["load_average_after"] = os.getloadavg()
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
