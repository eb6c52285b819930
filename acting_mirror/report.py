"""The rehearsal report's files: timeline.csv, summary.json, report.html and the charts as PNG.

`write_report` writes them at the end of any run, from the summary the run built
(`scoring.build_summary`); `rebuild_report` (and the `acting-mirror report DIR` command)
makes them again from a saved timeline.csv, optionally with a (new or edited) script,
without the video. What the numbers mean is in scoring.py; the page is render/html.py;
the charts come from render/graph.py as BGR arrays, encoded here to PNG.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError
from acting_mirror.files import check_input_file, check_output_file, write_atomically
from acting_mirror.render.html import render_html, score_colour
from acting_mirror.scoring import build_summary, fps_from_times
from acting_mirror.script import Script, load_script
from acting_mirror.sinks import make_folder
from acting_mirror.timeline import Timeline

TIMELINE_FILE = "timeline.csv"
SUMMARY_FILE = "summary.json"
HTML_FILE = "report.html"
OVER_TIME_FILE = "emotion_over_time.png"
POLAR_FILE = "emotion_polar.png"
OUTPUT_FILES = (TIMELINE_FILE, SUMMARY_FILE, HTML_FILE, OVER_TIME_FILE, POLAR_FILE)
MAX_TIMELINE_BYTES = 1 << 30  # 1 GiB: about 3 hours of 10 faces at 30 FPS


class ReportError(MirrorError, ValueError):
    """A report that cannot be built from what is on disk; the message names the path."""


# -- writing -------------------------------------------------------------------
def write_report(directory: str | Path, timeline: Timeline, summary: Mapping, *, write_timeline: bool = True,
                 sound_level: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Path]:
    """Write timeline.csv, summary.json (`summary`: what `scoring.build_summary` made of the
    timeline), report.html and the PNG charts into `directory` (created if needed). Returns
    their paths by kind: csv, summary, html, over_time_png, polar_png.
    write_timeline=False: timeline.csv is already there (streamed during the run).
    sound_level: the take's (times_s, dBFS), drawn as a strip under the emotion lanes."""
    directory = Path(directory)
    make_folder(directory, "the report", ReportError)
    check_report_outputs(directory)
    csv_path = directory / TIMELINE_FILE
    paths = {"csv": timeline.write_csv(csv_path) if write_timeline else csv_path}
    paths.update(_write_analysis(directory, timeline, summary, sound_level))
    return paths


