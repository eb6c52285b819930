"""Where frames come from: a camera, a video file, a URL, a photo or the built-in demo.

This is the only module that touches capture devices and the network. Every source
has the same small API (see `Source`) and yields `Frame`s; bad input raises
`SourceError` with a one-line message.

Time: for files, web videos and the demo `Frame.time_s` is video time (index / fps). For a
live feed (a camera, an RTSP stream) it is the moment the frame was captured, in seconds on
the monotonic clock since `source.clock_start`; so `time.monotonic() - source.clock_start -
frame.time_s` (or `source.frame_age(frame)`) is how old the picture on screen is. A live web
broadcast's frames carry video time, and `clock_start` is when its frame 0 was (or would have
been) due, so `frame_age` is how late a frame is handed over.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from acting_mirror.errors import MirrorError
from acting_mirror.quiet import debugging, native_stderr_silenced
from acting_mirror.types import Frame

DEFAULT_FPS = 30.0
MAX_SANE_FPS = 240.0            # containers that claim more than this are lying
MAX_FAILED_READS = 5            # consecutive unreadable frames that mean "the video ends here"
EXACT_COUNT_SLACK = 0.01        # a file read back this close to its header's frame count ended normally
ESTIMATE_SLACK = 0.05           # a stream's length (from its duration) is only an estimate
MAX_CAMERA_INDEX = 99           # OpenCV reads 100 and up as a capture backend number plus an index
CAMERA_FIRST_FRAME_TIMEOUT_S = 5.0
CAMERA_RATE_WINDOW = 60         # capture timestamps the measured camera rate is taken over
STREAM_TIMEOUT_MS = 15000       # OpenCV/FFmpeg open and read timeouts for network streams
STREAM_STALL_S = 5.0            # an RTSP stream sending no picture this long has stopped (its connection may hang on)
DIRECT_STREAM_SCHEMES = ("rtsp://", "rtsps://")
WEB_MEDIA_SCHEMES = ("http", "https")  # all a web page's video may be, whatever yt-dlp found in it
# What FFmpeg may open (its protocol_whitelist), per kind of input
FILE_PROTOCOLS = "file,crypto"
WEB_PROTOCOLS = "http,https,tcp,tls,crypto"
RTSP_PROTOCOLS = "rtsp,rtsps,rtp,srtp,udp,tcp,tls"
FFMPEG_OPTIONS_VARIABLE = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
BROADCAST_BUFFER_S = 1.0        # a live web broadcast's frames read ahead of their time, at most


class SourceError(MirrorError, RuntimeError):
    """An input that cannot be opened or read; the message is one line naming it."""


class Source:
    """A sequence of frames. Iterate it once; `close()` releases everything.

    fps:          the rate an output video must be written at (a file's own rate;
                  a live feed's measured rate, updated as it runs)
    frame_size:   (width, height)
    live:         True for a camera, an RTSP stream or a live broadcast (frames come in real time,
                  slow consumers skip)
    total_frames: for progress bars; None when unknown
    is_image:     True for a single photo
    media_path:   a local file holding the source's media (its sound is carried into the output); None for
                  a live feed or a stream
    """

    name: str
    fps: float
    frame_size: tuple[int, int]
    live: bool = False
    total_frames: int | None = None
    is_image: bool = False
    media_path: str | None = None  # a file or stream URL the take's sound can be read from

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device, file or temporary download; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        width, height = self.frame_size
        return f"<{type(self).__name__} {self.name!r} {width}x{height} @ {self.fps:.1f} fps>"


def sane_fps(value: float | None) -> float | None:
    """`value` if it is a believable frame rate, else None (containers often say 0, NaN or 1000)."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and 0 < value <= MAX_SANE_FPS else None


def capture_rate(capture, hint: float | None = None) -> float:
    """An opened capture's frame rate, else `hint` (what yt-dlp says), else DEFAULT_FPS."""
    import cv2

    return sane_fps(capture.get(cv2.CAP_PROP_FPS)) or sane_fps(hint) or DEFAULT_FPS


# -- files and streams ----------------------------------------------------

class VideoSource(Source):
    """Frames read one by one from an opened OpenCV capture (a file or a network stream).

    A frame that cannot be decoded is skipped but still counted, so `time_s` keeps in
    step with the video; after MAX_FAILED_READS unreadable frames in a row the video
    is taken to end there (a truncated file ends cleanly, without an exception).
    """

    def __init__(self, capture, first_image: np.ndarray, name: str, *, fps_hint: float | None = None,
                 total_hint: int | None = None, cleanup: Callable[[], None] | None = None, stream: bool = False,
                 media_path: str | None = None):
        import cv2

        self.name = name
        self.media_path = media_path
        self._capture = capture
        self._first_image: np.ndarray | None = first_image
        self._cleanup = cleanup
        self.fps = capture_rate(capture, fps_hint)
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.total_frames = int(count) if count and math.isfinite(count) and count > 0 else total_hint
        self._exact_count = bool(count and math.isfinite(count) and count > 0) and not stream
        self.skipped_frames = 0             # damaged frames skipped in the middle
        self.ended_early: str | None = None  # set when reading ends before the stated length, with why
        height, width = first_image.shape[:2]
        self.frame_size = (width, height)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        if self._first_image is not None:
            image, self._first_image = self._first_image, None
            yield Frame(image, index, index / self.fps)
            index += 1
        failed = 0
        last_good = 0
        while self._capture is not None and failed < MAX_FAILED_READS:
            with native_stderr_silenced():  # FFmpeg reports damaged packets ("overread") on fd 2
                ok, image = self._capture.read()
            if ok and image is not None:
                self.skipped_frames += failed  # unreadable frames followed by good ones: damage, skipped
                failed = 0
                last_good = index
                yield Frame(image, index, index / self.fps)
            else:
                failed += 1
            index += 1
        if self._capture is not None:
            self.ended_early = self._early_end(last_good + 1)

    def _early_end(self, frames_read: int) -> str | None:
        """Why the input ended before its stated length, or None when it did not."""
        if not self.total_frames:
            return None
        slack = max(2, int(self.total_frames * (EXACT_COUNT_SLACK if self._exact_count else ESTIMATE_SLACK)))
        if frames_read >= self.total_frames - slack:
            return None
        cause = "the file is truncated or damaged" if self._exact_count else "the stream broke off"
        return f"frame {frames_read + 1} of {self.total_frames} could not be read ({cause})"

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        if self._cleanup is not None:
            cleanup, self._cleanup = self._cleanup, None
            cleanup()


@contextmanager
def _ffmpeg_protocols(protocols: str) -> Iterator[None]:
    """Let FFmpeg use only `protocols` for the capture opened inside (and everything it opens
    later, such as a playlist's segments): OpenCV reads OPENCV_FFMPEG_CAPTURE_OPTIONS at
    each open. Without this a playlist or a redirect could reach file: or FFmpeg's other protocols."""
    previous = os.environ.get(FFMPEG_OPTIONS_VARIABLE)
    options = [item for item in (previous or "").split("|")
               if item and not item.startswith("protocol_whitelist;")]
    os.environ[FFMPEG_OPTIONS_VARIABLE] = "|".join([*options, f"protocol_whitelist;{protocols}"])
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(FFMPEG_OPTIONS_VARIABLE, None)
        else:
            os.environ[FFMPEG_OPTIONS_VARIABLE] = previous


def _open_capture(target: str, stream: bool = False, protocols: str = FILE_PROTOCOLS):
    """(capture, first image) if OpenCV can open `target` and decode a frame, else None."""
    import cv2

    # FFmpeg prints "moov atom not found" and the like on fd 2
    with native_stderr_silenced(), _ffmpeg_protocols(protocols):
        if stream:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
            capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
        else:
            capture = cv2.VideoCapture(target)
        if capture.isOpened():
            ok, image = capture.read()
            if ok and image is not None:
                return capture, image
        capture.release()
    return None


def open_video(path: str | Path) -> Source:
    """A video file, every frame in order; SourceError if missing or not a video."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"video file {path} not found")
    if not path.is_file():
        raise SourceError(f"{path} is not a file")
    opened = _open_capture(str(path))
    if opened is None:
        raise SourceError(f"{path} is not a video OpenCV can read")
    return VideoSource(*opened, path.name, media_path=str(path))


# -- URLs -----------------------------------------------------------------

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def format_selector(max_height: int) -> str:
    """yt-dlp format choice: one stream OpenCV's FFmpeg can open by itself (no '+' merges,
    plain http(s), H.264 first). Audio is not needed, so a video-only stream is fine."""
    h = int(max_height)
    return "/".join([
        f"bv*[vcodec^=avc1][height<=?{h}][protocol^=http]",
        f"b[height<=?{h}][protocol^=http]",
        f"bv*[height<=?{h}][protocol^=http]",
        "b[protocol^=http]",
        "b",
        "bv*",
    ])


class _QuietLogger:
    """yt-dlp logger that prints nothing: failures reach us as exceptions."""

    def debug(self, message: str) -> None:
        pass

    info = warning = error = debug


def yt_dlp_options(max_height: int, **extra) -> dict:
    """Options for yt_dlp.YoutubeDL: silent, one video (a playlist's first), our format choice."""
    return {"quiet": True, "no_warnings": True, "noprogress": True, "noplaylist": True, "playlist_items": "1",
            "format": format_selector(max_height), "logger": _QuietLogger(), "socket_timeout": 20, **extra}


def short_reason(error: BaseException) -> str:
    """yt-dlp's error text as one short line: no ANSI colours, 'ERROR: ' or '(caused by ...)'."""
    text = ANSI_ESCAPE.sub("", str(error)).strip()
    text = text.splitlines()[0] if text else type(error).__name__
    text = text.removeprefix("ERROR: ")
    text = re.sub(r"^\[[^\]]+\]\s+\S+?:\s+", "", text)  # "[generic] clip: ", "[youtube] <id>: "
    text = re.sub(r"\s*\(caused by .*\)\s*$", "", text)
    text = re.sub(r";\s*please report this issue.*$", "", text, flags=re.IGNORECASE)
    return text.strip() or type(error).__name__


def without_password(url: str) -> str:
    """`url` as it may be shown or written down: a password in it (rtsp://user:secret@camera/...,
    as IP cameras are often addressed) replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:  # a malformed address: hide everything before its host
        return re.sub(r"//[^/@]*@", "//***@", url)
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _resolve(url: str, options: dict, download: bool = False) -> tuple[dict, object]:
    """yt-dlp's info for `url` (its first entry for a playlist) and the YoutubeDL used."""
    import yt_dlp

    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=download)
    except Exception as error:  # yt-dlp raises DownloadError, but extractors may leak others
        action = "download" if download else "resolve"
        # chained, so ACTING_MIRROR_DEBUG=1 shows where a bug of ours (or an extractor's) was
        raise SourceError(f"cannot {action} URL {without_password(url)}: {short_reason(error)}") from error
    if info and info.get("entries") is not None:
        info = next(iter(info["entries"]), None)
    if not info:
        raise SourceError(f"cannot resolve URL {without_password(url)}: no video found there")
    return info, ydl


