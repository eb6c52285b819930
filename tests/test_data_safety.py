"""Nothing lost: outputs never destroy inputs, write failures are caught and named,
outputs are checked before the first frame. Each run is a real subprocess on real clips."""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import SIZE, assert_one_line_error, read_timeline, run_cli, video_info

from acting_mirror import demo

# whole runs of the app or of training: not in the fast subset (-m "not slow")
pytestmark = pytest.mark.slow

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
    try:
        subprocess.run([sys.executable, "-c", "pass"], preexec_fn=_without_root_override, check=True, timeout=60)
    except subprocess.SubprocessError as error:  # root without CAP_SETPCAP: permissions cannot be enforced
        pytest.skip(f"cannot run without root's file-permission override here ({error})")
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


# -- 3. every output is checked before the first frame ----------------------------


def test_report_folder_that_is_a_file_is_refused_before_the_first_frame(clips, tmp_path):
    (tmp_path / "rep").write_text("not a folder")
    started = time.monotonic()
    result = run_cli("--video", str(clips["long"]), "--no-display", "--output", "out.avi", "--report", "rep",
                     cwd=tmp_path)
    assert_one_line_error(result, "rep", "is a file, not a folder")
    assert "frame/s" not in result.stderr and "400/400" not in result.stderr  # no frame was processed
    assert not (tmp_path / "out.avi").exists()  # the claimed video was let go, not left empty
    assert time.monotonic() - started < 60


