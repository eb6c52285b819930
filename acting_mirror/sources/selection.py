"""Which kind of source a target names, and opening it: the one choice the command line's
flags and the Python API's `analyze(source)` both make here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from acting_mirror.sources.base import DEFAULT_FPS, Source, SourceError, is_url
from acting_mirror.sources.file import open_video
from acting_mirror.sources.live import open_camera
from acting_mirror.sources.still import IMAGE_SUFFIXES, open_demo, open_image
from acting_mirror.sources.web import open_url

SOURCE_KINDS = ("camera", "video", "url", "image", "demo")


def source_kind(target: str | Path | int) -> str:
    """The kind `target` names: an int a camera, a URL (given as text) a web video or stream,
    a path with a photo's suffix a photo, any other path a video file."""
    if isinstance(target, int):
        return "camera"
    if isinstance(target, str) and is_url(target):
        return "url"
    return "image" if Path(target).suffix.lower() in IMAGE_SUFFIXES else "video"


def open_source(target: str | Path | int | None = None, kind: str | None = None, *, camera_fps: float = DEFAULT_FPS,
                max_height: int = 720, log: Callable[[str], None] = print) -> Source:
    """Open `target` as a source of `kind` (one of SOURCE_KINDS; None: see `source_kind`).

    With neither a target nor a kind: camera 0, or the built-in demo (said through `log`) when
    there is no camera. camera_fps is asked of a camera; max_height caps a web video's stream.
    """
    if target is None and kind is None:
        try:
            return open_camera(0, fps=camera_fps)
        except SourceError:
            log("no camera found: playing the built-in demo clip (use --camera N, --video or --youtube)")
            return open_demo()
    kind = kind or source_kind(target)
    if kind == "demo":
        return open_demo()
    if kind == "camera":
        return open_camera(0 if target is None else target, fps=camera_fps)
    if target is None:
        raise SourceError(f"a {kind} source needs a path or URL")
    if kind == "url":
        return open_url(str(target), max_height=max_height, log=log)
    if kind == "image":
        return open_image(target)
    if kind == "video":
        return open_video(target)
    raise SourceError(f"unknown kind of source {kind!r} (one of {', '.join(SOURCE_KINDS)})")
