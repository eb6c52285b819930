"""Forced alignment: when was each known script line spoken in a take?

`align_lines(lines, samples, sample_rate)` decodes the audio with pocketsphinx against an
ordered grammar of the lines, each line optional, so that a skipped line is reported as not
spoken. Between the lines runs a rarely taken loop of single phones: unscripted speech goes
there instead of being stretched over a line. A word insertion penalty keeps that loop from
winning over a real line (a phone loop needs ~4x the words for the same sound); measured on
espeak-ng speech it had to lie between 1e-3 and 1e-5, so 1e-4. Every grammar word carries its line's
number (``l3_hello``) so each recognised word maps back to its line without guessing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DECODE_RATE = 16000          # the acoustic model's rate
FRAMES_PER_SECOND = 100      # pocketsphinx's default frame shift is 10 ms
_WORD = re.compile(r"[a-z0-9']+")
WORD_INSERTION_PENALTY = 1e-4
GARBAGE_WEIGHT = 0.01        # the chance, per gap between lines, of entering the phone loop
# CMU phones: their loop is the garbage path that unscripted speech takes.
PHONES = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
          "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
          "Z", "ZH")


@dataclass(frozen=True)
class LineTiming:
    """Where one script line was heard; start/end are None when it was not spoken."""
    index: int
    start: float | None
    end: float | None

    @property
    def spoken(self) -> bool:
        return self.start is not None


@dataclass(frozen=True)
class Alignment:
    lines: tuple[LineTiming, ...]
    notices: tuple[str, ...]      # words left out because the dictionary lacks them


def line_words(line: str) -> list[str]:
    return _WORD.findall(line.lower().replace("’", "'"))


def new_decoder(beam: float = 1e-80):
    """A pocketsphinx decoder tuned for alignment (defaults find nothing: see issue 27);
    a narrower `beam` trades robustness for speed (the live follower)."""
    from pocketsphinx import Config, Decoder

    config = Config(lm=None, bestpath=False, beam=beam, wbeam=beam * 1e20, pbeam=beam, wip=WORD_INSERTION_PENALTY,
                    loglevel="FATAL")
    return Decoder(config)


def to_decoder_pcm(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono float32 [-1, 1] at any rate -> 16 kHz int16 bytes, with a faint noise floor.

    The floor (dither) keeps digital silence from starving the decoder's noise estimates.
    """
    from acting_mirror.audio import load_pyav

    av = load_pyav()

    samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)
    if sample_rate != DECODE_RATE:
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = sample_rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=DECODE_RATE)
        parts = [out.to_ndarray() for out in resampler.resample(frame)]
        parts += [out.to_ndarray() for out in resampler.resample(None)]
        samples = np.concatenate(parts, axis=1) if parts else np.zeros((1, 0), np.float32)
    dither = np.random.default_rng(0).normal(0.0, 3e-4, samples.shape[1])
    pcm = np.clip(samples[0] + dither, -1.0, 1.0)
    return (pcm * 32767).astype("<i2").tobytes()


def build_grammar(decoder, lines: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """Register per-line words and return (JSGF text, notices about unknown words)."""
    for phone in PHONES:
        decoder.add_word(f"ph_{phone.lower()}", phone, False)
    notices: list[str] = []
    rules: list[str] = []
    added: set[str] = set()  # a word said twice in a line ("you ... you") is one dictionary entry
    for index, line in enumerate(lines):
        tokens = []
        for word in line_words(line):
            pronunciation = decoder.lookup_word(word)
            if pronunciation is None:
                notices.append(f"line {index + 1}: {word!r} is not in the dictionary; aligned without it")
                continue
            token = f"l{index}_{word.replace(chr(39), '_')}"
            if token not in added:
                decoder.add_word(token, pronunciation, False)
                added.add(token)
            tokens.append(token)
        rules.append(" ".join(tokens))
    body = " ".join(f"<gap> [<line{i}>]" for i, words in enumerate(rules) if words) + " <gap>"
    phones = " | ".join(f"ph_{phone.lower()}" for phone in PHONES)
    gap = f"<gap> = ( /{1 - GARBAGE_WEIGHT}/ <NULL> | /{GARBAGE_WEIGHT}/ ({phones})+ );"
    text = ["#JSGF V1.0;", "grammar script;", f"public <take> = {body};", gap]
    text += [f"<line{i}> = {words};" for i, words in enumerate(rules) if words]
    return "\n".join(text), tuple(notices)


def align_lines(lines: Sequence[str], samples: np.ndarray, sample_rate: int) -> Alignment:
    """Each line's first-word start and last-word end in the audio, in seconds from its start."""
    decoder = new_decoder()
    grammar, notices = build_grammar(decoder, lines)
    decoder.add_jsgf_string("script", grammar)
    decoder.activate_search("script")
    decoder.start_utt()
    decoder.process_raw(to_decoder_pcm(samples, sample_rate), False, True)
    decoder.end_utt()
    spans: dict[int, list[float]] = {}
    for segment in decoder.seg() or ():  # None when nothing was recognised
        match = re.match(r"l(\d+)_", segment.word)
        if not match:
            continue
        index = int(match.group(1))
        start, end = segment.start_frame / FRAMES_PER_SECOND, (segment.end_frame + 1) / FRAMES_PER_SECOND
        span = spans.setdefault(index, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    timings = tuple(LineTiming(i, *spans[i]) if i in spans else LineTiming(i, None, None) for i in range(len(lines)))
    return Alignment(timings, notices)
