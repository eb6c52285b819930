"""Report: cue scoring against a hand-computed timeline, real detections, the files, and the command."""

from __future__ import annotations

import base64
import csv
import html
import json
import re

import numpy as np
import pytest

from acting_mirror.cli import main as cli_main
from acting_mirror.render.graph import emotion_distribution_chart, emotion_over_time_chart
from acting_mirror.report import rebuild_report, write_report
from acting_mirror.scoring import build_summary, overall_score, score_cues, work_on
from acting_mirror.script import Cue, Script
from acting_mirror.timeline import Timeline
from acting_mirror.training.data import FER_DISPLAY_NAMES
from acting_mirror.types import Box, Face, FrameResult

LABELS = FER_DISPLAY_NAMES
FPS = 10.0


def write_run_report(directory, timeline, fps, script=None, cue_spans=None):
    """The report a run writes: its summary built once, then the files."""
    return write_report(directory, timeline, build_summary(timeline, fps, script, cue_spans))


def probabilities(**named: float) -> tuple[float, ...]:
    """A probability row: the named emotions as given, the rest sharing what is left."""
    rest = (1.0 - sum(named.values())) / (len(LABELS) - len(named))
    return tuple(named.get(label, rest) for label in LABELS)


ROWS = {  # shown label -> its probability row
    "happy": probabilities(happy=0.8, sad=0.05, angry=0.05),
    "neutral": probabilities(neutral=0.6, happy=0.3),
    "sad": probabilities(sad=0.7, angry=0.1),
    "angry": probabilities(angry=0.6, sad=0.2),
}
# person 0's shown label in frames 0-19 (10 fps); None = no face
PLAN = ["happy", "happy", "happy", "neutral", None, "happy", "happy", "neutral", None, "happy",
        "sad", "sad", "angry", "happy", "happy", None, "sad", "happy", "angry", "happy"]
LINE_A = 'Say "yes" & <mean> it'
SCRIPT = Script("Scene <1> & co", (
    Cue(0.0, 1.0, LINE_A, ("happy",)),
    Cue(1.0, 2.0, "Leave me alone.", ("sad", "angry")),
    Cue(5.0, 6.0, "Never reached.", ("neutral",)),
))


def hand_timeline() -> Timeline:
    timeline = Timeline(LABELS)
    for index, label in enumerate(PLAN):
        faces = []
        if label:
            faces.append(Face(Box(20, 20, 60, 60), ROWS[label], label, 0))
        if index >= 10:  # a second person who is always sad must not count for person 0
            faces.append(Face(Box(200, 20, 50, 50), ROWS["sad"], "sad", 1))
        timeline.add(FrameResult(index, index / FPS, tuple(faces)))
    return timeline


def test_scores_match_hand_computation():
    cues = score_cues(hand_timeline(), SCRIPT)
    first, second, third = cues
    # cue 1, frames 0-9: happy in 0,1,2,5,6,9; neutral in 3,7; no face in 4,8
    assert first["frames"] == 10
    assert first["on_target_fraction"] == pytest.approx(6 / 10)
    assert first["no_face_fraction"] == pytest.approx(2 / 10)
    assert first["mean_target_probability"] == pytest.approx((6 * 0.8 + 2 * 0.3) / 8)
    assert first["shown_most"] == "happy"
    # cue 2, frames 10-19 (1.0 s belongs here, not to cue 1): sad x3, angry x2 on target; happy x4; no face x1
    assert second["frames"] == 10
    assert second["on_target_fraction"] == pytest.approx(5 / 10)
    assert second["no_face_fraction"] == pytest.approx(1 / 10)
    assert second["mean_target_probability"] == pytest.approx((3 * 0.8 + 2 * 0.8 + 4 * 0.1) / 9)
    assert second["target"] == ["sad", "angry"]
    # cue 3 lies after the recording: no frames, no scores
    assert third["frames"] == 0
    assert third["on_target_fraction"] is None and third["mean_target_probability"] is None
    assert overall_score(cues) == pytest.approx(100 * (6 + 5) / 20)
    assert [cue["number"] for cue in work_on(cues)] == [2, 1]