def _download(url: str, max_height: int, directory: Path) -> Path:
    """Let yt-dlp fetch the same format into `directory`; returns the file."""
    options = yt_dlp_options(max_height, outtmpl=str(directory / "video.%(ext)s"))
    info, ydl = _resolve(url, options, download=True)
    for download in info.get("requested_downloads") or ():
        if download.get("filepath") and Path(download["filepath"]).is_file():
            return Path(download["filepath"])
    candidate = Path(ydl.prepare_filename(info))
    if candidate.is_file():
        return candidate
    files = [path for path in directory.iterdir() if path.is_file() and path.suffix != ".part"]
    if not files:
        raise SourceError(f"cannot download {without_password(url)}: yt-dlp wrote no file")
    return files[0]


def check_media_url(media_url: str, page_url: str) -> None:
    """The media URL yt-dlp found in a page obeys the rules the user's own URL does: http(s)
    only (never file: or another FFmpeg protocol), and no more private a host than the
    page's (a public page may not aim requests at this machine or its network)."""
    from urllib.parse import urlsplit

    media = urlsplit(media_url)
    shown = without_password(media_url)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    page_url = without_password(page_url)
    if media.scheme.lower() not in WEB_MEDIA_SCHEMES:
        raise SourceError(f"refusing the video that {page_url} points to ({shown}): only http(s) may be "
                          f"opened from a web page, not {media.scheme or 'a local path'}")
    page_host = urlsplit(page_url).hostname or ""
    media_host = media.hostname or ""
    if media_host != page_host and _address_rank(media_host) < _address_rank(page_host):
        raise SourceError(f"refusing the video that {page_url} points to ({shown}): {media_host} is on a more "
                          "private network than the page")


