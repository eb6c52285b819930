"""The Python API (`acting_mirror.analyze`): the same pipeline and numbers as the command line,
on real clips of a real face, with the shipped model."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest
from helpers import FaceCamera, read_video

from acting_mirror import analyze, demo
from acting_mirror.api import Analysis
from acting_mirror.app import StopReason
from acting_mirror.script import ScriptError, parse_script
from acting_mirror.sources import SourceError, open_demo

# whole runs of the app or of training: not in the fast subset (-m "not slow")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCENE = ROOT / "examples" / "scene.yaml"
SIZE = (480, 360)  # the demo layout's second, smaller face is found at this size


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    # 3 s: the faces of the "demo" layout (one, then a second one) at 12 FPS, scored against the example scene
    return demo.write_clip(tmp_path_factory.mktemp("api") / "take.avi", "demo", 36, 12.0, SIZE)


def headless_env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")},
            "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_api_gives_the_same_summary_and_cues_as_the_command_line(clip, tmp_path):
    result = subprocess.run([sys.executable, "-m", "acting_mirror", "--video", str(clip), "--no-display",
                             "--no-output", "--script", str(SCENE), "--report", "cli"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=180, env=headless_env())
    assert result.returncode == 0, result.stderr
    on_disk = json.loads((tmp_path / "cli" / "summary.json").read_text())

    take = analyze(clip, script=SCENE)
    assert isinstance(take, Analysis)
    assert take.summary == on_disk
    assert take.cues == on_disk["cues"] and len(take.cues) == 4
    assert take.score == on_disk["score"] and take.score is not None
    assert take.run.frames == 36 and take.timeline.frames == 36
    assert take.run.output is None and take.run.report is None  # nothing written unless asked
    assert max(take.emotion_share, key=take.emotion_share.get) == "happy"
    assert list(tmp_path.iterdir()) == [tmp_path / "cli"]


def test_api_writes_the_report_and_video_it_is_asked_for(clip, tmp_path):
    take = analyze(str(clip), script=SCENE, report_dir=tmp_path / "rep", video_output=tmp_path / "out.avi",
                   max_frames=20)
    assert take.run.stopped_by is StopReason.MAX_FRAMES and "stopped by --max-frames 20" in take.run.lines()[0]
    assert json.loads((tmp_path / "rep" / "summary.json").read_text()) == take.summary
    assert take.summary["frames"] == 20
    frames, fps, size = read_video(tmp_path / "out.avi")
    assert (len(frames), fps, size) == (20, 12.0, SIZE)
    assert take.run.output == str(tmp_path / "out.avi") and take.run.output_frames == 20


def test_to_pandas_matches_timeline_csv(clip, tmp_path):
    import pandas  # in the dev extra: this test runs wherever the suite does
    take = analyze(clip, report_dir=tmp_path)
    table = take.to_pandas()
    written = pandas.read_csv(tmp_path / "timeline.csv")
    assert list(table.columns) == list(written.columns) == take.timeline.columns()
    assert len(table) == len(written) > 36  # a row per frame for person 0, plus the second face's rows
    for column in ("frame", "time_s", "person", "x", "y", "w", "h", *take.labels):
        for mine, theirs in zip(table[column], written[column], strict=True):
            assert (pandas.isna(mine) and pandas.isna(theirs)) or math.isclose(mine, theirs, abs_tol=1e-6), column
    assert table["label"].fillna("").tolist() == written["label"].fillna("").tolist()
    person0 = table[table["person"] == 0]
    assert len(person0) == 36 and person0["frame"].tolist() == list(range(36))
    assert take.cues_to_pandas().empty  # no script, no cues

    scored = analyze(clip, script=SCENE, max_frames=30)
    cues = scored.cues_to_pandas()
    assert cues["line"].tolist() == [cue["line"] for cue in scored.cues]
    assert cues["frames"].sum() == 30


def test_photo_through_the_api(tmp_path):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), demo.astronaut_bgr())
    take = analyze(photo, video_output=tmp_path / "marked.jpg")
    assert take.image and take.timeline.frames == 1
    face = take.timeline.results()[0].person(0)
    assert face is not None and face.label == "happy"
    annotated = cv2.imread(str(tmp_path / "marked.jpg"))
    assert annotated is not None and annotated.shape == demo.astronaut_bgr().shape

    beside = analyze(str(photo), video_output=tmp_path / "out" / "output.avi")
    assert beside.run.output == str(tmp_path / "out" / "astronaut_annotated.png")
    assert cv2.imread(beside.run.output) is not None


def test_opened_sources_and_source_callables_are_accepted_and_closed():
    source = open_demo(count=8, fps=8.0, size=SIZE)
    closed = []
    source.close = lambda: closed.append(True)  # record that analyze releases what it was given
    take = analyze(source)
    assert take.source == "demo" and take.run.frames == 8 and closed == [True]
    assert analyze(lambda: open_demo(count=5, size=SIZE)).run.frames == 5


def test_script_objects_are_checked_against_the_model():
    script = parse_script({"cues": [{"start": 0, "end": 1, "line": "Hi", "emotion": "happy"}]},
                          ("happy", "sad"))
    take = analyze(open_demo(count=10, fps=10.0, size=SIZE), script=script)
    assert len(take.cues) == 1 and take.cues[0]["frames"] == 10
    foreign = parse_script({"cues": [{"start": 0, "end": 1, "line": "Hi", "emotion": "smug"}]}, ("smug",))
    with pytest.raises(ScriptError, match="smug"):
        analyze(open_demo(count=3, size=SIZE), script=foreign)


def test_bad_input_raises_the_steps_error(tmp_path):
    with pytest.raises(SourceError, match="nope.mp4"):
        analyze(tmp_path / "nope.mp4")
    with pytest.raises(TypeError):
        analyze(3.5)


def test_a_live_scene_with_no_window_starts_with_the_first_frame(tmp_path):
    """A camera (or an RTSP stream) with a script and no window has no space key to start the
    scene: it starts with the first frame, and the cues follow the script's times from there."""
    from acting_mirror.sources import open_camera

    (tmp_path / "scene.yaml").write_text(textwrap.dedent("""\
        title: Headless scene
        cues:
          - {start: 0, end: 1.5, line: "I got the part!", emotion: happy}
          - {start: 1.5, end: 3, line: "Still smiling.", emotion: happy}
          - {start: 60, end: 61, line: "Never reached.", emotion: sad}
        """))
    source = open_camera(0, fps=20.0, capture_factory=lambda index: FaceCamera(20.0, 4.0))
    analysis = analyze(source, script=tmp_path / "scene.yaml", show=False, report_dir=tmp_path / "report",
                       log=lambda _: None)
    report = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert report["cue_times"] == "played"
    first = analysis.timeline.times[0]
    (first_start, first_end), = report["cues"][0]["played"]
    assert first_start == pytest.approx(first) and first_end == pytest.approx(first + 1.5)
    assert report["cues"][1]["played"][0][0] == pytest.approx(first + 1.5)
    assert report["cues"][2]["played"] == [] and report["cues"][2]["frames"] == 0
    for cue in report["cues"][:2]:  # the demo face smiles: both happy cues are hit
        assert cue["frames"] >= 15 and cue["on_target_fraction"] > 0.8, cue


