"""The whole app with its windows open on a private Xvfb, driven with keys like a user would.

The command-line runs are subprocesses; the camera run is in this process (HighGUI on
the main thread, the "user" pressing keys from a second thread). The test clip carries
its frame number as a row of black/white blocks at the bottom left, so a snapshot or a
frame of the output video tells which frame of the clip it shows.

What the app did is read from its files (output video, snapshots, report), its printed
summary and the windows xdotool finds, not from screenshots: Qt under Xvfb without a
window manager now and then never paints a window on a busy machine, while the app
itself works.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import FaceCamera, read_video
from xutil import close_window, press, require_xdotool, visible_windows, wait_until, x_connection, xdotool

from acting_mirror import demo
from acting_mirror.display import DETAILS_WINDOW, GRAPH_WINDOW, MAIN_WINDOW

pytestmark = pytest.mark.display

SIZE = (320, 240)
CODE_BITS = 8            # frame numbers up to 255
CODE_BLOCK = 16          # pixels per block side: whole JPEG blocks, so MJPG keeps them black and white
CLIP_FPS = 10.0
CLIP_FRAMES = 200        # 20 s of play: far more than a run needs before it is stopped
FACE_ROWS = slice(30, SIZE[1] - CODE_BLOCK)  # below the fps tag, above the frame number
TITLES = (MAIN_WINDOW, DETAILS_WINDOW, GRAPH_WINDOW)
START_TIMEOUT_S = 60.0   # model loading on a busy machine
KEY_TIMEOUT_S = 10.0
SETTLE_S = 0.5           # time the app gets to read a key whose effect cannot be seen from outside


# -- the numbered clip ---------------------------------------------------------

def stamp_frame_number(image: np.ndarray, number: int) -> np.ndarray:
    out = image.copy()
    top = out.shape[0] - CODE_BLOCK
    for bit in range(CODE_BITS):
        value = 255 if number >> bit & 1 else 0
        out[top:, bit * CODE_BLOCK:(bit + 1) * CODE_BLOCK] = value
    return out


def frame_number(image: np.ndarray) -> int:
    """The number stamped on a frame by stamp_frame_number."""
    row = image.shape[0] - CODE_BLOCK // 2
    number = 0
    for bit in range(CODE_BITS):
        column = bit * CODE_BLOCK + CODE_BLOCK // 2
        if image[row - 2:row + 3, column - 2:column + 3].mean() > 128:
            number |= 1 << bit
    return number


def write_numbered_clip(path: Path, count: int, fps: float) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened()
    for number, image in enumerate(demo.synth_frames("one", count, SIZE)):
        writer.write(stamp_frame_number(image, number))
    writer.release()
    return path


def has_boxes(shown: np.ndarray, source: np.ndarray) -> bool:
    """Whether face boxes/labels are drawn on `shown` (compared with the frame it was made from)."""
    difference = np.abs(shown.astype(int) - source.astype(int))[FACE_ROWS].max(axis=2)
    if (difference > 60).mean() > 0.01:
        return True
    assert difference.max() < 30, "neither boxed nor a clean copy of its source frame"
    return False


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("window-clips")
    return {
        "numbered": write_numbered_clip(folder / "numbered.avi", CLIP_FRAMES, CLIP_FPS),
        "short": demo.write_clip(folder / "short.avi", "one", 24, 6.0, SIZE),
    }


# -- the command line with windows ---------------------------------------------

@pytest.fixture(scope="module")
def x_keepalive(xvfb_server: str):
    require_xdotool()
    with x_connection(xvfb_server):
        yield


@pytest.fixture
def display(x_keepalive, xvfb_display: str) -> str:
    """The test Xvfb, with xdotool at hand and a client that keeps it from resetting."""
    return xvfb_display


@pytest.fixture
def start_cli(display: str):
    """Start `python -m acting_mirror ARGS` on the test display; stopped at teardown if still running."""
    started: list[subprocess.Popen] = []

    def start(*args: str, cwd: Path, windows: bool = True) -> subprocess.Popen:
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "DISPLAY": display}
        environment.pop("WAYLAND_DISPLAY", None)
        if not windows:
            environment.pop("DISPLAY")
        process = subprocess.Popen([sys.executable, "-m", "acting_mirror", *args], cwd=cwd, env=environment,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def finish(process: subprocess.Popen, timeout_s: float = 30.0) -> tuple[str, str]:
    stdout, stderr = process.communicate(timeout=timeout_s)
    assert "Traceback" not in stderr, stderr
    return stdout, stderr


def reported(stdout: str) -> dict:
    """The numbers of the summary the CLI prints at the end."""
    run = re.search(r"^(\d+) frames in ([\d.]+) s .*stopped by (.+)$", stdout, re.MULTILINE)
    assert run, stdout
    video = re.search(r"^video: (.+) \((\d+) frames\)$", stdout, re.MULTILINE)
    return {"frames": int(run[1]), "seconds": float(run[2]), "stopped_by": run[3],
            "video_frames": int(video[2]) if video else None,
            "snapshots": re.findall(r"^snapshot: (.+)$", stdout, re.MULTILINE)}


def wait_for_windows(process: subprocess.Popen, titles=TITLES) -> str:
    """Wait until every window in `titles` is up (once each); returns the main window's id."""
    def all_up() -> bool:
        assert process.poll() is None, f"the app ended early: {process.communicate()}"
        return all(len(visible_windows(title)) == 1 for title in titles)

    assert wait_until(all_up, START_TIMEOUT_S), [(title, visible_windows(title)) for title in titles]
    return visible_windows(MAIN_WINDOW)[0]


