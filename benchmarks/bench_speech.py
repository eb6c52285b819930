"""Speech benchmark: the offline aligner's CPU cost and the live cue follower's latency.

The takes are the tests' espeak-ng takes (three lines at known times, one skipped, one
unscripted sentence, noise at 20 and 10 dB SNR). The cost is printed as CPU seconds per
second of audio (a ratio against real time, measured in the same run); the live latency is
how long after a line began its cue advanced, on the stream's clock (chunks fed as fast as
they decode, so it is the decoder's latency, not the machine's speed).

    .venv/bin/python benchmarks/bench_speech.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from acting_mirror.audio.align import align_lines  # noqa: E402
from acting_mirror.audio.live_cues import LiveCueFollower  # noqa: E402
from tests.test_speech_alignment import LINES, RATE, make_take  # noqa: E402


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for snr_db in (20, 10):
            take, truth = make_take(Path(folder), snr_db)
            seconds = len(take) / RATE
            started = time.process_time()
            alignment = align_lines(LINES, take, RATE)
            align_cpu = (time.process_time() - started) / seconds
            errors = [abs(getattr(alignment.lines[i], side) - truth[i][k])
                      for i in truth if i is not None and alignment.lines[i].spoken
                      for k, side in enumerate(("start", "end"))]
            follower, chunk = LiveCueFollower(LINES, RATE), RATE // 10
            latencies, started = [], time.process_time()
            for begin in range(0, len(take), chunk):
                heard = follower.feed(begin / RATE, take[begin:begin + chunk])
                if heard is not None and heard.index in truth:
                    latencies.append(heard.heard_s - truth[heard.index][0])
            live_cpu = (time.process_time() - started) / seconds
            rows.append((snr_db, align_cpu, statistics.median(errors), max(errors), live_cpu,
                         statistics.median(latencies) if latencies else float("nan"), len(latencies)))
    print(f"{'SNR dB':>6} {'align CPU s/s':>13} {'median err s':>12} {'worst err s':>11} {'live CPU s/s':>12} "
          f"{'live latency s':>14} {'cues':>4}")
    for snr_db, align_cpu, median, worst, live_cpu, latency, cues in rows:
        print(f"{snr_db:>6} {align_cpu:>13.3f} {median:>12.3f} {worst:>11.3f} {live_cpu:>12.3f} {latency:>14.2f} "
              f"{cues:>4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