def test_api_imports_no_tensorflow_and_needs_no_display(clip, tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import acting_mirror
        from acting_mirror import analyze
        assert "cv2" not in sys.modules and "tensorflow" not in sys.modules, "heavy import at import time"
        take = analyze({str(clip)!r}, max_frames=12)
        assert take.run.frames == 12, take.run
        heavy = sorted(name for name in ("tensorflow", "keras", "sklearn", "scipy", "skimage", "PyQt5")
                       if name in sys.modules)
        print("heavy:", heavy)
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=180, env=headless_env())
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stdout


@pytest.mark.parametrize("how", ["same path", "symbolic link", "hard link"])
def test_api_refuses_to_write_the_video_over_its_input(clip, tmp_path, how):
    from acting_mirror.sinks import SinkError

    take = tmp_path / "take.avi"
    take.write_bytes(clip.read_bytes())
    output = {"same path": take, "symbolic link": tmp_path / "link.avi", "hard link": tmp_path / "hard.avi"}[how]
    if how == "symbolic link":
        output.symlink_to(take)
    elif how == "hard link":
        os.link(take, output)
    before = take.read_bytes()
    with pytest.raises(SinkError, match="refusing to write the video"):
        analyze(take, video_output=output)
    assert take.read_bytes() == before  # not a byte changed
    assert len(read_video(take)[0]) == 36


def test_api_refuses_a_report_that_would_overwrite_the_script_or_the_config(clip, tmp_path):
    from acting_mirror.errors import MirrorError

    report = tmp_path / "r"
    report.mkdir()
    script = report / "timeline.csv"
    script.write_text(SCENE.read_text())
    with pytest.raises(MirrorError, match="refusing to write the report file .*timeline.csv over the script"):
        analyze(clip, script=script, report_dir=report)
    assert script.read_text() == SCENE.read_text()
    config = report / "summary.json"
    config.write_text("{}\n")
    with pytest.raises(MirrorError, match="over the config file"):
        analyze(clip, config=config, report_dir=report)
    assert config.read_text() == "{}\n"


@pytest.mark.parametrize("arguments", [{"script": {"title": "x"}}, {"script": 3}, {"script": ["a"]},
                                       {"config": {"model": {}}}, {"max_frames": "abc"}, {"max_frames": 2.5},
                                       {"max_frames": -1},
                                       {"report_dir": 5}, {"profile": 1.0}])
def test_bad_argument_types_raise_a_mirror_error(clip, arguments):
    from acting_mirror.errors import MirrorError

    name = next(iter(arguments))
    with pytest.raises(MirrorError, match=f"^{name} must be"):
        analyze(clip, **arguments)


@pytest.mark.parametrize("source", [3.5, None, b"take.avi", ["take.avi"]])
def test_bad_sources_raise_a_mirror_error(source):
    from acting_mirror.errors import MirrorError

    with pytest.raises(MirrorError, match="source must be"):
        analyze(source)