def press_and_settle(window_id: str, key: str) -> None:
    """Press a key that shows nowhere but on the screen, and give the app time to read it.

    HighGUI keeps only the last key pressed between two polls, so a key sent right
    after another can replace it (a user typing that fast loses keys too).
    """
    press(window_id, key)
    time.sleep(SETTLE_S)


def take_snapshot(window_id: str, folder: Path) -> Path:
    """Press s and wait for the new PNG in `folder`."""
    before = set(folder.glob("*.png")) if folder.is_dir() else set()
    press(window_id, "s")
    assert wait_until(lambda: folder.is_dir() and set(folder.glob("*.png")) - before, KEY_TIMEOUT_S)
    (path,) = set(folder.glob("*.png")) - before
    assert wait_until(lambda: cv2.imread(str(path)) is not None, KEY_TIMEOUT_S)  # fully written
    return path


def test_keys_drive_a_video_run(display, start_cli, clips, tmp_path):
    process = start_cli("--video", str(clips["numbered"]), "--details", "--graph", "--output", "w.avi",
                        cwd=tmp_path)
    main = wait_for_windows(process)
    for title in TITLES:
        assert xdotool("getwindowname", visible_windows(title)[0]) == title

    # g and d take their window away and bring it back; the other windows stay
    for key, title in (("g", GRAPH_WINDOW), ("d", DETAILS_WINDOW)):
        press(main, key)
        assert wait_until(lambda title=title: visible_windows(title) == [], KEY_TIMEOUT_S), key
        assert all(len(visible_windows(other)) == 1 for other in TITLES if other != title), key
        press(main, key)
        assert wait_until(lambda title=title: len(visible_windows(title)) == 1, KEY_TIMEOUT_S), key

    # space pauses: the mirror stays on one frame, nothing more is processed or written
    snapshots = tmp_path / "snapshots"
    press_and_settle(main, "space")
    first = take_snapshot(main, snapshots)
    time.sleep(1.0)  # stay paused a while
    second = take_snapshot(main, snapshots)
    first_image, second_image = cv2.imread(str(first)), cv2.imread(str(second))
    paused_on = frame_number(first_image)
    assert np.array_equal(first_image, second_image)

    # r while paused: a snapshot is the picture as it is now, without boxes
    press_and_settle(main, "r")
    third = take_snapshot(main, snapshots)
    unboxed = cv2.imread(str(third))
    assert frame_number(unboxed) == paused_on

    # space again resumes where it stopped: the clip's clock does not jump ahead
    press(main, "space")
    resumed_at = time.monotonic()
    time.sleep(1.5)
    fourth = take_snapshot(main, snapshots)
    later = cv2.imread(str(fourth))
    played = frame_number(later) - paused_on
    assert 2 <= played <= CLIP_FPS * (time.monotonic() - resumed_at) + 1

    press(main, "q")
    stdout, stderr = finish(process)
    assert process.returncode == 0, stderr
    summary = reported(stdout)
    assert summary["stopped_by"] == "q"
    assert [Path(path).name for path in summary["snapshots"]] == [path.name for path in (first, second, third, fourth)]

    # the video holds every frame processed, in order, boxed up to the pause and not after it
    frames, fps = read_video(tmp_path / "w.avi")[:2]
    source, _ = read_video(clips["numbered"])[:2]
    assert len(frames) == summary["frames"] == summary["video_frames"]
    assert fps == CLIP_FPS
    assert [frame_number(frame) for frame in frames] == list(range(len(frames)))
    assert len(frames) >= paused_on + played
    boxed = [has_boxes(frame, source[number]) for number, frame in enumerate(frames)]
    assert boxed == [number <= paused_on for number in range(len(frames))]
    assert has_boxes(first_image, source[paused_on])
    assert not has_boxes(unboxed, source[paused_on])
    assert not has_boxes(later, source[frame_number(later)])