def test_scores_follow_played_spans():
    # a camera run where the actor started cue 1 at 0.5 s and moved on every half second
    spans = [[(0.5, 1.0)], [(1.0, 1.5)], [(1.5, 2.0)]]
    first, second, third = score_cues(hand_timeline(), SCRIPT, spans)
    assert (first["frames"], first["on_target_fraction"], first["no_face_fraction"]) == (5, 3 / 5, 1 / 5)
    assert (second["frames"], second["on_target_fraction"], second["no_face_fraction"]) == (5, 3 / 5, 0.0)
    assert (third["frames"], third["on_target_fraction"], third["no_face_fraction"]) == (5, 0.0, 1 / 5)
    assert overall_score([first, second, third]) == pytest.approx(100 * 6 / 15)


def embedded_images(page: str) -> list[np.ndarray]:
    import cv2

    images = []
    for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page):
        images.append(cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR))
    return images


def test_report_files_exist_and_parse(tmp_path):
    import cv2

    paths = write_run_report(tmp_path / "out" / "run1", hand_timeline(), FPS, SCRIPT)
    directory = tmp_path / "out" / "run1"
    assert {path.name for path in directory.iterdir()} == {
        "timeline.csv", "summary.json", "report.html", "emotion_over_time.png", "emotion_polar.png"}
    assert paths["html"] == directory / "report.html"

    with paths["csv"].open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == ["frame", "time_s", "person", "track", "x", "y", "w", "h", *LABELS, "label"]
    person0 = [row for row in rows if row["person"] == "0"]
    assert len(person0) == len(PLAN)
    assert [row["label"] or None for row in person0] == PLAN

    summary = json.loads(paths["summary"].read_text())
    for key in ("frames", "duration_s", "fps", "face_frames", "emotion_share", "cues", "score", "title"):
        assert key in summary
    assert summary["frames"] == 20 and summary["fps"] == FPS
    assert summary["duration_s"] == pytest.approx(2.0)
    assert summary["face_frames"] == sum(label is not None for label in PLAN)
    assert sum(summary["emotion_share"].values()) == pytest.approx(1.0)
    assert 0 <= summary["score"] <= 100
    for cue in summary["cues"]:
        assert {"start", "end", "line", "target", "on_target_fraction", "no_face_fraction",
                "mean_target_probability"} <= set(cue)
        for key in ("on_target_fraction", "no_face_fraction", "mean_target_probability"):
            assert cue[key] is None or 0.0 <= cue[key] <= 1.0

    page = paths["html"].read_text()
    assert html.escape(LINE_A) in page and LINE_A not in page  # escaped, never raw
    assert html.escape("Scene <1> & co") in page
    assert "Leave me alone." in page and "Never reached." in page
    work_section = page.split("Work on", 1)[1].split("<h2>", 1)[0]
    assert work_section.index("Leave me alone.") < work_section.index(html.escape(LINE_A))  # worst first
    images = embedded_images(page)
    assert len(images) == 2 and all(image is not None and image.shape[0] > 100 for image in images)
    for key in ("over_time_png", "polar_png"):
        image = cv2.imread(str(paths[key]))
        assert image is not None and image.ndim == 3 and min(image.shape[:2]) > 100


def test_report_without_script(tmp_path):
    paths = write_run_report(tmp_path, hand_timeline(), FPS)
    summary = json.loads(paths["summary"].read_text())
    assert "cues" not in summary and "score" not in summary
    page = paths["html"].read_text()
    assert "Work on" not in page
    assert len(embedded_images(page)) == 2


def test_charts_are_bgr_arrays_of_the_asked_size():
    times, probs, shown = hand_timeline().person_series(0)
    chart = emotion_over_time_chart(times, probs, shown, LABELS, size=(800, 300), fps=FPS,
                                    cue_spans=[(0.0, 1.0, "#2e9d4a", "1")])
    assert chart.shape == (300, 800, 3) and chart.dtype == np.uint8
    polar = emotion_distribution_chart(dict.fromkeys(LABELS, 1 / len(LABELS)), None, LABELS, size=(300, 300))
    assert polar.shape == (300, 300, 3)
    assert len(np.unique(polar.reshape(-1, 3), axis=0)) > 10  # something was drawn


