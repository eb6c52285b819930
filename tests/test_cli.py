"""End to end through the command line: real clips of a real face, the shipped model,
real output files. Each run is a subprocess, as a user would start it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import ROOT, SIZE, assert_one_line_error, read_timeline, run_cli, video_info
from rtsp_server import RtspServer

from acting_mirror import demo

# whole runs of the app or of training: not in the fast subset (-m "not slow")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "one": demo.write_clip(folder / "one.avi", "one", 24, 12.0, SIZE),
        "two": demo.write_clip(folder / "two.avi", "two", 24, 12.0, SIZE),
        "leave": demo.write_clip(folder / "leave.avi", "leave", 30, 10.0, SIZE),
        "none": demo.write_clip(folder / "none.avi", "none", 10, 10.0, SIZE),
        "long": demo.write_clip(folder / "long.avi", "one", 400, 25.0, SIZE),
        # long enough that a fast machine is still busy with it when the test interrupts
        "very long": demo.write_clip(folder / "very_long.avi", "one", 2000, 25.0, SIZE),
    }


def test_video_run_writes_every_annotated_frame_at_the_source_rate(clips, tmp_path):
    result = run_cli("--video", str(clips["one"]), "--no-display", "--output", "out.avi", "--report", "rep",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    count, size, fps, frames = video_info(tmp_path / "out.avi")
    assert (count, size, fps) == (24, SIZE, 12.0)
    # the annotated frames differ from the input where boxes and labels are drawn
    _, _, _, originals = video_info(clips["one"])
    assert np.abs(frames[5].astype(int) - originals[5].astype(int)).max() > 100
    rows = [r for r in read_timeline(tmp_path / "rep" / "timeline.csv") if r["person"] == "0"]
    assert len(rows) == 24
    assert sum(1 for r in rows if r["label"]) >= 22  # the face is found (nearly) everywhere
    assert "24 frames" in result.stdout and "video: out.avi (24 frames)" in result.stdout
    assert "person 0:" in result.stdout and "happy" in result.stdout


def test_moving_face_keeps_identity_and_larger_face_is_person_0(clips, tmp_path):
    result = run_cli("--video", str(clips["two"]), "--no-display", "--no-output", "--report", "rep", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_timeline(tmp_path / "rep" / "timeline.csv")
    by_frame: dict[str, dict[str, dict]] = {}
    for row in rows:
        if row["w"]:
            by_frame.setdefault(row["frame"], {})[row["person"]] = row
    both = [faces for faces in by_frame.values() if {"0", "1"} <= set(faces)]
    assert len(both) >= 20
    for faces in both:  # the big face (left) is person 0 in every frame, the small one person 1
        assert int(faces["0"]["w"]) > int(faces["1"]["w"])
        assert int(faces["0"]["x"]) < int(faces["1"]["x"])
    assert {row["person"] for row in rows} == {"0", "1"}  # nobody got a new id on the way


def test_face_leaving_and_returning_is_person_0_again(clips, tmp_path):
    result = run_cli("--video", str(clips["leave"]), "--no-display", "--no-output", "--report", "rep",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [r for r in read_timeline(tmp_path / "rep" / "timeline.csv") if r["person"] == "0"]
    present = [bool(r["w"]) for r in rows]
    assert len(present) == 30
    assert all(present[:9]) and not any(present[11:19]) and all(present[21:])
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["frames"] == 30 and summary["face_frames"] == sum(present)


def test_no_face_clip_still_gives_a_valid_video(clips, tmp_path):
    result = run_cli("--video", str(clips["none"]), "--no-display", "--output", "none.avi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert video_info(tmp_path / "none.avi")[0] == 10
    assert "person 0 in 0 frames" in result.stdout
    assert "person 0:" not in result.stdout  # no empty emotion line for a face never seen


def test_max_frames_stops_early(clips, tmp_path):
    result = run_cli("--video", str(clips["long"]), "--no-display", "--max-frames", "7", "--output", "o.avi",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert video_info(tmp_path / "o.avi")[0] == 7
    one = run_cli("--video", str(clips["long"]), "--no-display", "--max-frames", "1", "--output", "one.avi",
                  cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith("1 frame in ") and "video: one.avi (1 frame)" in one.stdout


def test_image_of_the_astronaut_is_happy(tmp_path):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), demo.astronaut_bgr())
    result = run_cli("--image", str(photo), "--no-display", "--output", "out/output.avi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "person 0: happy" in result.stdout
    annotated = cv2.imread(str(tmp_path / "out" / "astronaut_annotated.png"))
    assert annotated is not None and annotated.shape == demo.astronaut_bgr().shape


def test_demo_runs_headless_with_keras_backend(tmp_path):
    result = run_cli("--demo", "--no-display", "--backend", "keras", "--max-frames", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert video_info(tmp_path / "output.avi")[0] == 5


def test_no_display_is_chosen_automatically(clips, tmp_path):
    result = run_cli("--video", str(clips["none"]), "--max-frames", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no display" in result.stderr


def test_interrupt_leaves_a_playable_video(clips, tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    process = subprocess.Popen([sys.executable, "-m", "acting_mirror", "--video", str(clips["very long"]),
                                "--no-display", "--output", "cut.avi"], cwd=tmp_path, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until frames are being written
        if (tmp_path / "cut.avi").exists() and (tmp_path / "cut.avi").stat().st_size > 50_000:
            break
        time.sleep(0.1)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    count, size, _, _ = video_info(tmp_path / "cut.avi")
    assert 0 < count < 2000 and size == SIZE
    assert f"({count} frames)" in stdout  # every processed frame is in the file


def test_corrupt_middle_is_processed_up_to_where_it_can_be(clips, tmp_path):
    data = bytearray(clips["long"].read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4000] = os.urandom(4000)
    broken = tmp_path / "broken.avi"
    broken.write_bytes(bytes(data[: int(len(data) * 0.8)]))  # garbled in the middle and cut short
    result = run_cli("--video", str(broken), "--no-display", "--output", "b.avi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    count = video_info(tmp_path / "b.avi")[0]
    assert 150 <= count < 400


def test_url_source_through_yt_dlp(clips, tmp_path, http_server):
    (http_server.root / "clip.avi").write_bytes(clips["one"].read_bytes())
    result = run_cli("--youtube", http_server.url("clip.avi"), "--no-display", "--output", "u.avi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert video_info(tmp_path / "u.avi")[0] == 24


def test_an_rtsp_stream_is_mirrored_live(tmp_path):
    """An IP camera's stream (a real RTSP server on 127.0.0.1, sending a face at 15 FPS for 4 s),
    addressed with a user and password as such cameras are: read live like a camera, written in
    real time, its end named in the summary, and its password written nowhere."""
    frames = list(demo.synth_frames("one", 60, SIZE))
    with RtspServer(frames, fps=15.0) as server:
        url = server.url.replace("rtsp://", "rtsp://actor:hunter2@")
        result = run_cli("--url", url, "--no-display", "--output", "live.avi", "--report", "rep", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = server.url.replace("rtsp://", "rtsp://actor:***@")
    assert f"stopped by the input ending early: {shown} stopped sending pictures" in result.stdout
    count, size, fps, _ = video_info(tmp_path / "live.avi")
    assert size == SIZE and count >= 2 * fps  # a live source is written in real time: about 4 s of it
    rows = [r for r in read_timeline(tmp_path / "rep" / "timeline.csv") if r["person"] == "0" and r["label"]]
    assert len(rows) >= 20 and "person 0:" in result.stdout and "happy" in result.stdout
    written = [path for path in (tmp_path / "rep").rglob("*") if path.is_file()]
    assert written and not any(b"hunter2" in path.read_bytes() for path in written)
    assert "hunter2" not in result.stdout + result.stderr


def test_an_rtsp_stream_that_stalls_ends_soon_without_padding(tmp_path):
    """A camera that keeps its connection open but stops sending after 2 s: the run ends a few
    seconds later, names the stall, and the recording holds the 2 s received, not the wait."""
    frames = list(demo.synth_frames("one", 120, SIZE))
    with RtspServer(frames, fps=15.0, stall_after=30) as server:
        result = run_cli("--url", server.url, "--no-display", "--output", "stalled.avi", cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "stopped sending pictures (none for 5 s)" in result.stdout
    count, _, fps, _ = video_info(tmp_path / "stalled.avi")
    assert count <= 30 / 15.0 * fps + 2 * fps  # what was received (2 s), with at most a second's slack each side


# -- bad input: one clear line, non-zero exit, no traceback ---------------------


def test_missing_video(tmp_path):
    assert_one_line_error(run_cli("--video", "nope.mp4", "--no-display", cwd=tmp_path), "nope.mp4")


def test_file_that_is_not_a_video(tmp_path):
    (tmp_path / "notes.mp4").write_text("these are my notes, not a video\n" * 50)
    assert_one_line_error(run_cli("--video", "notes.mp4", "--no-display", cwd=tmp_path), "notes.mp4")


def test_camera_that_does_not_open(tmp_path):
    assert_one_line_error(run_cli("--camera", "57", "--no-display", cwd=tmp_path), "camera 57")


def test_url_that_cannot_be_reached(tmp_path, http_server):
    assert_one_line_error(run_cli("--url", http_server.url("missing.mp4"), "--no-display", cwd=tmp_path),
                          "missing.mp4")


def test_missing_model(tmp_path, clips):
    assert_one_line_error(run_cli("--video", str(clips["none"]), "--model", "nowhere/model.json", "--no-display",
                                  cwd=tmp_path), "nowhere")


def test_corrupt_model(tmp_path, clips):
    metadata = json.loads((ROOT / "acting_mirror" / "models" / "mirror_net.json").read_text())
    (tmp_path / "bad.tflite").write_bytes(b"\x00garbage" * 100)
    (tmp_path / "bad.keras").write_bytes(b"\x00garbage" * 100)
    metadata["files"] = {"tflite": "bad.tflite", "keras": "bad.keras"}
    (tmp_path / "bad.json").write_text(json.dumps(metadata))
    for backend in ("tflite", "keras"):
        assert_one_line_error(run_cli("--video", str(clips["none"]), "--model", "bad.json", "--backend", backend,
                                      "--no-display", cwd=tmp_path), "bad.")


@pytest.mark.parametrize("text, words", [
    ("detector:\n  haar:\n    scale_factr: 1.2\n", ["detector.haar.scale_factr"]),
    ("detector:\n  haar:\n    min_neighbors: many\n", ["detector.haar.min_neighbors"]),
    ("detector:\n  haar:\n    scale_factor: .inf\n", ["detector.haar.scale_factor", "finite"]),
    ("detector:\n  haar:\n    min_size: 100000000000000000000\n", ["detector.haar.min_size", "10000"]),
    ("display: [1, 2\n", ["yaml"]),
])
def test_malformed_config(tmp_path, clips, text, words):
    (tmp_path / "bad.yaml").write_text(text)
    assert_one_line_error(run_cli("--video", str(clips["none"]), "--config", "bad.yaml", "--no-display",
                                  cwd=tmp_path), *words)


def test_bad_script(tmp_path, clips):
    (tmp_path / "scene.yaml").write_text("title: x\ncues:\n  - start: 0\n    end: 2\n    line: Hi\n"
                                         "    emotion: jealous\n")
    assert_one_line_error(run_cli("--video", str(clips["none"]), "--script", "scene.yaml", "--no-display",
                                  cwd=tmp_path), "jealous")


# -- the command line's manners ---------------------------------------------------


def test_help_lists_the_report_command_and_the_exit_codes(tmp_path):
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    usage = result.stdout.split("\n\n")[0]
    assert "acting-mirror report DIR" in usage  # the usage line names the subcommand
    assert "--disable-rectangles" in result.stdout and "--disable_rectangles" not in result.stdout
    for words in ("0 done", "1 the run failed", "2 bad usage", "130 interrupted"):
        assert words in result.stdout
    assert "Left" in result.stdout and "Right" in result.stdout  # the keys


def test_the_original_spelling_of_disable_rectangles_still_works(clips, tmp_path):
    for flag in ("--disable-rectangles", "--disable_rectangles"):
        result = run_cli("--video", str(clips["one"]), "--no-display", flag, "--max-frames", "3",
                         "--output", "plain.avi", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        frames = video_info(tmp_path / "plain.avi")[3]
        originals = video_info(clips["one"])[3]
        rows = slice(30, SIZE[1])  # below the FPS tag
        assert np.abs(frames[1][rows].astype(int) - originals[1][rows].astype(int)).max() < 40, flag  # no boxes


@pytest.mark.parametrize("args, code, words", [
    (["--frobnicate"], 2, ["acting-mirror: error:", "--frobnicate"]),                  # bad usage
    (["--video", "nope.mp4", "--no-display"], 1, ["acting-mirror: error:", "nope.mp4"]),  # the run fails
    (["report"], 2, ["acting-mirror: error:", "DIR"]),
    (["report", "nowhere"], 1, ["acting-mirror: error:", "nowhere"]),
    (["--demo", "--no-display", "--max-frames", "-1"], 2, ["acting-mirror: error:", "--max-frames must be >= 0"]),
])
def test_exit_codes_and_one_error_prefix(tmp_path, args, code, words):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error) == 1 and all(word in error[0] for word in words), result.stderr


def test_details_and_graph_without_windows_say_so_once(clips, tmp_path):
    result = run_cli("--video", str(clips["none"]), "--no-display", "--details", "--graph", "--no-output",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "no effect" in line]
    assert notices == ["acting-mirror: --details and --graph have no effect without windows"]


def test_a_config_file_found_in_the_working_folder_is_named_once(clips, tmp_path):
    (tmp_path / "config.yaml").write_text("output:\n  video: mine.avi\n")
    result = run_cli("--video", str(clips["none"]), "--no-display", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "config.yaml" in line] == [
        "acting-mirror: settings from config.yaml"]
    assert (tmp_path / "mine.avi").is_file()
    plain = run_cli("--video", str(clips["none"]), "--no-display", "--no-output", cwd=tmp_path / "..")
    assert "settings from" not in plain.stderr  # the package's own defaults go unmentioned
