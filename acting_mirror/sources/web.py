"""Web videos: a page yt-dlp understands (YouTube and many more), a direct link, a live
broadcast; and the rules that keep a web page from reaching further than the user's own URL.

yt-dlp resolves the page to one stream OpenCV's FFmpeg can play. The stream is played
straight from the network when it can be; otherwise yt-dlp downloads it to a temporary
folder. Its sound is its own, or when it has none the page's sound-only format: read from the
network beside a streamed picture (`sound_url`), downloaded beside a downloaded one
(`sound_of_download`). Every address the page leads to (its stream, its sound, an HLS
playlist's segments) must be http(s) and no more private a host than the page's. A
password in a URL never reaches a message or a file (`without_password`). An rtsp:// URL
is a live stream (see live.py).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from acting_mirror.sources.base import Source, SourceError, capture_rate, sane_fps
from acting_mirror.sources.file import WEB_PROTOCOLS, VideoSource, open_capture
from acting_mirror.sources.live import BroadcastSource, open_stream
from acting_mirror.sources.playlists import check_playlist, is_playlist

DIRECT_STREAM_SCHEMES = ("rtsp://", "rtsps://")
WEB_MEDIA_SCHEMES = ("http", "https")  # all a web page's video may be, whatever yt-dlp found in it

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
    return _written_file(info, ydl, directory, "video", without_password(url))


def sound_of_download(video: Path, info: dict, page_url: str, max_height: int, directory: Path,
                      log: Callable[[str], None] = print) -> Path | None:
    """Where the sound of `video` (downloaded from the page `page_url` yt-dlp resolved to `info`)
    is: the video itself when it has sound, else the page's sound-only format, downloaded beside
    it into `directory` (refused as on the streaming path: sound_only_format); None when the page
    has no sound. A sound that cannot be downloaded leaves the take silent, said in one note."""
    from acting_mirror.audio.soundtrack import audio_of

    if audio_of(video) is not None:
        return video
    sound = sound_only_format(info, page_url)
    if sound is None:
        return None
    try:
        return _download_sound(info, sound, page_url, max_height, directory)
    except SourceError as error:
        log(f"note: {error}; going on without sound")
        return None


def _download_sound(info: dict, sound: dict, page_url: str, max_height: int, directory: Path) -> Path:
    """yt-dlp fetches the format `sound` of `info` into `directory`, with the options the video
    was fetched with. `info` is processed again rather than the page asked again, so the file
    comes from the very URL that was checked."""
    import yt_dlp

    def the_checked_format(context: dict) -> list[dict]:
        return [media for media in context["formats"] if media.get("url") == sound["url"]][:1]

    shown = f"the sound of {without_password(page_url)}"
    options = yt_dlp_options(max_height, outtmpl=str(directory / "sound.%(ext)s"), format=the_checked_format)
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            result = ydl.process_ie_result(dict(info), download=True)
    except Exception as error:  # as in _resolve: DownloadError, or whatever an extractor leaks
        raise SourceError(f"cannot download {shown}: {short_reason(error)}") from error
    return _written_file(result, ydl, directory, "sound", shown)


def _written_file(info: dict, ydl, directory: Path, stem: str, shown: str) -> Path:
    """The file yt-dlp downloaded `info` to (named `stem`.ext in `directory`)."""
    for download in info.get("requested_downloads") or ():
        if download.get("filepath") and Path(download["filepath"]).is_file():
            return Path(download["filepath"])
    candidate = Path(ydl.prepare_filename(info))
    if candidate.is_file():
        return candidate
    files = [path for path in directory.glob(f"{stem}.*") if path.is_file() and path.suffix != ".part"]
    if not files:
        raise SourceError(f"cannot download {shown}: yt-dlp wrote no file")
    return files[0]


def sound_only_format(info: dict, page_url: str) -> dict | None:
    """The best plain-http(s) sound-only format of the page yt-dlp resolved to `info`, its URL
    checked as the picture's stream is (check_media_url raises for a refused one); None when
    the page has none."""
    sound_only = [media for media in info.get("formats") or () if media.get("vcodec") == "none" and media.get("url")
                  and media.get("acodec") not in (None, "none") and str(media.get("protocol", "")).startswith("http")]
    if not sound_only:
        return None
    check_media_url(sound_only[-1]["url"], page_url)  # yt-dlp lists formats worst first
    return sound_only[-1]


def sound_url(info: dict, page_url: str) -> str | None:
    """Where the sound of the stream yt-dlp chose can be read: the stream itself unless yt-dlp
    knows it has none, else the page's sound-only format (sound_only_format); None when there is none."""
    if info.get("acodec") != "none":
        return info.get("url")
    sound = sound_only_format(info, page_url)
    return sound["url"] if sound else None


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


def check_playlists(info: dict, page_url: str) -> None:
    """The HLS playlists the player or yt-dlp would read (the stream's, or each requested
    format's) name nothing that check_media_url refuses (see playlists.py)."""
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
    a temporary folder first (and its sound, when it has none: `sound_of_download`), which
    close() removes.
    """
    if url.lower().startswith(DIRECT_STREAM_SCHEMES):
        return open_stream(url, without_password(url))

    info, _ = _resolve(url, yt_dlp_options(max_height))
    name = info.get("title") or without_password(url)
    fps_hint = info.get("fps")
    duration = info.get("duration")
    total_hint = int(duration * sane_fps(fps_hint)) if duration and sane_fps(fps_hint) else None
    stream_url = info.get("url")
    if stream_url:
        check_media_url(stream_url, url)
    check_playlists(info, url)
    # the sound a take reads is checked before anything is fetched, as its picture's stream is
    stream_sound = None if info.get("is_live") else sound_url(info, url)
    # OpenCV cannot be given yt-dlp's http_headers: its FFmpeg options string splits on ';',
    # which User-Agent values contain. A URL that needs them fails here and is downloaded.
    opened = open_capture(stream_url, stream=True, protocols=WEB_PROTOCOLS) if stream_url else None
    if opened is not None and info.get("is_live"):
        capture, _ = opened
        return BroadcastSource(capture, name, capture_rate(capture, fps_hint))
    if opened is not None:
        return VideoSource(*opened, name, fps_hint=fps_hint, total_hint=total_hint, stream=True,
                           media_path=stream_sound)
    if info.get("is_live"):  # a broadcast going on cannot be downloaded first
        raise SourceError(f"cannot open the live broadcast {name}")

    log(f"OpenCV cannot stream {name} directly; downloading it with yt-dlp to a temporary folder first")
    directory = Path(tempfile.mkdtemp(prefix="acting-mirror-"))
    try:
        path = _download(url, max_height, directory)
        downloaded_sound = sound_of_download(path, info, url, max_height, directory, log)
        opened = open_capture(str(path))
        if opened is None:
            raise SourceError(f"the video downloaded from {without_password(url)} is not one OpenCV can read")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return VideoSource(*opened, name, fps_hint=fps_hint, total_hint=total_hint,
                       media_path=str(downloaded_sound) if downloaded_sound else None,
                       cleanup=lambda: shutil.rmtree(directory, ignore_errors=True))
