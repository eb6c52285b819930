"""The detector through the command line: --detector, the summary naming it, broken
detector files and degenerate frames (one line or a clean run, never a traceback)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import run_cli, video_info

from acting_mirror import demo
from acting_mirror.cli import build_parser

# whole runs of the app or of training: not in the fast subset (-m "not slow")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rolled_clip(tmp_path_factory):
    return demo.write_clip(tmp_path_factory.mktemp("clips") / "roll.avi", "roll", 21, 10.0, (320, 240))


def test_help_names_the_detectors_and_the_default():
    text = build_parser().format_help()
    assert "--detector {yunet,haar}" in text and "yunet as shipped" in text


@pytest.mark.parametrize("kind, found_at_least", [("yunet", 21), ("haar", 8)])
def test_each_detector_runs_end_to_end_and_the_summary_names_it(tmp_path, rolled_clip, kind, found_at_least):
    """The head rolls +-30 degrees: YuNet (the default) keeps the face in every frame, Haar loses it."""
    args = ["--video", str(rolled_clip), "--no-display", "--output", "out.avi", "--report", "rep"]
    result = run_cli(*args, *(["--detector", kind] if kind == "haar" else []), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"detector: {kind} (" in result.stdout
    assert video_info(tmp_path / "out.avi")[0] == 21
    frames_with_face = int(result.stdout.split("person 0 in ")[1].split(" frames")[0])
    assert frames_with_face >= found_at_least
    if kind == "haar":
        assert frames_with_face < 21


def test_image_run_names_the_detector(tmp_path):
    cv2.imwrite(str(tmp_path / "astronaut.png"), demo.astronaut_bgr())
    result = run_cli("--image", "astronaut.png", "--no-display", "--detector", "haar", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "person 0: happy" in result.stdout and "detector: haar (" in result.stdout


@pytest.mark.parametrize("content", [None, b"garbage, not an ONNX graph\n" * 20])
def test_missing_or_corrupt_onnx_file_is_one_line_naming_it(tmp_path, rolled_clip, content):
    model = tmp_path / "yunet_broken.onnx"
    if content is not None:
        model.write_bytes(content)
    (tmp_path / "detector.yaml").write_text(f"detector:\n  yunet:\n    model: {model}\n")
    result = run_cli("--video", str(rolled_clip), "--no-display", "--config", "detector.yaml", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr  # a file that cannot be opened
    errors = [line for line in result.stderr.splitlines()
              if line.strip() and "XNNPACK" not in line and "settings from detector.yaml" not in line]
    assert len(errors) == 1, result.stderr  # (the notice naming the config file in force is not an error)
    assert str(model) in errors[0] and ("not found" if content is None else "could not be loaded") in errors[0]
    assert not (tmp_path / "output.avi").exists()


@pytest.mark.parametrize("kind", ["yunet", "haar"])
def test_degenerate_frames_run_cleanly(tmp_path, kind):
    """A 20000x2 photo and a 4000x2 video shrink to less than a pixel high for detection."""
    cv2.imwrite(str(tmp_path / "strip.png"), np.full((2, 20000, 3), 90, np.uint8))
    result = run_cli("--image", "strip.png", "--no-display", "--detector", kind, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no face found" in result.stdout
    writer = cv2.VideoWriter(str(tmp_path / "strip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (4000, 2))
    assert writer.isOpened()
    for value in range(0, 250, 50):
        writer.write(np.full((2, 4000, 3), value, np.uint8))
    writer.release()
    result = run_cli("--video", "strip.avi", "--no-display", "--detector", kind, "--output", "o.avi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "5 frames" in result.stdout and "person 0 in 0 frames" in result.stdout


def test_the_python_api_takes_the_detector_and_names_it(rolled_clip):
    from acting_mirror import analyze

    runs = {kind: analyze(rolled_clip, detector=kind) for kind in ("yunet", "haar")}
    assert runs["yunet"].run.detector.startswith("yunet (") and runs["haar"].run.detector.startswith("haar (")
    # the rolled head: YuNet keeps it in every frame, Haar loses it in some
    assert runs["yunet"].timeline.face_frames(0) == 21 > runs["haar"].timeline.face_frames(0)
