"""A live HLS broadcast for the tests, served by any static HTTP server on 127.0.0.1: MPEG-TS
segments of MPEG-4 video (written with OpenCV) and a playlist that grows one segment a
segment's length, keeps the last three, as a live playlist does, and has no end until the
broadcast is over (then #EXT-X-ENDLIST). Each frame shows its number (see frame_numbers)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import cv2
from frame_numbers import SIZE, numbered_frame


class HlsBroadcast:
    """`segments` segments of `segment_frames` frames at `fps` in `root`; `start()` puts the
    first three in the playlist and adds one a segment's length later until all are out."""

    def __init__(self, root: Path, segments: int = 6, segment_frames: int = 15, fps: float = 15.0,
                 live: bool = True):
        self.root, self.segments, self.segment_frames, self.fps, self.live = root, segments, segment_frames, fps, live
        self.total_frames = segments * segment_frames
        for index in range(segments):
            writer = cv2.VideoWriter(str(root / f"segment{index}.ts"), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
            for offset in range(segment_frames):
                writer.write(numbered_frame(index * segment_frames + offset))
            writer.release()
        self._write_playlist(min(3, segments) if live else segments)

    def start(self) -> None:
        if self.live:
            threading.Thread(target=self._broadcast, name="hls broadcast", daemon=True).start()

    def _broadcast(self) -> None:
        for published in range(4, self.segments + 1):
            time.sleep(self.segment_frames / self.fps)
            self._write_playlist(published)

    def _write_playlist(self, published: int) -> None:
        first = max(0, published - 3) if self.live else 0
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{round(self.segment_frames / self.fps)}",
                 f"#EXT-X-MEDIA-SEQUENCE:{first}"]
        for index in range(first, published):
            lines += [f"#EXTINF:{self.segment_frames / self.fps:.3f},", f"segment{index}.ts"]
        if published == self.segments:
            lines.append("#EXT-X-ENDLIST")
        partial = self.root / "live.m3u8.part"
        partial.write_text("\n".join(lines) + "\n")
        os.replace(partial, self.root / "live.m3u8")  # a reader never sees half a playlist
