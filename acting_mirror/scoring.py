"""Scoring a rehearsal against its script, for person 0, and the run's summary.json contents.

Per cue, over the frames whose time lies in the cue (start <= t < end):
on_target_fraction is the share of those frames where person 0's shown label is
one of the cue's targets (no face counts as off-target); no_face_fraction is the
share without person 0; mean_target_probability is the mean, over the frames
with a face, of the summed probability of the target emotions. The overall
score is the frame-weighted mean of on_target_fraction, as 0-100: the share of
all frames inside the cues reached in which person 0 showed a target emotion.
played_fraction is how much of a cue's scripted length the recording covered
(0: not reached; below 1: partly played, e.g. the clip ended inside it).
`work_on` picks the cues to rehearse again; `build_summary` is everything summary.json holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from acting_mirror.script import Script
from acting_mirror.sources.base import DEFAULT_FPS
from acting_mirror.timeline import Timeline

WORK_ON_COUNT = 3
FULLY_PLAYED = 0.995  # a cue covered this much counts as played in full (frame times are discrete)

CueSpans = Sequence[Sequence[tuple[float, float]]]


def score_cues(timeline: Timeline, script: Script, cue_spans: CueSpans | None = None, fps: float = 0.0) -> list[dict]:
    """Per-cue scores for person 0. `cue_spans` gives, per cue, the (start, end) intervals
    in timeline time during which it was played (a camera's CuePlayer.played_spans);
    by default the script's own times. A cue with no frames has None scores. `fps`
    (default: from the frame times) tells how long the last frame lasts."""
    if cue_spans is not None and len(cue_spans) != len(script.cues):
        raise ValueError(f"cue_spans has {len(cue_spans)} entries for {len(script.cues)} cues")
    times, probabilities, shown = timeline.person_series(0)
    period = 1.0 / (fps if fps > 0 else fps_from_times(times))
    recorded = (float(times[0]), float(times[-1]) + period) if len(times) else (0.0, 0.0)
    label_index = {label: i for i, label in enumerate(timeline.labels)}
    seen = ~np.isnan(probabilities).any(axis=1)
    scores = []
    for number, cue in enumerate(script.cues, start=1):
        spoken = cue.timing != "not spoken"  # an untimed line not heard in the take has no time
        spans = tuple(cue_spans[number - 1]) if cue_spans is not None else ((cue.start, cue.end),) if spoken else ()
        inside = np.zeros(len(times), bool)
        for start, end in spans:
            inside |= (times >= start) & (times < end)
        frames = int(inside.sum())
        face = inside & seen
        on_target = sum(1 for i in np.flatnonzero(inside) if shown[i] in cue.targets)
        target_columns = [label_index[t] for t in cue.targets if t in label_index]
        target_probability = probabilities[face][:, target_columns].sum(axis=1) if face.any() else None
        most = Counter(shown[i] for i in np.flatnonzero(face)).most_common(1)
        covered = sum(max(0.0, min(end, recorded[1]) - max(start, recorded[0])) for start, end in spans)
        scores.append({
            "number": number,
            "start": cue.start if spoken else None,
            "end": cue.end if spoken else None,
            "timing": cue.timing,  # where start/end came from: script, speech or not spoken
            "line": cue.line,
            "target": list(cue.targets),
            "frames": frames,
            "face_frames": int(face.sum()),
            "on_target_fraction": on_target / frames if frames else None,
            "no_face_fraction": (frames - int(face.sum())) / frames if frames else None,
            "mean_target_probability": float(target_probability.mean()) if target_probability is not None else None,
            "shown_most": most[0][0] if most else None,
            "played": [[float(start), float(end)] for start, end in spans],
            "played_fraction": min(1.0, covered / cue.duration) if frames else 0.0,
        })
    return scores


def overall_score(cue_scores: Sequence[Mapping]) -> float | None:
    """Frame-weighted mean of on_target_fraction over the cues, 0-100 (None: no cue frames)."""
    frames = sum(cue["frames"] for cue in cue_scores)
    if not frames:
        return None
    on_target = sum(cue["on_target_fraction"] * cue["frames"] for cue in cue_scores if cue["frames"])
    return 100.0 * on_target / frames


def work_on(cue_scores: Sequence[Mapping], count: int = WORK_ON_COUNT) -> list[Mapping]:
    """The worst played cues first (lowest on-target share; longer cues first on ties),
    leaving out cues that were fully on target."""
    played = [cue for cue in cue_scores if cue["frames"] and cue["on_target_fraction"] < 1.0]
    return sorted(played, key=lambda cue: (cue["on_target_fraction"], -cue["frames"], cue["number"]))[:count]


def build_summary(timeline: Timeline, fps: float, script: Script | None = None,
                  cue_spans: CueSpans | None = None, profile: Mapping | None = None) -> dict:
    """Everything summary.json holds. `cue_times` says where the cue times came from:
    "played" (a camera run: the actor's space / n / p) or "script"; `profile`, the resting-face
    profile the probabilities were corrected with (None: none)."""
    summary = timeline.summary(fps)
    summary["profile"] = dict(profile) if profile else None
    if script is not None:
        cues = score_cues(timeline, script, cue_spans, fps)
        score = overall_score(cues)
        summary["title"] = script.title
        summary["cue_times"] = "played" if cue_spans is not None else "script"
        summary["cues"] = [rounded_cue(cue) for cue in cues]
        summary["score"] = None if score is None else round(score, 4)
        summary["scored_frames"] = sum(cue["frames"] for cue in cues)
        summary["on_target_frames"] = sum(round(cue["on_target_fraction"] * cue["frames"]) for cue in cues
                                          if cue["frames"])
    return summary


def rounded_cue(cue: dict) -> dict:
    """A cue's scores as summary.json keeps them: fractions to six places."""
    keys = ("on_target_fraction", "no_face_fraction", "mean_target_probability", "played_fraction")
    return {key: (round(value, 6) if key in keys and value is not None else value) for key, value in cue.items()}


def fps_from_times(times: np.ndarray) -> float:
    """Frame rate from the median gap between distinct frame times (a one-frame timeline:
    the usual default)."""
    gaps = np.diff(np.unique(np.asarray(times, float)))
    gaps = gaps[gaps > 0]
    return float(1.0 / np.median(gaps)) if len(gaps) else DEFAULT_FPS
