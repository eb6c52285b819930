"""The take keeps its voice: a video file's sound is carried into the annotated output, in sync.

The clips are real faces (the demo photo) with a white flash at one frame and a 1 kHz beep at
the same instant, written with PyAV; sync is measured on the output as the flash frame's time
against the beep's onset."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from acting_mirror import demo

SIZE = (320, 240)
FPS = 15
FRAMES = 60
FLASH = 33            # the frame with the flash; the beep starts at its time
RATE = 48_000


def write_take(path: Path, audio_offset_s: float = 0.0, video_codec: str = "mjpeg", audio_codec: str = "pcm_s16le",
               channels: int = 1, count: int = FRAMES, picture: bool = True, sound: bool = True) -> Path:
    """A take of a real face, a flash at frame FLASH and a beep at FLASH / FPS (plus noise around it);
    the sound may start `audio_offset_s` after the picture, as recorders often make it. Without
    `picture` or `sound` it is one of a web page's separate formats: the sound-only or video-only one."""
    with av.open(str(path), "w") as container:
        packets = []
        if picture:
            video = container.add_stream(video_codec, rate=FPS)
            video.width, video.height = SIZE
            video.pix_fmt = "yuvj420p" if video_codec == "mjpeg" else "yuv420p"
        if sound:
            audio = container.add_stream(audio_codec, rate=RATE, layout="stereo" if channels == 2 else "mono")
        if picture:
            packets += picture_packets(video, count)
        if sound:
            packets += sound_packets(audio, count / FPS, audio_offset_s, channels)
        for packet in packets:
            container.mux(packet)
    return path


def picture_packets(video, count: int) -> list:
    """The take's pictures, encoded: the face, white at frame FLASH."""
    frames = list(demo.synth_frames("one", count, SIZE))
    frames[FLASH] = np.full_like(frames[FLASH], 255)
    packets = []
    for index, image in enumerate(frames):
        picture = av.VideoFrame.from_ndarray(image, format="bgr24")
        picture.pts = index
        picture.time_base = Fraction(1, FPS)
        packets += video.encode(picture)
    return packets + video.encode(None)


def sound_packets(audio, duration_s: float, offset_s: float, channels: int) -> list:
    """The take's sound from `offset_s` to `duration_s`, encoded: noise, with a beep at FLASH / FPS."""
    rng = np.random.default_rng(1)
    t = np.arange(int((duration_s - offset_s) * RATE)) / RATE + offset_s
    wave = 0.01 * rng.standard_normal(len(t))
    beep = (t >= FLASH / FPS) & (t < FLASH / FPS + 0.3)
    wave[beep] += 0.5 * np.sin(2 * np.pi * 1000 * t[beep])
    samples = np.tile(wave.astype(np.float32), (channels, 1))
    fmt = "fltp" if audio.codec_context.name == "aac" else "s16"
    data = samples if fmt == "fltp" else (samples.T.reshape(1, -1) * 32767).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=audio.layout.name)
    frame.sample_rate, frame.pts, frame.time_base = RATE, round(offset_s * RATE), Fraction(1, RATE)
    return audio.encode(frame) + audio.encode(None)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "acting_mirror", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=environment)


def flash_and_beep(path: Path) -> tuple[float, float, float, int]:
    """(flash frame's time, beep onset, video fps, audio channels) of a media file."""
    (flash, fps), (onset, channels) = flash_time(path), beep_onset(path)
    return flash, onset, fps, channels


