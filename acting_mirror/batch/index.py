"""DIR/index.csv and DIR/index.html: the takes of a batch side by side, ranked, with the best
take per cue (or per emotion) and charts comparing them."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from acting_mirror.batch.errors import BatchError
from acting_mirror.batch.takes import Take
from acting_mirror.files import write_atomically

if TYPE_CHECKING:
    import numpy as np

    from acting_mirror.script import Script

INDEX_CSV = "index.csv"
INDEX_HTML = "index.html"
MAX_CHART_TAKES = 30              # a cue's chart shows at most this many takes (the best ones)


@dataclass(frozen=True)
class IndexRow:
    take: Take
    status: str
    summary: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.summary is not None

    @property
    def score(self) -> float | None:
        return self.summary.get("score") if self.summary else None


def index_columns(script: Script | None, labels: Sequence[str]) -> list[str]:
    if script is not None:
        measures = [f"cue{number}_on_target" for number in range(1, len(script.cues) + 1)]
    else:
        measures = [f"share_{label}" for label in labels]
    return ["take", "video", "duration_s", "frames", "face_frames", "score", *measures, "status"]


def index_values(row: IndexRow, script: Script | None, labels: Sequence[str]) -> list:
    """A row of index.csv: the take's own summary.json numbers, unrounded."""
    summary = row.summary or {}
    if script is not None:
        cues = summary.get("cues") or [{}] * len(script.cues)
        measures = [cue.get("on_target_fraction") for cue in cues]
    else:
        share = summary.get("emotion_share") or {}
        measures = [share.get(label) for label in labels]
    return [row.take.name, row.take.video, summary.get("duration_s"), summary.get("frames"),
            summary.get("face_frames"), summary.get("score"), *measures, row.status]


def write_index(out: Path, rows: Sequence[IndexRow], script: Script | None, labels: Sequence[str]) -> dict[str, Path]:
    """DIR/index.csv and DIR/index.html, each replaced in one step."""
    csv_path, html_path = out / INDEX_CSV, out / INDEX_HTML
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(index_columns(script, labels))
    for row in rows:
        writer.writerow(["" if value is None else value for value in index_values(row, script, labels)])
    write_atomically(csv_path, table.getvalue(), "the index", BatchError)
    write_atomically(html_path, render_index(rows, script, labels), "the index", BatchError)
    return {"csv": csv_path, "html": html_path}


def ranked(rows: Sequence[IndexRow]) -> list[IndexRow]:
    """Analysed takes by score (highest first; unscored ones after, in take order), then
    the failed ones."""
    order = {id(row): i for i, row in enumerate(rows)}
    good = [row for row in rows if row.ok]
    good.sort(key=lambda row: (row.score is None, -(row.score or 0.0), order[id(row)]))
    return good + [row for row in rows if not row.ok]


def best_for_cue(rows: Sequence[IndexRow], number: int) -> tuple[IndexRow, dict] | None:
    """The take most on target in cue `number` (ties: the higher mean target probability,
    then the earlier take); None when no take reached the cue."""
    played = [(row, row.summary["cues"][number - 1]) for row in rows if row.ok and row.summary.get("cues")]
    played = [(row, cue) for row, cue in played if cue.get("on_target_fraction") is not None]
    if not played:
        return None
    return max(played, key=lambda pair: (pair[1]["on_target_fraction"], pair[1].get("mean_target_probability") or 0))