def _check_playlists(info: dict, page_url: str) -> None:
    """The HLS playlists the player or yt-dlp would read (the stream's, or each requested
    format's) name nothing that check_media_url refuses (see acting_mirror.playlists)."""
    from acting_mirror.playlists import check_playlist, is_playlist

    formats = [info, *(info.get("requested_formats") or ())]
    for media in formats:
        media_url = media.get("url")
        if media_url and is_playlist(media_url, media.get("protocol")):
            check_playlist(media_url, lambda uri: check_media_url(uri, page_url))


def _address_rank(host: str) -> int:
    """0: this machine, 1: a private or special network, 2: the public internet (or unknown)."""
    import ipaddress
    import socket

    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return 2  # not resolvable here: FFmpeg cannot reach it either
    rank = 2
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_loopback or ip.is_unspecified:
            rank = min(rank, 0)
        elif ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            rank = min(rank, 1)
    return rank


def open_url(url: str, max_height: int = 720, log: Callable[[str], None] = print) -> Source:
    """A web video (YouTube and anything else yt-dlp knows, or a direct link) or an RTSP stream.

    The stream yt-dlp resolves is played straight from the network when OpenCV can open
    it; when it cannot (expired or header-bound URLs answer 403), yt-dlp downloads it to
    a temporary folder first, which close() removes.
    """
    if url.lower().startswith(DIRECT_STREAM_SCHEMES):
        opened = _open_capture(url, stream=True, protocols=RTSP_PROTOCOLS)
        if opened is None:
            raise SourceError(f"cannot open stream {without_password(url)}")
        # the sender sets the pace, as a camera does: read it like one, newest frame first (the
        # frame read while opening, to check the stream decodes, is older than those that follow)
        capture, _ = opened
        return LiveSource(capture, without_password(url), capture_rate(capture), STREAM_TIMEOUT_MS / 1000,
                          stall_timeout_s=STREAM_STALL_S)

    info, _ = _resolve(url, yt_dlp_options(max_height))
    name = info.get("title") or without_password(url)
    fps_hint = info.get("fps")
    duration = info.get("duration")
    total_hint = int(duration * sane_fps(fps_hint)) if duration and sane_fps(fps_hint) else None
    stream_url = info.get("url")
    if stream_url:
        check_media_url(stream_url, url)
    _check_playlists(info, url)
    # OpenCV cannot be given yt-dlp's http_headers: its FFmpeg options string splits on ';',
    # which User-Agent values contain. A URL that needs them fails here and is downloaded.
    opened = _open_capture(stream_url, stream=True, protocols=WEB_PROTOCOLS) if stream_url else None
    if opened is not None and info.get("is_live"):
        capture, _ = opened
        return BroadcastSource(capture, name, capture_rate(capture, fps_hint))
    if opened is not None:
        return VideoSource(*opened, name, fps_hint=fps_hint, total_hint=total_hint, stream=True,
                           media_path=stream_url)
    if info.get("is_live"):  # a broadcast going on cannot be downloaded first
        raise SourceError(f"cannot open the live broadcast {name}")

    log(f"OpenCV cannot stream {name} directly; downloading it with yt-dlp to a temporary folder first")
    directory = Path(tempfile.mkdtemp(prefix="acting-mirror-"))
    try:
        path = _download(url, max_height, directory)
        opened = _open_capture(str(path))
        if opened is None:
            raise SourceError(f"the video downloaded from {without_password(url)} is not one OpenCV can read")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return VideoSource(*opened, name, fps_hint=fps_hint, total_hint=total_hint, media_path=str(path),
                       cleanup=lambda: shutil.rmtree(directory, ignore_errors=True))