def rebuild_report(directory: str | Path, script_path: str | Path | None = None,
                   labels: Sequence[str] | None = None, log=None) -> dict[str, Path]:
    """Read DIR/timeline.csv and write summary.json, report.html and the charts again.
    The frame rate comes from an existing summary.json, else from the frame times.
    A camera run's played cue times are reused from summary.json when the script has
    as many cues; a file run (and anything else) is scored on the script's own times,
    so edited cue times count. A timeline cut off by a crash is reported through `log`
    (its partial last frame is left out)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ReportError(f"{directory} is a file, not a report directory (give the folder holding timeline.csv)")
    if not directory.is_dir():
        raise ReportError(f"report directory {directory} not found")
    check_report_outputs(directory)
    check_input_file(directory / TIMELINE_FILE, "timeline file", MAX_TIMELINE_BYTES, ReportError)
    timeline = Timeline.read_csv(directory / TIMELINE_FILE)
    if timeline.cut_short and log is not None:
        log(f"note: {directory / TIMELINE_FILE} ends mid-frame (the run was cut off); its last frame is left out")
    if labels is not None and tuple(labels) != timeline.labels:
        raise ReportError(f"{directory / TIMELINE_FILE}: its emotions ({', '.join(timeline.labels)}) differ from "
                          f"the model's ({', '.join(labels)})")
    previous = _read_previous_summary(directory / SUMMARY_FILE)
    fps = previous.get("fps") if isinstance(previous.get("fps"), (int, float)) and previous["fps"] > 0 else None
    fps = float(fps) if fps else fps_from_times(timeline.times)
    script = load_script(script_path, timeline.labels) if script_path else None
    if script is not None and not script.timed:  # no sound here: the times the run heard the lines at
        from acting_mirror.audio.cue_timing import time_script_from_summary

        script = time_script_from_summary(script, previous.get("cues"))
    spans = _previous_spans(previous, script) if script is not None else None
    paths = {"csv": directory / TIMELINE_FILE}
    profile = previous.get("profile") if isinstance(previous.get("profile"), dict) else None
    paths.update(_write_analysis(directory, timeline, build_summary(timeline, fps, script, spans, profile)))
    return paths


def check_report_outputs(directory: str | Path) -> None:
    """Before any work: each report file's place in `directory` can take a new file (is not
    a folder, a device or a FIFO)."""
    for name in OUTPUT_FILES:
        check_output_file(Path(directory) / name, "report file", ReportError)


def remove_stale_report(directory: str | Path) -> None:
    """Remove an earlier run's summary, page and charts from `directory`, so that a run
    cut off before its end leaves no report that disagrees with its timeline.csv."""
    check_report_outputs(directory)
    for name in OUTPUT_FILES:
        if name != TIMELINE_FILE:
            path = Path(directory) / name
            if path.is_file() or path.is_symlink():
                try:
                    path.unlink()
                except OSError as error:
                    raise ReportError(f"cannot replace the old report file {path} ({error.strerror})") from None


def _read_previous_summary(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}  # optional: it only lends the frame rate and played cue times
    return data if isinstance(data, dict) else {}


def _previous_spans(previous: dict, script: Script) -> list[list[tuple[float, float]]] | None:
    """A camera run's played cue times from summary.json; None for a file run."""
    cues = previous.get("cues")
    if previous.get("cue_times", "played") != "played" or not isinstance(cues, list) \
            or len(cues) != len(script.cues):
        return None
    spans = []
    for cue in cues:
        played = cue.get("played") if isinstance(cue, dict) else None
        try:
            spans.append([(float(start), float(end)) for start, end in played])
        except (TypeError, ValueError):
            return None
    if "cue_times" not in previous and all(  # older summaries: a file run played every cue at its script times
            span == [(float(cue.get("start")), float(cue.get("end")))] for span, cue in zip(spans, cues, strict=True)):
        return None
    return spans


def _write_analysis(directory: Path, timeline: Timeline, summary: Mapping, sound_level=None) -> dict[str, Path]:
    """summary.json, the two charts and the page, each written whole or not at all."""
    import cv2

    from acting_mirror.render.graph import emotion_distribution_chart, emotion_over_time_chart

    paths = {"summary": directory / SUMMARY_FILE, "html": directory / HTML_FILE,
             "over_time_png": directory / OVER_TIME_FILE, "polar_png": directory / POLAR_FILE}
    write_atomically(paths["summary"], json.dumps(summary, indent=2) + "\n", "report file", ReportError)

    times, probabilities, shown = timeline.person_series(0)
    over_time = emotion_over_time_chart(times, probabilities, shown, timeline.labels, fps=summary["fps"],
                                        cue_spans=_cue_shading(summary.get("cues", ())), sound_level=sound_level)
    seen = probabilities[~np.isnan(probabilities).any(axis=1)]
    polar = emotion_distribution_chart(summary["emotion_share"], seen.mean(axis=0) if len(seen) else None,
                                       timeline.labels)
    pngs = {}
    for key, image in (("over_time_png", over_time), ("polar_png", polar)):
        ok, encoded = cv2.imencode(".png", image)
        if not ok:
            raise ReportError(f"cannot encode {paths[key].name}")
        pngs[key] = encoded.tobytes()
        write_atomically(paths[key], pngs[key], "report file", ReportError)
    write_atomically(paths["html"], render_html(summary, pngs["over_time_png"], pngs["polar_png"]), "report file",
                     ReportError)
    return paths


def _cue_shading(cues: Sequence[Mapping]) -> list[tuple[float, float, str, str]]:
    shading = []
    for cue in cues:
        colour = score_colour(None if cue["on_target_fraction"] is None else 100 * cue["on_target_fraction"])
        for start, end in cue["played"]:
            shading.append((start, end, colour, str(cue["number"])))
    return shading


def score_line(summary_path: Path) -> str | None:
    """"score: 60/100 over 4 cues" from a summary.json (None without a script)."""
    summary = json.loads(Path(summary_path).read_text())
    if summary.get("score") is None:
        return None
    return f"score: {summary['score']:.0f}/100 over {len(summary['cues'])} cues"