def flash_time(path: Path) -> tuple[float, float]:
    """(flash frame's time, video fps) of a media file."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        times, brightness = [], []
        for frame in container.decode(video):
            times.append(float(frame.pts * frame.time_base))
            brightness.append(frame.to_ndarray(format="gray").mean())
        return times[int(np.argmax(brightness))], float(video.average_rate)


def beep_onset(path: Path) -> tuple[float, int]:
    """(beep onset, audio channels) of a media file."""
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        channels = audio.channels
        chunks, starts = [], []
        for frame in container.decode(audio):
            data = frame.to_ndarray().astype(np.float64)
            data = data.reshape(channels, -1)[0] if frame.format.is_planar else data.reshape(-1, channels)[:, 0]
            starts.append(float(frame.pts * frame.time_base))
            chunks.append(data / (32768.0 if frame.format.name.startswith("s16") else 1.0))
        rate = audio.rate
    signal = np.concatenate(chunks)
    envelope = np.convolve(np.abs(signal), np.ones(48) / 48, mode="same")
    return starts[0] + int(np.argmax(envelope > 0.2)) / rate, channels


@pytest.mark.parametrize("output, offset", [("out.avi", 0.0), ("out.mp4", 0.0), ("late.avi", 0.4)])
def test_the_output_keeps_the_takes_sound_in_sync(tmp_path, output, offset):
    take = write_take(tmp_path / "take.mkv", audio_offset_s=offset)
    source_flash, source_onset, _, _ = flash_and_beep(take)
    assert abs(source_flash - source_onset) < 0.01  # the clip itself is in sync
    result = run("--video", str(take), "--no-display", "--output", output, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "with the source's sound" in result.stdout
    flash, onset, fps, _ = flash_and_beep(tmp_path / output)
    assert fps == pytest.approx(FPS, rel=0.01)
    assert abs(flash - onset) <= 1 / FPS, (flash, onset)  # within one frame
    with av.open(str(tmp_path / output)) as container:
        codecs = {stream.type: stream.codec_context.name for stream in container.streams}
        duration = container.streams.audio[0].frames
    assert codecs == ({"video": "h264", "audio": "aac"} if output.endswith(".mp4")
                      else {"video": "mjpeg", "audio": "pcm_s16le"})
    assert duration > 0


def test_no_audio_and_silent_sources_give_a_silent_video(tmp_path):
    take = write_take(tmp_path / "take.avi", channels=2)
    result = run("--video", str(take), "--no-display", "--output", "quiet.avi", "--no-audio", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with av.open(str(tmp_path / "quiet.avi")) as container:
        assert not container.streams.audio and len(container.streams.video) == 1
    silent = demo.write_clip(tmp_path / "silent.avi", "one", 12, 6.0, SIZE)
    result = run("--video", str(silent), "--no-display", "--output", "o.avi", cwd=tmp_path)
    assert result.returncode == 0 and "sound" not in result.stdout
    # a stereo take keeps both channels, and a cut run (--max-frames) keeps the sound of what it shows
    result = run("--video", str(take), "--no-display", "--output", "cut.avi", "--max-frames", "40", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with av.open(str(tmp_path / "cut.avi")) as container:
        audio = container.streams.audio[0]
        assert audio.channels == 2
        samples = sum(frame.samples for frame in container.decode(audio))
    assert abs(samples / RATE - 40 / FPS) <= 1 / FPS


def test_an_interrupted_run_keeps_its_sound_up_to_the_last_frame(tmp_path):
    import signal
    import time

    take = write_take(tmp_path / "long.avi", count=900)  # a minute: long enough to be stopped in the middle
    environment = {**{k: v for k, v in os.environ.items() if k != "DISPLAY"}, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-m", "acting_mirror", "--video", str(take), "--no-display",
                                "--output", "cut.avi"], cwd=tmp_path, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    output = tmp_path / "cut.avi"
    while process.poll() is None and (not output.exists() or output.stat().st_size < 400_000):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    frames = int(stdout.split("video: cut.avi (")[1].split(" frame")[0])
    assert 0 < frames < 900 and "with the source's sound" in stdout
    with av.open(str(output)) as container:
        pictures = sum(1 for _ in container.decode(container.streams.video[0]))
    with av.open(str(output)) as container:
        samples = sum(frame.samples for frame in container.decode(container.streams.audio[0]))
    assert pictures == frames
    assert abs(samples / RATE - frames / FPS) <= 1 / FPS  # the sound ends with the last frame


def dash_page(root: Path, picture: str, sound: str | None) -> str:
    """An MPEG-DASH manifest in `root` (a page yt-dlp's generic extractor reads): the picture and
    the sound as separate formats at these paths, as YouTube's pages offer them; its file name."""
    sound_set = (f'<AdaptationSet mimeType="audio/mp4"><Representation id="sound" codecs="mp4a.40.2" '
                 f'audioSamplingRate="{RATE}" bandwidth="96000"><BaseURL>{sound}</BaseURL></Representation>'
                 "</AdaptationSet>") if sound else ""
    (root / "take.mpd").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        f'mediaPresentationDuration="PT{FRAMES / FPS:.1f}S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">'
        '<Period><AdaptationSet mimeType="video/mp4"><Representation id="picture" codecs="avc1.64000d" '
        f'width="{SIZE[0]}" height="{SIZE[1]}" frameRate="{FPS}" bandwidth="400000"><BaseURL>{picture}</BaseURL>'
        f"</Representation></AdaptationSet>{sound_set}</Period></MPD>\n")
    return "take.mpd"