def comparison_chart(names: Sequence[str], values: Sequence[float | None], title: str, best: str | None = None,
                     colour: str = "#1f77b4", width: int = 640) -> np.ndarray:
    """Horizontal bars, one per take (highest first, at most MAX_CHART_TAKES), 0-100%,
    the best take's bar in `colour` and the rest lighter; a take with no value reads "-". BGR."""
    import numpy as np

    from acting_mirror.render.graph import canvas_to_bgr, new_figure

    pairs = sorted(zip(names, values, strict=True),
                   key=lambda pair: (-1.0 if pair[1] is None else -pair[1], pair[0] != best))
    shown = pairs[:MAX_CHART_TAKES]
    if len(pairs) > len(shown):
        title = f"{title} (best {len(shown)} of {len(pairs)} takes)"
    top, bottom = 28, 30  # pixels for the title and the axis
    height = top + bottom + 22 * len(shown)
    figure, canvas = new_figure((width, height))
    axes = figure.add_axes((0.25, bottom / height, 0.68, 22 * len(shown) / height))
    positions = np.arange(len(shown))[::-1]
    percents = [0.0 if value is None else 100 * value for _, value in shown]
    colours = [colour if name == best else "#c9c9c9" for name, _ in shown]
    axes.barh(positions, percents, color=colours, height=0.7)
    for position, (_, value), percent in zip(positions, shown, percents, strict=True):
        axes.text(percent + 1, position, "-" if value is None else f"{percent:.0f}%", va="center", fontsize=8)
    axes.set_yticks(positions, [name for name, _ in shown], fontsize=8)
    axes.set_xlim(0, 112)
    axes.set_xticks([0, 25, 50, 75, 100], ["0", "25", "50", "75", "100%"], fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(title, loc="left", fontsize=9)
    canvas.draw()
    return canvas_to_bgr(canvas, (width, height))


def _png(image: np.ndarray) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise BatchError("cannot encode a chart as PNG")
    return encoded.tobytes()


def render_index(rows: Sequence[IndexRow], script: Script | None, labels: Sequence[str]) -> str:
    """index.html: the takes ranked with links to their reports, then per cue (or, without
    a script, per emotion) the best take and a chart comparing all of them. Self-contained."""
    from acting_mirror.render.graph import emotion_colours
    from acting_mirror.render.html import STYLE, clock, embedded_image, percent, score_colour

    e = html.escape
    good = [row for row in rows if row.ok]
    failed = [row for row in rows if not row.ok]
    title = script.title if script is not None and script.title else "Takes"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{e(title)} - takes - Acting Mirror</title><style>{STYLE}"
             ".failed td { color: #a33; }</style></head><body>",
             f"<h1>{e(title)}</h1>",
             f'<p class="meta">Acting Mirror takes index: {len(rows)} takes, {len(good)} analysed'
             f'{f", {len(failed)} failed" if failed else ""}. Each take links to its own report.</p>']
    best = max((row for row in good if row.score is not None), key=lambda row: row.score, default=None)
    if best is not None:
        parts.append(f'<p>Best take: <a href="{_link(best)}"><b>{e(best.take.name)}</b></a>, score '
                     f'<b>{best.score:.0f}</b>/100.</p>')
    measure_heads = ([f"<th>cue {number}</th>" for number in range(1, len(script.cues) + 1)] if script is not None
                     else [f"<th>{e(label)}</th>" for label in labels])
    parts.append("<h2>Takes</h2><table><tr><th>#</th><th>take</th>"
                 f"{'<th>score</th>' if script is not None else ''}<th>length</th><th>face seen</th>"
                 f"{''.join(measure_heads)}</tr>")
    for rank, row in enumerate(ranked(good), start=1):
        summary = row.summary
        if script is not None:
            measures = [cue.get("on_target_fraction") for cue in summary.get("cues", [])]
            score = row.score
            score_cell = (f'<td class="num"><b style="color:{score_colour(score)}">'
                          f'{"-" if score is None else f"{score:.0f}"}</b></td>')
        else:
            measures = [summary["emotion_share"].get(label) for label in labels]
            score_cell = ""
        face = summary["face_frames"] / summary["frames"] if summary["frames"] else None
        parts.append(f'<tr><td class="num">{rank}</td><td><a href="{_link(row)}">{e(row.take.name)}</a></td>'
                     f'{score_cell}<td class="num">{clock(summary["duration_s"])}</td>'
                     f'<td class="num">{percent(face)}</td>'
                     + "".join(f'<td class="num">{percent(value)}</td>' for value in measures) + "</tr>")
    parts.append("</table>")
    if failed:
        parts.append("<h2>Failed</h2><table>")
        for row in failed:
            parts.append(f'<tr class="failed"><td>{e(row.take.name)}</td><td>{e(row.take.video)}</td>'
                         f"<td>{e(row.status)}</td></tr>")
        parts.append("</table>")
    names = [row.take.name for row in good]
    if script is not None:
        parts.append("<h2>Best take per cue</h2>")
        for number, cue in enumerate(script.cues, start=1):
            when = f"{clock(cue.start)}-{clock(cue.end)}" if cue.timed else "timed by each take's speech"
            parts.append(f'<h3>Cue {number} ({e(when)}): <span class="line">'
                         f'"{e(cue.line)}"</span> - {e(" or ".join(cue.targets))}</h3>')
            found = best_for_cue(good, number)
            if found is None:
                parts.append("<p>No take reached this cue.</p>")
                continue
            row, scores = found
            take_link = f'<a href="{_link(row)}"><b>{e(row.take.name)}</b></a>'
            if scores["on_target_fraction"] > 0:
                parts.append(f'<p>Your best take of <span class="line">"{e(cue.line)}"</span> was {take_link}: '
                             f'on target {percent(scores["on_target_fraction"])}.</p>')
            else:
                parts.append(f"<p>No take was on target here; the closest was {take_link} (mean target "
                             f'probability {percent(scores.get("mean_target_probability"))}).</p>')
            values = [r.summary["cues"][number - 1]["on_target_fraction"] for r in good]
            chart = comparison_chart(names, values, f"Cue {number}: share of frames on target", row.take.name,
                                     score_colour(100 * scores["on_target_fraction"]))
            parts.append(embedded_image(_png(chart), f"Cue {number}: on-target share of each take"))
    elif good:
        parts.append("<h2>Emotions</h2><p class=\"meta\">No script: the takes compared by the share of face "
                     "frames that showed each emotion.</p>")
        for label, colour in zip(labels, emotion_colours(labels), strict=True):
            values = [row.summary["emotion_share"].get(label) for row in good]
            top = max(range(len(good)), key=lambda i: values[i] or 0.0)
            if not values[top]:
                continue
            parts.append(f"<h3>{e(label)}</h3><p>Most {e(label)}: <a href=\"{_link(good[top])}\">"
                         f"<b>{e(names[top])}</b></a> ({percent(values[top])} of its face frames).</p>")
            chart = comparison_chart(names, values, f"share of face frames showing {label}", names[top], colour)
            parts.append(embedded_image(_png(chart), f"{label}: share of each take"))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _link(row: IndexRow) -> str:
    return f"{quote(row.take.name)}/report.html"
