"""Forced alignment of script lines on espeak-ng speech placed at known times in noise."""

from __future__ import annotations

import shutil
import subprocess
import sys
import wave

import cv2
import numpy as np
import pytest

from acting_mirror.audio.align import align_lines

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (.ci/run installs it)")

RATE = 22050
LINES = ("You never listen to me", "This line is never spoken", "I am tired of waiting for you",
         "Tomorrow we leave the city")
UNSCRIPTED = "The weather outside is lovely today"
# (line index, voice, words per minute, start second); line 1 is skipped, and an unscripted
# sentence is spoken where it would have been
SPOKEN = ((0, "en-us", 160, 1.0), (None, "en", 170, 4.5), (2, "en+f3", 185, 8.0), (3, "en-us", 140, 11.5))


def speak(text: str, voice: str, wpm: int, tmp_path) -> np.ndarray:
    path = tmp_path / "line.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text], check=True)
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == RATE
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768


def speech_span(speech: np.ndarray) -> tuple[float, float]:
    """True start/end of the speech in seconds: the first and last 10 ms frame above -40 dB of its peak."""
    frames = speech[: len(speech) // 220 * 220].reshape(-1, 220)
    rms = np.sqrt((frames**2).mean(axis=1))
    loud = np.flatnonzero(rms > rms.max() * 0.01)
    return loud[0] * 220 / RATE, (loud[-1] + 1) * 220 / RATE


def make_take(tmp_path, snr_db: float, spoken=SPOKEN, seconds: float = 14.0):
    """The take and, for each thing spoken, its true (start, end) s: keyed by the line's index, None
    for UNSCRIPTED, or the text of another unscripted sentence (a str in place of the index)."""
    take = np.zeros(round(RATE * seconds), np.float32)
    truth = {}
    for index, voice, wpm, at in spoken:
        text = index if isinstance(index, str) else UNSCRIPTED if index is None else LINES[index]
        speech = speak(text, voice, wpm, tmp_path)
        begin = int(at * RATE)
        take[begin:begin + len(speech)] += speech
        start, end = speech_span(speech)
        truth[index] = (at + start, at + end)
    speech_power = np.mean(np.concatenate([take[int(s * RATE):int(e * RATE)] for s, e in truth.values()]) ** 2)
    noise = np.random.default_rng(7).normal(0, np.sqrt(speech_power / 10 ** (snr_db / 10)), len(take))
    return (take + noise).astype(np.float32), truth


@pytest.mark.parametrize("snr_db", [20, 10])
def test_lines_are_timed_from_the_speech_and_the_skipped_line_is_not_spoken(tmp_path, snr_db):
    take, truth = make_take(tmp_path, snr_db)
    alignment = align_lines(LINES, take, RATE)
    assert not alignment.lines[1].spoken  # skipped, and the unscripted sentence in its place is no false cue
    errors = []
    for index, (start, end) in truth.items():
        if index is None:
            continue
        timing = alignment.lines[index]
        assert timing.spoken, f"line {index} not found at {snr_db} dB"
        errors += [abs(timing.start - start), abs(timing.end - end)]
    print(f"{snr_db} dB: line start/end errors (s)", np.round(errors, 3))
    if snr_db == 20:
        assert np.median(errors) <= 0.10 and max(errors) <= 0.30, errors
    else:
        assert max(errors) <= 0.5, errors


def test_unknown_words_are_skipped_with_a_notice(tmp_path):
    take, truth = make_take(tmp_path, 20)
    lines = list(LINES)
    lines[3] = "Tomorrow we leave the city Zorblaxian"
    alignment = align_lines(lines, take, RATE)
    assert any("zorblaxian" in notice for notice in alignment.notices)
    assert alignment.lines[3].spoken
    assert abs(alignment.lines[3].start - truth[3][0]) <= 0.3


def test_a_line_that_says_a_word_twice_is_timed(tmp_path):
    """Repeated words ("you ... you") and a word shared by two lines are one dictionary entry each."""
    lines = ("Do you have any idea what you have done", "You know what you did", "That is what I said")
    take = np.zeros(round(RATE * 9.0), np.float32)
    truth = {}
    for index, at in ((0, 1.0), (2, 5.5)):
        speech = speak(lines[index], "en-us", 160, tmp_path)
        begin = round(at * RATE)
        take[begin:begin + len(speech)] += speech
        start, end = speech_span(speech)
        truth[index] = (at + start, at + end)
    take += np.random.default_rng(3).normal(0, 0.005, len(take)).astype(np.float32)
    alignment = align_lines(lines, take, RATE)
    assert not alignment.lines[1].spoken
    for index, (start, end) in truth.items():
        timing = alignment.lines[index]
        assert timing.spoken, f"line {index} not found"
        assert abs(timing.start - start) <= 0.3 and abs(timing.end - end) <= 0.3, (timing, start, end)


def sound_strip_columns(chart: np.ndarray) -> np.ndarray:
    blue, green, red = (chart.astype(int)[..., i] for i in range(3))
    return np.unique(np.nonzero((abs(red - 0x4A) < 12) & (abs(green - 0x6F) < 12) & (abs(blue - 0xA5) < 12))[1])


def write_take_with_sound(path, sound: np.ndarray, fps: int = 10) -> None:
    """An AVI of the demo face (MJPEG) with `sound` as its PCM audio track, both from time 0."""
    import av

    from acting_mirror.demo import synth_frames

    seconds = len(sound) / RATE
    with av.open(str(path), "w") as container:
        video = container.add_stream("mjpeg", rate=fps)
        video.width, video.height, video.pix_fmt = 320, 240, "yuvj420p"
        audio = container.add_stream("pcm_s16le", rate=RATE, layout="mono")
        for image in synth_frames("one", count=int(seconds * fps), size=(320, 240)):
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(video.encode(None))
        pcm = (np.clip(sound, -1, 1) * 32767).astype("<i2").reshape(1, -1)
        for begin in range(0, pcm.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, begin:begin + 4096]), format="s16",
                                               layout="mono")
            frame.sample_rate, frame.pts = RATE, begin
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))


