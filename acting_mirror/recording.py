"""The run's output video with its sound, always finalised.

A `Recording` places the annotated frames on the output's constant-rate timeline
(clocks.TimedVideo), writes them on their own thread (ThreadedSink), and gives the file its
sound: a camera's microphone is muxed while the run goes (`MicrophoneVideoSink`, PyAV), so an
interrupted run (Ctrl-C, the q key, a closed window) still leaves a playable file with its sound
up to the last frame; a local file's sound is added when the video is finished
(audio.soundtrack). `finish()` always closes the file and says what it holds (`RecordedVideo`).
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acting_mirror.clocks import TimedVideo
from acting_mirror.sinks import OutputClaim, SinkError, VideoSink, os_error_reason
from acting_mirror.threaded_sink import ThreadedSink

SOUND_WAIT_S = 1.0   # at the end, how long to wait for the microphone's sound of the last frames


@dataclass(frozen=True)
class RecordedVideo:
    """What the finished output file holds."""

    path: str
    frames: int          # frames in the file (0 when it is incomplete)
    failed: bool         # the file is incomplete (see error)
    sound: str           # whose sound it carries ("the source's sound", "the microphone's sound"), "" if silent
    error: str | None    # why the file is incomplete


class MicrophoneVideoSink:
    """A camera's output video with the microphone's sound (a VideoSink's write / fps / path /
    frames_written / failure / close, over audio.mux.AudioVideoWriter).

    The file is claimed at once like a VideoSink's; the writer opens on the first frame. Each
    frame written takes along the microphone's chunks recorded so far, placed by their timestamps
    against `sound_origin_s` (the first frame's time on the camera's clock), so the sound keeps
    to the pictures however late either arrives. Only one thread (the sink writer's) uses it.
    """

    def __init__(self, path: str | Path, fps: float, microphone):
        self.path = Path(path)
        self.fps = float(fps)
        self.frames_written = 0
        self.failure: str | None = None
        self.sound_origin_s = 0.0  # the first frame's time on the microphone's clock
        self._microphone = microphone
        self._sound = microphone.listen()
        self._writer = None
        self._closed = False
        self._claim = OutputClaim(self.path, "video")

    def _fail(self, error: BaseException) -> SinkError:
        reason = os_error_reason(error) if isinstance(error, OSError) else str(error)
        self.failure = reason
        return SinkError(f"cannot write video {self.path}: {reason} (the file is incomplete)")

    def write(self, image: np.ndarray) -> None:
        from acting_mirror.audio import load_pyav

        av = load_pyav()

        from acting_mirror.audio.mux import AudioVideoWriter

        if self.failure is not None or self._closed:
            raise SinkError(f"video {self.path} is {'incomplete' if self.failure else 'already closed'}")
        try:
            if self._writer is None:
                self._writer = AudioVideoWriter(self.path, self.fps, self._microphone.sample_rate)
            self._take_sound()
            self._writer.write_frame(image)
        except (av.FFmpegError, OSError, ValueError) as error:
            raise self._fail(error) from None
        self.frames_written = self._writer.frames_written

    def _take_sound(self) -> None:
        """The chunks recorded so far, moved onto the video's clock (0 = the first frame)."""
        from acting_mirror.audio.microphone import AudioChunk

        while True:
            try:
                chunk = self._sound.get_nowait()
            except queue.Empty:
                return
            self._writer.add_audio(AudioChunk(chunk.start_seconds - self.sound_origin_s, chunk.samples,
                                              chunk.sample_rate))

    def close(self) -> None:
        """The sound up to the last frame (waiting briefly for the microphone's last blocks), then
        finish the file; playable whatever stopped the run."""
        from acting_mirror.audio import load_pyav

        av = load_pyav()

        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                end_s = self.sound_origin_s + self._writer.frames_written / self.fps
                waited_from = time.monotonic()
                while (self._microphone.recorded_until_s or 0.0) < end_s and \
                        time.monotonic() - waited_from < SOUND_WAIT_S:
                    time.sleep(0.02)
                try:
                    self._take_sound()
                    self._writer.close()
                except (av.FFmpegError, OSError, ValueError) as error:
                    raise self._fail(error) from None
        finally:
            self._claim.release()


def make_video_sink(path: str | Path, fps: float, codec: str, microphone=None):
    """The output video's sink: with a microphone, a MicrophoneVideoSink (the output's suffix
    chooses MJPEG + PCM or H.264 + AAC); else OpenCV's VideoSink with `codec`."""
    if microphone is not None:
        return MicrophoneVideoSink(path, fps, microphone)
    return VideoSink(path, fps, codec)


class Recording:
    """The annotated frames to the output video, placed by their times, with their sound.

    sink: a VideoSink, MicrophoneVideoSink or ImageFileSink (claimed by the caller).
    clock: a live feed's clock in frame time (TimedVideo); None for a file, whose frames get a slot each.
    file_sound: a local media file or web stream whose sound the finished video gets (None: none).
    """

    def __init__(self, sink, clock: Callable[[], float] | None = None, file_sound: str | Path | None = None,
                 log: Callable[[str], None] = print):
        self._sink = sink
        self._video = TimedVideo(ThreadedSink(sink), clock=clock)  # encoding overlaps the next frame's analysis
        self._file_sound = file_sound
        self._log = log
        self._started = False

    def write(self, image: np.ndarray, time_s: float) -> None:
        if not self._started:
            self._started = True
            if isinstance(self._sink, MicrophoneVideoSink):
                self._sink.sound_origin_s = time_s  # before the frame reaches the writer's thread
        self._video.write(image, time_s)

    def hold_until(self, time_s: float) -> None:
        self._video.hold_until(time_s)

    def now_s(self) -> float | None:
        return self._video.now_s()

    def finish(self, hold_to_now: bool, fallback_path: str = "") -> RecordedVideo:
        """Close the file (always) and add a file's sound; never raises for the video's own failures."""
        error = None
        try:
            self._video.close(hold_to_now=hold_to_now)
        except SinkError as failure:  # the finished file lacks frames: say so, never count them
            error = str(failure)
        path = str(self._video.path or fallback_path)
        failed = self._video.failure is not None
        frames = 0 if failed else self._video.frames_written
        sound = ""
        if isinstance(self._sink, MicrophoneVideoSink) and frames:
            sound = "the microphone's sound"
        elif frames and self._file_sound is not None and self._add_file_sound(path, frames):
            sound = "the source's sound"
        return RecordedVideo(path, frames, failed, sound, error)

    def _add_file_sound(self, path: str, frames: int) -> bool:
        """A file's sound into the finished video (frame for frame the source's, from its first)."""
        from acting_mirror.audio.soundtrack import SoundtrackError, add_soundtrack
        from acting_mirror.sources.base import is_url

        # a local file, or the web stream (checked as the picture's was) a URL take's sound comes from
        if not self._video.fps or not (is_url(str(self._file_sound)) or Path(self._file_sound).is_file()):
            return False
        try:
            return add_soundtrack(path, self._file_sound, frames, self._video.fps)
        except SoundtrackError as error:  # the silent video is still complete
            self._log(f"note: {error}")
            return False


def close_unused(sink) -> None:
    """Let a claimed output go when the run never started (the error being raised says why)."""
    with contextlib.suppress(SinkError):
        sink.close()
