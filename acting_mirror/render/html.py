"""The report's HTML: a self-contained page (charts embedded as base64) from summary.json's
data, and the small pieces (clock times, percentages, score colours) other pages reuse.
Strings in, a string out: no files."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

from acting_mirror.scoring import FULLY_PLAYED, work_on

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
             f'{clock(summary["duration_s"])} at {summary["fps"]:.1f} fps; person 0 seen in '
             f'{summary["face_frames"]} frames ({percent(_safe_ratio(summary["face_frames"], summary["frames"]))}).'
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
                         f'<td class="num">{percent(cue["on_target_fraction"]) if reached else ""}</td>'
                         f'<td class="num">{percent(cue["no_face_fraction"]) if reached else ""}</td>'
                         f'<td class="num">{percent(cue["mean_target_probability"]) if reached else ""}</td>'
                         f'<td>{e(cue["shown_most"] or ("no face" if reached else ""))}</td></tr>')
        parts.append("</table>")
    shading = (" The numbered band above it marks the cues, coloured by how well each went (green: 70% or more "
               "on target, orange: 40-70%, red: less).") if cues else ""
    parts.append(f'<h2>Over time</h2><p class="meta">Person 0\'s emotions, one lane each, filled up to its '
                 f"probability on the lane's own 0-100% scale (gaps: no face). The strip below shows the label "
                 f"shown on screen.{shading}</p>")
    parts.append(embedded_image(over_time_png, "Emotion probabilities of person 0 over time"))
    parts.append('<h2>Distribution</h2><div class="charts">')
    parts.append(embedded_image(polar_png, "Polar chart of person 0's emotion distribution"))
    parts.append('<table class="share"><tr><th>emotion</th><th class="num">share of face frames</th><th></th></tr>')
    from acting_mirror.render.graph import emotion_colours

    labels = list(summary["emotion_share"])
    colours = dict(zip(labels, emotion_colours(labels), strict=True))
    for label, share in sorted(summary["emotion_share"].items(), key=lambda item: item[1], reverse=True):
        parts.append(f'<tr><td>{e(label)}</td><td class="num">{percent(share)}</td><td class="barcell">'
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
    return [f'<div class="score" style="background:{score_colour(score)}">'
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
            no_face = f", no face {percent(cue['no_face_fraction'])} of the time" if cue["no_face_fraction"] else ""
            played = cue.get("played_fraction", 1.0)
            partly = f" (played {percent(played)} of it)" if played < FULLY_PLAYED else ""
            parts.append(f'<li>Cue {cue["number"]} ({clock(cue["start"])}): '
                         f'<span class="line">"{e(cue["line"])}"</span> - aim for '
                         f"<b>{e(' or '.join(cue['target']))}</b>; on target "
                         f"{percent(cue['on_target_fraction'])}{partly}, you showed {shown}{no_face}.</li>")
        parts.append("</ol>")
    elif any(cue["frames"] for cue in cues):
        parts.append("<p>Nothing: every cue reached was on target all the way through.</p>")
    else:
        parts.append("<p>No cue was reached in this recording.</p>")
    return parts


def _cue_time_html(cue: Mapping) -> str:
    if cue["start"] is None:
        return '<span class="unplayed">not spoken</span>'
    return f'{clock(cue["start"])}-{clock(cue["end"])}'


def _played_html(cue: Mapping) -> str:
    played = cue.get("played_fraction", 1.0 if cue["frames"] else 0.0)
    if not cue["frames"]:
        return '<span class="unplayed">not reached</span>'
    if played < FULLY_PLAYED:
        return f'<span class="partial">played {percent(played)}</span>'
    return "in full"


def embedded_image(png: bytes, alt: str) -> str:
    """An <img> holding the PNG itself (the page needs no other file)."""
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}"></p>'


def score_colour(score: float | None) -> str:
    """Green from 70, orange from 40, red below; grey without a score."""
    if score is None:
        return "#999999"
    return "#2e9d4a" if score >= 70 else "#e69500" if score >= 40 else "#d0453a"


def percent(value: float | None) -> str:
    """0.256 -> "26%"; None -> "-"."""
    return "-" if value is None else f"{100 * value:.0f}%"


def _safe_ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def clock(seconds: float) -> str:
    """m:ss.s; rounded to tenths first, so 59.96 s is 1:00.0, not 0:60.0."""
    tenths = round(float(seconds) * 10)
    minutes, tenths = divmod(tenths, 600)
    return f"{minutes}:{tenths / 10:04.1f}"
