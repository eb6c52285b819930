"""The rehearsal report: timeline.csv, summary.json, report.html and the charts as PNG.

`write_report` runs at the end of any run; `rebuild_report` (and the
`acting-mirror report DIR` command, `report_main`) makes it again from a saved
timeline.csv, optionally with a (new or edited) script, without the video.

Scoring, per cue, over the frames whose time lies in the cue (start <= t < end):
on_target_fraction is the share of those frames where person 0's shown label is
one of the cue's targets (no face counts as off-target); no_face_fraction is the
share without person 0; mean_target_probability is the mean, over the frames
with a face, of the summed probability of the target emotions. The overall
score is the frame-weighted mean of on_target_fraction, as 0-100.

The charts are drawn here with matplotlib's Agg canvas (no pyplot, no window)
and returned as BGR arrays like every other renderer; the report encodes them
to PNG and embeds them in the HTML as base64.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError
from acting_mirror.script import Script, ScriptError, load_script
from acting_mirror.timeline import Timeline, TimelineError

TIMELINE_FILE = "timeline.csv"
SUMMARY_FILE = "summary.json"
HTML_FILE = "report.html"
OVER_TIME_FILE = "emotion_over_time.png"
POLAR_FILE = "emotion_polar.png"
OUTPUT_FILES = (TIMELINE_FILE, SUMMARY_FILE, HTML_FILE, OVER_TIME_FILE, POLAR_FILE)
WORK_ON_COUNT = 3
MAX_CHART_POINTS = 600  # longer runs are averaged into this many points per line
DEFAULT_FPS = 30.0  # only when a one-frame timeline gives no other clue

# Colours per display name (the FER-2013 set); other label sets fall back to a cycle.
EMOTION_COLOURS = {
    "angry": "#d62728", "disgust": "#6b8e23", "scared": "#8c564b", "fear": "#8c564b",
    "happy": "#e6b400", "sad": "#1f77b4", "surprised": "#ff7f0e", "surprise": "#ff7f0e",
    "neutral": "#7f7f7f",
}
FALLBACK_COLOURS = ("#9467bd", "#17becf", "#e377c2", "#bcbd22", "#2ca02c", "#393b79")
NO_FACE_COLOUR = "#d9d9d9"

CueSpans = Sequence[Sequence[tuple[float, float]]]


class ReportError(MirrorError, ValueError):
    """A report that cannot be built from what is on disk; the message names the path."""


# -- scoring -------------------------------------------------------------------
def score_cues(timeline: Timeline, script: Script, cue_spans: CueSpans | None = None) -> list[dict]:
    """Per-cue scores for person 0. `cue_spans` gives, per cue, the (start, end) intervals
    in timeline time during which it was played (a camera's CuePlayer.played_spans);
    by default the script's own times. A cue with no frames has None scores."""
    if cue_spans is not None and len(cue_spans) != len(script.cues):
        raise ValueError(f"cue_spans has {len(cue_spans)} entries for {len(script.cues)} cues")
    times, probabilities, shown = timeline.person_series(0)
    label_index = {label: i for i, label in enumerate(timeline.labels)}
    seen = ~np.isnan(probabilities).any(axis=1)
    scores = []
    for number, cue in enumerate(script.cues, start=1):
        spans = tuple(cue_spans[number - 1]) if cue_spans is not None else ((cue.start, cue.end),)
        inside = np.zeros(len(times), bool)
        for start, end in spans:
            inside |= (times >= start) & (times < end)
        frames = int(inside.sum())
        face = inside & seen
        on_target = sum(1 for i in np.flatnonzero(inside) if shown[i] in cue.targets)
        target_columns = [label_index[t] for t in cue.targets if t in label_index]
        target_probability = probabilities[face][:, target_columns].sum(axis=1) if face.any() else None
        most = Counter(shown[i] for i in np.flatnonzero(face)).most_common(1)
        scores.append({
            "number": number,
            "start": cue.start,
            "end": cue.end,
            "line": cue.line,
            "target": list(cue.targets),
            "frames": frames,
            "face_frames": int(face.sum()),
            "on_target_fraction": on_target / frames if frames else None,
            "no_face_fraction": (frames - int(face.sum())) / frames if frames else None,
            "mean_target_probability": float(target_probability.mean()) if target_probability is not None else None,
            "shown_most": most[0][0] if most else None,
            "played": [[float(start), float(end)] for start, end in spans],
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
                  cue_spans: CueSpans | None = None) -> dict:
    """Everything summary.json holds."""
    summary = timeline.summary(fps)
    if script is not None:
        cues = score_cues(timeline, script, cue_spans)
        score = overall_score(cues)
        summary["title"] = script.title
        summary["cues"] = [_rounded(cue) for cue in cues]
        summary["score"] = None if score is None else round(score, 4)
    return summary


def _rounded(cue: dict) -> dict:
    keys = ("on_target_fraction", "no_face_fraction", "mean_target_probability")
    return {key: (round(value, 6) if key in keys and value is not None else value) for key, value in cue.items()}


# -- writing -------------------------------------------------------------------
def write_report(directory: str | Path, timeline: Timeline, fps: float, script: Script | None = None, *,
                 cue_spans: CueSpans | None = None) -> dict[str, Path]:
    """Write timeline.csv, summary.json, report.html and the PNG charts into `directory`
    (created if needed). Returns their paths by kind: csv, summary, html, over_time_png, polar_png."""
    directory = Path(directory)
    _make_directory(directory)
    paths = {"csv": timeline.write_csv(directory / TIMELINE_FILE)}
    paths.update(_write_analysis(directory, timeline, fps, script, cue_spans))
    return paths


def rebuild_report(directory: str | Path, script_path: str | Path | None = None,
                   labels: Sequence[str] | None = None) -> dict[str, Path]:
    """Read DIR/timeline.csv and write summary.json, report.html and the charts again.
    The frame rate comes from an existing summary.json, else from the frame times.
    A camera run's played cue times are reused from summary.json when the script has
    as many cues; otherwise the script's own times are used."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReportError(f"report directory {directory} not found")
    timeline = Timeline.read_csv(directory / TIMELINE_FILE)
    if labels is not None and tuple(labels) != timeline.labels:
        raise ReportError(f"{directory / TIMELINE_FILE}: its emotions ({', '.join(timeline.labels)}) differ from "
                          f"the model's ({', '.join(labels)})")
    previous = _read_previous_summary(directory / SUMMARY_FILE)
    fps = previous.get("fps") if isinstance(previous.get("fps"), (int, float)) and previous["fps"] > 0 else None
    fps = float(fps) if fps else fps_from_times(timeline.times)
    script = load_script(script_path, timeline.labels) if script_path else None
    spans = _previous_spans(previous, script) if script is not None else None
    paths = {"csv": directory / TIMELINE_FILE}
    paths.update(_write_analysis(directory, timeline, fps, script, spans))
    return paths


def fps_from_times(times: np.ndarray) -> float:
    """Frame rate from the median gap between distinct frame times."""
    gaps = np.diff(np.unique(np.asarray(times, float)))
    gaps = gaps[gaps > 0]
    return float(1.0 / np.median(gaps)) if len(gaps) else DEFAULT_FPS


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ReportError(f"report directory {directory} is a file") from None
    except OSError as error:
        raise ReportError(f"report directory {directory} cannot be created ({error.strerror})") from None


def _read_previous_summary(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}  # optional: it only lends the frame rate and played cue times
    return data if isinstance(data, dict) else {}


def _previous_spans(previous: dict, script: Script) -> list[list[tuple[float, float]]] | None:
    cues = previous.get("cues")
    if not isinstance(cues, list) or len(cues) != len(script.cues):
        return None
    spans = []
    for cue in cues:
        played = cue.get("played") if isinstance(cue, dict) else None
        try:
            spans.append([(float(start), float(end)) for start, end in played])
        except (TypeError, ValueError):
            return None
    return spans


def _write_analysis(directory: Path, timeline: Timeline, fps: float, script: Script | None,
                    cue_spans: CueSpans | None) -> dict[str, Path]:
    import cv2

    summary = build_summary(timeline, fps, script, cue_spans)
    paths = {"summary": directory / SUMMARY_FILE, "html": directory / HTML_FILE,
             "over_time_png": directory / OVER_TIME_FILE, "polar_png": directory / POLAR_FILE}
    paths["summary"].write_text(json.dumps(summary, indent=2) + "\n")

    times, probabilities, shown = timeline.person_series(0)
    over_time = emotion_over_time_chart(times, probabilities, shown, timeline.labels, fps=fps,
                                        shaded_spans=_cue_shading(summary.get("cues", ())))
    seen = probabilities[~np.isnan(probabilities).any(axis=1)]
    polar = emotion_polar_chart(summary["emotion_share"], seen.mean(axis=0) if len(seen) else None, timeline.labels)
    pngs = {}
    for key, image in (("over_time_png", over_time), ("polar_png", polar)):
        ok, encoded = cv2.imencode(".png", image)
        if not ok:
            raise ReportError(f"cannot encode {paths[key].name}")
        pngs[key] = encoded.tobytes()
        paths[key].write_bytes(pngs[key])
    paths["html"].write_text(render_html(summary, pngs["over_time_png"], pngs["polar_png"]))
    return paths


def _cue_shading(cues: Sequence[Mapping]) -> list[tuple[float, float, str, str]]:
    shading = []
    for cue in cues:
        colour = _score_colour(None if cue["on_target_fraction"] is None else 100 * cue["on_target_fraction"])
        for start, end in cue["played"]:
            shading.append((start, end, colour, str(cue["number"])))
    return shading


# -- charts --------------------------------------------------------------------
def emotion_colours(labels: Sequence[str]) -> list[str]:
    fallback = iter(FALLBACK_COLOURS * (len(labels) // len(FALLBACK_COLOURS) + 1))
    return [EMOTION_COLOURS.get(label.lower()) or next(fallback) for label in labels]


def _figure(size: tuple[int, int], dpi: int = 100):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi, facecolor="white")
    return figure, FigureCanvasAgg(figure)


def _to_bgr(canvas) -> np.ndarray:
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[:, :, 2::-1])


def emotion_over_time_chart(times: np.ndarray, probabilities: np.ndarray, shown: Sequence[str | None],
                            labels: Sequence[str], size: tuple[int, int] = (960, 380), fps: float = 0.0,
                            shaded_spans: Sequence[tuple[float, float, str, str]] = ()) -> np.ndarray:
    """Person 0's probabilities over time (gaps where no face) above a strip of the shown
    label; `shaded_spans` are (start_s, end_s, colour, text) bands, e.g. the cues. BGR."""
    from matplotlib.patches import Patch

    times = np.asarray(times, float)
    probabilities = np.asarray(probabilities, float)
    colours = emotion_colours(labels)
    figure, canvas = _figure(size)
    grid = figure.add_gridspec(2, 1, height_ratios=(9, 1), hspace=0.08, left=0.06, right=0.84, top=0.9, bottom=0.14)
    lines_axes = figure.add_subplot(grid[0])
    strip_axes = figure.add_subplot(grid[1], sharex=lines_axes)

    period = 1.0 / fps if fps > 0 else (float(np.median(np.diff(times))) if len(times) > 1 else 1.0)
    left = float(times[0]) if len(times) else 0.0
    right = float(times[-1]) + period if len(times) else 1.0
    for start, end, colour, text in shaded_spans:
        for axes in (lines_axes, strip_axes):
            axes.axvspan(start, end, color=colour, alpha=0.13, linewidth=0)
        lines_axes.axvline(start, color=colour, alpha=0.6, linewidth=0.8)
        if end > left and start < right:
            lines_axes.text((max(start, left) + min(end, right)) / 2, 1.02, text, ha="center", va="bottom",
                            fontsize=9, color="#333333", transform=lines_axes.get_xaxis_transform())
    line_times, line_values = _binned(times, probabilities, MAX_CHART_POINTS)
    for column, (label, colour) in enumerate(zip(labels, colours, strict=True)):
        lines_axes.plot(line_times, line_values[:, column], color=colour, linewidth=1.4, label=label)
    lines_axes.set_ylim(0, 1)
    lines_axes.set_xlim(left, right)
    lines_axes.set_ylabel("probability")
    lines_axes.grid(alpha=0.25)
    lines_axes.tick_params(labelbottom=False)
    lines_axes.set_title("Emotions of person 0 over time", loc="left", fontsize=11, pad=18)

    # the strip: the label shown on screen, run by run
    colour_of = dict(zip(labels, colours, strict=True))
    ends = np.append(times[1:], times[-1] + period) if len(times) else times
    runs: dict[str | None, list[tuple[float, float]]] = {}  # one bar collection per label: fast for long runs
    run_start = 0
    for i in range(1, len(times) + 1):
        if i == len(times) or shown[i] != shown[run_start]:
            runs.setdefault(shown[run_start], []).append((times[run_start], ends[i - 1] - times[run_start]))
            run_start = i
    for label, bars in runs.items():
        strip_axes.broken_barh(bars, (0, 1), facecolors=colour_of.get(label, NO_FACE_COLOUR), linewidth=0)
    strip_axes.set_ylim(0, 1)
    strip_axes.set_yticks([])
    strip_axes.set_ylabel("shown", rotation=0, ha="right", va="center", fontsize=9)
    strip_axes.set_xlabel("time (s)")

    handles = [Patch(color=colour, label=label) for label, colour in zip(labels, colours, strict=True)]
    handles.append(Patch(color=NO_FACE_COLOUR, label="no face"))
    figure.legend(handles=handles, loc="center left", bbox_to_anchor=(0.85, 0.55), frameon=False, fontsize=9)
    return _to_bgr(canvas)


def _binned(times: np.ndarray, values: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Average a long series into at most `points` bins, so a long rehearsal reads as a
    trend rather than noise; a bin with no face stays NaN (a gap in the line)."""
    if len(times) <= points:
        return times, values.reshape(len(times), -1)
    size = -(-len(times) // points)
    padded = -len(times) % size
    present = ~np.isnan(values)
    sums = np.pad(np.where(present, values, 0.0), ((0, padded), (0, 0))).reshape(-1, size, values.shape[1]).sum(1)
    counts = np.pad(present, ((0, padded), (0, 0))).reshape(-1, size, values.shape[1]).sum(1)
    means = np.full(sums.shape, np.nan)
    np.divide(sums, counts, out=means, where=counts > 0)
    bin_times = np.pad(times, (0, padded), mode="edge").reshape(-1, size).mean(1)
    return bin_times, means


def emotion_polar_chart(share: Mapping[str, float], mean_probabilities: np.ndarray | None, labels: Sequence[str],
                        size: tuple[int, int] = (460, 460)) -> np.ndarray:
    """Polar distribution for person 0: bars for the share of face frames per shown
    emotion, a dashed outline for the mean probability. BGR."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    figure, canvas = _figure(size)
    axes = figure.add_subplot(projection="polar")
    angles = np.linspace(0, 2 * np.pi, len(labels), endpoint=False)
    values = np.array([share.get(label, 0.0) for label in labels])
    axes.bar(angles, values, width=2 * np.pi / len(labels) * 0.8, color=emotion_colours(labels), alpha=0.85,
             edgecolor="white")
    handles = [Line2D([], [], color="#555555", linewidth=8, alpha=0.6, label="share of face frames")]
    if mean_probabilities is not None:
        closed = np.append(angles, angles[0])
        axes.plot(closed, np.append(mean_probabilities, mean_probabilities[0]), color="#222222", linestyle="--",
                  linewidth=1.2)
        handles.append(Line2D([], [], color="#222222", linestyle="--", label="mean probability"))
    top = max(0.1, float(values.max()) if len(values) else 0.0,
              float(np.max(mean_probabilities)) if mean_probabilities is not None else 0.0)
    axes.set_ylim(0, min(1.0, top * 1.1))
    axes.set_xticks(angles, labels)
    axes.yaxis.set_major_locator(MaxNLocator(4))
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.set_rlabel_position(180 / len(labels))  # between the first two bars
    axes.tick_params(axis="y", labelsize=8, labelcolor="#555555")
    axes.set_title("Emotion distribution, person 0", fontsize=11, pad=14)
    figure.legend(handles=handles, loc="lower center", ncol=2, frameon=False, fontsize=9)
    figure.subplots_adjust(bottom=0.12, top=0.86)
    return _to_bgr(canvas)


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
th { background: #f0f0f0; } td.num { text-align: right; white-space: nowrap; }
.line { font-style: italic; }
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
    if cues is not None:
        score = summary.get("score")
        parts.append(f'<div class="score" style="background:{_score_colour(score)}">'
                     f'{"–" if score is None else f"{score:.0f}"}<small>/100</small></div>')
        parts.append('<p class="meta">The score is the share of the scripted frames in which your face showed '
                     "a target emotion (frames with no face count as misses).</p>")
        parts.append("<h2>Work on</h2>")
        worst = work_on(cues)
        if worst:
            parts.append('<ol class="work">')
            for cue in worst:
                shown = f"mostly {e(cue['shown_most'])}" if cue["shown_most"] else "no face seen"
                no_face = (f", no face {_percent(cue['no_face_fraction'])} of the time"
                           if cue["no_face_fraction"] else "")
                parts.append(f'<li>Cue {cue["number"]} ({_clock(cue["start"])}): '
                             f'<span class="line">"{e(cue["line"])}"</span> - aim for '
                             f"<b>{e(' or '.join(cue['target']))}</b>; on target "
                             f"{_percent(cue['on_target_fraction'])}, you showed {shown}{no_face}.</li>")
            parts.append("</ol>")
        elif any(cue["frames"] for cue in cues):
            parts.append("<p>Nothing: every cue was on target all the way through.</p>")
        else:
            parts.append("<p>No cue was reached in this recording.</p>")
        parts.append("<h2>Cues</h2>")
        parts.append("<table><tr><th>#</th><th>time</th><th>line</th><th>target</th><th>on target</th>"
                     "<th>no face</th><th>mean target probability</th><th>mostly shown</th></tr>")
        for cue in cues:
            parts.append(f'<tr><td class="num">{cue["number"]}</td>'
                         f'<td class="num">{_clock(cue["start"])}-{_clock(cue["end"])}</td>'
                         f'<td class="line">{e(cue["line"])}</td><td>{e(", ".join(cue["target"]))}</td>'
                         f'<td class="num">{_percent(cue["on_target_fraction"])}</td>'
                         f'<td class="num">{_percent(cue["no_face_fraction"])}</td>'
                         f'<td class="num">{_percent(cue["mean_target_probability"])}</td>'
                         f'<td>{e(cue["shown_most"] or "-")}</td></tr>')
        parts.append("</table>")
    shading = " (the cues are shaded and numbered; the colour says how well each went)" if cues else ""
    parts.append(f"<h2>Over time</h2><p class=\"meta\">Probabilities of each emotion for person 0, and the label "
                 f"shown on screen in the strip below{shading}.</p>")
    parts.append(_image(over_time_png, "Emotion probabilities of person 0 over time"))
    parts.append('<h2>Distribution</h2><div class="charts">')
    parts.append(_image(polar_png, "Polar chart of person 0's emotion distribution"))
    parts.append("<table style=\"width:auto\"><tr><th>emotion</th><th>share of face frames</th></tr>")
    colours = dict(zip(summary["emotion_share"], emotion_colours(list(summary["emotion_share"])), strict=True))
    for label, share in sorted(summary["emotion_share"].items(), key=lambda item: item[1], reverse=True):
        parts.append(f'<tr><td>{e(label)}</td><td class="num">{_percent(share)} '
                     f'<span class="bar" style="width:{share * 120:.0f}px;background:{colours[label]}"></span>'
                     "</td></tr>")
    parts.append("</table></div></body></html>")
    return "\n".join(parts) + "\n"


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
    minutes, secs = divmod(float(seconds), 60)
    return f"{int(minutes)}:{secs:04.1f}"


# -- command -------------------------------------------------------------------
def report_main(argv: list[str]) -> int:
    """`acting-mirror report DIR [--script scene.yaml]`: rebuild a report from DIR/timeline.csv."""
    parser = argparse.ArgumentParser(
        prog="acting-mirror report",
        description="Rebuild report.html, summary.json and the charts from a saved timeline.csv, "
                    "optionally scoring it against an acting script.")
    parser.add_argument("directory", metavar="DIR", help="a report directory holding timeline.csv")
    parser.add_argument("--script", metavar="YAML", help="acting script to score the rehearsal against")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        paths = rebuild_report(args.directory, args.script)
    except (ReportError, TimelineError, ScriptError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    summary = json.loads(paths["summary"].read_text())
    if summary.get("score") is not None:
        print(f"score: {summary['score']:.0f}/100 over {len(summary['cues'])} cues")
    for key in ("html", "summary", "over_time_png", "polar_png"):
        print(f"{key}: {paths[key]}")
    return 0
