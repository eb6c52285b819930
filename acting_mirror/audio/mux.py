"""Writing video frames and a live sound into one file with PyAV, in sync by timestamps.

Video frame i is at i / fps seconds; an `AudioChunk` is placed at its `start_seconds` on the same
clock (0 = the first video frame). Gaps before a chunk are filled with silence and overlaps are
cut, so the audio's sample count is its timestamp: that keeps sync also in AVI, whose audio has
no timestamps of its own. Sound is written only up to the end of the frames written so far, so
the file never has sound past its last picture, however the run ends. `.avi`: MJPEG + 16-bit
PCM; `.mp4`/`.mkv`/`.mov`: H.264 + AAC.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from pathlib import Path

import numpy as np

from acting_mirror.audio.microphone import AudioChunk
from acting_mirror.audio.soundtrack import H264_SUFFIXES


class AudioVideoWriter:
    """A video file with a mono audio track; close() (always, e.g. in a finally) flushes both encoders.

    fps: video frames per second. sample_rate: audio samples per second (chunks come at this rate).
    Opening raises av.FFmpegError or OSError; the caller names the file.
    """

    def __init__(self, path: str | Path, fps: float, sample_rate: int):
        from acting_mirror.audio import load_pyav

        av = load_pyav()

        self.path = Path(path)
        self.fps = fps
        self.sample_rate = sample_rate
        self.frames_written = 0
        self.samples_written = 0
        self._h264 = self.path.suffix.lower() in H264_SUFFIXES
        self._pending: deque[np.ndarray] = deque()  # sound not yet written: it is ahead of the pictures
        self._pending_from = 0                      # the sample number of the first pending sample
        self._container = av.open(str(self.path), "w")
        self._video = None
        self._audio = self._container.add_stream("aac" if self._h264 else "pcm_s16le", rate=sample_rate,
                                                 layout="mono")
        self._resampler = av.AudioResampler(format=self._audio.format.name, layout="mono", rate=sample_rate)

    def _open_video(self, width: int, height: int) -> None:
        rate = Fraction(self.fps).limit_denominator(1001)
        # MJPEG in limited-range yuv420p ("unofficial", which FFmpeg and OpenCV read) lets OpenCV's
        # fast BGR -> I420 feed both encoders: faster than OpenCV's own MJPEG writer
        codec = "libx264" if self._h264 else "mjpeg"
        self._video = self._container.add_stream(codec, rate=rate, options={} if self._h264 else {"strict": "-1"})
        self._video.width, self._video.height = width, height
        self._video.pix_fmt = "yuv420p"
        self._video.codec_context.color_range = 1  # MPEG (limited), what OpenCV's I420 gives
        self._video.time_base = 1 / rate
        self._video.thread_type = "AUTO"
        if self._h264:
            self._video.options = {"preset": "veryfast"}  # live rates; the default preset is ~4x slower

    def write_frame(self, image: np.ndarray) -> None:
        """The next BGR frame (uint8, height x width x 3), at frames_written / fps seconds; then the
        sound that goes with it."""
        from acting_mirror.audio import load_pyav

        av = load_pyav()
        import cv2

        if self._video is None:
            self._open_video(image.shape[1], image.shape[0])
        if image.shape[0] % 2 == 0 and image.shape[1] % 2 == 0:
            # OpenCV's BGR -> limited-range I420 is ~3x faster than PyAV's reformat on the write path
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = self.frames_written
        self._container.mux(self._video.encode(frame))
        self.frames_written += 1
        self._write_pending(self.frames_written / self.fps)

    def add_audio(self, chunk: AudioChunk) -> None:
        """Sound at chunk.start_seconds on the video's clock (chunks in time order, at sample_rate);
        written once the pictures reach it."""
        first = round(chunk.start_seconds * self.sample_rate)
        end = self._pending_from + sum(len(piece) for piece in self._pending)
        samples = np.asarray(chunk.samples, dtype=np.float32)
        # a gap (or sound that starts after the picture) is filled with silence; an overlap (or sound
        # from before the first frame) is cut
        gap = np.zeros(max(0, first - end), np.float32)
        samples = np.concatenate([gap, samples[max(0, end - first):]])
        if len(samples):
            self._pending.append(samples)

    def _write_pending(self, until_s: float, pad: bool = False) -> None:
        """Encode the pending sound up to `until_s`; with `pad`, silence fills what is missing."""
        limit = round(until_s * self.sample_rate)
        pieces = []
        while self._pending and self._pending_from < limit:
            piece = self._pending.popleft()
            taken = piece[:limit - self._pending_from]
            if len(taken) < len(piece):
                self._pending.appendleft(piece[len(taken):])
            pieces.append(taken)
            self._pending_from += len(taken)
        if pad and self._pending_from < limit:
            pieces.append(np.zeros(limit - self._pending_from, np.float32))
            self._pending_from = limit
        if pieces:
            self._encode_audio(np.concatenate(pieces))

    def _encode_audio(self, samples: np.ndarray) -> None:
        from acting_mirror.audio import load_pyav

        av = load_pyav()

        frame = av.AudioFrame.from_ndarray(np.clip(samples, -1, 1).reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate, frame.pts = self.sample_rate, self.samples_written
        for converted in self._resampler.resample(frame):
            self._container.mux(self._audio.encode(converted))
        self.samples_written += len(samples)

    def close(self) -> None:
        """The sound up to the last frame (silence where none came), flush both encoders, finish the file."""
        try:
            if self._video is not None:
                self._write_pending(self.frames_written / self.fps, pad=True)
                self._container.mux(self._video.encode(None))
            self._container.mux(self._audio.encode(None))
        finally:
            self._container.close()
