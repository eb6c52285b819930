"""The acting script: lines with the emotion the actor means to show, and their timing.

    title: Scene 2, Nora
    cues:
      - start: 0.0          # seconds, or "m:ss" / "h:mm:ss"
        end: 4.5
        line: "You never listen to me."
        emotion: angry      # one emotion, or a list of acceptable ones

`load_script` validates the file against the model's display names; every error
names the file and the cue. `CuePlayer` decides which cue is active: from the
cue times for a file or URL, or from when the actor pressed space (and n / p)
for a camera (audio.live_cues.SpeechCuePlayer does it by ear for lines without
times). It is pure logic, no windows.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from acting_mirror.errors import MirrorError
from acting_mirror.types import Face
from acting_mirror.yamlfile import shown

CUE_KEYS = ("start", "end", "line", "emotion")
SCRIPT_KEYS = ("title", "cues")


class ScriptError(MirrorError, ValueError):
    """A script file that cannot be used; the message names the file and the cue."""


@dataclass(frozen=True)
class Cue:
    start: float                 # seconds of script time
    end: float
    line: str
    targets: tuple[str, ...]     # acceptable emotions, model display names
    # where start/end come from: "script" (typed), "speech" (aligned to the take's audio),
    # "not spoken" (an untimed line not heard: a zero-length cue that is never active),
    # or "untimed" (no times yet: the take's speech must time it before it plays)
    timing: str = "script"

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def timed(self) -> bool:
        return self.timing != "untimed"


@dataclass(frozen=True)
class Script:
    title: str
    cues: tuple[Cue, ...]

    @property
    def end(self) -> float:
        return self.cues[-1].end if self.cues else 0.0

    @property
    def timed(self) -> bool:
        """False while some line left out start/end and has not been timed from the speech."""
        return all(cue.timed for cue in self.cues)


# -- loading -----------------------------------------------------------------
def load_script(path: str | Path, labels: Sequence[str]) -> Script:
    """Read and validate a YAML script; emotions must be among `labels`."""
    from acting_mirror.yamlfile import load_yaml_file

    path = Path(path)
    data = load_yaml_file(path, "script file", ScriptError)
    return parse_script(data, labels, where=path.name, default_title=path.stem)


def parse_script(data, labels: Sequence[str], where: str = "script", default_title: str = "") -> Script:
    """Validate already-parsed YAML data (a mapping with `title` and `cues`)."""
    if not isinstance(data, dict):
        raise ScriptError(f"{where}: must be a mapping with 'title' and 'cues' (a list of cues)")
    unknown = [str(key) for key in data if key not in SCRIPT_KEYS]
    if unknown:
        raise ScriptError(f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(SCRIPT_KEYS)})")
    title = data.get("title", default_title)
    if title is None or isinstance(title, (dict, list)):
        raise ScriptError(f"{where}: 'title' must be text")
    if "cues" not in data:
        raise ScriptError(f"{where}: missing 'cues' (a list of start, end, line, emotion)")
    raw_cues = data["cues"]
    if raw_cues is None or raw_cues == []:
        raise ScriptError(f"{where}: 'cues' is empty; add at least one cue")
    if not isinstance(raw_cues, list):
        raise ScriptError(f"{where}: 'cues' must be a list of cues")
    cues = [_parse_cue(raw, number, labels, where) for number, raw in enumerate(raw_cues, start=1)]
    timed = [(number, cue) for number, cue in enumerate(cues, start=1) if cue.timed]
    for (before_number, before), (number, after) in itertools.pairwise(timed):
        if after.start < before.end:
            if after.end > before.start:
                raise ScriptError(f"{where}: {_name(number, after.line)} ({_span(after)}) overlaps "
                                  f"{_name(before_number, before.line)} ({_span(before)})")
            raise ScriptError(f"{where}: {_name(number, after.line)} ({_span(after)}) comes before "
                              f"{_name(before_number, before.line)} ({_span(before)}); list cues in time order")
    return Script(str(title), tuple(cues))


def _parse_cue(raw, number: int, labels: Sequence[str], where: str) -> Cue:
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: cue {number} must be a mapping with {', '.join(CUE_KEYS)}")
    line = raw.get("line")
    name = _name(number, line if isinstance(line, str) else None)
    unknown = [str(key) for key in raw if key not in CUE_KEYS]
    if unknown:
        raise ScriptError(f"{where}: {name}: unknown key {', '.join(unknown)} (known: {', '.join(CUE_KEYS)})")
    missing = [key for key in CUE_KEYS if raw.get(key) is None]
    if set(missing) == {"start", "end"}:  # a line to be timed from the take's speech
        if isinstance(line, bool) or not isinstance(line, (str, int, float)) or not str(line).strip():
            raise ScriptError(f"{where}: {name}: 'line' must be text (an untimed line is timed by its words)")
        targets = _parse_targets(raw["emotion"], labels, f"{where}: {name}")
        return Cue(math.nan, math.nan, str(line).strip(), targets, timing="untimed")
    if missing:
        raise ScriptError(f"{where}: {name}: missing {', '.join(missing)}")
    if isinstance(line, bool) or not isinstance(line, (str, int, float)):
        raise ScriptError(f"{where}: {name}: 'line' must be text")
    line = str(line).strip()
    if not line:
        raise ScriptError(f"{where}: {name}: 'line' is empty")
    start = parse_time(raw["start"], f"{where}: {name}: start")
    end = parse_time(raw["end"], f"{where}: {name}: end")
    if end < start:
        raise ScriptError(f"{where}: {name}: end {end} is before start {start}")
    if end == start:
        raise ScriptError(f"{where}: {name}: end {end} equals start {start}; a cue must last")
    targets = _parse_targets(raw["emotion"], labels, f"{where}: {name}")
    return Cue(start, end, line, targets)


def _parse_targets(raw, labels: Sequence[str], where: str) -> tuple[str, ...]:
    names = raw if isinstance(raw, list) else [raw]
    if not names:
        raise ScriptError(f"{where}: 'emotion' is an empty list; name at least one emotion")
    by_key = {label.lower(): label for label in labels}
    targets: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise ScriptError(f"{where}: emotion {shown(name)} must be a name (one of {', '.join(labels)})")
        label = by_key.get(name.strip().lower())
        if label is None:
            close = difflib.get_close_matches(name.strip().lower(), list(by_key), n=1)
            hint = f"did you mean {by_key[close[0]]!r}? " if close else ""
            raise ScriptError(f"{where}: unknown emotion {shown(name)} ({hint}known: {', '.join(labels)})")
        if label not in targets:
            targets.append(label)
    return tuple(targets)


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


def parse_time(value, where: str) -> float:
    """Seconds from a number or an "m:ss" / "h:mm:ss" string (seconds may have a fraction)."""
    if isinstance(value, bool):
        raise ScriptError(f"{where} {shown(value)} is not a time (seconds, or m:ss / h:mm:ss)")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        match = _CLOCK.match(text)
        if match:
            hours, minutes, secs = int(match.group(1) or 0), int(match.group(2)), float(match.group(3))
            if secs >= 60 or (match.group(1) is not None and minutes >= 60):
                raise ScriptError(f"{where} {shown(value)} is not a time (minutes and seconds must be below 60)")
            seconds = hours * 3600 + minutes * 60 + secs
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ScriptError(f"{where} {shown(value)} is not a time (seconds, or m:ss / h:mm:ss)") from None
    else:
        raise ScriptError(f"{where} {shown(value)} is not a time (seconds, or m:ss / h:mm:ss)")
    if not math.isfinite(seconds) or seconds < 0:
        raise ScriptError(f"{where} {shown(value)} must be a time of 0 seconds or more")
    return seconds


def _name(number: int, line: str | None) -> str:
    if not line:
        return f"cue {number}"
    short = line if len(line) <= 40 else line[:39] + "…"
    return f'cue {number} ("{short}")'


def _span(cue: Cue) -> str:
    return f"{cue.start}-{cue.end} s"


# -- playing ------------------------------------------------------------------
@dataclass(frozen=True)
class CueStatus:
    """What the mirror shows about the active cue for person 0."""

    cue: Cue
    index: int                 # 0-based position in the script
    count: int                 # number of cues in the script
    on_target: bool | None     # None: no face
    held_s: float              # how long the current on/off-target (or no-face) state has lasted
    remaining_s: float | None  # until the cue ends (None: it ends when the next line is heard)


class CuePlayer:
    """Which cue is active at a given time.

    Automatic (a file or URL): script time is the video time.
    Manual (a camera): nothing is active until `start(now)`; script time is then
    `now - base`. `next` / `previous` move the base so the chosen cue starts now,
    and the cues after it follow at their script offsets from there.
    """

    def __init__(self, script: Script, manual: bool = False):
        if not script.cues:
            raise ScriptError("a script needs at least one cue")
        if not script.timed:
            raise ScriptError("the script has lines without start/end, and this take has no sound to time them "
                              "from; give every line a start and end")
        self.script = script
        self.manual = manual
        self._starts = [cue.start for cue in script.cues]
        self._bases: list[tuple[float, float]] = []  # manual: (time it applies from, base)
        self._held: tuple[int, bool | None, float] | None = None  # (cue index, state, since)

    @property
    def started(self) -> bool:
        return not self.manual or bool(self._bases)

    def script_time(self, time_s: float) -> float | None:
        """Script time at `time_s`; None before a manual scene starts."""
        if not self.manual:
            return time_s
        if not self._bases:
            return None
        return time_s - self._bases[-1][1]

    def active_index(self, time_s: float) -> int | None:
        scene = self.script_time(time_s)
        if scene is None:
            return None
        index = bisect.bisect_right(self._starts, scene) - 1
        if index >= 0 and scene < self.script.cues[index].end:
            return index
        return None

    def active(self, time_s: float) -> Cue | None:
        index = self.active_index(time_s)
        return None if index is None else self.script.cues[index]

    # -- manual control (ignored for a file, whose time is the video's) -------
    def start(self, now_s: float) -> None:
        """Space: the scene starts now (script time 0)."""
        if self.manual:
            self._rebase(now_s, now_s)

    def _in_scene(self, now_s: float) -> bool:
        """Whether n / p should move within a running scene: they do nothing for a file,
        and before space they start the scene at cue 1."""
        if not self.manual:
            return False
        if not self.started:
            self._jump_to(0, now_s)
            return False
        return True

    def next(self, now_s: float) -> None:
        """n: the next cue starts now; after the last cue, the scene ends."""
        if not self._in_scene(now_s):
            return
        scene = self.script_time(now_s)
        upcoming = bisect.bisect_right(self._starts, scene)  # first cue that has not started yet
        if upcoming < len(self.script.cues):
            self._jump_to(upcoming, now_s)
        else:
            self._rebase(now_s, now_s - max(scene, self.script.end))  # past the end: nothing active

    def previous(self, now_s: float) -> None:
        """p: back to the cue before the active one (from a pause between cues: the
        one just played); the first cue restarts."""
        if not self._in_scene(now_s):
            return
        scene = self.script_time(now_s)
        latest = bisect.bisect_right(self._starts, scene) - 1  # the last cue that has started
        if latest < 0:
            target = 0
        elif scene < self.script.cues[latest].end:
            target = max(0, latest - 1)   # inside a cue: go to the one before it
        else:
            target = latest               # in a pause or after the end: back to the one just played
        self._jump_to(target, now_s)

    def resume(self, paused_s: float, now_s: float) -> None:
        """The actor paused the mirror for `paused_s` and resumed at `now_s`: the scene
        stood still meanwhile, so script time picks up where it stopped."""
        if self.manual and self._bases and paused_s > 0:
            base = self._bases[-1][1]
            self._rebase(now_s - paused_s, math.inf)  # during the pause no cue plays
            self._rebase(now_s, base + paused_s)

    def _jump_to(self, index: int, now_s: float) -> None:
        self._rebase(now_s, now_s - self.script.cues[index].start)

    def _rebase(self, now_s: float, base: float) -> None:
        if self._bases and now_s <= self._bases[-1][0]:
            self._bases[-1] = (now_s, base)  # two keys in one frame: the last one wins
        else:
            self._bases.append((now_s, base))
        self._held = None

    # -- per frame -------------------------------------------------------------
    def status(self, time_s: float, face: Face | None) -> CueStatus | None:
        """The active cue and whether person 0's shown label is one of its targets."""
        index = self.active_index(time_s)
        if index is None:
            self._held = None
            return None
        cue = self.script.cues[index]
        on_target = None if face is None else face.label in cue.targets
        if self._held is None or self._held[0] != index or self._held[1] != on_target or time_s < self._held[2]:
            self._held = (index, on_target, time_s)
        scene = self.script_time(time_s)
        return CueStatus(cue, index, len(self.script.cues), on_target, time_s - self._held[2], cue.end - scene)

    def played_spans(self, until_s: float) -> tuple[tuple[tuple[float, float], ...], ...]:
        """For each cue, the (start, end) intervals in input time during which it was
        active, up to `until_s`: the script times for a file; for a camera, what the
        actor's space / n / p presses made of them. The report scores against these."""
        if not self.manual:
            return tuple(((cue.start, cue.end),) for cue in self.script.cues)
        spans: list[list[tuple[float, float]]] = [[] for _ in self.script.cues]  # never started: all empty
        limits = [applies for applies, _ in self._bases[1:]] + [until_s]
        for (applies, base), limit in zip(self._bases, limits[:len(self._bases)], strict=True):
            for index, cue in enumerate(self.script.cues):
                start, end = max(applies, cue.start + base), min(limit, cue.end + base)
                if start < end:
                    spans[index].append((start, end))
        return tuple(tuple(cue_spans) for cue_spans in spans)

