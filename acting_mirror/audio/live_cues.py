"""Follow an acting script live: the current cue advances when its line is heard.

`LiveCueFollower.feed(start_s, samples)` takes the microphone's chunks (50-100 ms each) and
decodes them as a stream against a grammar of the script's lines, any line, between rarely taken
phone loops (the same garbage path as the offline aligner, so other speech does not advance a
cue). A line counts as heard once its first words (more of them for a line that skips lines) are
in the decoder's running hypothesis, and stay there, and explain the sound since they began
clearly better than a second decoder that knows no lines (only the phone loop) does: a
likelihood ratio, as keyword spotters use. Only a line after the current one can advance the
cue, so a repeated line never moves it back.

`CueListener` runs a follower on a microphone's chunks in its own thread; `SpeechCuePlayer`
is the cue player the app uses then: a cue starts when its line is heard.
"""

from __future__ import annotations

import bisect
import math
import queue
import re
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from acting_mirror.audio.align import FRAMES_PER_SECOND, GARBAGE_WEIGHT, PHONES, new_decoder, to_decoder_pcm
from acting_mirror.script import CueStatus, Script, ScriptError
from acting_mirror.types import Face

# Chosen with benchmarks/bench_speech.py on its "tuned" takes (6 espeak-ng voices x 3 speeds, 2 scripts,
# 2 unscripted sentences sharing words with the lines in each, 20 and 10 dB) and checked on two
# "unseen" sets of other voices and scripts. The running hypothesis flickers to a line that the rest of
# a sentence rules out: every rule deciding by a line's second word (0.5-0.7 s) made false cues on the
# unseen sets, even those with none on the tuned takes; this one waits for three words (0.8-1.1 s).
# Measured rules, and the confidences that did not separate a line from other speech, are in
# benchmarks/README.md.
WORDS_TO_HEAR = 3       # this many of a line's first words heard (all of a shorter line) -> it is being spoken
WORDS_PER_SKIP = 1      # ... and one more for each line it would skip: actors keep to the script's order. A
                        # line far ahead, matched in an earlier line's sound, made 6 false cues at 10 dB on
                        # an unseen set; with this, none, and as many lines heard
CHECK_S = 0.05          # the hypothesis is looked at every CHECK_S of sound
HEARD_IN_CHECKS = 2     # ... and a line counts once it was the candidate at this many of
RECENT_CHECKS = 3       # ... the last this many looks
MIN_LOG_RATIO = 0.05    # the lines decoder's log score over the phone loop's gained since the line began
                        # (pocketsphinx's scaled log units): spoken lines reached 0.2-2, other speech mostly
                        # < 0.1; 0.1 cost 10-20% of the lines at 10 dB
LINE_WITHIN_S = 3.0     # a line that began longer ago than this is an old hypothesis, not one being spoken
                        # (room for three slow words: 1.5 s heard 6 fewer of the 324 lines, as many false cues)
RESTART_S = 20.0        # a new utterance this often keeps the search small
CMN_REFRESH_S = 0.5     # pocketsphinx's live CMN updates its mean only every ~3 s of sound, so the first
                        # line after the start was decoded with the model's default mean: refreshed this
                        # often, 4 more of 54 lines were heard at 10 dB
LIVE_BEAM = 1e-60       # the aligner's 1e-80 heard 1-2 more of 54 lines for ~60% more CPU; 1e-40 lost cues
                        # at 10 dB


@dataclass(frozen=True)
class CueHeard:
    index: int          # 0-based line in the script
    start_s: float      # when the line's first word began, on the stream's clock
    heard_s: float      # the end of the chunk in which it was recognised


@dataclass(frozen=True)
class _Look:
    end_s: float
    log_ratio: float    # the lines decoder's score over the phone loop's, since the utterance began