def test_keys_without_an_action_change_nothing(display, start_cli, clips, tmp_path):
    # cv2.waitKey kept only the low byte: Left (0xFF51) read as "Q" and quit, Right as "S" (a snapshot),
    # Up as "R" (rectangles off), Home as "P" (previous cue); PageUp, PageDown and End as "U", "V", "W"
    process = start_cli("--video", str(clips["numbered"]), "--details", "--graph", "--output", "w.avi",
                        cwd=tmp_path)
    main = wait_for_windows(process)
    for key in ("Left", "Right", "Up", "Down", "Home", "End", "Prior", "Next"):
        press_and_settle(main, key)
        assert process.poll() is None, f"{key} ended the run: {process.communicate()}"
        assert all(len(visible_windows(title)) == 1 for title in TITLES), key
    press(main, "q")
    stdout, stderr = finish(process)
    assert process.returncode == 0, stderr
    summary = reported(stdout)
    assert summary["stopped_by"] == "q" and summary["snapshots"] == []
    assert not (tmp_path / "snapshots").exists()
    frames = read_video(tmp_path / "w.avi")[0]
    source = read_video(clips["numbered"])[0]
    assert [frame_number(frame) for frame in frames] == list(range(len(frames)))  # never paused or skipped
    assert all(has_boxes(frame, source[number]) for number, frame in enumerate(frames))  # rectangles stayed on


@pytest.mark.parametrize("graph", [True, False], ids=["graph", "no-graph"])
def test_camera_recording_plays_at_wall_clock_speed(display, tmp_path, graph):
    # a 30 fps camera, run in a fresh process as a user starts it: matplotlib's import and first
    # figure happen during the run when the graph is on, and made the file play twice too slow
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "DISPLAY": display,
                   "PYTHONPATH": os.pathsep.join(filter(None, (str(Path(__file__).parent.parent),
                                                               os.environ.get("PYTHONPATH"))))}
    environment.pop("WAYLAND_DISPLAY", None)
    arguments = [str(tmp_path / "camera.avi"), "5", "--details"] + (["--graph"] if graph else [])
    result = subprocess.run([sys.executable, str(Path(__file__).parent / "helpers.py"), *arguments],
                            capture_output=True, text=True, timeout=180, env=environment)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    frames, fps = read_video(tmp_path / "camera.avi")[:2]
    assert fps == 30.0 and len(frames) == summary["output_frames"]
    assert summary["frames"] >= 10 and summary["seconds"] > 4  # it really ran for seconds
    duration = len(frames) / fps
    assert duration == pytest.approx(summary["seconds"], rel=0.05), (duration, summary)


@pytest.mark.parametrize("side_windows", [("--details", "--graph"), ()], ids=["with-side-windows", "alone"])
def test_closing_the_main_window_ends_the_run(display, start_cli, clips, tmp_path, side_windows):
    process = start_cli("--video", str(clips["numbered"]), *side_windows, "--output", "w.avi", cwd=tmp_path)
    titles = TITLES if side_windows else (MAIN_WINDOW,)
    main = wait_for_windows(process, titles)
    close_window(int(main), display)
    stdout, stderr = finish(process)
    assert process.returncode == 0, stderr
    summary = reported(stdout)
    assert summary["stopped_by"] == "window closed"
    frames, _ = read_video(tmp_path / "w.avi")[:2]
    assert 0 < len(frames) == summary["frames"] == summary["video_frames"] < CLIP_FRAMES
    assert all(visible_windows(title) == [] for title in TITLES)


def test_a_file_plays_at_its_own_rate_with_windows(start_cli, clips, tmp_path):
    count, fps = 24, 6.0  # the short clip: the last frame is due 23/6 = 3.8 s after the first
    started = time.monotonic()
    stdout, stderr = finish(start_cli("--video", str(clips["short"]), "--output", "w.avi", cwd=tmp_path),
                            timeout_s=120)
    wall = time.monotonic() - started
    windowed = reported(stdout)
    stdout, stderr = finish(start_cli("--video", str(clips["short"]), "--output", "h.avi", "--no-display",
                                      cwd=tmp_path, windows=False), timeout_s=120)
    headless = reported(stdout)
    assert windowed["frames"] == headless["frames"] == count
    assert windowed["stopped_by"] == headless["stopped_by"] == "end of input"
    assert (count - 1) / fps - 0.1 <= windowed["seconds"] <= wall
    assert headless["seconds"] < 0.5 * (count - 1) / fps  # headless runs flat out
    for name in ("w.avi", "h.avi"):
        frames, video_fps = read_video(tmp_path / name)[:2]
        assert (len(frames), video_fps) == (count, fps)


