"""A camera's recording keeps the microphone's sound, in sync, and an untimed script follows the
speech live: each run is a real camera loop (tests/camera_sound.py, in its own process) recording
a real fake microphone (tests/fake_microphone.py: PulseAudio, ALSA, PortAudio, sounddevice)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from acting_mirror.audio.cue_timing import read_take_audio
from tests.fake_microphone import MISSING, pulse_server, write_wav
from tests.test_audio_mux import flash_time

pytestmark = [pytest.mark.skipif(bool(MISSING), reason=f"needs {', '.join(MISSING)} (.ci/run installs them)"),
              pytest.mark.slow]  # each test is a camera run in its own process, in real time
HELPER = Path(__file__).resolve().parent / "camera_sound.py"
FPS = 15


def camera_run(env: dict, output: Path, mode: str, *args: str, timeout: float = 240) -> dict:
    result = subprocess.run([sys.executable, str(HELPER), str(output), mode, *args], env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def sound_of(path: Path) -> tuple[np.ndarray, int, float, float]:
    """(samples, rate, start, the video's length in seconds) of a recording."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        rate = float(stream.average_rate)
    audio = read_take_audio(path)
    assert audio is not None, "the recording has no sound"
    return *audio, frames / rate


@pytest.fixture
def pulse_env(tmp_path):
    with pulse_server(tmp_path) as env:
        yield {**env, "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.mark.parametrize("name, device", [("take.avi", ""), ("take.mp4", "pulse")])
def test_the_camera_records_the_microphone_in_sync(pulse_env, tmp_path, name, device):
    output = tmp_path / name
    run = camera_run(pulse_env, output, "clap", "--device", device)
    assert run["notes"] == [] and any("with the microphone's sound" in line for line in run["summary"])
    with av.open(str(output)) as container:
        codecs = (container.streams.video[0].codec_context.name, container.streams.audio[0].codec_context.name)
    assert codecs == (("h264", "aac") if name.endswith(".mp4") else ("mjpeg", "pcm_s16le"))
    samples, rate, start, video_s = sound_of(output)
    assert abs(len(samples) / rate - video_s) <= 1 / FPS  # sound up to the last frame, not past it
    beep_onset = start + int(np.argmax(np.abs(samples) > 0.3)) / rate
    assert np.abs(samples).max() > 0.3, "the beep is not in the recording"
    # the white frame was shown the instant the beep reached the microphone: in the file they are
    # within one frame of each other
    assert abs(beep_onset - flash_time(output)) < 1 / FPS, (beep_onset, flash_time(output))


@pytest.mark.parametrize("args, note", [(("--device", "no-such-mic"), "cannot record from microphone no-such-mic"),
                                        (("--without-sounddevice",), "cannot record sound"),
                                        (("--no-audio",), None)])
def test_without_a_microphone_the_recording_is_silent(pulse_env, tmp_path, args, note):
    output = tmp_path / "take.avi"
    run = camera_run(pulse_env, output, "clap", *args)
    if note is None:
        assert run["notes"] == []
    else:
        assert len(run["notes"]) == 1 and note in run["notes"][0] and "recording without sound" in run["notes"][0]
    assert run["output_frames"] > 30 and not any("sound" in line for line in run["summary"])
    assert read_take_audio(output) is None  # a silent video, not a broken one
    assert flash_time(output) > 1.0


def test_no_sound_server_at_all_is_one_line_and_a_silent_recording(tmp_path):
    lonely = tmp_path / "no-pulse"
    lonely.mkdir()
    env = {**os.environ, "XDG_RUNTIME_DIR": str(lonely), "HOME": str(lonely), "TF_CPP_MIN_LOG_LEVEL": "3"}
    output = tmp_path / "take.avi"
    run = camera_run(env, output, "clap")
    assert len(run["notes"]) == 1 and "recording without sound" in run["notes"][0]
    assert run["output_frames"] > 30 and read_take_audio(output) is None


def stopped_run(env: dict, output: Path, stop, *args: str) -> dict:
    """A camera run with a tone playing into its microphone, stopped by `stop(process)` once it records."""
    helper = subprocess.Popen([sys.executable, str(HELPER), str(output), "interrupt", *args], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert helper.stdout.readline().strip() == "recording", helper.stderr.read()[-3000:]
        stop(helper)
        stdout, stderr = helper.communicate(timeout=120)
    finally:
        helper.kill()
    assert helper.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


def assert_sound_to_the_last_frame(output: Path, run: dict) -> None:
    assert run["output_frames"] >= 30
    samples, rate, start, video_s = sound_of(output)
    assert abs(len(samples) / rate - video_s) <= 1 / FPS
    assert video_s == pytest.approx(run["output_frames"] / FPS, abs=1e-6)
    # the tone plays from 2 s to the end: it is there, up to the last frame's time
    loud = np.flatnonzero(np.abs(samples) > 0.2) / rate + start
    assert loud.size and loud[-1] > video_s - 0.5


def test_an_interrupted_camera_run_keeps_its_sound_up_to_the_last_frame(pulse_env, tmp_path):
    output = tmp_path / "take.avi"
    run = stopped_run(pulse_env, output, lambda helper: helper.send_signal(signal.SIGINT))
    assert run["stopped_by"] == "interrupt (Ctrl-C)"
    assert_sound_to_the_last_frame(output, run)


def test_the_q_key_keeps_the_sound_up_to_the_last_frame(pulse_env, xvfb_display, tmp_path):
    from tests.xutil import press, require_xdotool, visible_windows

    require_xdotool()
    output = tmp_path / "take.mkv"
    env = {**pulse_env, "DISPLAY": xvfb_display}
    env.pop("WAYLAND_DISPLAY", None)
    run = stopped_run(env, output, lambda helper: press(visible_windows("Acting Mirror")[0], "q"), "--show")
    assert run["stopped_by"] == "q"
    assert_sound_to_the_last_frame(output, run)


def test_an_untimed_script_follows_the_lines_heard(pulse_env, tmp_path):
    from tests.test_speech_alignment import LINES, RATE, make_take

    take, truth = make_take(tmp_path, 20)
    wav = write_wav(tmp_path / "take.wav", take, RATE)
    script = tmp_path / "scene.yaml"
    emotions = ("angry", "sad", "sad", "neutral")
    script.write_text("title: live\ncues:\n" + "".join(f'  - line: "{line}"\n    emotion: {emotion}\n'
                                                         for line, emotion in zip(LINES, emotions, strict=True)))
    run = camera_run(pulse_env, tmp_path / "take.avi", "speech", "--script", str(script), "--report",
                     str(tmp_path / "report"), "--take", str(wav), "--seconds", str(len(take) / RATE + 2.5))
    cues = run["cues"]
    assert [cue["timing"] for cue in cues] == ["speech", "not spoken", "speech", "speech"]
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert [cue["timing"] for cue in summary["cues"]] == ["speech", "not spoken", "speech", "speech"]
    played = run["played_s"]  # when the take's first sample reached the microphone, on the camera's clock
    for index in (0, 2, 3):  # each cue starts where its line began in the take (a short first word may be missed)
        heard = cues[index]["start"] - played
        assert abs(heard - truth[index][0]) <= 0.4, (index, heard, truth[index])
    # the unscripted sentence at 4.5 s moved nothing: the first cue stays until the third line is heard
    assert cues[0]["end"] == pytest.approx(cues[2]["start"])