def test_rebuild_keeps_fps_and_played_cues_and_rescores(tmp_path):
    spans = [[(0.5, 1.0)], [(1.0, 1.5)], [(1.5, 2.0)]]
    write_run_report(tmp_path, hand_timeline(), 12.5, SCRIPT, spans)
    original = json.loads((tmp_path / "summary.json").read_text())
    (tmp_path / "report.html").unlink()
    (tmp_path / "emotion_polar.png").unlink()
    csv_before = (tmp_path / "timeline.csv").read_bytes()

    script_path = tmp_path / "scene.yaml"
    script_path.write_text(
        "title: Scene <1> & co\ncues:\n"
        f"  - {{start: 0, end: 1, line: {json.dumps(LINE_A)}, emotion: happy}}\n"
        "  - {start: 1, end: 2, line: Leave me alone., emotion: [sad, angry]}\n"
        "  - {start: 5, end: 6, line: Never reached., emotion: neutral}\n")
    paths = rebuild_report(tmp_path, str(script_path))
    rebuilt = json.loads(paths["summary"].read_text())
    assert rebuilt == original  # same fps (from summary.json), same played cue times
    assert paths["html"].is_file() and paths["polar_png"].is_file()
    assert (tmp_path / "timeline.csv").read_bytes() == csv_before

    # an edited script (cue 1 now accepts neutral too) is scored again; without summary.json
    # the fps comes from the frame times and the cue times from the script
    (tmp_path / "summary.json").unlink()
    script_path.write_text(script_path.read_text().replace("emotion: happy", "emotion: [happy, neutral]"))
    rescored = json.loads(rebuild_report(tmp_path, str(script_path))["summary"].read_text())
    assert rescored["fps"] == pytest.approx(FPS)
    assert rescored["cues"][0]["on_target_fraction"] == pytest.approx(8 / 10)
    assert rescored["cues"][0]["played"] == [[0.0, 1.0]]


def test_report_command(tmp_path, capsys):
    write_run_report(tmp_path, hand_timeline(), FPS, SCRIPT)
    script_path = tmp_path / "scene.yaml"
    script_path.write_text("title: again\ncues:\n  - {start: 0, end: 2, line: All of it., emotion: happy}\n")
    assert cli_main(["report", str(tmp_path), "--script", str(script_path)]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "report.html") in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["title"] == "again"
    assert summary["score"] == pytest.approx(100 * PLAN.count("happy") / len(PLAN), abs=1e-3)
    assert "All of it." in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize("setup, message", [
    ("missing_dir", "report directory .* not found"),
    ("no_timeline", "timeline file .*timeline.csv not found"),
    ("bad_timeline", r"timeline.csv: line 3: time_s 'soon' is not a number"),
    ("bad_script", r'cue 1 \("x"\): unknown emotion \'bored\''),
])
def test_report_command_fails_cleanly(tmp_path, capsys, setup, message):
    directory = tmp_path / "run"
    args = [str(directory)]
    if setup != "missing_dir":
        directory.mkdir()
    if setup in ("bad_timeline", "bad_script"):
        hand_timeline().write_csv(directory / "timeline.csv")
    if setup == "bad_timeline":
        lines = (directory / "timeline.csv").read_text().splitlines()
        lines[2] = re.sub(r"^(\d+),[^,]+,", r"\1,soon,", lines[2])
        (directory / "timeline.csv").write_text("\n".join(lines) + "\n")
    if setup == "bad_script":
        (tmp_path / "s.yaml").write_text("cues:\n  - {start: 0, end: 1, line: x, emotion: bored}\n")
        args += ["--script", str(tmp_path / "s.yaml")]
    assert cli_main(["report", *args]) == 1  # a run that failed; 2 is for bad usage
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("acting-mirror: error: ")
    assert re.search(message, error)
    assert not (directory / "report.html").exists()


def test_real_detections_face_leaves_and_comes_back(tmp_path):
    """The timeline from OpenCV's Haar cascade on a clip where the face leaves and
    returns: face frames and no-face fractions follow what the detector saw."""
    import cv2

    from acting_mirror.config import HaarConfig
    from acting_mirror.demo import synth_frames
    from acting_mirror.detect import HaarDetector

    fps, count = 6.0, 12
    detector = HaarDetector(HaarConfig())
    rng = np.random.default_rng(7)
    timeline = Timeline(LABELS)
    detected = []
    for index, image in enumerate(synth_frames("leave", count, (320, 240))):
        boxes = [d.box for d in detector.detect(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))]
        detected.append(bool(boxes))
        faces = ()
        if boxes:
            row = rng.dirichlet(np.ones(len(LABELS)))
            row = 0.5 * row + 0.5 * np.eye(len(LABELS))[LABELS.index("happy")]  # the astronaut smiles
            faces = (Face(boxes[0], tuple(row), LABELS[int(row.argmax())], 0),)
        timeline.add(FrameResult(index, index / fps, faces))
    assert detected[0] and detected[-1] and not all(detected)  # the detector saw the face leave and return

    script = Script("leave", (Cue(0.0, 1.0, "Goodbye!", ("happy",)), Cue(1.0, 2.0, "Come back...", ("sad",))))
    paths = write_run_report(tmp_path, timeline, fps, script)
    summary = json.loads(paths["summary"].read_text())
    assert summary["face_frames"] == sum(detected)
    assert summary["emotion_share"]["happy"] == pytest.approx(1.0)
    first, second = summary["cues"]
    in_first, in_second = detected[:6], detected[6:]
    assert first["no_face_fraction"] == pytest.approx(in_first.count(False) / 6, abs=1e-6)
    assert second["no_face_fraction"] == pytest.approx(in_second.count(False) / 6, abs=1e-6)
    assert first["on_target_fraction"] == pytest.approx(sum(in_first) / 6, abs=1e-6)  # every seen frame is happy
    assert second["on_target_fraction"] == 0.0

    with paths["csv"].open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["person"] == "0"]
    assert [row["label"] != "" for row in rows] == detected
    assert all(row["x"] == "" for row, seen in zip(rows, detected, strict=True) if not seen)