def test_a_run_with_an_untimed_script_times_its_cues_from_the_take(tmp_path):
    import json

    take, truth = make_take(tmp_path, 20)
    write_take_with_sound(tmp_path / "take.avi", take)
    script = tmp_path / "untimed.yaml"
    cues = "".join(f'  - line: "{line}"\n    emotion: neutral\n' for line in LINES)
    script.write_text("title: untimed\ncues:\n" + cues)
    run = subprocess.run([sys.executable, "-m", "acting_mirror", "--video", str(tmp_path / "take.avi"), "--script",
                          str(script), "--report", str(tmp_path / "r"), "--output", str(tmp_path / "out.avi"),
                          "--no-display"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "was not spoken" in run.stdout + run.stderr
    cues = json.loads((tmp_path / "r" / "summary.json").read_text())["cues"]
    assert [cue["timing"] for cue in cues] == ["speech", "not spoken", "speech", "speech"]
    assert cues[1]["start"] is None and cues[1]["frames"] == 0
    for index in (0, 2, 3):
        assert abs(cues[index]["start"] - truth[index][0]) <= 0.3 and abs(cues[index]["end"] - truth[index][1]) <= 0.3
        assert cues[index]["frames"] > 0
    assert "not spoken" in (tmp_path / "r" / "report.html").read_text()
    chart = cv2.imread(str(tmp_path / "r" / "emotion_over_time.png"))
    assert sound_strip_columns(chart).size > 0  # the take's sound under the lanes
    # a rebuild has no sound: it keeps the times the run heard the lines at
    rebuild = subprocess.run([sys.executable, "-m", "acting_mirror", "report", str(tmp_path / "r"), "--script",
                              str(script)], capture_output=True, text=True, timeout=120)
    assert rebuild.returncode == 0, rebuild.stderr
    rebuilt = json.loads((tmp_path / "r" / "summary.json").read_text())["cues"]
    assert [(cue["timing"], cue["start"], cue["frames"]) for cue in rebuilt] == \
        [(cue["timing"], cue["start"], cue["frames"]) for cue in cues]
    script.write_text(script.read_text() + '  - line: "A line never heard of"\n    emotion: happy\n')
    rebuild = subprocess.run([sys.executable, "-m", "acting_mirror", "report", str(tmp_path / "r"), "--script",
                              str(script)], capture_output=True, text=True, timeout=120)
    assert rebuild.returncode != 0 and "Traceback" not in rebuild.stderr
    assert "cue 5" in rebuild.stderr and "start and end" in rebuild.stderr


@pytest.mark.slow
def test_batch_times_an_untimed_script_from_each_takes_speech(tmp_path):
    import json

    for snr_db in (20, 10):
        take, _ = make_take(tmp_path, snr_db)
        write_take_with_sound(tmp_path / f"take{snr_db}.avi", take)
    script = tmp_path / "untimed.yaml"
    script.write_text("title: untimed\ncues:\n" + "".join(f'  - line: "{line}"\n    emotion: neutral\n'
                                                            for line in LINES))
    run = subprocess.run([sys.executable, "-m", "acting_mirror", "batch", str(tmp_path / "take20.avi"),
                          str(tmp_path / "take10.avi"), "--out", str(tmp_path / "out"), "--script", str(script),
                          "--workers", "1"], capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr
    summaries = sorted((tmp_path / "out").glob("*/summary.json"))
    assert len(summaries) == 2
    for path in summaries:
        cues = json.loads(path.read_text())["cues"]
        assert [cue["timing"] for cue in cues] == ["speech", "not spoken", "speech", "speech"], path
    assert "timed by each take" in (tmp_path / "out" / "index.html").read_text()


def test_an_untimed_script_on_a_take_without_sound_is_one_clear_error(tmp_path):
    from acting_mirror.demo import write_clip

    write_clip(tmp_path / "silent.avi", count=10)
    script = tmp_path / "untimed.yaml"
    script.write_text('cues:\n  - line: "You never listen to me"\n    emotion: angry\n')
    run = subprocess.run([sys.executable, "-m", "acting_mirror", "--video", str(tmp_path / "silent.avi"), "--script",
                          str(script), "--output", "", "--no-display"], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "no sound to time them" in run.stderr
