"""Varied spoken takes for the live cue follower's evaluation (benchmarks/bench_speech.py).

Three sets of takes, each with its own voices, speeds and two scripts: "tuned" is the one the
follower's constants were chosen on; "unseen-1" and "unseen-2" were made later to check them on
scripts and voices they were not chosen on. Each take speaks three of a script's four lines (the
second one is skipped) in one espeak-ng voice at one speed, with an unscripted sentence after
the first line (any later line may be next) and another before the last one, in white noise at a
given SNR. The unscripted sentences share words with the lines but not a line's opening words: a
sentence that begins as a line does is that line, as far as anyone listening live can tell,
until it turns away from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.test_speech_alignment import RATE, speak, speech_span

LEAD_S, PAUSE_S, TAIL_S = 1.0, 1.0, 1.5


@dataclass(frozen=True)
class ScriptText:
    lines: tuple[str, ...]          # the second line is never spoken
    unscripted: tuple[str, ...]     # other speech: two of these go into each take


@dataclass(frozen=True)
class TakeSet:
    voices: tuple[str, ...]         # espeak-ng voices
    speeds_wpm: tuple[int, ...]
    scripts: tuple[ScriptText, ScriptText]


TAKE_SETS = {
    "tuned": TakeSet(
        ("en-us", "en-gb-x-rp", "en+f3", "en-us+m3", "en-gb-scotland", "en-029+f2"), (130, 165, 200),
        (ScriptText(("You never listen to me", "This line is never spoken", "I am tired of waiting for you",
                     "Tomorrow we leave the city"),
                    ("The weather outside is lovely today", "I never said you were tired",
                     "Waiting for you is never easy", "We should have left the city", "Leave me alone tonight")),
         ScriptText(("Where were you last night", "Nobody asked for your opinion", "Please close the door behind you",
                     "I cannot believe you did that"),
                    ("I asked you a question last week", "Believe me the door was open", "Did you close the window",
                     "That night nobody was there", "Your opinion is not my problem")))),
    "unseen-1": TakeSet(
        ("en-gb", "en-us-nyc", "en-gb-x-gbclan", "en+m7", "en-gb-x-gbcwmd", "en-us+f2"), (120, 155, 190),
        (ScriptText(("Give me one good reason to stay", "You were supposed to call me",
                     "She told me everything about the money", "Nothing will ever be the same again"),
                    ("The money was in the kitchen drawer", "I think the train leaves at noon",
                     "Everything is fine over here", "Call your brother when you can", "We stayed at the hotel again")),
         ScriptText(("Get out of my house right now", "I thought you were my friend",
                     "Do you have any idea what you have done", "Let us start again from the beginning"),
                    ("My house is near the river", "What time does the shop open", "You have a friend in the garden",
                     "The beginning of the film was slow", "Right now I am very hungry")))),
    "unseen-2": TakeSet(
        ("en+f1", "en-us+m1", "en-gb+f4", "en+m4", "en-us-nyc+f5", "en-gb-x-rp+m2"), (140, 175, 210),
        (ScriptText(("I should have told you the truth", "Why are you looking at me like that",
                     "We could have been happy together", "Stop pretending that nothing happened"),
                    ("The truth is somewhere in the middle", "Looking at the sky makes me happy",
                     "Nothing happened at the office", "Tell me about your holiday", "Together we painted the fence")),
         ScriptText(("Are you going to say something", "This is the last time I ask",
                     "You promised me you would be here", "Everything you touch turns to dust"),
                    ("Say hello to your mother for me", "The last bus leaves at midnight",
                     "I promised to water the plants", "Touch the screen to continue",
                     "Dust covered every shelf in the room")))),
}


@dataclass(frozen=True)
class Take:
    name: str                       # voice, speed, script
    lines: tuple[str, ...]
    samples: np.ndarray             # mono float32 at RATE, noise included
    spans: dict[int, tuple[float, float]]       # spoken line -> (start, end) s
    unscripted: tuple[tuple[float, float], ...]  # where the other speech is


def take_plan(take_set: TakeSet, voice_index: int, speed_index: int) -> tuple[ScriptText, str, str]:
    """The script and the two unscripted sentences of one voice and speed (rotated so each meets all)."""
    script = take_set.scripts[(voice_index + speed_index) % len(take_set.scripts)]
    turn = voice_index * len(take_set.speeds_wpm) + speed_index
    return script, script.unscripted[turn % len(script.unscripted)], \
        script.unscripted[(turn + 1) % len(script.unscripted)]


def make_take(folder: Path, take_set: TakeSet, voice_index: int, speed_index: int, snr_db: float) -> Take:
    voice, wpm = take_set.voices[voice_index], take_set.speeds_wpm[speed_index]
    script, first_other, second_other = take_plan(take_set, voice_index, speed_index)
    order = ((0, script.lines[0]), (None, first_other), (2, script.lines[2]), (None, second_other),
             (3, script.lines[3]))
    pieces, spans, others, at = [np.zeros(round(LEAD_S * RATE), np.float32)], {}, [], LEAD_S
    for index, text in order:
        speech = speak(text, voice, wpm, folder)
        start, end = speech_span(speech)
        if index is None:
            others.append((at + start, at + end))
        else:
            spans[index] = (at + start, at + end)
        pieces += [speech, np.zeros(round(PAUSE_S * RATE), np.float32)]
        at += len(speech) / RATE + PAUSE_S
    pieces.append(np.zeros(round(TAIL_S * RATE), np.float32))
    take = np.concatenate(pieces)
    spoken = np.concatenate([take[round(s * RATE):round(e * RATE)] for s, e in [*spans.values(), *others]])
    rng = np.random.default_rng(voice_index * 100 + speed_index * 10 + int(snr_db))
    noise = rng.normal(0, np.sqrt(np.mean(spoken ** 2) / 10 ** (snr_db / 10)), len(take))
    name = f"{voice} {wpm} script {take_set.scripts.index(script) + 1}"
    return Take(name, script.lines, (take + noise).astype(np.float32), spans, tuple(others))
