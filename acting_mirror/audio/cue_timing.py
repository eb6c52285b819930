"""Give an acting script's untimed lines their times from the take's speech.

A line that left out start/end gets the span where its words were heard (timing "speech");
a line not heard becomes a zero-length cue that is never active (timing "not spoken"). Lines
with typed times keep them (timing "script"). The take's audio comes in as samples, so this
does not care whether it was read from a file, a URL or recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from acting_mirror.audio.align import DECODE_RATE, align_lines
from acting_mirror.errors import MirrorError
from acting_mirror.script import Script, ScriptError

SPEECH_TIMINGS = ("speech", "not spoken")


class TakeAudioError(MirrorError):
    """The take's sound cannot be read."""


def time_script_from_speech(script: Script, samples: np.ndarray, sample_rate: int, offset_s: float = 0.0,
                            log: Callable[[str], None] = print) -> Script:
    """`script` with every untimed line timed from `samples` (mono float, `offset_s` = time of sample 0)."""
    if script.timed:
        return script
    alignment = align_lines([cue.line for cue in script.cues], samples, sample_rate)
    for notice in alignment.notices:
        log(f"script: {notice}")
    cues, last_end = [], 0.0
    for cue, heard in zip(script.cues, alignment.lines, strict=True):
        if cue.timed:
            cues.append(cue)
        elif heard.spoken:
            cues.append(replace(cue, start=heard.start + offset_s, end=heard.end + offset_s, timing="speech"))
        else:
            log(f'script: cue {len(cues) + 1} ("{cue.line}") was not spoken in the take')
            cues.append(replace(cue, start=last_end, end=last_end, timing="not spoken"))
        last_end = max(last_end, cues[-1].end)
    return replace(script, cues=tuple(cues))


def time_script_from_summary(script: Script, previous_cues) -> Script:
    """A report rebuild has no sound: untimed lines take the times the take's run found for the
    same line (summary.json's cues, in order). ScriptError names a line it never timed."""
    found = [cue for cue in previous_cues or () if isinstance(cue, dict) and cue.get("timing") in SPEECH_TIMINGS]
    cues = []
    for number, cue in enumerate(script.cues, start=1):
        if cue.timed:
            cues.append(cue)
            continue
        match = next((i for i, old in enumerate(found) if old.get("line") == cue.line), None)
        if match is None:
            raise ScriptError(f'cue {number} ("{cue.line}") has no start/end and the run did not time it from the '
                              "take's speech; give it a start and end")
        old, found = found[match], found[match + 1:]
        if old["timing"] == "speech":
            cues.append(replace(cue, start=float(old["start"]), end=float(old["end"]), timing="speech"))
        else:
            end = cues[-1].end if cues else 0.0
            cues.append(replace(cue, start=end, end=end, timing="not spoken"))
    return replace(script, cues=tuple(cues))


def time_script_for_source(script: Script, source, log: Callable[[str], None] = print) -> Script:
    """`script` timed from the sound of `source` (a file or URL take) when it has untimed lines.
    A take without readable sound leaves it untimed: playing it then says so in one line."""
    if script.timed or source.media_path is None or source.live:
        return script
    audio = read_take_audio(source.media_path)
    if audio is None:
        return script
    samples, sample_rate, offset_s = audio
    return time_script_from_speech(script, samples, sample_rate, offset_s, log)


def read_take_audio(path: str | Path) -> tuple[np.ndarray, int, float] | None:
    """The whole first audio track of a media file as (mono float32 samples, rate, start seconds);
    None when the file has no sound. Read at the decoder's 16 kHz: all that alignment and the
    level strip need, and a third of a 48 kHz track's memory on a long take."""
    from acting_mirror.audio import load_pyav, open_media

    av = load_pyav()

    try:
        with open_media(path, av) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=DECODE_RATE)
            chunks, start = [], None
            for frame in container.decode(stream):
                if start is None and frame.time is not None:
                    start = float(frame.time)
                chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except (av.error.FFmpegError, OSError) as error:
        raise TakeAudioError(f"{path}: cannot read its sound ({error})") from None
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return samples.astype(np.float32), DECODE_RATE, start or 0.0
