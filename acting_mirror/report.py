"""The rehearsal report: timeline.csv, summary.json, report.html and the charts as PNG.

`write_report` runs at the end of any run; `rebuild_report` (and the
`acting-mirror report DIR` command) makes it again from a saved timeline.csv,
optionally with a (new or edited) script, without the video.

Scoring, per cue, over the frames whose time lies in the cue (start <= t < end):
on_target_fraction is the share of those frames where person 0's shown label is
one of the cue's targets (no face counts as off-target); no_face_fraction is the
share without person 0; mean_target_probability is the mean, over the frames
with a face, of the summed probability of the target emotions. The overall
score is the frame-weighted mean of on_target_fraction, as 0-100: the share of
all frames inside the cues reached in which person 0 showed a target emotion.
played_fraction is how much of a cue's scripted length the recording covered
(0: not reached; below 1: partly played, e.g. the clip ended inside it).

The charts come from render/graph.py as BGR arrays; the report encodes them to
PNG and embeds them in the HTML as base64.
"""

from __future__ import annotations

import base64
import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError
from acting_mirror.files import check_input_file, check_output_file, write_atomically
from acting_mirror.script import Script, load_script
from acting_mirror.sinks import make_folder
from acting_mirror.timeline import Timeline

TIMELINE_FILE = "timeline.csv"
SUMMARY_FILE = "summary.json"
HTML_FILE = "report.html"
OVER_TIME_FILE = "emotion_over_time.png"
POLAR_FILE = "emotion_polar.png"
OUTPUT_FILES = (TIMELINE_FILE, SUMMARY_FILE, HTML_FILE, OVER_TIME_FILE, POLAR_FILE)
WORK_ON_COUNT = 3
MAX_TIMELINE_BYTES = 1 << 30  # 1 GiB: about 3 hours of 10 faces at 30 FPS
FULLY_PLAYED = 0.995  # a cue covered this much counts as played in full (frame times are discrete)

CueSpans = Sequence[Sequence[tuple[float, float]]]


class ReportError(MirrorError, ValueError):
    """A report that cannot be built from what is on disk; the message names the path."""


# -- scoring -------------------------------------------------------------------
def score_cues(timeline: Timeline, script: Script, cue_spans: CueSpans | None = None, fps: float = 0.0) -> list[dict]:
    """Per-cue scores for person 0. `cue_spans` gives, per cue, the (start, end) intervals
    in timeline time during which it was played (a camera's CuePlayer.played_spans);
    by default the script's own times. A cue with no frames has None scores. `fps`
    (default: from the frame times) tells how long the last frame lasts."""
    if cue_spans is not None and len(cue_spans) != len(script.cues):
        raise ValueError(f"cue_spans has {len(cue_spans)} entries for {len(script.cues)} cues")
    times, probabilities, shown = timeline.person_series(0)
    period = 1.0 / (fps if fps > 0 else fps_from_times(times))
    recorded = (float(times[0]), float(times[-1]) + period) if len(times) else (0.0, 0.0)
    label_index = {label: i for i, label in enumerate(timeline.labels)}
    seen = ~np.isnan(probabilities).any(axis=1)
    scores = []
    for number, cue in enumerate(script.cues, start=1):
        spoken = cue.timing != "not spoken"  # an untimed line not heard in the take has no time
        spans = tuple(cue_spans[number - 1]) if cue_spans is not None else ((cue.start, cue.end),) if spoken else ()
        inside = np.zeros(len(times), bool)
        for start, end in spans:
            inside |= (times >= start) & (times < end)
        frames = int(inside.sum())
        face = inside & seen
        on_target = sum(1 for i in np.flatnonzero(inside) if shown[i] in cue.targets)
        target_columns = [label_index[t] for t in cue.targets if t in label_index]
        target_probability = probabilities[face][:, target_columns].sum(axis=1) if face.any() else None
        most = Counter(shown[i] for i in np.flatnonzero(face)).most_common(1)
        covered = sum(max(0.0, min(end, recorded[1]) - max(start, recorded[0])) for start, end in spans)
        scores.append({
            "number": number,
            "start": cue.start if spoken else None,
            "end": cue.end if spoken else None,
            "timing": cue.timing,  # where start/end came from: script, speech or not spoken
            "line": cue.line,
            "target": list(cue.targets),
            "frames": frames,
            "face_frames": int(face.sum()),
            "on_target_fraction": on_target / frames if frames else None,
            "no_face_fraction": (frames - int(face.sum())) / frames if frames else None,
            "mean_target_probability": float(target_probability.mean()) if target_probability is not None else None,
            "shown_most": most[0][0] if most else None,
            "played": [[float(start), float(end)] for start, end in spans],
            "played_fraction": min(1.0, covered / cue.duration) if frames else 0.0,
        })
    return scores