def test_rebuild_refuses_a_timeline_of_other_emotions(tmp_path):
    from acting_mirror.report import ReportError

    hand_timeline().write_csv(tmp_path / "timeline.csv")
    with pytest.raises(ReportError, match="differ from the model's"):
        rebuild_report(tmp_path, None, labels=("happy", "sad"))
    assert rebuild_report(tmp_path, None, labels=LABELS)["html"].is_file()


def test_rebuild_of_a_file_run_scores_the_edited_script_times(tmp_path):
    write_run_report(tmp_path, hand_timeline(), FPS, SCRIPT)  # a video file's run: no played spans
    assert json.loads((tmp_path / "summary.json").read_text())["cue_times"] == "script"
    script_path = tmp_path / "edited.yaml"
    script_path.write_text(  # cue 1 now ends at 0.5 s instead of 1 s
        "cues:\n  - {start: 0, end: 0.5, line: First half., emotion: happy}\n"
        "  - {start: 1, end: 2, line: Leave me alone., emotion: [sad, angry]}\n"
        "  - {start: 5, end: 6, line: Never reached., emotion: neutral}\n")
    first = json.loads(rebuild_report(tmp_path, script_path)["summary"].read_text())["cues"][0]
    assert (first["played"], first["frames"]) == ([[0.0, 0.5]], 5)
    assert first["on_target_fraction"] == pytest.approx(3 / 5)  # happy in frames 0, 1, 2 of 0-4
    assert "0:00.0-0:00.5" in (tmp_path / "report.html").read_text()

    # a summary.json written before `cue_times` existed: a file run's played spans were its script times
    summary = json.loads((tmp_path / "summary.json").read_text())
    del summary["cue_times"]
    for cue in summary["cues"]:
        cue["played"] = [[cue["start"], cue["end"]]] if cue["number"] != 1 else [[0.0, 1.0]]
        cue["end"] = 1.0 if cue["number"] == 1 else cue["end"]
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    again = json.loads(rebuild_report(tmp_path, script_path)["summary"].read_text())["cues"][0]
    assert (again["played"], again["frames"]) == ([[0.0, 0.5]], 5)


@pytest.mark.parametrize("seconds, text", [(59.96, "1:00.0"), (119.97, "2:00.0"), (59.94, "0:59.9"),
                                           (0.0, "0:00.0"), (61.25, "1:01.2"), (3600.0, "60:00.0")])
def test_clock_rounds_before_splitting_minutes(seconds, text):
    from acting_mirror.render.html import clock

    assert clock(seconds) == text


def test_partly_played_and_unreached_cues_are_flagged(tmp_path):
    # the recording covers 0-2 s: cue 2 (1.5-2.5 s) is half played, cue 3 never reached
    script = Script("partial", (Cue(0.0, 1.0, "Whole.", ("happy",)), Cue(1.5, 2.5, "Half.", ("happy",)),
                                Cue(5.0, 6.0, "Never.", ("happy",))))
    paths = write_run_report(tmp_path, hand_timeline(), FPS, script)
    summary = json.loads(paths["summary"].read_text())
    assert [cue["played_fraction"] for cue in summary["cues"]] == [1.0, 0.5, 0.0]
    assert (summary["scored_frames"], summary["on_target_frames"]) == (15, 6 + 2)  # frames 15-19: 2 happy
    rows = re.findall(r"<tr>(.*?)</tr>", paths["html"].read_text().split("<h2>Cues</h2>")[1])[1:]
    assert "in full" in rows[0] and "played 50%" in rows[1] and "not reached" in rows[2]
    assert "-" not in re.sub(r"<[^>]+>", "", rows[2]).replace("0:05.0-0:06.0", "")  # no bare dashes
    page = paths["html"].read_text()
    assert "8 of 15 frames, over 2 of 3 cues" in page  # what the score is a share of
    assert "1 cue not reached is left out" in page and "partly played cue counts only the frames played" in page


