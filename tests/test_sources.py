"""Sources on real data: clips written with acting_mirror.demo, a real HTTP server and a
real RTSP server on 127.0.0.1 (never the internet), and a capture device that delivers real
face frames at a fixed rate like a webcam."""

from __future__ import annotations

import itertools
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import cv2
import hls_broadcast
import numpy as np
import pytest
from frame_numbers import SIZE as NUMBERED_SIZE
from frame_numbers import frame_number, numbered_frames
from rtsp_server import RtspServer

from acting_mirror import sources
from acting_mirror.demo import synth_frames, write_clip
from acting_mirror.errors import MirrorError
from acting_mirror.sources import SourceError
from acting_mirror.sources.base import sane_fps
from acting_mirror.sources.web import short_reason, yt_dlp_options

SIZE = (160, 120)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_clip(tmp_path / "clip.avi", "one", count=24, fps=12.0, size=SIZE)


def read_all(source) -> list:
    with source:
        return list(source)


# -- files ----------------------------------------------------------------

def test_video_file_yields_every_frame_with_video_time(clip):
    expected = list(synth_frames("one", 24, SIZE))
    source = sources.open_video(clip)
    assert (source.fps, source.frame_size, source.total_frames) == (12.0, SIZE, 24)
    assert not source.live and not source.is_image
    frames = read_all(source)
    assert [frame.index for frame in frames] == list(range(24))
    assert [frame.time_s for frame in frames] == pytest.approx([i / 12.0 for i in range(24)])
    for frame, original in zip(frames, expected, strict=True):
        assert frame.image.shape == (120, 160, 3)
        # MJPG is lossy, but each decoded frame is its own original, not a neighbour
        assert np.abs(frame.image.astype(int) - original).mean() < 6


def test_missing_video_file(tmp_path):
    with pytest.raises(SourceError, match=r"^video file .*rehearsal\.mp4 not found$"):
        sources.open_video(tmp_path / "rehearsal.mp4")