def sound_requests(server) -> list[tuple[str, int]]:
    """(user agent's first word, status) of each request for the sound-only file."""
    return [(agent.split("/")[0], status) for _, path, agent, status in server.requests if path.endswith(".m4a")]


@pytest.mark.parametrize("prefix", ["", "/no-ffmpeg"])
def test_a_url_take_keeps_its_sound_in_sync(tmp_path, http_server, prefix):
    # served by a real HTTP server on 127.0.0.1; the run streams the picture and reads the sound from the same URL,
    # or (when FFmpeg may not fetch it) yt-dlp downloads the take and its sound is the downloaded file's
    write_take(http_server.root / "take.mkv", audio_offset_s=0.2)
    result = run("--youtube", http_server.url("take.mkv", prefix), "--no-display", "--output", "web.avi",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "with the source's sound" in result.stdout
    assert ("downloading" in result.stderr) == bool(prefix)
    flash, onset, fps, _ = flash_and_beep(tmp_path / "web.avi")
    assert fps == pytest.approx(FPS, rel=0.01)
    assert abs(flash - onset) <= 1 / FPS, (flash, onset)
    assert all(path == f"{prefix}/take.mkv" for _, path, _, _ in http_server.requests)


@pytest.mark.parametrize("prefix", ["", "no-ffmpeg/"])
def test_a_page_with_a_video_only_and_a_sound_only_format_keeps_its_sound(tmp_path, http_server, prefix):
    # the picture is streamed and its sound read from the sound-only URL, or (when FFmpeg may not fetch them,
    # as YouTube's URLs bound to yt-dlp's headers) yt-dlp downloads both; the sound starts after the picture
    write_take(http_server.root / "picture.mp4", video_codec="libx264", sound=False)
    write_take(http_server.root / "sound.m4a", audio_codec="aac", picture=False, audio_offset_s=0.2)
    source_onset, _ = beep_onset(http_server.root / "sound.m4a")
    page = dash_page(http_server.root, f"{prefix}picture.mp4", f"{prefix}sound.m4a")
    result = run("--youtube", http_server.url(page), "--no-display", "--output", "web.avi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "with the source's sound" in result.stdout and "note" not in result.stdout + result.stderr
    assert ("downloading" in result.stderr) == bool(prefix)
    flash, onset, fps, _ = flash_and_beep(tmp_path / "web.avi")
    assert fps == pytest.approx(FPS, rel=0.01)
    assert abs(flash - onset) <= 1 / FPS, (flash, onset)  # within one frame
    assert abs(onset - source_onset) <= 1 / FPS, (onset, source_onset)  # at the source's timing
    with av.open(str(tmp_path / "web.avi")) as container:
        frames = container.streams.video[0].frames
        samples = sum(frame.samples for frame in container.decode(container.streams.audio[0]))
    assert frames == FRAMES and abs(samples / RATE - FRAMES / FPS) <= 1 / FPS
    if prefix:  # the sound came from yt-dlp's download: FFmpeg could not have read it
        assert sound_requests(http_server) and all(agent != "Lavf" and status in (200, 206)
                                                   for agent, status in sound_requests(http_server))


@pytest.mark.parametrize("sound", ["no-ffmpeg/lost.m4a", None])
def test_a_downloaded_take_whose_sound_cannot_be_had_is_silent(tmp_path, http_server, sound):
    # a sound-only format that answers 404 is said in one note; a page with no sound at all is simply silent
    write_take(http_server.root / "picture.mp4", video_codec="libx264", sound=False)
    page = dash_page(http_server.root, "no-ffmpeg/picture.mp4", sound)
    result = run("--youtube", http_server.url(page), "--no-display", "--output", "web.avi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    notes = [line for line in (result.stdout + result.stderr).splitlines() if "note:" in line]
    assert len(notes) == (1 if sound else 0), result.stderr
    assert not sound or ("sound" in notes[0] and "404" in notes[0])
    assert "with the source's sound" not in result.stdout and "Traceback" not in result.stderr
    with av.open(str(tmp_path / "web.avi")) as container:
        assert not container.streams.audio and container.streams.video[0].frames == FRAMES


def test_a_downloaded_takes_sound_lies_beside_it_until_the_source_closes(tmp_path, http_server, monkeypatch):
    import tempfile

    from acting_mirror.sources import open_url

    write_take(http_server.root / "picture.mp4", video_codec="libx264", sound=False)
    write_take(http_server.root / "sound.m4a", audio_codec="aac", picture=False)
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    source = open_url(http_server.url(dash_page(http_server.root, "no-ffmpeg/picture.mp4", "no-ffmpeg/sound.m4a")),
                      log=lambda message: None)
    sound = Path(source.media_path)
    assert sound.parent.parent == temp_root and sound.read_bytes() == (http_server.root / "sound.m4a").read_bytes()
    with source:
        assert len(list(source)) == FRAMES
    assert not any(temp_root.iterdir())  # the picture and its sound, removed on close


def test_a_downloaded_video_takes_its_sound_only_from_where_the_page_may_point(tmp_path, http_server):
    from acting_mirror.sources.base import SourceError
    from acting_mirror.sources.web import sound_of_download

    write_take(http_server.root / "sound.m4a", audio_codec="aac", picture=False)
    silent = demo.write_clip(tmp_path / "video.avi", "one", 12, 6.0, SIZE)
    sound_only = {"format_id": "sound", "url": http_server.url("sound.m4a"), "vcodec": "none", "acodec": "mp4a.40.2",
                  "protocol": "http", "ext": "m4a"}
    info = {"id": "take", "title": "take", "extractor": "generic", "extractor_key": "Generic",
            "webpage_url": http_server.url("take.html"), "formats": [sound_only]}
    folder = tmp_path / "download"
    folder.mkdir()
    notes: list[str] = []
    # a public page may not send us to this machine for its sound, as it may not for its picture: nothing is fetched
    with pytest.raises(SourceError, match="more private network"):
        sound_of_download(silent, info, "http://93.184.216.34/take.html", 720, folder, notes.append)
    assert http_server.requests == [] and not any(folder.iterdir())
    # a page on the same host may, and a video with sound of its own keeps it
    downloaded = sound_of_download(silent, info, http_server.url("take.html"), 720, folder, notes.append)
    assert downloaded.parent == folder and downloaded.read_bytes() == (http_server.root / "sound.m4a").read_bytes()
    fetched = len(http_server.requests)
    with_sound = write_take(tmp_path / "take.mkv")
    assert sound_of_download(with_sound, info, http_server.url("take.html"), 720, folder, notes.append) == with_sound
    assert notes == [] and fetched >= 1 and len(http_server.requests) == fetched


def test_the_sound_of_a_url_take_comes_from_its_stream_or_a_sound_only_format():
    from acting_mirror.sources.base import SourceError
    from acting_mirror.sources.web import sound_url

    page = "https://example.org/watch"
    assert sound_url({"url": "https://cdn.example.org/both.mp4", "acodec": "mp4a"}, page) == \
        "https://cdn.example.org/both.mp4"
    assert sound_url({"url": "https://cdn.example.org/direct.mkv"}, page) == "https://cdn.example.org/direct.mkv"
    formats = [{"url": "https://cdn.example.org/low.m4a", "vcodec": "none", "acodec": "mp4a", "protocol": "https"},
               {"url": "https://cdn.example.org/v.mp4", "vcodec": "avc1", "acodec": "none", "protocol": "https"},
               {"url": "https://cdn.example.org/m.m3u8", "vcodec": "none", "acodec": "mp4a", "protocol": "m3u8"},
               {"url": "https://cdn.example.org/high.m4a", "vcodec": "none", "acodec": "opus", "protocol": "https"}]
    video_only = {"url": "https://cdn.example.org/v.mp4", "acodec": "none", "formats": formats}
    assert sound_url(video_only, page) == "https://cdn.example.org/high.m4a"
    assert sound_url({**video_only, "formats": formats[1:3]}, page) is None
    # a sound-only format aimed at this machine from a public page is refused, as a picture stream would be
    hostile = [{**formats[3], "url": "http://127.0.0.1:8080/secret.m4a"}]
    with pytest.raises(SourceError):
        sound_url({**video_only, "formats": hostile}, page)
