"""Batch throughput on a real Ray cluster started with `ray start`: takes per minute with one
node and with two (one CPU each), and CPU-seconds per take, against the local engine with one
worker measured in the same run (the reference: the ratios are what carries to other hosts).

    .venv/bin/python benchmarks/bench_cluster.py                       # 6 takes of 5 s, 640x480, 30 FPS
    .venv/bin/python benchmarks/bench_cluster.py --takes 4 --seconds 3  # quicker

The cluster is the tests' one (tests/ray_cluster.py): nodes on this machine inside a network
namespace with only loopback, so it needs root (unshare -n). Each configuration runs the
whole `acting-mirror batch` command from a fresh output folder; its time includes joining the
cluster and shipping the takes through the object store. Writes benchmarks/cluster_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENE = ROOT / "examples" / "scene.yaml"
sys.path.insert(0, str(ROOT / "tests"))  # the cluster helper the tests use

from bench_batch import add_take_arguments, make_takes  # noqa: E402
from ray_cluster import can_isolate, clean_environment, cluster  # noqa: E402


def summarise(label: str, out: Path, takes: int, wall: float, nodes: int) -> dict:
    records = [json.loads(path.read_text()) for path in sorted(out.glob("*/take.json"))]
    assert len(records) == takes, f"{label}: {len(records)} of {takes} takes analysed"
    return {"run": label, "nodes": nodes, "takes": takes, "wall_s": round(wall, 2),
            "takes_per_min": round(60 * takes / wall, 2),
            "mean_take_s": round(sum(r["seconds"] for r in records) / takes, 2),
            "cpu_s_per_take": round(sum(r["cpu_s"] for r in records) / takes, 2),
            "takes_per_node": {node: sum(1 for r in records if (r.get("node") or "local") == node)
                               for node in sorted({r.get("node") or "local" for r in records})}}


def batch_args(takes: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "acting_mirror", "batch", str(takes), "--script", str(SCENE), "--out", str(out)]


def time_local(takes: Path, count: int, work: Path) -> dict:
    out = work / "local-1"
    started = time.perf_counter()
    subprocess.run([*batch_args(takes, out), "--workers", "1"], check=True, capture_output=True,
                   env=clean_environment(work / "home"))
    return summarise("local engine, 1 worker", out, count, time.perf_counter() - started, 1)


def time_cluster(takes: Path, count: int, work: Path, nodes: int) -> dict:
    out = work / f"cluster-{nodes}"
    with cluster(work / f"ray-{nodes}", work / "home") as ray_cluster:
        ray_cluster.start_head(cpus=1)
        for _ in range(nodes - 1):
            ray_cluster.add_node(cpus=1)
        started = time.perf_counter()
        result = ray_cluster.run([*batch_args(takes, out), "--engine", "ray", "--ray-address", ray_cluster.address],
                                 env=ray_cluster.environment(), timeout=3600)
        wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the batch on {nodes} node(s) failed:\n{result.stderr}")
    return summarise(f"ray cluster, {nodes} node{'s' if nodes > 1 else ''} of 1 CPU", out, count, wall, nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_take_arguments(parser, seconds=5.0)
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "cluster_results.json"))
    args = parser.parse_args()
    problem = can_isolate()
    if problem:
        raise SystemExit(f"cannot start a cluster here: {problem}")
    size = tuple(int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="acting-mirror-bench-cluster-"))
    (work / "home").mkdir()  # no ~/.ray/auth_token: the cluster runs without token authentication
    try:
        make_takes(work / "takes", args.takes, args.seconds, args.fps, size)
        results = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                               "python": platform.python_version(), "load_average_before": os.getloadavg()},
                   "takes": {"count": args.takes, "seconds": args.seconds, "fps": args.fps, "size": args.size},
                   "runs": []}
        runs = results["runs"]
        runs.append(time_local(work / "takes", args.takes, work))
        print(runs[-1], flush=True)
        for nodes in (1, 2):
            runs.append(time_cluster(work / "takes", args.takes, work, nodes))
            print(runs[-1], flush=True)
        reference = runs[0]["takes_per_min"]
        for run in runs:
            run["rate_vs_local_1"] = round(run["takes_per_min"] / reference, 2)
        results["two_nodes_vs_one"] = round(runs[2]["takes_per_min"] / runs[1]["takes_per_min"], 2)
        results["machine"]["load_average_after"] = os.getloadavg()
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        for run in runs:
            print(f"{run['run']:34} {run['takes_per_min']:6.2f} takes/min ({run['rate_vs_local_1']:.2f}x local), "
                  f"{run['cpu_s_per_take']:.2f} CPU-s per take")
        print(f"two nodes / one node: {results['two_nodes_vs_one']:.2f}x; wrote {args.json}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