def test_a_photo_stays_up_until_q(display, start_cli, tmp_path):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), demo.astronaut_bgr())
    process = start_cli("--image", str(photo), "--output", "out/o.avi", cwd=tmp_path)
    main = wait_for_windows(process, (MAIN_WINDOW,))
    assert cv2.imread(str(tmp_path / "out" / "astronaut_annotated.png")) is not None
    time.sleep(1.5)  # the photo stays up
    assert process.poll() is None and visible_windows(MAIN_WINDOW) == [main]
    press(main, "q")
    stdout, stderr = finish(process)
    assert process.returncode == 0, stderr
    assert "person 0: happy" in stdout
    assert visible_windows(MAIN_WINDOW) == []


# -- a camera with a script, in this process ----------------------------------

SCENE = """\
title: Test scene
cues:
  - {start: 0, end: 2, line: "I got the part!", emotion: happy}
  - {start: 2, end: 4, line: "But it is in Antarctica.", emotion: sad}
  - {start: 4, end: 6, line: "With penguins!", emotion: happy}
"""

KEY_PLAN = (("space", 1.0), ("n", 2.2), ("p", 3.4), ("q", 4.4))  # seconds after the window is up
KEY_TOLERANCE_S = 0.5


def test_camera_scene_started_and_moved_through_with_keys(display, tmp_path):
    from acting_mirror.api import analyze
    from acting_mirror.config import Config
    from acting_mirror.sources import open_camera

    config = Config().override(output={"snapshot_dir": str(tmp_path / "snapshots")})
    (tmp_path / "scene.yaml").write_text(SCENE)
    camera = FaceCamera(fps=20.0, duration_s=30.0)
    source = open_camera(0, fps=20.0, capture_factory=lambda index: camera)
    pressed: dict[str, float] = {}  # key -> when it was sent, in the camera's time (Frame.time_s)
    failures: list[str] = []

    def actor() -> None:
        """The user: waits for the mirror, then presses the keys of KEY_PLAN on time."""
        try:
            if not wait_until(lambda: visible_windows(MAIN_WINDOW), START_TIMEOUT_S):
                failures.append("the mirror window never appeared")
                return
            window = visible_windows(MAIN_WINDOW)[0]
            up = time.monotonic()
            for key, at in KEY_PLAN:
                time.sleep(max(0.0, up + at - time.monotonic()))
                before = time.monotonic()
                press(window, key)
                pressed[key] = (before + time.monotonic()) / 2 - source.clock_start
        except Exception as error:  # reported by the main thread
            failures.append(repr(error))

    user = threading.Thread(target=actor, name="test user", daemon=True)
    try:
        user.start()
        # the command line's path: windows, video and report, HighGUI on this (the main) thread
        analysis = analyze(source, script=tmp_path / "scene.yaml", config=config, show=True,
                           video_output=tmp_path / "camera.avi", report_dir=tmp_path / "report", log=lambda _: None)
    finally:
        source.close()
        user.join(timeout=30)
    summary = analysis.run
    assert not failures, failures
    assert summary.stopped_by.value == "q", summary.stopped_by
    assert set(pressed) == {key for key, _ in KEY_PLAN}

    # the report scores each cue over the times it was really played
    report = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert analysis.summary == report  # the API returns what the report says, played cue times included
    played = [cue["played"] for cue in report["cues"]]
    assert len(played[0]) == 2 and len(played[1]) == 1 and played[2] == []
    (first_start, first_end), (again_start, again_end) = played[0]
    ((second_start, second_end),) = played[1]
    for got, key in ((first_start, "space"), (second_start, "n"), (again_start, "p")):
        assert -KEY_TOLERANCE_S < got - pressed[key] < KEY_TOLERANCE_S, (key, got, pressed)
    assert first_end == second_start and second_end == again_start
    times = analysis.timeline.times
    assert again_end == pytest.approx(times[-1] + 1 / report["fps"], abs=1e-3)
    assert times[0] < first_start  # frames before space: no cue yet
    for cue, spans in zip(report["cues"], played, strict=True):
        inside = sum(1 for t in times if any(start <= t < end for start, end in spans))
        assert cue["frames"] == inside
    assert report["cues"][0]["frames"] > 0 and report["cues"][1]["frames"] > 0 and report["cues"][2]["frames"] == 0

    # the video, at the camera's nominal rate, holds each processed frame from its capture time until
    # the next one's; it shows the cue band (darkened bottom rows) exactly from the frame after space
    frames, fps = read_video(tmp_path / "camera.avi")[:2]
    assert fps == config.source.camera_fps and len(frames) == summary.output_frames >= summary.frames
    slots = np.round((times - times[0]) * fps).astype(int)
    shown = np.searchsorted(slots, np.arange(len(frames)), side="right") - 1  # the processed frame in each slot
    band = [float(np.median(frame[-3:])) < 75 for frame in frames]
    assert band == [bool(times[i] > first_start) for i in shown]
