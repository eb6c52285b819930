"""The take keeps its voice: the source's audio muxed into the annotated video.

The annotated video is written frame by frame while the run goes (OpenCV, MJPEG). When it
is finished, `add_soundtrack` writes it again with the source's audio beside it (PyAV, whose
wheel carries FFmpeg): the picture's packets are copied as they are (for .avi), or encoded to
H.264 (for .mp4, .mkv, .mov, with AAC sound), and the sound is the source's from the instant of
its first video frame for as long as the video lasts, placed by the streams' own timestamps,
so picture and sound stay in sync however fast the run went. The result replaces the silent
file in one rename; if anything fails the silent video stays as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from acting_mirror.errors import MirrorError

H264_SUFFIXES = frozenset({".mp4", ".mkv", ".mov"})
PCM_RATE_LIMIT = 192_000


class SoundtrackError(MirrorError):
    """The source's sound could not be added (the silent video is kept)."""


def audio_of(path: str | Path) -> tuple[int, int] | None:
    """(sample rate, channels) of the first audio stream of a media file, None if it has none."""
    from acting_mirror.audio import load_pyav, open_media

    av = load_pyav()

    try:
        with open_media(path, av) as container:
            streams = container.streams.audio
            return (streams[0].rate, streams[0].channels) if streams else None
    except (av.FFmpegError, OSError):
        return None


def add_soundtrack(video_path: str | Path, source_path: str | Path, frames: int, fps: float) -> bool:
    """Give the finished `video_path` (`frames` frames at `fps`, the source's frames from its
    first one) the sound of `source_path`. False when the source has no sound; SoundtrackError
    when it cannot be done (the silent video is then left untouched)."""
    from acting_mirror.audio import load_pyav

    av = load_pyav()

    video_path = Path(video_path)
    if frames <= 0 or audio_of(source_path) is None:
        return False
    descriptor, temporary = tempfile.mkstemp(prefix=f".{video_path.stem}.", suffix=video_path.suffix,
                                             dir=video_path.parent)
    os.close(descriptor)
    try:
        _remux(video_path, str(source_path), Path(temporary), frames / fps, fps)
        os.replace(temporary, video_path)
    except (av.FFmpegError, OSError, ValueError) as error:
        raise SoundtrackError(f"cannot add the sound of {Path(source_path).name} to {video_path}: {error}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    return True


def _start_s(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _remux(video_path: Path, source_path: str, output_path: Path, duration_s: float, fps: float) -> None:
    from acting_mirror.audio import load_pyav, open_media

    av = load_pyav()

    with open_media(source_path, av) as source, av.open(str(video_path)) as video, \
            av.open(str(output_path), "w") as output:
        audio_in = source.streams.audio[0]
        # the sound's zero is the source's first picture, as the annotated video's is; a sound-only
        # source (a web page's sound-only format) shares its picture's timeline, which starts at zero
        origin = _start_s(source.streams.video[0]) if source.streams.video else 0.0
        video_in = video.streams.video[0]
        encoding = output_path.suffix.lower() in H264_SUFFIXES
        layout = "stereo" if audio_in.channels >= 2 else "mono"
        if encoding:
            video_out = output.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            video_out.width, video_out.height = video_in.codec_context.width, video_in.codec_context.height
            video_out.pix_fmt = "yuv420p"
            audio_out = output.add_stream("aac", rate=audio_in.rate, layout=layout)
            sample_format = "fltp"
        else:
            video_out = output.add_stream_from_template(video_in)
            audio_out = output.add_stream("pcm_s16le", rate=min(audio_in.rate, PCM_RATE_LIMIT), layout=layout)
            sample_format = "s16"
        pictures = _pictures(video, video_in, video_out, encoding)
        sounds = _sounds(source, audio_in, audio_out, sample_format, layout, origin, duration_s)
        for packet in _in_time_order(pictures, sounds):
            output.mux(packet)
        if encoding:
            output.mux(video_out.encode(None))
        output.mux(audio_out.encode(None))


def _pictures(video, video_in, video_out, encoding: bool) -> Iterator[tuple[float, object]]:
    """(time, packets) of the annotated video: copied, or encoded to H.264."""
    count = 0
    frame_time = 1 / Fraction(video_out.average_rate) if encoding else None
    for packet in video.demux(video_in):
        if packet.size == 0:
            continue
        if not encoding:
            time_s = float(packet.pts * video_in.time_base) if packet.pts is not None else 0.0
            packet.stream = video_out
            yield time_s, [packet]
            continue
        for frame in packet.decode():
            time_s = float(frame.pts * video_in.time_base) if frame.pts is not None else 0.0
            picture = frame.reformat(format="yuv420p")
            picture.pts, picture.time_base = count, frame_time  # one slot a frame, as the silent video has
            count += 1
            yield time_s, video_out.encode(picture)


def _sounds(source, audio_in, audio_out, sample_format: str, layout: str, origin: float,
            duration_s: float) -> Iterator[tuple[float, object]]:
    """(time, packets) of the source's sound from `origin` for `duration_s`, encoded for the output."""
    from acting_mirror.audio import load_pyav

    av = load_pyav()

    resampler = av.AudioResampler(format=sample_format, layout=layout, rate=audio_out.rate)
    written = 0  # samples so far, at the output's rate: the next frame's pts
    limit = round(duration_s * audio_out.rate)
    for packet in source.demux(audio_in):
        for frame in packet.decode():
            time_s = (float(frame.pts * frame.time_base) if frame.pts is not None else 0.0) - origin
            if time_s + frame.samples / frame.sample_rate <= 0:
                continue  # sound before the first picture
            for converted in resampler.resample(frame):
                if written == 0 and time_s > 0:  # the sound starts after the picture: silence until it does
                    gap = _silence(min(round(time_s * audio_out.rate), limit), sample_format, layout, audio_out.rate)
                    written = gap.samples
                    yield written / audio_out.rate, audio_out.encode(gap)
                if written >= limit:
                    return
                converted.pts = written
                converted.time_base = Fraction(1, audio_out.rate)
                written += converted.samples
                yield written / audio_out.rate, audio_out.encode(converted)


def _silence(samples: int, sample_format: str, layout: str, rate: int):
    """An audio frame of `samples` zeros (pts 0): containers such as AVI have no start offset for sound."""
    from acting_mirror.audio import load_pyav

    av = load_pyav()
    import numpy as np

    channels = 2 if layout == "stereo" else 1
    data = (np.zeros((1, samples * channels), np.int16) if sample_format == "s16"
            else np.zeros((channels, samples), np.float32))
    frame = av.AudioFrame.from_ndarray(data, format=sample_format, layout=layout)
    frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
    return frame


def _in_time_order(*streams: Iterator[tuple[float, object]]) -> Iterator[object]:
    """The packets of several (time, packets) streams, merged by time (a muxer wants them interleaved)."""
    import heapq

    for _, _, packets in heapq.merge(*(((time_s, index, packets) for time_s, packets in stream)
                                       for index, stream in enumerate(streams)), key=lambda item: item[:2]):
        yield from packets
