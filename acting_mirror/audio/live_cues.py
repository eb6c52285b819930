"""Follow an acting script live: the current cue advances when its line is heard.

`LiveCueFollower.feed(start_s, samples)` takes the microphone's chunks (about 100 ms each)
and decodes them as a stream against a grammar of the script's lines, any line, between
rarely taken phone loops (the same garbage path as the offline aligner, so other speech
does not advance a cue). A line counts as heard once its first words are in the decoder's
running hypothesis; only a line after the current one can advance the cue, so a repeated
line never moves it back.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from acting_mirror.audio.align import FRAMES_PER_SECOND, GARBAGE_WEIGHT, PHONES, new_decoder, to_decoder_pcm

WORDS_TO_HEAR = 2      # this many of a line's first words heard -> the line is being spoken
RESTART_S = 20.0       # a new utterance after this long without a cue keeps the search small
LIVE_BEAM = 1e-60      # narrower than the aligner's: 8% of a core instead of 12%; 1e-40 lost cues at 10 dB


@dataclass(frozen=True)
class CueHeard:
    index: int          # 0-based line in the script
    start_s: float      # when the line's first word began, on the stream's clock
    heard_s: float      # the end of the chunk in which it was recognised


class LiveCueFollower:
    def __init__(self, lines: Sequence[str], sample_rate: int):
        from acting_mirror.audio.align import build_grammar

        self.sample_rate = sample_rate
        self.current = -1                       # no line heard yet
        self._decoder = new_decoder(LIVE_BEAM)
        grammar, self.notices = build_grammar(self._decoder, lines)
        self._needed = [min(WORDS_TO_HEAR, len(tokens)) for tokens in self._line_tokens(grammar, len(lines))]
        self._decoder.add_jsgf_string("lines", self._any_line_grammar(grammar, len(lines)))
        self._decoder.activate_search("lines")
        self._utterance_start: float | None = None

    @staticmethod
    def _line_tokens(grammar: str, count: int) -> list[list[str]]:
        rules = dict(re.findall(r"^<line(\d+)> = (.*);$", grammar, re.MULTILINE))
        return [rules.get(str(i), "").split() for i in range(count)]

    @staticmethod
    def _any_line_grammar(grammar: str, count: int) -> str:
        """The aligner's grammar with its ordered body replaced by: any line, any number of times."""
        lines = " | ".join(f"<line{i}>" for i in range(count) if f"<line{i}> =" in grammar)
        phones = " | ".join(f"ph_{phone.lower()}" for phone in PHONES)
        body = [row for row in grammar.splitlines() if not row.startswith(("public <take>", "<gap>"))]
        body.append(f"public <take> = <gap> ( ({lines}) <gap> )*;")
        body.append(f"<gap> = ( /{1 - GARBAGE_WEIGHT}/ <NULL> | /{GARBAGE_WEIGHT}/ ({phones})+ );")
        return "\n".join(body)

    def feed(self, start_s: float, samples: np.ndarray) -> CueHeard | None:
        """Decode one chunk (mono float, `start_s` = its first sample's time); the cue it advanced to, if any."""
        if self._utterance_start is None:
            self._decoder.start_utt()
            self._utterance_start = start_s
        self._decoder.process_raw(to_decoder_pcm(samples, self.sample_rate), False, False)
        end_s = start_s + len(samples) / self.sample_rate
        heard = self._heard_line(end_s)
        if heard is not None or end_s - self._utterance_start > RESTART_S:
            self._decoder.end_utt()
            self._utterance_start = None
        return heard

    def _heard_line(self, end_s: float) -> CueHeard | None:
        """The first line after the current one whose first words the hypothesis holds."""
        hypothesis = self._decoder.hyp()
        if hypothesis is None or not re.search(r"\bl\d+_", hypothesis.hypstr):
            return None  # the cheap check first: walking the segments every chunk costs most of the time
        counts: dict[int, int] = {}
        first_frame: dict[int, int] = {}
        for segment in self._decoder.seg() or ():
            match = re.match(r"l(\d+)_", segment.word)
            if match:
                index = int(match.group(1))
                counts[index] = counts.get(index, 0) + 1
                first_frame.setdefault(index, segment.start_frame)
        for index in sorted(counts):
            if index > self.current and counts[index] >= self._needed[index] > 0:
                self.current = index
                return CueHeard(index, self._utterance_start + first_frame[index] / FRAMES_PER_SECOND, end_s)
        return None


class CueListener:
    """A LiveCueFollower fed from a microphone on its own thread, so decoding never holds up the
    frame loop: `heard()` hands over the cues heard since the last call without waiting.

    microphone: an audio.microphone.MicrophoneRecorder (its chunks are on the camera's clock, so a
    CueHeard's times are frame times).
    """

    def __init__(self, lines: Sequence[str], microphone):
        self.follower = LiveCueFollower(lines, microphone.sample_rate)  # loads the model before the run
        self._sound = microphone.listen()
        self._heard: queue.Queue[CueHeard] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="cue listener", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                chunk = self._sound.get(timeout=0.1)
            except queue.Empty:
                continue
            heard = self.follower.feed(chunk.start_seconds, chunk.samples)
            if heard is not None:
                self._heard.put(heard)

    def heard(self) -> list[CueHeard]:
        """The cues heard since the last call, oldest first (never blocks)."""
        found = []
        while True:
            try:
                found.append(self._heard.get_nowait())
            except queue.Empty:
                return found

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