def test_report_folder_without_write_permission_is_refused(clips, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_without_root_override("--video", str(clips["short"]), "--no-display", "--output", "out.avi",
                                           "--report", "locked/rep", cwd=tmp_path)
    finally:
        locked.chmod(0o755)
    assert_one_line_error(result, "locked/rep", "permission denied")
    assert not (tmp_path / "out.avi").exists()  # refused before the first frame, not after the whole run


def test_snapshot_folder_that_is_a_file_is_refused_when_windows_open(clips, tmp_path, xvfb_display):
    (tmp_path / "snaps").write_text("not a folder")
    (tmp_path / "config.yaml").write_text("output:\n  snapshot_dir: snaps/today\n")
    result = run_cli("--video", str(clips["short"]), "--output", "out.avi", cwd=tmp_path,
                     env={"DISPLAY": xvfb_display})
    assert_one_line_error(result, "snapshots", "snaps", "is a file, not a folder")
    assert not (tmp_path / "out.avi").exists()


# -- 4. two runs on one output: the second is refused, the first file stays whole ---


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    return subprocess.Popen([sys.executable, "-m", "acting_mirror", *args], cwd=cwd, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not condition():
        assert process.poll() is None, "the run ended before the test could act"
        time.sleep(0.05)
    assert condition()


def _person0_rows(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines()[1:] if line.split(",")[2:3] == ["0"])


def test_a_second_run_on_the_same_outputs_is_refused(clips, tmp_path):
    very_long = demo.write_clip(tmp_path / "very_long.avi", "one", 3000, 25.0, SIZE)
    first = _start("--video", str(very_long), "--no-display", "--output", "out.avi", "--report", "rep",
                   cwd=tmp_path)
    try:
        _wait_for(lambda: (tmp_path / "out.avi").exists() and (tmp_path / "out.avi").stat().st_size > 300_000,
                  first)
        second = run_cli("--video", str(clips["short"]), "--no-display", "--output", "out.avi", cwd=tmp_path)
        assert_one_line_error(second, "out.avi", "another run is writing it")
        third = run_cli("--video", str(clips["short"]), "--no-display", "--output", "other.avi", "--report", "rep",
                        cwd=tmp_path)
        assert_one_line_error(third, "timeline.csv", "another run is writing it")
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGINT)
        stdout, stderr = first.communicate(timeout=60)
    assert first.returncode == 130, stderr
    count = video_info(tmp_path / "out.avi")[0]
    assert 0 < count < 3000 and f"video: out.avi ({count} frames)" in stdout  # whole, and only the first run's
    assert _person0_rows(tmp_path / "rep" / "timeline.csv") == count
    assert not (tmp_path / "other.avi").exists()


# -- 5. a crash keeps the timeline; `report DIR` rebuilds the rest -----------------


def test_kill_9_keeps_the_timeline_and_report_rebuilds_the_rest(tmp_path):
    very_long = demo.write_clip(tmp_path / "very_long.avi", "one", 3000, 25.0, SIZE)
    timeline = tmp_path / "rep" / "timeline.csv"
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "summary.json").write_text('{"fps": 99.0, "frames": 7}\n')  # an older run's
    process = _start("--video", str(very_long), "--no-display", "--no-output", "--report", "rep", cwd=tmp_path)
    try:
        _wait_for(lambda: _person0_rows(timeline) >= 60, process)  # streamed while the run goes on
        assert not (tmp_path / "rep" / "summary.json").exists()  # no stale summary beside the new timeline
        time.sleep(1.5)
        seen_before_kill = _person0_rows(timeline)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    kept = _person0_rows(timeline)
    assert seen_before_kill <= kept < 3000
    rebuilt = run_cli("report", "rep", cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert kept - 1 <= summary["frames"] <= kept  # a frame cut mid-write is left out, with a note
    assert summary["fps"] == pytest.approx(25.0)
    assert summary["face_frames"] >= summary["frames"] - 5
    assert (tmp_path / "rep" / "report.html").stat().st_size > 10_000


def test_a_timeline_cut_mid_row_is_read_without_its_last_frame(tmp_path):
    from acting_mirror.timeline import Timeline

    full = tmp_path / "full.csv"
    full.write_text("frame,time_s,person,x,y,w,h,a,b,label\n"
                    "0,0.000000,0,1,2,3,4,0.250000,0.750000,b\n"
                    "1,0.040000,0,1,2,3,4,0.500000,0.500000,a\n"
                    "1,0.040000,1,5,6,7,8,0.100000,0.900000,b\n"
                    "2,0.080000,0,1,2,3,4,0.900000,0.100000,a\n")
    cut = tmp_path / "cut.csv"
    cut.write_text(full.read_text()[:-9])  # killed in the middle of frame 2's row
    timeline = Timeline.read_csv(cut)
    assert timeline.frames == 2 and timeline.cut_short
    assert Timeline.read_csv(full).frames == 3 and not Timeline.read_csv(full).cut_short


# -- links and odd files in a report folder ---------------------------------------


@pytest.fixture(scope="module")
def report_folder(clips, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("linked_report")
    result = run_cli("--video", str(clips["short"]), "--no-display", "--no-output", "--max-frames", "20",
                     "--report", "r", cwd=work)
    assert result.returncode == 0, result.stderr
    return work / "r"


def copy_of(folder: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "r"
    shutil.copytree(folder, target)
    return target


@pytest.mark.parametrize("name", ["report.html", "summary.json", "emotion_over_time.png", "emotion_polar.png"])
def test_report_rebuild_never_writes_through_a_link(report_folder, tmp_path, name):
    report = copy_of(report_folder, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (report / name).unlink()
    (report / name).symlink_to(victim)
    result = run_cli("report", str(report), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious\n"
    assert (report / name).is_file() and not (report / name).is_symlink()  # the link was replaced, not followed
    assert not [path for path in report.iterdir() if path.name.endswith(".tmp")]


def test_a_run_refuses_a_linked_timeline_before_the_first_frame(clips, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "timeline.csv").symlink_to(victim)
    result = run_cli("--video", str(clips["short"]), "--no-display", "--no-output", "--report", "r", cwd=tmp_path)
    assert_one_line_error(result, "symbolic link", "timeline.csv")
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("kind", ["link to /dev/zero", "fifo", "folder"])
def test_report_reads_only_a_regular_timeline(report_folder, tmp_path, kind):
    report = copy_of(report_folder, tmp_path)
    timeline = report / "timeline.csv"
    timeline.unlink()
    if kind == "fifo":
        os.mkfifo(timeline)
    elif kind == "folder":
        timeline.mkdir()
    else:
        timeline.symlink_to("/dev/zero")
    result = run_cli("report", str(report), cwd=tmp_path)  # run_cli's timeout would catch a hang
    assert_one_line_error(result, "timeline.csv")
    assert "not a regular file" in result.stderr or "is a directory" in result.stderr


@pytest.mark.parametrize("command", ["run", "report"])
def test_a_report_file_that_is_a_folder_is_refused_before_any_work(clips, report_folder, tmp_path, command):
    report = copy_of(report_folder, tmp_path)
    (report / "report.html").unlink()
    (report / "report.html").mkdir()
    args = (["report", str(report)] if command == "report" else
            ["--video", str(clips["long"]), "--no-display", "--no-output", "--report", str(report)])
    result = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(result, "report.html", "directory")
    if command == "run":  # refused before the first frame: the old timeline is untouched
        assert (report / "timeline.csv").read_text() == (report_folder / "timeline.csv").read_text()


def test_report_never_prints_what_a_linked_timeline_holds(report_folder, tmp_path):
    report = copy_of(report_folder, tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:$6$very-secret-hash:19000:0:99999:7:::\nsecond line\n")
    (report / "timeline.csv").unlink()
    (report / "timeline.csv").symlink_to(secret)
    result = run_cli("report", str(report), cwd=tmp_path)
    assert_one_line_error(result, "timeline.csv", "not a timeline header")
    assert "very-secret" not in result.stdout + result.stderr