class LiveCueFollower:
    def __init__(self, lines: Sequence[str], sample_rate: int):
        from acting_mirror.audio.align import build_grammar

        self.sample_rate = sample_rate
        self.current = -1                       # no line heard yet
        self._decoder = new_decoder(LIVE_BEAM)
        grammar, self.notices = build_grammar(self._decoder, lines)
        self._lengths = [len(tokens) for tokens in self._line_tokens(grammar, len(lines))]  # in dictionary words
        self._decoder.add_jsgf_string("lines", self._any_line_grammar(grammar, len(lines)))
        self._decoder.activate_search("lines")
        self._phone_loop = new_decoder(LIVE_BEAM)  # the alternative: no line at all, only other speech
        self._phone_loop.add_jsgf_string("phones", build_grammar(self._phone_loop, ())[0])
        self._phone_loop.activate_search("phones")
        self._utterance_start: float | None = None
        self._cmn_refreshed_s = -math.inf
        self._looks: deque[_Look] = deque()                          # this utterance's, LINE_WITHIN_S back
        self._recent: deque[int | None] = deque(maxlen=RECENT_CHECKS)  # the line each recent look found

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
        heard, begin = None, 0
        # the hypothesis is looked at every CHECK_S of sound (pieces of equal length: none too short to decode)
        for piece in np.array_split(samples, max(1, round(len(samples) / (CHECK_S * self.sample_rate)))):
            heard = self._feed_piece(start_s + begin / self.sample_rate, piece) or heard
            begin += len(piece)
        # whoever fed the chunk learns of the cue after all of it is decoded
        return None if heard is None else replace(heard, heard_s=start_s + len(samples) / self.sample_rate)

    def _feed_piece(self, start_s: float, samples: np.ndarray) -> CueHeard | None:
        if self._utterance_start is None:
            if not np.any(samples):
                # digital silence (a muted or idle input) before any sound: nothing to hear, and seconds
                # of it skewed the decoder's running normalisation so that other speech passed for a line
                return None
            for decoder in (self._decoder, self._phone_loop):
                decoder.start_utt()
            self._utterance_start = start_s
        pcm = to_decoder_pcm(samples, self.sample_rate)
        if not pcm:
            return None
        refresh = start_s - self._cmn_refreshed_s >= CMN_REFRESH_S
        for decoder in (self._decoder, self._phone_loop):
            decoder.process_raw(pcm, False, False)
            if refresh:
                decoder.get_cmn(True)  # True: fold the sound so far into the mean now
        if refresh:
            self._cmn_refreshed_s = start_s
        end_s = start_s + len(samples) / self.sample_rate
        heard = self._heard_line(end_s)
        if end_s - self._utterance_start > RESTART_S:  # (a cue no longer restarts it: the ratio needs the past)
            for decoder in (self._decoder, self._phone_loop):
                decoder.end_utt()
            self._utterance_start = None
            self._looks.clear()
            self._recent.clear()
        return heard

    def _log_ratio(self) -> float:
        """How much better the lines explain the utterance so far than the phone loop alone does."""
        lines, phones = self._decoder.hyp(), self._phone_loop.hyp()
        if lines is None or phones is None or lines.score <= 0 or phones.score <= 0:
            return 0.0  # nothing decoded yet (the scores are probabilities: their logs are compared)
        return math.log(lines.score) - math.log(phones.score)

    def _ratio_since(self, log_ratio: float, start_s: float) -> float:
        """The log ratio gained since `start_s`: now minus at the last look before it."""
        before = bisect.bisect_right([look.end_s for look in self._looks], start_s) - 1
        return log_ratio - (self._looks[before].log_ratio if before >= 0 else 0.0)

    def _heard_line(self, end_s: float) -> CueHeard | None:
        """The first line after the current one that the hypothesis holds and the sound supports."""
        log_ratio = self._log_ratio()
        candidate = self._candidate(end_s, log_ratio)
        self._looks.append(_Look(end_s, log_ratio))
        while self._looks[0].end_s < end_s - LINE_WITHIN_S - CHECK_S:
            self._looks.popleft()
        self._recent.append(None if candidate is None else candidate[0])
        if candidate is None or self._recent.count(candidate[0]) < HEARD_IN_CHECKS:
            return None
        self.current = candidate[0]
        self._recent.clear()
        return CueHeard(candidate[0], candidate[1], end_s)

    def _candidate(self, end_s: float, log_ratio: float) -> tuple[int, float] | None:
        """(line, when it began) for the first line after the current one whose first words the
        hypothesis holds, begun within LINE_WITHIN_S and supported by the likelihood ratio."""
        hypothesis = self._decoder.hyp()
        if hypothesis is None or not re.search(r"\bl\d+_", hypothesis.hypstr):
            return None  # the cheap check first: walking the segments every look costs most of the time
        latest: dict[int, tuple[int, int]] = {}  # line -> (words, first frame) of its latest occurrence
        previous = None                           # the line of the last word, None after other speech
        for segment in self._decoder.seg() or ():
            match = re.match(r"l(\d+)_", segment.word)
            if match is None:
                previous = None if segment.word.startswith("ph_") else previous  # silence splits no line
                continue
            index = int(match.group(1))
            words, first_frame = latest.get(index, (0, segment.start_frame))
            if previous != index or words == self._lengths[index]:  # a line begins again (said twice)
                words, first_frame = 0, segment.start_frame
            latest[index], previous = (words + 1, first_frame), index
        for index, (words, first_frame) in sorted(latest.items()):
            start_s = self._utterance_start + first_frame / FRAMES_PER_SECOND
            needed = WORDS_TO_HEAR + WORDS_PER_SKIP * (index - self.current - 1)
            if (index > self.current and words >= min(needed, self._lengths[index])
                    and end_s - start_s <= LINE_WITHIN_S and self._ratio_since(log_ratio, start_s) >= MIN_LOG_RATIO):
                return index, start_s
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