def overall_score(cue_scores: Sequence[Mapping]) -> float | None:
    """Frame-weighted mean of on_target_fraction over the cues, 0-100 (None: no cue frames)."""
    frames = sum(cue["frames"] for cue in cue_scores)
    if not frames:
        return None
    on_target = sum(cue["on_target_fraction"] * cue["frames"] for cue in cue_scores if cue["frames"])
    return 100.0 * on_target / frames


def work_on(cue_scores: Sequence[Mapping], count: int = WORK_ON_COUNT) -> list[Mapping]:
    """The worst played cues first (lowest on-target share; longer cues first on ties),
    leaving out cues that were fully on target."""
    played = [cue for cue in cue_scores if cue["frames"] and cue["on_target_fraction"] < 1.0]
    return sorted(played, key=lambda cue: (cue["on_target_fraction"], -cue["frames"], cue["number"]))[:count]


def build_summary(timeline: Timeline, fps: float, script: Script | None = None,
                  cue_spans: CueSpans | None = None, profile: Mapping | None = None) -> dict:
    """Everything summary.json holds. `cue_times` says where the cue times came from:
    "played" (a camera run: the actor's space / n / p) or "script"; `profile`, the resting-face
    profile the probabilities were corrected with (None: none)."""
    summary = timeline.summary(fps)
    summary["profile"] = dict(profile) if profile else None
    if script is not None:
        cues = score_cues(timeline, script, cue_spans, fps)
        score = overall_score(cues)
        summary["title"] = script.title
        summary["cue_times"] = "played" if cue_spans is not None else "script"
        summary["cues"] = [_rounded(cue) for cue in cues]
        summary["score"] = None if score is None else round(score, 4)
        summary["scored_frames"] = sum(cue["frames"] for cue in cues)
        summary["on_target_frames"] = sum(round(cue["on_target_fraction"] * cue["frames"]) for cue in cues
                                          if cue["frames"])
    return summary


def _rounded(cue: dict) -> dict:
    keys = ("on_target_fraction", "no_face_fraction", "mean_target_probability", "played_fraction")
    return {key: (round(value, 6) if key in keys and value is not None else value) for key, value in cue.items()}


# -- writing -------------------------------------------------------------------
def write_report(directory: str | Path, timeline: Timeline, fps: float, script: Script | None = None, *,
                 cue_spans: CueSpans | None = None, write_timeline: bool = True,
                 profile: Mapping | None = None,
                 sound_level: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Path]:
    """Write timeline.csv, summary.json, report.html and the PNG charts into `directory`
    (created if needed). Returns their paths by kind: csv, summary, html, over_time_png, polar_png.
    write_timeline=False: timeline.csv is already there (streamed during the run).
    sound_level: the take's (times_s, dBFS), drawn as a strip under the emotion lanes."""
    directory = Path(directory)
    make_folder(directory, "the report", ReportError)
    check_report_outputs(directory)
    csv_path = directory / TIMELINE_FILE
    paths = {"csv": timeline.write_csv(csv_path) if write_timeline else csv_path}
    paths.update(_write_analysis(directory, timeline, fps, script, cue_spans, profile, sound_level))
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
    paths.update(_write_analysis(directory, timeline, fps, script, spans, profile))
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


def fps_from_times(times: np.ndarray) -> float:
    """Frame rate from the median gap between distinct frame times (a one-frame timeline:
    the usual default)."""
    from acting_mirror.sources import DEFAULT_FPS

    gaps = np.diff(np.unique(np.asarray(times, float)))
    gaps = gaps[gaps > 0]
    return float(1.0 / np.median(gaps)) if len(gaps) else DEFAULT_FPS


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