# -- live feeds: cameras and RTSP streams ---------------------------------

class LiveSource(Source):
    """A live feed (a camera, an RTSP stream) read by a background thread that keeps only
    the newest frame.

    Iterating returns the newest frame not yet returned (waiting for one if needed), so
    a slow consumer always sees the present, never a queue of old frames; the frames it
    never saw are counted in `dropped_frames`. `Frame.index` is the feed's frame count,
    so it jumps when frames were dropped. `fps` is the measured capture rate.
    """

    live = True

    def __init__(self, capture, name: str, requested_fps: float,
                 first_frame_timeout_s: float = CAMERA_FIRST_FRAME_TIMEOUT_S, stall_timeout_s: float | None = None):
        self.name = name
        self._stall_timeout_s = stall_timeout_s  # no new picture this long: the feed has stopped
        self._stalled = False
        self.dropped_frames = 0
        self.ended_early: str | None = None
        self._capture = capture
        self._requested_fps = requested_fps
        self._condition = threading.Condition()
        self._latest: Frame | None = None
        self._last_returned = -1
        self._ended = False
        self._stopping = False
        self._error: str | None = None
        self._capture_times: deque[float] = deque(maxlen=CAMERA_RATE_WINDOW)
        self.clock_start = time.monotonic()  # Frame.time_s is seconds since this (monotonic clock)
        self._thread = threading.Thread(target=self._read_frames, name=f"acting-mirror {self.name}", daemon=True)
        self._thread.start()
        with self._condition:
            self._condition.wait_for(lambda: self._first() is not None or self._ended, first_frame_timeout_s)
            first = self._first()
        if first is None:
            self.close()
            reason = f": {self._error}" if self._error else ""
            raise SourceError(f"{name} opened but gave no picture{reason}")
        height, width = first.image.shape[:2]
        self.frame_size = (width, height)

    @property
    def fps(self) -> float:
        """Capture rate measured over the last frames; the requested rate until measurable."""
        with self._condition:
            times = list(self._capture_times)
        if len(times) >= 3 and times[-1] > times[0]:
            return (len(times) - 1) / (times[-1] - times[0])
        return self._requested_fps

    def frame_age(self, frame: Frame) -> float:
        """Seconds since `frame` was captured."""
        return time.monotonic() - self.clock_start - frame.time_s

    def _read_frames(self) -> None:
        """Reader thread: owns the capture from here on and releases it when done."""
        count = 0
        failed = 0
        try:
            while not self._stopping and failed < MAX_FAILED_READS:
                ok, image = self._capture.read()
                captured = time.monotonic()
                if not ok or image is None:
                    failed += 1
                    continue
                failed = 0
                with self._condition:
                    self._store(image, count, captured)
                    self._capture_times.append(captured)
                    self._condition.notify_all()
                count += 1
        except Exception as error:  # a driver error ends the stream; __iter__ reports it
            self._error = f"{type(error).__name__}: {error}"
            if debugging():
                import traceback

                traceback.print_exc()
        finally:
            self._capture.release()
            with self._condition:
                self._ended = True
                self._condition.notify_all()

    # What is kept of the frames read, and which one a consumer gets: here the newest only.
    # These three run holding self._condition.
    def _store(self, image: np.ndarray, index: int, captured: float) -> None:
        if self._has_new_frame():
            self.dropped_frames += 1
        self._latest = Frame(image, index, captured - self.clock_start)

    def _first(self) -> Frame | None:
        return self._latest

    def _take(self) -> Frame | None:
        """The next frame for the consumer, waiting for it; None at the end."""
        if not self._condition.wait_for(lambda: self._stopping or self._ended or self._has_new_frame(),
                                        self._stall_timeout_s):
            self._stalled = True  # the sender keeps the connection but sends nothing
            return None
        if self._stopping or not self._has_new_frame():
            return None
        self._last_returned = self._latest.index
        return self._latest

    def _has_new_frame(self) -> bool:
        return self._latest is not None and self._latest.index > self._last_returned

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._condition:
                frame = self._take()
            if frame is None:
                break
            yield frame
        if self._error and not self._stopping:
            raise SourceError(f"{self.name} failed: {self._error}")
        if self._stalled and not self._stopping:
            self.ended_early = f"{self.name} stopped sending pictures (none for {self._stall_timeout_s:g} s)"
        elif self._ended and not self._stopping:  # a live feed has no end: unplugged, or its sender stopped
            self.ended_early = f"{self.name} stopped sending pictures"

    def close(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


class BroadcastSource(LiveSource):
    """A live broadcast from the web (yt-dlp says `is_live`: a live YouTube stream, an HLS
    playlist with no end yet).

    Its frames come in bursts, a segment of a few seconds at a time: read like a file, the
    mirror falls further behind the broadcast with every slow frame; read like a camera, it
    shows a picture or two a segment. So a thread reads them into a buffer of at most
    BROADCAST_BUFFER_S seconds, and iterating gives each frame at its own time (`Frame.time_s`
    = index / fps, counted from `clock_start`): the broadcast plays at its own rate. A consumer
    slower than that skips the frames whose time has passed (`dropped_frames`); a broadcast
    that stalls delays the schedule rather than skipping what comes after the stall.
    """

    def __init__(self, capture, name: str, fps: float):
        self._buffer: deque[Frame] = deque()
        self._capacity = max(2, round(BROADCAST_BUFFER_S * fps))
        self._rate = fps
        self._playing = False
        super().__init__(capture, name, fps, STREAM_TIMEOUT_MS / 1000)

    @property
    def fps(self) -> float:
        return self._rate  # the broadcast's own rate: frames arrive in bursts, so no rate is measured

    def _store(self, image: np.ndarray, index: int, captured: float) -> None:
        # a full buffer holds the reader (and FFmpeg's downloads) back until the consumer catches up
        self._condition.wait_for(lambda: self._stopping or len(self._buffer) < self._capacity)
        self._buffer.append(Frame(image, index, index / self._rate))

    def _first(self) -> Frame | None:
        return self._buffer[0] if self._buffer else None

    def _take(self) -> Frame | None:
        while True:
            starved = not self._buffer  # the consumer is ahead of the broadcast
            self._condition.wait_for(lambda: self._stopping or self._ended or bool(self._buffer))
            if self._stopping or not self._buffer:
                return None
            now = time.monotonic() - self.clock_start
            late = now - self._buffer[0].time_s
            if not self._playing or (starved and late > 1 / self._rate):
                self.clock_start += late  # the first frame, or the first after a stall: due now
                now -= late
                self._playing = True
            while len(self._buffer) > 1 and self._buffer[1].time_s <= now:  # the consumer fell behind
                self._buffer.popleft()
                self.dropped_frames += 1
            wait_s = self._buffer[0].time_s - now
            if wait_s <= 0:
                self._condition.notify_all()  # room in the buffer for the reader
                return self._buffer.popleft()
            self._condition.wait(wait_s)


class CameraSource(LiveSource):
    """A capture device (see LiveSource), named "camera N"."""

    def __init__(self, capture, index: int, requested_fps: float,
                 first_frame_timeout_s: float = CAMERA_FIRST_FRAME_TIMEOUT_S):
        super().__init__(capture, f"camera {index}", requested_fps, first_frame_timeout_s)


def open_camera(index: int, fps: float = DEFAULT_FPS, capture_factory: Callable[[int], object] | None = None) -> Source:
    """Camera `index`, read continuously by a thread (see CameraSource).

    `capture_factory(index)` makes the device (default cv2.VideoCapture); it needs
    isOpened(), read(), get(prop), set(prop, value) and release().
    """
    import cv2

    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_CAMERA_INDEX:
        # OpenCV crashes on -1 (its "any camera") and overflows on huge numbers
        raise SourceError(f"camera index must be between 0 and {MAX_CAMERA_INDEX}, not {str(index)[:30]}")
    factory = capture_factory or cv2.VideoCapture
    with native_stderr_silenced():  # V4L2 and FFmpeg explain a missing camera at length on fd 2
        capture = factory(index)
        opened = capture.isOpened()
    if not opened:
        capture.release()
        raise SourceError(f"camera {index} could not be opened")
    capture.set(cv2.CAP_PROP_FPS, float(fps))
    return CameraSource(capture, index, float(fps))


# -- photo and demo -------------------------------------------------------

class ImageSource(Source):
    """A single photo as a one-frame source."""

    is_image = True
    total_frames = 1

    def __init__(self, image: np.ndarray, name: str):
        self.name = name
        self.fps = DEFAULT_FPS
        self._image = image
        height, width = image.shape[:2]
        self.frame_size = (width, height)

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(self._image, 0, 0.0)


def open_image(path: str | Path) -> Source:
    import cv2

    path = Path(path)
    if not path.exists():
        raise SourceError(f"image file {path} not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if image is None:
        raise SourceError(f"{path} is not an image OpenCV can read")
    return ImageSource(image, path.name)


class DemoSource(Source):
    """The built-in demo: a real face alone, then joined by a second one (acting_mirror.demo "demo")."""

    def __init__(self, count: int, fps: float, size: tuple[int, int]):
        self.name = "demo"
        self.fps = float(fps)
        self.frame_size = (int(size[0]), int(size[1]))
        self.total_frames = int(count)

    def __iter__(self) -> Iterator[Frame]:
        from acting_mirror.demo import synth_frames

        for index, image in enumerate(synth_frames("demo", self.total_frames, self.frame_size)):
            yield Frame(image, index, index / self.fps)


def open_demo(count: int = 300, fps: float = DEFAULT_FPS, size: tuple[int, int] = (640, 480)) -> Source:
    """Demo frames that need no camera, network or file; played like a video file."""
    if count < 1 or sane_fps(fps) is None:
        raise SourceError(f"demo needs count >= 1 and 0 < fps <= {MAX_SANE_FPS:g}")
    return DemoSource(count, fps, size)
