"""`acting-mirror batch ...`: the command line of acting_mirror.batch.run."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from acting_mirror.batch.run import ENGINES, run_batch


def build_parser() -> argparse.ArgumentParser:
    from acting_mirror.commandline import PROG, Parser

    parser = Parser(
        prog=f"{PROG} batch",
        description="Analyse many takes (video files, folders of them, URLs) in parallel: each gets "
                    "DIR/<take>/ with timeline.csv, summary.json and report.html, and DIR/index.csv and "
                    "DIR/index.html compare them. Takes already done are skipped (--force redoes them).",
        epilog="With --engine ray on a cluster (ray start) the takes travel from this machine to the nodes "
               "through Ray's object store and the results come back here; acting-mirror (with the same Ray and "
               "Python) must be installed on every node. Exit codes: 0 every take "
               "analysed, 1 some take failed (index.csv says why), 2 the batch could not start, 130 interrupted.")
    parser.add_argument("inputs", nargs="+", metavar="VIDEO_OR_FOLDER_OR_URL", help="the takes")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the takes' reports and the index go")
    parser.add_argument("--script", metavar="YAML", help="acting script to score every take against")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="takes analysed at once (default: the number of cores)")
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: a process pool (default); ray: one Ray task per take")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="join this Ray cluster (its head's host:port, auto, ray://host:port); "
                             "default: a local Ray runtime")
    parser.add_argument("--video-output", action="store_true", help="also write DIR/<take>/annotated.avi")
    parser.add_argument("--force", action="store_true", help="redo takes that are already done")
    parser.add_argument("--max-frames", type=int, metavar="N", help="analyse at most N frames of each take")
    parser.add_argument("--model", metavar="PATH", help="model metadata JSON (default: from config.yaml)")
    parser.add_argument("--profile", metavar="PATH",
                        help="the actor's resting-face profile (acting-mirror calibrate), applied to every take")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: ./config.yaml if present, else the package's config.yaml)")
    return parser


def batch_main(argv: Sequence[str]) -> int:
    """`acting-mirror batch ...` (called by `cli.main`, which turns SIGTERM into Ctrl-C and
    reports errors): 0 every take analysed, 1 some take failed (the index lists it), 2 the
    batch could not start, 130 interrupted."""
    from acting_mirror.commandline import default_config_path
    from acting_mirror.commandline import log as _log
    from acting_mirror.errors import UsageError
    from acting_mirror.sources.base import check_frame_limit

    args = build_parser().parse_args(argv)
    if args.ray_address and args.engine != "ray":
        raise UsageError("--ray-address needs --engine ray")
    check_frame_limit(args.max_frames, "--max-frames")
    try:
        result = run_batch(args.inputs, args.out, script=args.script,
                           config=args.config or default_config_path(), model=args.model,
                           max_frames=args.max_frames, engine=args.engine, workers=args.workers,
                           ray_address=args.ray_address, video_output=args.video_output, force=args.force, log=_log,
                           profile=args.profile)
    except KeyboardInterrupt:
        _log(f"interrupted: the takes done so far are in {args.out} (run again to go on)")
        return 130
    for line in result.lines():
        print(line)
    return 1 if result.failed else 0
