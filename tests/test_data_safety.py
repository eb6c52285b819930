"""Nothing lost: outputs never destroy inputs, write failures are caught and named,
outputs are checked before the first frame. Each run is a real subprocess on real clips."""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import SIZE, assert_one_line_error, read_timeline, run_cli, video_info

from acting_mirror import demo

CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2
PR_CAPBSET_DROP = 24


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("safety_clips")
    return {
        "short": demo.write_clip(folder / "short.avi", "one", 90, 25.0, SIZE),
        "long": demo.write_clip(folder / "long.avi", "one", 400, 25.0, SIZE),
    }


def _without_root_override() -> None:
    """In the child: even as root, obey file permissions (drop CAP_DAC_OVERRIDE before exec)."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "cannot drop the root file-permission override")


def run_without_root_override(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    return subprocess.run([sys.executable, "-m", "acting_mirror", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env=environment, preexec_fn=_without_root_override)


def run_with_file_size_limit(limit: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A run whose files cannot grow past `limit` bytes: the disk fills up under it."""
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    environment = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    return subprocess.run([sys.executable, "-m", "acting_mirror", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env=environment, preexec_fn=limit_files)


# -- 1. an output is never an input ---------------------------------------------


@pytest.mark.parametrize("how", ["same name", "default output.avi", "symbolic link", "hard link", "other spelling"])
def test_output_that_is_the_input_is_refused_before_anything_opens(clips, tmp_path, how):
    take = tmp_path / ("output.avi" if how == "default output.avi" else "take.avi")
    take.write_bytes(clips["short"].read_bytes())
    original = take.read_bytes()
    output = {"same name": ["--output", "take.avi"], "default output.avi": [],
              "other spelling": ["--output", f"../{tmp_path.name}/./take.avi"]}.get(how)
    if how == "symbolic link":
        (tmp_path / "link.avi").symlink_to(take)
        output = ["--output", "link.avi"]
    if how == "hard link":
        os.link(take, tmp_path / "hard.avi")
        output = ["--output", "hard.avi"]
    result = run_cli("--video", take.name, "--no-display", *output, cwd=tmp_path)
    assert_one_line_error(result, "refusing", take.name)
    assert take.read_bytes() == original
    assert video_info(take)[0] == 90


def test_report_file_that_is_the_script_is_refused(tmp_path, clips):
    report = tmp_path / "rep"
    report.mkdir()
    script = report / "summary.json"  # JSON is YAML: a script kept where the report will go
    script.write_text('{"title": "x", "cues": [{"start": 0, "end": 2, "line": "Hi", "emotion": "happy"}]}\n')
    before = script.read_text()
    result = run_cli("--video", str(clips["short"]), "--script", str(script), "--report", "rep", "--no-display",
                     "--no-output", cwd=tmp_path)
    assert_one_line_error(result, "refusing", "summary.json")
    assert script.read_text() == before


# -- 2. write failures are caught and named ---------------------------------------


def test_output_linked_to_a_device_is_refused(clips, tmp_path):
    (tmp_path / "full.avi").symlink_to("/dev/full")
    result = run_cli("--video", str(clips["short"]), "--no-display", "--output", "full.avi", cwd=tmp_path)
    assert_one_line_error(result, "full.avi", "/dev/full", "device")
    assert "video:" not in result.stdout


def test_output_that_is_a_directory_is_refused(clips, tmp_path):
    (tmp_path / "takes").mkdir()
    result = run_cli("--video", str(clips["short"]), "--no-display", "--output", "takes", cwd=tmp_path)
    assert_one_line_error(result, "takes", "is a directory")


def test_output_in_a_folder_without_write_permission(clips, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_without_root_override("--video", str(clips["short"]), "--no-display",
                                           "--output", "locked/out.avi", cwd=tmp_path)
        assert_one_line_error(result, "locked/out.avi", "permission denied")
        result = run_without_root_override("--video", str(clips["short"]), "--no-display",
                                           "--output", "locked/new/out.avi", cwd=tmp_path)
        assert_one_line_error(result, "locked/new", "permission denied")
    finally:
        locked.chmod(0o755)
    assert list(locked.iterdir()) == []


def test_disk_filling_up_during_the_run_ends_non_zero_and_keeps_the_report(clips, tmp_path):
    result = run_with_file_size_limit(400_000, "--video", str(clips["long"]), "--no-display", "--output", "out.avi",
                                      "--report", "rep", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error) == 1 and "out.avi" in error[0] and "file size limit" in error[0], result.stderr
    assert "incomplete" in error[0]
    assert "frames)" not in result.stdout.split("video:")[-1]  # no frame count for a broken file
    assert "video: out.avi is incomplete" in result.stdout
    # caught while running, not after all 400 frames; every frame processed is in the timeline
    frames = int(result.stdout.split()[0])
    assert 60 < frames < 400
    rows = [row for row in read_timeline(tmp_path / "rep" / "timeline.csv") if row["person"] == "0"]
    assert len(rows) == frames
    assert (tmp_path / "rep" / "report.html").is_file()


def test_write_failure_found_when_the_file_is_finished(clips, tmp_path):
    # too short for the growth check to trip: the read-back at the end finds the missing frames
    result = run_with_file_size_limit(200_000, "--video", str(clips["short"]), "--no-display", "--output", "out.avi",
                                      cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "cannot write video out.avi" in result.stderr and "file size limit" in result.stderr
    assert "(90 frames)" not in result.stdout


def test_not_enough_free_space_is_refused_up_front(clips, tmp_path):
    # 10^9 frames of 1920x1080 need about 70 TB: no disk here has that, so the run must not start
    from acting_mirror.sinks import SinkError, check_free_space

    with pytest.raises(SinkError, match=r"cannot write video .*big\.avi: no space left on device .* free"):
        check_free_space(tmp_path / "big.avi", (1920, 1080), 10**9)
    check_free_space(tmp_path / "small.avi", (1920, 1080), 100)  # a short clip fits
