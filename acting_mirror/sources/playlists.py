"""HLS playlists: every address a playlist makes the player fetch, checked before it plays.

FFmpeg (through OpenCV) and yt-dlp fetch the segments, keys, init sections and variant
playlists an .m3u8 names, wherever they point. A public playlist could so make the mirror
request an address on this machine or its network. `check_playlist` fetches the playlist
itself (bounded in size and time), finds every URI in it (URI lines, and the URI="..."
attributes of EXT-X-KEY, EXT-X-MAP, EXT-X-MEDIA, ...), resolves them against the playlist
and hands each to `check`, the caller's network rule; variant playlists are read the same
way, one level down.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urljoin

MAX_PLAYLIST_BYTES = 2 << 20
MAX_VARIANTS = 16
FETCH_TIMEOUT_S = 10.0
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')


def is_playlist(url: str, protocol: str | None = None) -> bool:
    """An HLS playlist, by yt-dlp's protocol name or the URL's path."""
    if protocol and protocol.startswith("m3u8"):
        return True
    return url.split("?", 1)[0].split("#", 1)[0].lower().endswith((".m3u8", ".m3u"))


def playlist_uris(text: str, base_url: str) -> Iterator[tuple[str, bool]]:
    """(absolute URI, is a variant playlist) for every URI the playlist names."""
    variant_next = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            for uri in _URI_ATTRIBUTE.findall(line):
                yield urljoin(base_url, uri), line.startswith(("#EXT-X-MEDIA", "#EXT-X-I-FRAME-STREAM-INF"))
            variant_next = variant_next or line.startswith("#EXT-X-STREAM-INF")
            continue
        yield urljoin(base_url, line), variant_next
        variant_next = False


def fetch_playlist(url: str) -> str:
    """The playlist's text (at most MAX_PLAYLIST_BYTES); OSError/ValueError when it cannot be had."""
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "acting-mirror"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310 (http(s) only: checked)
        data = response.read(MAX_PLAYLIST_BYTES + 1)
    if len(data) > MAX_PLAYLIST_BYTES:
        raise ValueError(f"the playlist is larger than {MAX_PLAYLIST_BYTES >> 20} MB")
    return data.decode("utf-8", errors="replace")


def check_playlist(url: str, check: Callable[[str], None], fetch: Callable[[str], str] = fetch_playlist,
                   depth: int = 1) -> None:
    """Apply `check` (raising to refuse) to every URI of the playlist at `url` and, `depth`
    levels down, of its variant playlists. A playlist that cannot be fetched here is left to
    the player, whose own error then names it."""
    try:
        text = fetch(url)
    except (OSError, ValueError):
        return
    if not text.lstrip().startswith("#EXTM3U"):
        return  # not a playlist after all (the player will say what it is)
    variants = []
    for uri, variant in playlist_uris(text, url):
        check(uri)
        if variant or is_playlist(uri):
            variants.append(uri)
    if depth > 0:
        for variant in variants[:MAX_VARIANTS]:
            check_playlist(variant, check, fetch, depth - 1)