def _write_analysis(directory: Path, timeline: Timeline, fps: float, script: Script | None,
                    cue_spans: CueSpans | None, profile: Mapping | None = None,
                    sound_level=None) -> dict[str, Path]:
    import cv2

    from acting_mirror.render.graph import emotion_distribution_chart, emotion_over_time_chart

    summary = build_summary(timeline, fps, script, cue_spans, profile)
    paths = {"summary": directory / SUMMARY_FILE, "html": directory / HTML_FILE,
             "over_time_png": directory / OVER_TIME_FILE, "polar_png": directory / POLAR_FILE}
    write_atomically(paths["summary"], json.dumps(summary, indent=2) + "\n", "report file", ReportError)

    times, probabilities, shown = timeline.person_series(0)
    over_time = emotion_over_time_chart(times, probabilities, shown, timeline.labels, fps=fps,
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
        colour = _score_colour(None if cue["on_target_fraction"] is None else 100 * cue["on_target_fraction"])
        for start, end in cue["played"]:
            shading.append((start, end, colour, str(cue["number"])))
    return shading


# -- HTML ----------------------------------------------------------------------
STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; background: #fafafa;
       max-width: 1000px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { margin-bottom: 0.1em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #666; }
.score { display: inline-block; font-size: 2.4em; font-weight: bold; padding: 0.1em 0.5em; border-radius: 8px;
         color: white; margin: 0.4em 0; }
table { border-collapse: collapse; width: 100%; background: white; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } .num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.line { font-style: italic; }
.partial { color: #b35900; } .unplayed { color: #888; }
table.share { width: auto; } table.share td.barcell { width: 130px; }
.bar { display: inline-block; height: 0.8em; border-radius: 2px; vertical-align: middle; }
ol.work li { margin-bottom: 0.5em; }
img { max-width: 100%; background: white; border: 1px solid #e5e5e5; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
"""


def render_html(summary: Mapping, over_time_png: bytes, polar_png: bytes) -> str:
    """A self-contained page (images embedded as base64) from summary.json's data."""
    e = html.escape
    cues = summary.get("cues")
    title = summary.get("title") or "Rehearsal report"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{e(str(title))} - Acting Mirror</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(str(title))}</h1>",
             f'<p class="meta">Acting Mirror rehearsal report: {summary["frames"]} frames, '
             f'{_clock(summary["duration_s"])} at {summary["fps"]:.1f} fps; person 0 seen in '
             f'{summary["face_frames"]} frames ({_percent(_safe_ratio(summary["face_frames"], summary["frames"]))}).'
             "</p>"]
    profile = summary.get("profile")
    if isinstance(profile, Mapping):
        parts.append(f'<p class="meta">Corrected for the actor\'s resting face: profile {e(str(profile.get("path")))}'
                     f' ({e(str(profile.get("faces")))} faces from {e(str(profile.get("source")))}, '
                     f'{e(str(profile.get("created")))}).</p>')
    if cues is not None:
        parts += _score_html(summary, cues)
        parts += _work_on_html(cues)
        parts.append("<h2>Cues</h2>")
        parts.append("<table><tr><th>#</th><th>time</th><th>timed by</th><th>line</th><th>target</th><th>played</th>"
                     "<th>on target</th><th>no face</th><th>mean target probability</th><th>mostly shown</th></tr>")
        for cue in cues:
            reached = bool(cue["frames"])
            parts.append(f'<tr><td class="num">{cue["number"]}</td>'
                         f'<td class="num">{_cue_time_html(cue)}</td><td>{e(cue.get("timing", "script"))}</td>'
                         f'<td class="line">{e(cue["line"])}</td><td>{e(", ".join(cue["target"]))}</td>'
                         f'<td class="num">{_played_html(cue)}</td>'
                         f'<td class="num">{_percent(cue["on_target_fraction"]) if reached else ""}</td>'
                         f'<td class="num">{_percent(cue["no_face_fraction"]) if reached else ""}</td>'
                         f'<td class="num">{_percent(cue["mean_target_probability"]) if reached else ""}</td>'
                         f'<td>{e(cue["shown_most"] or ("no face" if reached else ""))}</td></tr>')
        parts.append("</table>")
    shading = (" The numbered band above it marks the cues, coloured by how well each went (green: 70% or more "
               "on target, orange: 40-70%, red: less).") if cues else ""
    parts.append(f'<h2>Over time</h2><p class="meta">Person 0\'s emotions, one lane each, filled up to its '
                 f"probability on the lane's own 0-100% scale (gaps: no face). The strip below shows the label "
                 f"shown on screen.{shading}</p>")
    parts.append(_image(over_time_png, "Emotion probabilities of person 0 over time"))
    parts.append('<h2>Distribution</h2><div class="charts">')
    parts.append(_image(polar_png, "Polar chart of person 0's emotion distribution"))
    parts.append('<table class="share"><tr><th>emotion</th><th class="num">share of face frames</th><th></th></tr>')
    from acting_mirror.render.graph import emotion_colours

    labels = list(summary["emotion_share"])
    colours = dict(zip(labels, emotion_colours(labels), strict=True))
    for label, share in sorted(summary["emotion_share"].items(), key=lambda item: item[1], reverse=True):
        parts.append(f'<tr><td>{e(label)}</td><td class="num">{_percent(share)}</td><td class="barcell">'
                     f'<span class="bar" style="width:{share * 120:.0f}px;background:{colours[label]}"></span>'
                     "</td></tr>")
    parts.append("</table></div></body></html>")
    return "\n".join(parts) + "\n"


def _score_html(summary: Mapping, cues: Sequence[Mapping]) -> list[str]:
    score = summary.get("score")
    reached = [cue for cue in cues if cue["frames"]]
    scored = sum(cue["frames"] for cue in reached)
    on_target = summary.get("on_target_frames")
    if on_target is None:  # a summary.json from before the count was stored
        on_target = sum(round(cue["on_target_fraction"] * cue["frames"]) for cue in reached)
    left_out = len(cues) - len(reached)
    partly = sum(1 for cue in reached if cue.get("played_fraction", 1.0) < FULLY_PLAYED)
    notes = []
    if partly:
        notes.append(f"{partly} partly played cue{'s count' if partly > 1 else ' counts'} only the frames played")
    if left_out:
        notes.append(f"{left_out} cue{'s' if left_out > 1 else ''} not reached {'are' if left_out > 1 else 'is'} "
                     "left out")
    return [f'<div class="score" style="background:{_score_colour(score)}">'
            f'{"–" if score is None else f"{score:.0f}"}<small>/100</small></div>',
            f'<p class="meta">The score is the share of the frames inside the script\'s cues in which person 0 '
            f"showed a target emotion: {on_target} of {scored} frames, over {len(reached)} of {len(cues)} cues. "
            "Frames with no face count as misses" + "".join(f"; {note}" for note in notes) + ".</p>"]


def _work_on_html(cues: Sequence[Mapping]) -> list[str]:
    e = html.escape
    parts = ["<h2>Work on</h2>"]
    worst = work_on(cues)
    if worst:
        parts.append('<ol class="work">')
        for cue in worst:
            shown = f"mostly {e(cue['shown_most'])}" if cue["shown_most"] else "no face seen"
            no_face = f", no face {_percent(cue['no_face_fraction'])} of the time" if cue["no_face_fraction"] else ""
            played = cue.get("played_fraction", 1.0)
            partly = f" (played {_percent(played)} of it)" if played < FULLY_PLAYED else ""
            parts.append(f'<li>Cue {cue["number"]} ({_clock(cue["start"])}): '
                         f'<span class="line">"{e(cue["line"])}"</span> - aim for '
                         f"<b>{e(' or '.join(cue['target']))}</b>; on target "
                         f"{_percent(cue['on_target_fraction'])}{partly}, you showed {shown}{no_face}.</li>")
        parts.append("</ol>")
    elif any(cue["frames"] for cue in cues):
        parts.append("<p>Nothing: every cue reached was on target all the way through.</p>")
    else:
        parts.append("<p>No cue was reached in this recording.</p>")
    return parts


def _cue_time_html(cue: Mapping) -> str:
    if cue["start"] is None:
        return '<span class="unplayed">not spoken</span>'
    return f'{_clock(cue["start"])}-{_clock(cue["end"])}'


def _played_html(cue: Mapping) -> str:
    played = cue.get("played_fraction", 1.0 if cue["frames"] else 0.0)
    if not cue["frames"]:
        return '<span class="unplayed">not reached</span>'
    if played < FULLY_PLAYED:
        return f'<span class="partial">played {_percent(played)}</span>'
    return "in full"


def _image(png: bytes, alt: str) -> str:
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}"></p>'


def _score_colour(score: float | None) -> str:
    if score is None:
        return "#999999"
    return "#2e9d4a" if score >= 70 else "#e69500" if score >= 40 else "#d0453a"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _safe_ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _clock(seconds: float) -> str:
    """m:ss.s; rounded to tenths first, so 59.96 s is 1:00.0, not 0:60.0."""
    tenths = round(float(seconds) * 10)
    minutes, tenths = divmod(tenths, 600)
    return f"{minutes}:{tenths / 10:04.1f}"


def score_line(summary_path: Path) -> str | None:
    """"score: 60/100 over 4 cues" from a summary.json (None without a script)."""
    summary = json.loads(Path(summary_path).read_text())
    if summary.get("score") is None:
        return None
    return f"score: {summary['score']:.0f}/100 over {len(summary['cues'])} cues"
