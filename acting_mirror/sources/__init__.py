"""Where frames come from: a camera, a video file, a URL, a photo or the built-in demo.

This is the only package that touches capture devices and the network. Every source has the
same small API (`Source`, in base.py) and yields `Frame`s; bad input raises `SourceError`
with a one-line message. One module per kind of source, as a reader would look for it:

    base.py       the Source interface, SourceError, frame-rate and URL rules all kinds share
    file.py       video files, and the OpenCV capture every file or stream is read through
    web.py        web videos through yt-dlp, the network rules a page must obey, password redaction
    playlists.py  the addresses an HLS playlist makes the player fetch, checked before it plays
    live.py       cameras, RTSP streams and live broadcasts, each read by its own thread
    still.py      a single photo, and the built-in demo clip
    selection.py  which kind a target names (`open_source`), for the command line and the API
"""

from acting_mirror.sources.base import DEFAULT_FPS, Source, SourceError, check_frame_limit, frames_to_read, is_url
from acting_mirror.sources.file import open_video
from acting_mirror.sources.live import open_camera
from acting_mirror.sources.selection import SOURCE_KINDS, open_source, source_kind
from acting_mirror.sources.still import IMAGE_SUFFIXES, open_demo, open_image
from acting_mirror.sources.web import open_url, without_password

__all__ = ["DEFAULT_FPS", "IMAGE_SUFFIXES", "SOURCE_KINDS", "Source", "SourceError", "check_frame_limit",
           "frames_to_read", "is_url",
           "open_camera", "open_demo", "open_image", "open_source", "open_url", "open_video", "source_kind",
           "without_password"]
