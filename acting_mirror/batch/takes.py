"""The takes a batch's inputs name (files, folders searched for videos, URLs), each with a
unique, safe folder name."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from acting_mirror.sources.base import is_url

VIDEO_SUFFIXES = frozenset({".avi", ".flv", ".m4v", ".mkv", ".mov", ".mp4", ".mpeg", ".mpg", ".ts", ".webm",
                            ".wmv"})
MAX_NAME_LENGTH = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Take:
    """One recording. name: its folder in DIR (unique, safe); video: as the user gave it;
    source: what a worker opens (an absolute path or the URL)."""

    name: str
    video: str
    source: str

    @property
    def is_url(self) -> bool:
        return is_url(self.source)

    @property
    def shown_source(self) -> str:
        """The source as files and messages show it: a URL's password as ***."""
        from acting_mirror.sources import without_password

        return without_password(self.source) if self.is_url else self.source


@dataclass(frozen=True)
class TakeResult:
    """What a worker sends back: "ok" or the one-line error, person 0's summary (as
    summary.json), the wall and CPU seconds it took, notes logged on the way and, from a
    worker that does not share DIR, the files of DIR/<take>/ as bytes and the node it ran on."""

    take: Take
    status: str
    summary: dict[str, Any] | None = None
    seconds: float = 0.0
    cpu_s: float = 0.0
    notes: tuple[str, ...] = ()
    files: dict[str, bytes] | None = field(default=None, repr=False)
    node: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def find_takes(inputs: Sequence[str | Path], exclude: str | Path | None = None,
               log: Callable[[str], None] = print) -> list[Take]:
    """The takes named by files, folders (searched recursively for video files, hidden
    ones and `exclude` left out) and URLs, in the order given, each once. A path that does
    not exist stays a take: it fails as a missing file and is listed in the index."""
    excluded = Path(exclude).resolve() if exclude is not None else None
    videos: dict[str, str] = {}  # source -> as given
    for item in inputs:
        text = str(item)
        if is_url(text):
            from acting_mirror.sources import without_password

            videos.setdefault(text, without_password(text))  # shown in the index: never the password
            continue
        path = Path(text)
        if path.is_dir():
            found = [p for p in sorted(path.rglob("*")) if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)
                     and not (excluded is not None and p.resolve().is_relative_to(excluded))]
            if not found:
                log(f"no video files in {path}")
            for video in found:
                videos.setdefault(str(video.resolve()), str(video))
        else:
            videos.setdefault(str(path.resolve()), text)
    sources = list(videos)
    return [Take(name, videos[source], source) for name, source in zip(take_names(sources), sources, strict=True)]


def take_names(sources: Sequence[str]) -> list[str]:
    """A unique folder name per source: the file's stem, or a URL's host, path and query,
    made safe ([A-Za-z0-9._-], no leading dot, at most 64 characters). Names that collide
    (case-insensitively) take their parent folders' names, then the file's suffix, then
    -2, -3 ... in order."""
    candidates = [_name_candidates(source) for source in sources]
    level = [0] * len(sources)

    def current(i: int) -> str:
        return candidates[i][min(level[i], len(candidates[i]) - 1)]

    while True:
        groups: dict[str, list[int]] = {}
        for i in range(len(sources)):
            groups.setdefault(current(i).lower(), []).append(i)
        progressed = False
        for group in groups.values():
            if len(group) > 1:
                for i in group:
                    if level[i] < len(candidates[i]) - 1:
                        level[i] += 1
                        progressed = True
        if not progressed:
            break
    names: list[str] = []
    taken = {current(i).lower() for i in range(len(sources))}
    used: set[str] = set()
    for i in range(len(sources)):
        name = current(i)
        if name.lower() in used:
            number = 2
            while f"{name}-{number}".lower() in taken | used:
                number += 1
            name = f"{name}-{number}"
        used.add(name.lower())
        names.append(name)
    return names


def _name_candidates(source: str) -> list[str]:
    if is_url(source):
        parsed = urlparse(source)
        try:
            port = f":{parsed.port}" if parsed.port else ""
        except ValueError:  # a port that is no number: the take fails when opened, and says why
            port = ""
        host = (parsed.hostname or "").removeprefix("www.") + port  # never the user name or password
        return [_safe_name(f"{host}{parsed.path}{'_' + parsed.query if parsed.query else ''}")]
    # the stem; then its folder's name before it (take.mp4 in two folders); then the suffix after it
    # (take.mp4 and take.avi in one folder); then more folders
    path = Path(source)
    parents = [p.name for p in path.parents if p.name][:3]
    stem = path.stem or path.name
    suffix = f"-{path.suffix.lstrip('.')}" if path.suffix else ""
    names = [stem]
    for depth in range(1, len(parents) + 1):
        named = "-".join([*reversed(parents[:depth]), stem])
        names += [named, named + suffix] if depth == 1 else [named + suffix]
    if not parents:
        names.append(stem + suffix)
    return [_safe_name(name) for name in names]


def _safe_name(text: str) -> str:
    name = _UNSAFE.sub("_", text).strip("._-") or "take"
    if len(name) > MAX_NAME_LENGTH:  # keep it unique: the cut-off part is in the hash
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        name = f"{name[:MAX_NAME_LENGTH - 9].rstrip('._-')}-{digest}"
    return name