def test_distribution_table_columns_line_up(tmp_path):
    page = write_run_report(tmp_path, hand_timeline(), FPS)["html"].read_text()
    table = page.split('<table class="share">')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table)[1:]
    assert len(rows) == len(LABELS)
    for row in rows:  # the share in its own right-aligned cell, the bar in the next: every row alike
        cells = re.findall(r"<td([^>]*)>(.*?)</td>", row)
        assert [attributes for attributes, _ in cells] == ["", ' class="num"', ' class="barcell"']
        assert re.fullmatch(r"\d+%", cells[1][1])


# -- the charts, read from their pixels -----------------------------------------

def bgr(colour: str, alpha: float = 1.0) -> tuple[int, int, int]:
    """A "#rrggbb" colour as BGR, drawn with `alpha` over white."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return tuple(round(alpha * c + (1 - alpha) * 255) for c in rgb[::-1])


def count(image: np.ndarray, colour: tuple[int, int, int], tolerance: int = 2) -> int:
    return int(np.all(np.abs(image.astype(int) - colour) <= tolerance, axis=2).sum())


def happy_timeline(frames: int = 60, gaps: bool = False) -> Timeline:
    """Person 0 clearly happy; the other six emotions each below 0.05, wandering."""
    rng = np.random.default_rng(3)
    timeline = Timeline(LABELS)
    for index in range(frames):
        row = rng.uniform(0.0, 0.05, len(LABELS))
        row[LABELS.index("happy")] = 0.0
        row[LABELS.index("happy")] = 1.0 - row.sum()
        face = () if gaps and index % 10 == 5 else (Face(Box(20, 20, 60, 60), tuple(row), "happy", 0),)
        timeline.add(FrameResult(index, index / FPS, face))
    return timeline


def report_charts(tmp_path, timeline: Timeline) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    paths = write_run_report(tmp_path, timeline, FPS)
    return cv2.imread(str(paths["over_time_png"])), cv2.imread(str(paths["polar_png"]))


def test_every_emotion_reads_on_the_over_time_chart(tmp_path):
    from acting_mirror.render.graph import emotion_colours

    over_time, _ = report_charts(tmp_path, happy_timeline())
    height, width = over_time.shape[:2]
    plot = over_time[:, : int(width * 0.8)]  # left of the legend
    rows = []
    for label, colour in zip(LABELS, emotion_colours(LABELS), strict=True):
        if label != "happy":  # happy also fills the "shown" strip
            ys = np.nonzero(np.all(np.abs(plot.astype(int) - bgr(colour)) <= 2, axis=2))[0]
            assert len(ys) > 50, label
            rows.append(float(np.median(ys)))
    # the six weak emotions are not squashed into one thin band: each has its own place
    assert np.diff(sorted(rows)).min() > 0.05 * height, sorted(rows)


@pytest.mark.parametrize("gaps", [False, True], ids=["face-throughout", "face-missing-at-times"])
def test_over_time_legend_lists_only_what_is_drawn(tmp_path, gaps):
    from acting_mirror.render.graph import NO_FACE_COLOUR

    over_time, _ = report_charts(tmp_path, happy_timeline(gaps=gaps))
    legend = over_time[:, int(over_time.shape[1] * 0.84):]
    no_face = count(legend, bgr(NO_FACE_COLOUR), tolerance=0)
    assert (no_face > 60) if gaps else (no_face < 10), no_face


def test_distribution_legend_swatch_has_its_wedge_colour(tmp_path):
    from acting_mirror.render.graph import emotion_colours

    _, polar = report_charts(tmp_path, happy_timeline())
    happy = bgr(emotion_colours(LABELS)[LABELS.index("happy")], alpha=0.85)
    height = polar.shape[0]
    wedge, legend = polar[: int(height * 0.85)], polar[int(height * 0.88):]
    assert count(wedge, happy) > 1000  # every face frame was happy: one big wedge
    assert count(legend, happy) > 40   # and the legend's swatch for it has the same colour