def test_text_file_named_like_a_video(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is not a video\n")
    with pytest.raises(SourceError, match=r"clip\.mp4 is not a video OpenCV can read$"):
        sources.open_video(fake)


def test_truncated_video_yields_what_it_can_then_stops(clip, tmp_path):
    data = clip.read_bytes()
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(data[:len(data) // 2])
    frames = read_all(sources.open_video(truncated))
    assert 6 <= len(frames) < 24
    assert [frame.index for frame in frames] == list(range(len(frames)))


def test_garbled_middle_is_skipped_and_the_rest_is_read(clip, tmp_path):
    data = bytearray(clip.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 2000] = np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    garbled = tmp_path / "garbled.avi"
    garbled.write_bytes(bytes(data))
    frames = read_all(sources.open_video(garbled))
    indices = [frame.index for frame in frames]
    assert indices == sorted(set(indices))          # in order, none repeated
    assert 12 < len(frames) < 24                    # lost the garbled frames only
    assert indices[-1] >= 20                         # and went on after them
    assert all(frame.time_s == pytest.approx(frame.index / 12.0) for frame in frames)


def test_container_fps_that_lies_falls_back():
    assert sane_fps(25.0) == 25.0
    assert sane_fps(0.0) is None
    assert sane_fps(float("nan")) is None
    assert sane_fps(1000.0) is None
    assert sane_fps(None) is None


# -- image and demo -------------------------------------------------------

def test_image_source(tmp_path):
    image = next(synth_frames("one", 1, SIZE))
    path = tmp_path / "face.png"
    assert cv2.imwrite(str(path), image)
    source = sources.open_image(path)
    assert source.is_image and source.total_frames == 1 and source.frame_size == SIZE
    frames = read_all(source)
    assert len(frames) == 1 and frames[0].index == 0
    np.testing.assert_array_equal(frames[0].image, image)


def test_bad_images(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        sources.open_image(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("no pixels here")
    with pytest.raises(SourceError, match=r"notes\.png is not an image OpenCV can read"):
        sources.open_image(text)


def test_demo_source_is_one_face_then_two():
    size = (320, 240)
    source = sources.open_demo(count=8, fps=10.0, size=size)
    assert (source.total_frames, source.fps, source.frame_size) == (8, 10.0, size)
    assert not source.live and not source.is_image
    frames = read_all(source)
    expected = list(synth_frames("demo", 8, size))
    assert [frame.index for frame in frames] == list(range(8))
    assert [frame.time_s for frame in frames] == pytest.approx([i / 10.0 for i in range(8)])
    for frame, image in zip(frames, expected, strict=True):
        np.testing.assert_array_equal(frame.image, image)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = [len(cascade.detectMultiScale(cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY), 1.1, 5, minSize=(30, 30)))
             for f in frames]
    assert faces[0] == 1 and faces[-1] == 2


# -- camera ---------------------------------------------------------------

class DemoCamera:
    """A capture device delivering real face frames on a fixed clock, as a webcam does
    (read() blocks until the next frame is due), then running dry after `count`."""

    def __init__(self, fps: float = 30.0, count: int = 90, opens: bool = True):
        self.images = list(synth_frames("one", 30, SIZE))
        self.rate = fps
        self.count = count
        self.opens = opens
        self.delivered = 0
        self.released = False
        self.settings: dict[int, float] = {}
        self._next_due: float | None = None

    def isOpened(self) -> bool:
        return self.opens and not self.released

    def read(self):
        if self.released or self.delivered >= self.count:
            return False, None
        now = time.monotonic()
        self._next_due = now if self._next_due is None else self._next_due
        if now < self._next_due:
            time.sleep(self._next_due - now)
        self._next_due += 1.0 / self.rate
        image = self.images[self.delivered % len(self.images)].copy()
        self.delivered += 1
        return True, image

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FPS: self.rate, cv2.CAP_PROP_FRAME_WIDTH: SIZE[0],
                cv2.CAP_PROP_FRAME_HEIGHT: SIZE[1]}.get(prop, 0.0)

    def set(self, prop: int, value: float) -> bool:
        self.settings[prop] = value
        return True

    def release(self) -> None:
        self.released = True


def test_slow_consumer_always_gets_the_newest_frame():
    camera = DemoCamera(fps=30.0, count=200)
    period = 1 / 30.0
    source = sources.open_camera(0, fps=30.0, capture_factory=lambda index: camera)
    assert source.live and source.frame_size == SIZE
    assert camera.settings[cv2.CAP_PROP_FPS] == 30.0
    received, ages, behind = [], [], []
    with source:
        for frame in source:
            ages.append(source.frame_age(frame))
            behind.append(camera.delivered - 1 - frame.index)  # frames newer than this one
            received.append(frame)
            if len(received) == 12:
                break
            time.sleep(0.1)  # a slow consumer: three camera frames per frame it handles
    indices = [frame.index for frame in received]
    seen = f"indices {indices}, frames behind {behind}, ages {[round(age * 1000) for age in ages]} ms"
    assert indices == sorted(set(indices)), seen
    assert max(b - a for a, b in itertools.pairwise(indices)) >= 2, seen   # it skipped ahead
    assert source.dropped_frames >= len(received) - 1, seen
    # the newest frame, never a queued old one (a queue would fall ~2 frames further behind per frame)
    assert statistics.median(behind) <= 1 and max(behind) <= 3, seen
    # young: under 2.5 frame periods old (one exception allowed: a loaded machine may stall us once)
    assert statistics.median(ages) < 1.2 * period and sorted(ages)[-2] < 2.5 * period, seen
    for frame in received:
        np.testing.assert_array_equal(frame.image, camera.images[frame.index % len(camera.images)])
    assert camera.released


def test_camera_rate_is_measured_not_assumed():
    camera = DemoCamera(fps=20.0, count=30)
    with sources.open_camera(1, fps=30.0, capture_factory=lambda index: camera) as source:
        frames = list(source)  # until the device runs dry
        assert source.fps == pytest.approx(20.0, rel=0.1)
    # a consumer as fast as the camera sees (nearly) every frame; each one is seen or counted dropped
    assert len(frames) + source.dropped_frames == camera.delivered == 30
    assert len(frames) >= 20
    times = [frame.time_s for frame in frames]
    assert times == sorted(times) and times[0] >= 0
    assert (times[-1] - times[0]) / (frames[-1].index - frames[0].index) == pytest.approx(0.05, rel=0.15)
    assert camera.released


def test_camera_that_does_not_open():
    camera = DemoCamera(opens=False)
    with pytest.raises(SourceError, match=r"^camera 3 could not be opened$"):
        sources.open_camera(3, capture_factory=lambda index: camera)
    assert camera.released


def test_close_stops_the_reader_thread():
    camera = DemoCamera(fps=30.0, count=10_000)
    source = sources.open_camera(0, capture_factory=lambda index: camera)
    next(iter(source))
    source.close()
    source.close()  # idempotent
    assert camera.released
    assert not any(thread.name == "acting-mirror camera 0" for thread in threading.enumerate())
    assert list(source) == []


# -- choosing the kind of source ------------------------------------------

def test_open_source_opens_the_kind_its_target_names(clip, tmp_path, http_server):
    photo = tmp_path / "face.JPG"
    assert cv2.imwrite(str(photo), next(synth_frames("one", 1, SIZE)))
    (http_server.root / "clip.avi").write_bytes(clip.read_bytes())
    assert [sources.source_kind(target) for target in (3, str(clip), clip, photo, http_server.url("clip.avi"),
                                                       Path(http_server.url("clip.avi")))] == \
        ["camera", "video", "video", "image", "url", "video"]  # a Path is never a URL
    with sources.open_source(clip) as video, sources.open_source(photo) as image, \
            sources.open_source(http_server.url("clip.avi"), log=pytest.fail) as web:
        assert (video.name, video.total_frames, video.is_image) == ("clip.avi", 24, False)
        assert (image.name, image.is_image) == ("face.JPG", True)
        assert web.total_frames == 24 and web.media_path.startswith("http://127.0.0.1")
    # the kind given wins over the name: a video opened as a photo is refused as one
    with pytest.raises(SourceError, match=r"clip\.avi is not an image OpenCV can read"):
        sources.open_source(clip, "image")
    with sources.open_source(kind="demo") as demo:
        assert demo.name == "demo"
    with pytest.raises(SourceError, match="camera index must be between 0 and 99"):
        sources.open_source(100)
    with pytest.raises(SourceError, match="unknown kind of source 'tape'"):
        sources.open_source(clip, "tape")


def test_frames_to_read_is_the_source_length_cut_by_the_limit():
    demo = sources.open_demo(count=8)
    camera = sources.open_camera(0, capture_factory=lambda index: DemoCamera(fps=30.0, count=10))
    with demo, camera:
        assert [sources.frames_to_read(demo, limit) for limit in (0, 5, 8, 20)] == [8, 5, 8, 8]
        assert [sources.frames_to_read(camera, limit) for limit in (0, 5)] == [None, 5]  # a feed has no length
    sources.check_frame_limit(None)
    sources.check_frame_limit(0)
    for limit, error in ((-1, "--max-frames must be >= 0"), (2.5, "--max-frames must be a whole number, not float"),
                         (True, "--max-frames must be a whole number, not bool")):
        with pytest.raises(MirrorError, match=f"^{error}$"):
            sources.check_frame_limit(limit, "--max-frames")


# -- URLs (a real HTTP server on 127.0.0.1) --------------------------------

def test_url_through_yt_dlp_yields_all_frames(http_server, tmp_path):
    write_clip(http_server.root / "clip.avi", "one", count=20, fps=10.0, size=SIZE)
    messages: list[str] = []
    source = sources.open_url(http_server.url("clip.avi"), log=messages.append)
    assert (source.fps, source.frame_size) == (10.0, SIZE)
    frames = read_all(source)
    assert [frame.index for frame in frames] == list(range(20))
    assert frames[-1].time_s == pytest.approx(1.9)
    assert messages == []  # streamed directly, no download
    agents = {agent.split("/")[0] for _, _, agent, status in http_server.requests if status in (200, 206)}
    assert "Lavf" in agents  # OpenCV's FFmpeg read it from the server


def test_url_that_ffmpeg_may_not_fetch_is_downloaded_first(http_server, tmp_path, monkeypatch):
    write_clip(http_server.root / "clip.avi", "one", count=20, fps=10.0, size=SIZE)
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    messages: list[str] = []
    source = sources.open_url(http_server.url("clip.avi", prefix="/no-ffmpeg"), log=messages.append)
    assert len(messages) == 1 and "download" in messages[0]
    assert any(temp_root.iterdir())  # the temporary download
    frames = read_all(source)
    assert [frame.index for frame in frames] == list(range(20))
    assert not any(temp_root.iterdir())  # removed on close
    statuses = [(agent.startswith("Lavf"), status) for _, _, agent, status in http_server.requests]
    assert (True, 403) in statuses and (False, 200) in statuses


def test_url_not_found(http_server):
    with pytest.raises(SourceError) as raised:
        sources.open_url(http_server.url("missing.avi"))
    message = str(raised.value)
    assert message.startswith(f"cannot resolve URL {http_server.url('missing.avi')}: ")
    assert "404" in message and "\n" not in message and "ERROR" not in message and "\x1b" not in message


# -- RTSP (a real RTSP server on 127.0.0.1, sending at its own pace like an IP camera) --

def test_an_rtsp_stream_is_read_live_newest_frame_first():
    """The sender sets the pace: a consumer slower than the stream gets the newest frame each
    time, never a queue of old ones, and the stream's end is named."""
    fps = 30.0
    with RtspServer(numbered_frames(90), fps=fps) as server:
        source = sources.open_url(server.url)
        assert source.live and source.frame_size == NUMBERED_SIZE
        received, behind = [], []
        with source:
            for frame in source:
                received.append(frame)
                behind.append(server.sent - 1 - frame_number(frame.image))  # frames sent after this one
                time.sleep(0.1)  # a slow consumer: three stream frames for each one it handles
    numbers = [frame_number(frame.image) for frame in received]
    seen = f"frames {numbers}, behind {behind}, dropped {source.dropped_frames}"
    # the reader decodes every frame in order (the one read while opening the stream is frame
    # 0; the reader counts from the next), and the consumer skips
    assert [frame.index + 1 for frame in received] == numbers and numbers == sorted(set(numbers)), seen
    assert len(received) <= 45 and source.dropped_frames >= 89 - len(received) - 3, seen
    # the newest, never a queue: a queue would fall two frames further behind with each frame.
    # (The first comes from what FFmpeg buffered while it opened the stream.)
    assert statistics.median(behind) <= 2 and max(behind[1:]) <= 6, seen
    assert numbers[-1] >= 86, seen
    assert source.ended_early == f"{server.url} stopped sending pictures"


def test_a_fast_reader_of_an_rtsp_stream_sees_every_frame_at_its_rate():
    with RtspServer(numbered_frames(90), fps=15.0) as server, sources.open_url(server.url) as source:
        frames = list(source)
        measured = source.fps  # over the last frames, once FFmpeg's start-up buffer is behind
    numbers = [frame_number(frame.image) for frame in frames]
    assert len(frames) + source.dropped_frames == 89 and numbers == sorted(set(numbers)), numbers
    # what FFmpeg buffered while the stream was set up comes in one burst, of which a live source
    # keeps the newest (a busy machine lost up to the first 20 frames there, 1.3 s); from then on a
    # fast reader misses nothing
    assert numbers[0] <= 30 and [number for number in numbers if number >= 30] == list(range(30, 90)), numbers
    assert measured == pytest.approx(15.0, rel=0.15)
    later = [(number, frame.time_s) for number, frame in zip(numbers, frames, strict=True) if number >= 45]
    (first, start), (last, end) = later[0], later[-1]  # when each came in, on the source's clock
    assert (end - start) / (last - first) == pytest.approx(1 / 15.0, rel=0.15)


# -- a live web broadcast (HLS from the HTTP server, resolved by yt-dlp) ----------

def play(source, work_s: float = 0.0) -> tuple[list[int], list[float], list[float]]:
    """Each frame's number, when the consumer got it and how late it was, spending `work_s` on each."""
    numbers, arrivals, lateness = [], [], []
    with source:
        for frame in source:
            numbers.append(frame_number(frame.image))
            arrivals.append(time.monotonic())
            lateness.append(source.frame_age(frame))
            time.sleep(work_s)
    return numbers, arrivals, lateness


def test_a_live_broadcast_plays_at_its_own_rate(http_server):
    """Its frames come a 1-s segment at a time; the mirror gets them one by one at 15 FPS."""
    broadcast = hls_broadcast.HlsBroadcast(http_server.root, segments=6, segment_frames=15, fps=15.0)
    broadcast.start()
    source = sources.open_url(http_server.url("live.m3u8"))
    assert source.live and source.fps == pytest.approx(15.0) and source.frame_size == NUMBERED_SIZE
    numbers, arrivals, _ = play(source)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    seen = f"frames {numbers}, gaps {[round(gap * 1000) for gap in gaps]} ms"
    assert numbers == sorted(set(numbers)) and numbers[-1] == broadcast.total_frames - 1, seen
    assert len(numbers) >= 40 and source.dropped_frames == 0, seen  # a fast consumer misses nothing
    # paced, not in bursts: read as it arrives, a segment would come as 15 frames at once, then a 1-s gap
    assert statistics.median(gaps) == pytest.approx(1 / 15.0, rel=0.25), seen
    assert sorted(gaps)[int(0.9 * len(gaps))] < 0.15, seen
    assert source.ended_early and "stopped sending pictures" in source.ended_early


def test_a_slow_consumer_keeps_up_with_a_live_broadcast(http_server):
    """Three broadcast frames pass for each frame the consumer handles: it skips to keep up,
    instead of falling further behind the broadcast with every frame."""
    broadcast = hls_broadcast.HlsBroadcast(http_server.root, segments=6, segment_frames=15, fps=15.0)
    broadcast.start()
    numbers, _, lateness = play(sources.open_url(http_server.url("live.m3u8")), work_s=0.2)
    seen = f"frames {numbers}, late {[round(late * 1000) for late in lateness]} ms"
    assert numbers == sorted(set(numbers)) and len(numbers) <= len(range(numbers[0], numbers[-1] + 1)) / 2, seen
    assert numbers[-1] >= broadcast.total_frames - 5, seen  # it reached the end of the broadcast
    # each frame handed over within a frame of its time, never from a backlog (the last may be
    # later: once the broadcast is over there is nothing newer to skip to)
    assert max(lateness[:-1]) < 1.5 / 15.0, seen


def test_a_finished_playlist_is_read_like_a_file(http_server):
    broadcast = hls_broadcast.HlsBroadcast(http_server.root, segments=3, live=False)
    source = sources.open_url(http_server.url("live.m3u8"))
    assert not source.live
    numbers = [frame_number(frame.image) for frame in read_all(source)]
    assert numbers == list(range(broadcast.total_frames))


def closed_port() -> int:
    """A 127.0.0.1 port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_url_and_stream():
    port = closed_port()
    with pytest.raises(SourceError, match=r"^cannot resolve URL http://127\.0\.0\.1:\d+/clip\.mp4: "):
        sources.open_url(f"http://127.0.0.1:{port}/clip.mp4")
    with pytest.raises(SourceError, match=r"^cannot open stream rtsp://"):
        sources.open_url(f"rtsp://127.0.0.1:{port}/live")


def test_yt_dlp_error_text_becomes_one_short_line():
    from yt_dlp.utils import DownloadError

    error = DownloadError("\x1b[0;31mERROR:\x1b[0m [youtube] abc123: Video unavailable (caused by <HTTPError 404>)\n"
                          "more detail")
    assert short_reason(error) == "Video unavailable"


def youtube_like_format(format_id: str, vcodec: str, acodec: str, height: int | None, protocol: str = "https") -> dict:
    return {"format_id": format_id, "url": f"https://media.invalid/{format_id}", "vcodec": vcodec, "acodec": acodec,
            "height": height, "protocol": protocol, "ext": "webm" if vcodec == "vp9" else "mp4"}


@pytest.mark.parametrize(("max_height", "expected"), [(720, "136"), (480, "18"), (240, "18")])
def test_format_choice_is_one_plain_stream_opencv_can_open(max_height, expected):
    """yt-dlp's own format selection (offline) on a YouTube-like list of formats."""
    import yt_dlp

    formats = [youtube_like_format("18", "avc1.42001E", "mp4a.40.2", 360),
               youtube_like_format("136", "avc1.4d401f", "none", 720),
               youtube_like_format("137", "avc1.640028", "none", 1080),
               youtube_like_format("247", "vp9", "none", 720),
               youtube_like_format("140", "none", "mp4a.40.2", None),
               youtube_like_format("96", "avc1.640028", "mp4a.40.2", 1080, protocol="m3u8_native")]
    info = {"id": "clip", "title": "clip", "extractor": "test", "extractor_key": "Test",
            "webpage_url": "https://video.invalid/clip", "formats": formats}
    with yt_dlp.YoutubeDL(yt_dlp_options(max_height)) as ydl:
        chosen = ydl.process_ie_result(info, download=False)
    assert chosen["format_id"] == expected  # H.264 within the height when there is one; never a merge
    assert "requested_formats" not in chosen and chosen["url"].endswith(expected)