class SpeechCuePlayer:
    """Which cue is active on a camera whose script lines have no times: a cue starts when its
    line is heard (`hear`, fed by audio.live_cues) and lasts until the next one is heard. Before
    any line is heard the first cue is shown, so the actor sees what to say. n / p move to the
    next / previous cue by hand. Times are the camera's frame times."""

    manual = True
    started = True  # speech starts the scene: space only pauses

    def __init__(self, script: Script):
        if not script.cues:
            raise ScriptError("a script needs at least one cue")
        self.script = script
        self._starts: list[tuple[float, int]] = []  # (time, cue index) in time order
        self._held: tuple[int, bool | None, float] | None = None

    def start(self, now_s: float) -> None:
        """Nothing to do: the first line heard starts the scene."""

    def resume(self, paused_s: float, now_s: float) -> None:
        """Nothing to do: a cue lasts until the next line is heard, pauses included."""

    def hear(self, index: int, start_s: float) -> None:
        """Cue `index`'s line began at `start_s`: it is the active cue from then on."""
        while self._starts and self._starts[-1][0] >= start_s:  # a later decision replaces an earlier one
            self._starts.pop()
        self._starts.append((start_s, index))

    def active_index(self, time_s: float) -> int:
        position = bisect.bisect_right(self._starts, (time_s, math.inf)) - 1
        return self._starts[position][1] if position >= 0 else 0

    def next(self, now_s: float) -> None:
        self.hear(min(self.active_index(now_s) + 1, len(self.script.cues) - 1), now_s)

    def previous(self, now_s: float) -> None:
        self.hear(max(self.active_index(now_s) - 1, 0), now_s)

    def status(self, time_s: float, face: Face | None) -> CueStatus:
        index = self.active_index(time_s)
        on_target = None if face is None else face.label in self.script.cues[index].targets
        if self._held is None or self._held[0] != index or self._held[1] != on_target or time_s < self._held[2]:
            self._held = (index, on_target, time_s)
        return CueStatus(self.script.cues[index], index, len(self.script.cues), on_target,
                         time_s - self._held[2], None)

    def played_spans(self, until_s: float) -> tuple[tuple[tuple[float, float], ...], ...]:
        """For each cue, the (start, end) intervals during which it was active, up to `until_s`."""
        spans: list[list[tuple[float, float]]] = [[] for _ in self.script.cues]
        limits = [start for start, _ in self._starts[1:]] + [until_s]
        for (start, index), end in zip(self._starts, limits, strict=True):
            if start < min(end, until_s):
                spans[index].append((start, min(end, until_s)))
        return tuple(tuple(cue_spans) for cue_spans in spans)

    def timed_script(self, until_s: float) -> Script:
        """The script as played: each cue from when its line was first heard to when it gave way
        (timing "speech"), a line never heard a zero-length "not spoken" cue."""
        cues, last_end = [], 0.0
        for cue, cue_spans in zip(self.script.cues, self.played_spans(until_s), strict=True):
            if cue_spans:
                start, end = max(cue_spans[0][0], last_end), max(cue_spans[-1][1], last_end)
                cues.append(replace(cue, start=start, end=end, timing="speech"))
            else:
                cues.append(replace(cue, start=last_end, end=last_end, timing="not spoken"))
            last_end = cues[-1].end
        return replace(self.script, cues=tuple(cues))
