"""`acting-mirror`: flags -> Config -> one run of the mirror; `acting-mirror report`.

Exit codes: 0 done, 1 the run failed (a MirrorError or OSError: one line on stderr, no
traceback), 2 bad usage, 130 interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from acting_mirror.commandline import PROG, Parser, default_config_path
from acting_mirror.commandline import log as _log
from acting_mirror.errors import MirrorError, UsageError

USAGE = f"""{PROG} [--camera N | --video PATH | --youtube URL | --image PATH | --demo] [options]
       {PROG} report DIR [--script YAML]
       {PROG} batch VIDEO_OR_FOLDER_OR_URL... --out DIR [--script YAML] [options]
       {PROG} calibrate --profile PATH (--camera N | --video CLIP | --crops IMAGE...)"""
EXIT_CODES = "exit codes: 0 done, 1 the run failed (a file or camera that cannot be opened, a write error), " \
             "2 bad usage (or a backend this install lacks), 130 interrupted (Ctrl-C)"


def build_parser() -> argparse.ArgumentParser:
    from acting_mirror import installed_version
    from acting_mirror.display import KEY_HELP

    parser = Parser(
        prog=PROG, usage=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Rehearse in front of a camera and see, live, which emotion your face shows.\n\n"
                    "commands:\n"
                    f"  {PROG} report DIR [--script YAML]   rebuild a report from DIR/timeline.csv, "
                    "optionally scored against an (edited) acting script\n"
                    f"  {PROG} batch TAKES... --out DIR [--script YAML]   analyse many takes (files, folders, URLs) "
                    "in parallel and compare them in DIR/index.html (see batch --help)\n"
                    f"  {PROG} calibrate --profile PATH (--camera N | --video CLIP | --crops IMAGE...)   record "
                    "the actor's resting face (see calibrate --help)",
        epilog=f"keys: {KEY_HELP}\n{EXIT_CODES}",
    )
    source = parser.add_argument_group("source (default: camera 0, or the demo clip when there is no camera)")
    exclusive = source.add_mutually_exclusive_group()
    exclusive.add_argument("--camera", type=int, metavar="N", help="camera index")
    exclusive.add_argument("--video", metavar="PATH", help="a video file")
    exclusive.add_argument("--youtube", "--url", dest="url", metavar="URL",
                           help="a YouTube (or any yt-dlp-supported), http(s) or rtsp URL")
    exclusive.add_argument("--image", metavar="PATH", help="analyse one photo")
    exclusive.add_argument("--demo", action="store_true", help="a built-in clip of a real face (no camera needed)")

    view = parser.add_argument_group("display")
    view.add_argument("--details", action="store_true", default=None, help="window with a bar per emotion")
    view.add_argument("--graph", action="store_true", default=None, help="polar chart of person 0 over time")
    view.add_argument("--disable-rectangles", dest="no_rectangles", action="store_true",
                      help="hide face boxes and labels")
    view.add_argument("--disable_rectangles", dest="no_rectangles", action="store_true",
                      help=argparse.SUPPRESS)  # the original app's spelling
    view.add_argument("--no-display", action="store_true", help="no windows; a file runs as fast as it can")

    from acting_mirror.config import DETECTOR_KINDS, DetectorConfig

    faces = parser.add_argument_group("face detection")
    faces.add_argument("--detector", choices=DETECTOR_KINDS,
                       help=f"yunet: OpenCV's YuNet (small, turned and rolled faces, eye landmarks); haar: the "
                            f"original app's Haar cascade (frontal, upright faces). Default: detector.kind in "
                            f"config.yaml ({DetectorConfig().kind} as shipped). The end-of-run summary names the "
                            f"detector that ran")

    model = parser.add_argument_group("model")
    model.add_argument("--model", metavar="PATH", help="model metadata JSON (default: from config.yaml)")
    model.add_argument("--backend", choices=("tflite", "keras"), help="inference backend")
    model.add_argument("--tflite", action="store_true", help="same as --backend tflite")
    model.add_argument("--profile", metavar="PATH", help="an actor's resting-face profile (acting-mirror calibrate): "
                                                         "each face is read relative to that resting face")

    out = parser.add_argument_group("output")
    out.add_argument("--output", metavar="PATH", help="annotated video (default output.avi)")
    out.add_argument("--no-output", action="store_true", help="write no video")
    out.add_argument("--no-audio", action="store_true", help="keep the video silent (default: a file's sound, or "
                                                             "with --camera the microphone's, goes into it; "
                                                             ".mp4/.mkv outputs get H.264 + AAC)")
    out.add_argument("--audio-device", metavar="NAME", help="the microphone --camera records: an index or (part "
                                                            "of) a name (default: the system's default input)")
    out.add_argument("--report", metavar="DIR", help="write timeline.csv, summary.json and report.html here")
    out.add_argument("--script", metavar="YAML", help="acting script: lines with their intended emotions")
    out.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")

    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: ./config.yaml if present, else the package's config.yaml)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    return parser


def build_report_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=f"{PROG} report", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Rebuild report.html, summary.json and the charts from a saved timeline.csv, optionally "
                    "scoring it against an acting script. A video file's run is scored on the script's cue "
                    "times (so edited times count); a camera run keeps the cue times the actor played.",
        epilog=EXIT_CODES)
    parser.add_argument("directory", metavar="DIR", help="a report directory holding timeline.csv")
    parser.add_argument("--script", metavar="YAML", help="acting script to score the rehearsal against")
    return parser


def make_config(args, log=None):
    from acting_mirror.config import load_config
    from acting_mirror.paths import package_root
    from acting_mirror.sources import check_frame_limit

    path = Path(args.config) if args.config else default_config_path()
    config = load_config(path)
    if log is not None and path is not None and path.resolve() != (package_root() / "config.yaml").resolve():
        log(f"settings from {path}")  # a ./config.yaml is picked up without being named: say so
    check_frame_limit(args.max_frames, "--max-frames")
    if args.tflite and args.backend == "keras":
        raise UsageError("--tflite and --backend keras contradict each other")
    if args.image and args.script:
        raise UsageError("--script needs a video, camera or URL: a single photo has no timeline to score "
                         "(--report works with --image: a one-frame report)")
    display = {k: v for k, v in {"details": args.details, "graph": args.graph}.items() if v is not None}
    if args.no_rectangles:
        display["rectangles"] = False
    if args.no_display:
        display["show"] = False
    model = {}
    if args.model:
        model["path"] = args.model
    if args.backend or args.tflite:
        model["backend"] = args.backend or "tflite"
    if args.profile:
        model["profile"] = args.profile
    output = {}
    if args.no_output:
        output["video"] = ""
    elif args.output is not None:
        output["video"] = args.output  # --output '' writes no video, as output.video: "" does
    if args.report:
        output["report_dir"] = args.report
    if args.no_audio:
        output["audio"] = False
    if args.audio_device is not None:
        output["audio_device"] = args.audio_device
    source = {"max_frames": args.max_frames} if args.max_frames is not None else {}
    detector = {"kind": args.detector} if args.detector else {}
    return config.override(display=display, model=model, output=output, source=source, detector=detector)


def open_source(args, config, log):
    """The source the flags name (camera 0, or the demo without one, when none does)."""
    from acting_mirror.sources import open_source as open_target

    chosen = [(kind, target) for kind, target in (("video", args.video), ("url", args.url), ("image", args.image),
                                                   ("camera", args.camera)) if target is not None]
    kind, target = chosen[0] if chosen else ("demo" if args.demo else None, None)
    return open_target(target, kind, camera_fps=config.source.camera_fps,
                       max_height=config.source.youtube_max_height, log=log)


def _log_error(error: BaseException, text: str | None = None) -> None:
    """The one error line (capped); with ACTING_MIRROR_DEBUG=1 the traceback above it."""
    from acting_mirror.quiet import report_error

    report_error(f"{PROG}: error: ", error, text)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args) -> int:
    """Flags -> config -> `api.analyze` (the one code path the Python API uses too) -> printed summary."""
    from functools import partial

    from acting_mirror.api import analyze, refuse_overwriting_inputs
    from acting_mirror.app import StopReason
    from acting_mirror.display import display_available

    config = make_config(args, _log)
    refuse_overwriting_inputs(config, source=args.video or args.image, script=args.script, config_path=args.config)
    if config.display.show and not display_available():
        _log("no display found: running without windows (--no-display)")
        config = config.override(display={"show": False})
    if not config.display.show and (args.details or args.graph):
        given = " and ".join(flag for flag, on in (("--details", args.details), ("--graph", args.graph)) if on)
        _log(f"{given} {'have' if ' and ' in given else 'has'} no effect without windows")
    show = config.display.show
    # the source opens after the model has loaded, so a bad --model fails before a download
    analysis = analyze(partial(open_source, args, config, _log), script=args.script, config=config,
                       report_dir=config.output.report_dir or None, video_output=config.output.video or None,
                       progress=not show, show=show, log=_log)
    if analysis.image:
        _print_image(analysis)
    else:
        for line in analysis.run.lines():
            print(line)
    if analysis.run.error:
        _log(f"error: {analysis.run.error}")
        return 1
    return 130 if analysis.run.stopped_by is StopReason.INTERRUPT else 0


def _print_image(analysis) -> None:
    faces = analysis.timeline.results()[0].faces if analysis.timeline.frames else ()
    for face in faces:
        print(f"person {face.track_id}: {face.label} {face.confidence:.0%} at "
              f"x={face.box.x} y={face.box.y} w={face.box.w} h={face.box.h}")
    if not faces:
        print("no face found")
    if analysis.run.detector:
        print(f"detector: {analysis.run.detector}")
    if analysis.run.output:
        print(f"annotated image: {analysis.run.output}")
    if analysis.run.report:  # --report with a photo: a one-frame report
        print(f"report: {analysis.run.report}")


def report(argv: list[str]) -> int:
    """`acting-mirror report DIR [--script YAML]`."""
    from acting_mirror.report import rebuild_report, score_line

    args = build_report_parser().parse_args(argv)
    paths = rebuild_report(args.directory, args.script, log=_log)
    line = score_line(paths["summary"])
    if line:
        print(line)
    for key in ("html", "summary", "over_time_png", "polar_png"):
        print(f"{key}: {paths[key]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from acting_mirror.quiet import quiet_libraries

    quiet_libraries()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # finish the video on `kill` too
    try:
        if argv and argv[0] == "report":
            return report(argv[1:])
        if argv and argv[0] == "batch":
            from acting_mirror.batch.cli import batch_main

            return batch_main(argv[1:])
        if argv and argv[0] == "calibrate":
            from acting_mirror.calibrate import calibrate_main

            return calibrate_main(argv[1:])
        return run(build_parser().parse_args(argv))
    except KeyboardInterrupt:
        _log("interrupted")
        return 130
    except MirrorError as error:
        _log_error(error)
        return error.exit_code
    except OSError as error:
        from acting_mirror.sinks import describe_os_error

        _log_error(error, describe_os_error(error))
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
