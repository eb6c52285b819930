"""Speech benchmark: the offline aligner's CPU cost and the live cue follower's latency.

1. The tests' espeak-ng takes (three lines at known times, one skipped, one unscripted sentence,
   noise at 20 and 10 dB SNR): the aligner's cost in CPU seconds per second of audio (a ratio
   against real time, measured in the same run) and its start/end errors.
2. The live cue follower over varied takes (benchmarks/speech_takes.py: three sets, each of 6
   voices x 3 speeds and two scripts, two unscripted sentences in each take, 20 and 10 dB, the
   chunks cut at 3 phases; the constants were chosen on the "tuned" set only):
   per voice and speed, lines heard / lines spoken, false cues (a cue for a line not being
   spoken), and how long after a line began its cue advanced, on the stream's clock (the end of
   the 0.1 s chunk in which it was decided; chunks fed as fast as they decode, so this is the
   decoder's latency, not the machine's speed).

    .venv/bin/python benchmarks/bench_speech.py [--quick] [--no-align]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from acting_mirror.audio.align import DECODE_RATE, align_lines, to_decoder_pcm  # noqa: E402
from acting_mirror.audio.live_cues import LiveCueFollower  # noqa: E402
from benchmarks import speech_takes  # noqa: E402
from tests import test_speech_alignment  # noqa: E402

RATE = test_speech_alignment.RATE   # espeak-ng's
MIC_RATE = DECODE_RATE              # the microphone's (audio.microphone.SAMPLE_RATE)
CHUNK_S = 0.1
EARLY_S, LATE_S = 0.3, 1.0  # a cue counts for its line from this long before it began to this long after it ended


@dataclass(frozen=True)
class Followed:
    """How a follower did on one take at one chunk phase."""
    spoken: int
    latencies: tuple[float, ...]        # one for each spoken line heard, in seconds
    false_cues: tuple[str, ...]         # "line N at T s" for each cue that was not a spoken line's
    cpu_s: float
    audio_s: float


def microphone_rate(samples: np.ndarray) -> np.ndarray:
    """The take at the microphone's rate (the follower's input live), resampled once as a whole."""
    return np.frombuffer(to_decoder_pcm(samples, RATE), "<i2").astype(np.float32) / 32768


def follow(take: speech_takes.Take, phase_s: float, new_follower: Callable = LiveCueFollower) -> Followed:
    """Feeds the take in CHUNK_S chunks, the first one `phase_s` long (0: a whole chunk)."""
    samples = microphone_rate(take.samples)
    follower, chunk = new_follower(take.lines, MIC_RATE), round(CHUNK_S * MIC_RATE)
    bounds = list(range(round(phase_s * MIC_RATE) or chunk, len(samples), chunk))
    latencies, false_cues, heard = [], [], set()
    started = time.process_time()
    for begin, end in zip([0, *bounds], [*bounds, len(samples)], strict=True):
        cue = follower.feed(begin / MIC_RATE, samples[begin:end])
        if cue is None:
            continue
        decided_s, span = end / MIC_RATE, take.spans.get(cue.index)  # the listener hands it on after the chunk
        if span is not None and cue.index not in heard and span[0] - EARLY_S <= decided_s <= span[1] + LATE_S:
            heard.add(cue.index)
            latencies.append(decided_s - span[0])
        else:
            false_cues.append(f"line {cue.index} at {decided_s:.2f} s")
    cpu_s = time.process_time() - started
    return Followed(len(take.spans), tuple(latencies), tuple(false_cues), cpu_s, len(samples) / MIC_RATE)


def summary(results: list[Followed]) -> tuple[str, list[float], int]:
    latencies = [value for result in results for value in result.latencies]
    false_cues = sum(len(result.false_cues) for result in results)
    heard = f"{len(latencies)}/{sum(result.spoken for result in results)}"
    return heard, latencies, false_cues


def row(label: str, results: list[Followed]) -> str:
    heard, latencies, false_cues = summary(results)
    median = f"{statistics.median(latencies):.2f}" if latencies else "-"
    worst = f"{max(latencies):.2f}" if latencies else "-"
    return f"{label:34s} {heard:>7} {false_cues:>5} {median:>8} {worst:>7}"


def live_harness(folder: Path, take_set: speech_takes.TakeSet, snrs: tuple[int, ...], phases: tuple[float, ...],
                 new_follower=LiveCueFollower, show=print) -> dict[int, list[Followed]]:
    """Every voice and speed at each SNR and phase; prints a row per voice and speed, returns all results."""
    everything: dict[int, list[Followed]] = {}
    show(f"{'voice, speed, script, SNR':34s} {'heard':>7} {'false':>5} {'median s':>8} {'worst s':>7}")
    for snr_db in snrs:
        for voice in range(len(take_set.voices)):
            for speed in range(len(take_set.speeds_wpm)):
                take = speech_takes.make_take(folder, take_set, voice, speed, snr_db)
                results = [follow(take, phase, new_follower) for phase in phases]
                for result in results:
                    for false_cue in result.false_cues:
                        show(f"  false cue in {take.name}, {snr_db} dB: {false_cue}")
                show(row(f"{take.name}, {snr_db} dB", results))
                everything.setdefault(snr_db, []).extend(results)
    for snr_db, results in everything.items():
        cpu = sum(result.cpu_s for result in results) / sum(result.audio_s for result in results)
        show(row(f"all takes, {snr_db} dB", results) + f"   live CPU {cpu:.3f} s/s")
    return everything


def aligner_rows(folder: Path) -> None:
    """The offline aligner and the live follower on the tests' takes (the numbers the README had)."""
    lines = test_speech_alignment.LINES
    print(f"{'SNR dB':>6} {'align CPU s/s':>13} {'median err s':>12} {'worst err s':>11} {'live CPU s/s':>12} "
          f"{'live latency s':>14} {'cues':>4}")
    for snr_db in (20, 10):
        take, truth = test_speech_alignment.make_take(folder, snr_db)
        seconds = len(take) / RATE
        started = time.process_time()
        alignment = align_lines(lines, take, RATE)
        align_cpu = (time.process_time() - started) / seconds
        errors = [abs(getattr(alignment.lines[i], side) - truth[i][k])
                  for i in truth if i is not None and alignment.lines[i].spoken
                  for k, side in enumerate(("start", "end"))]
        spans = {index: span for index, span in truth.items() if index is not None}
        live = follow(speech_takes.Take("tests", lines, take, spans, (truth[None],)), 0.0)
        latency = statistics.median(live.latencies) if live.latencies else float("nan")
        print(f"{snr_db:>6} {align_cpu:>13.3f} {statistics.median(errors):>12.3f} {max(errors):>11.3f} "
              f"{live.cpu_s / live.audio_s:>12.3f} {latency:>14.2f} {len(live.latencies):>4}"
              + (f"  false: {', '.join(live.false_cues)}" if live.false_cues else ""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one chunk phase instead of three")
    parser.add_argument("--no-align", action="store_true", help="skip the aligner on the tests' takes")
    sets = tuple(speech_takes.TAKE_SETS)
    parser.add_argument("--sets", nargs="+", choices=sets, default=sets, help="which sets of takes (default: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        if not args.no_align:
            aligner_rows(Path(folder))
        phases = (0.0,) if args.quick else (0.0, CHUNK_S / 3, 2 * CHUNK_S / 3)
        for name in args.sets:
            print(f"\n{name} takes")
            live_harness(Path(folder), speech_takes.TAKE_SETS[name], (20, 10), phases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
