"""Acting script: loading, validation errors that name the cue, and cue timing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from acting_mirror.script import Cue, CuePlayer, Script, ScriptError, load_script, parse_time
from acting_mirror.training.data import FER_DISPLAY_NAMES
from acting_mirror.types import Box, Face

LABELS = FER_DISPLAY_NAMES
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "scene.yaml"

ISSUE_SCRIPT = """\
title: Scene 2, Nora
cues:
  - start: 0.0          # seconds, or "m:ss"
    end: 4.5
    line: "You never listen to me."
    emotion: angry      # one emotion, or a list of acceptable ones
  - start: 4.5
    end: 9.0
    line: "Oh! You came back."
    emotion: [surprised, happy]
"""


def write(tmp_path, text: str, name: str = "scene.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def face(label: str) -> Face:
    return Face(Box(0, 0, 50, 50), tuple(0.9 if name == label else 0.1 / 6 for name in LABELS), label, 0)


def test_issue_example_loads(tmp_path):
    script = load_script(write(tmp_path, ISSUE_SCRIPT), LABELS)
    assert script.title == "Scene 2, Nora"
    assert script.cues == (Cue(0.0, 4.5, "You never listen to me.", ("angry",)),
                           Cue(4.5, 9.0, "Oh! You came back.", ("surprised", "happy")))


def test_example_scene_is_valid():
    script = load_script(EXAMPLE, LABELS)
    assert script.title
    assert len(script.cues) >= 3
    targets = {target for cue in script.cues for target in cue.targets}
    assert "happy" in targets and targets & {"sad", "angry"}  # the demo face hits some cues and misses others
    assert script.cues[-1].end == 8.0  # "0:08"


def test_times_as_clock_strings(tmp_path):
    text = """\
title: clocks
cues:
  - {start: "0:05", end: "1:02.5", line: a, emotion: Happy}
  - {start: 1:10, end: "1:00:00", line: b, emotion: [sad, sad, neutral]}
"""
    script = load_script(write(tmp_path, text), LABELS)
    assert [(cue.start, cue.end) for cue in script.cues] == [(5.0, 62.5), (70.0, 3600.0)]
    assert script.cues[0].targets == ("happy",)          # names match whatever the case
    assert script.cues[1].targets == ("sad", "neutral")  # duplicates dropped
    assert parse_time("12.25", "t") == 12.25
    with pytest.raises(ScriptError, match="below 60"):
        parse_time("1:75", "t")
    with pytest.raises(ScriptError, match="not a time"):
        parse_time("soon", "t")


def test_title_defaults_to_file_name(tmp_path):
    script = load_script(write(tmp_path, "cues: [{start: 0, end: 1, line: hi, emotion: happy}]", "act1.yaml"), LABELS)
    assert script.title == "act1"


def cue_text(*cues: str) -> str:
    return "title: t\ncues:\n" + "".join(f"  - {cue}\n" for cue in cues)


@pytest.mark.parametrize("text, message", [
    (cue_text('{start: 4.5, end: 6, line: "You never listen to me.", emotion: angry}',
              '{start: 4.5, end: 3.0, line: "Oh! You came back.", emotion: [surprised, happy]}'),
     re.escape('scene.yaml: cue 2 ("Oh! You came back."): end 3.0 is before start 4.5')),
    (cue_text('{start: 1, end: 1, line: "Hold it.", emotion: sad}'),
     re.escape('cue 1 ("Hold it."): end 1.0 equals start 1.0')),
    (cue_text('{start: 0, end: 2, line: "Hello.", emotion: joyful}'),
     r"cue 1 \(\"Hello.\"\): unknown emotion 'joyful' \(known: angry, disgust, scared, happy, sad, surprised, "
     r"neutral\)"),
    (cue_text('{start: 0, end: 2, line: "Hello.", emotion: [happy, surprise]}'),
     "unknown emotion 'surprise' \\(did you mean 'surprised'\\?"),
    (cue_text('{start: 0, end: 5, line: "First.", emotion: happy}',
              '{start: 4, end: 8, line: "Second.", emotion: sad}'),
     r'cue 2 \("Second."\) \(4.0-8.0 s\) overlaps cue 1 \("First."\) \(0.0-5.0 s\)'),
    (cue_text('{start: 5, end: 8, line: "First.", emotion: happy}',
              '{start: 0, end: 2, line: "Second.", emotion: sad}'),
     r'cue 2 \("Second."\) .* comes before cue 1 \("First."\)'),
    (cue_text('{start: 0, line: "No end.", emotion: happy}'), r'cue 1 \("No end."\): missing end'),
    (cue_text("{start: 0, end: 1, emotion: happy}"), "cue 1: missing line"),
    (cue_text('{start: 0, end: 1, line: "x"}', '{end: 3, line: "y"}'), r'cue 1 \("x"\): missing emotion'),
    (cue_text('{start: 0, end: 1, line: "x", emotion: []}'), "empty list"),
    (cue_text('{start: 0, end: 1, line: "x", emotion: happy, emotoin: sad}'), "unknown key emotoin"),
    (cue_text('{start: "1:xx", end: 3, line: "x", emotion: happy}'), r'cue 1 \("x"\): start \'1:xx\' is not a time'),
    (cue_text('{start: -1, end: 3, line: "x", emotion: happy}'), "0 seconds or more"),
    (cue_text('{start: 0, end: 3, line: "  ", emotion: happy}'), "'line' is empty"),
    (cue_text("just a string"), "cue 1 must be a mapping"),
    ("title: t\ncues: []\n", "'cues' is empty"),
    ("title: t\n", "missing 'cues'"),
    ("title: t\ncues: {start: 0}\n", "'cues' must be a list"),
    ("- start: 0\n  end: 1\n", "must be a mapping with 'title' and 'cues'"),
    ("", "must be a mapping"),
    ("title: t\ncue: []\n", "unknown key cue"),
    ("title: [t\ncues: [\n", "not valid YAML at line"),
])
def test_validation_errors(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ScriptError, match=message) as caught:
        load_script(path, LABELS)
    assert "\n" not in str(caught.value)
    assert "scene.yaml" in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(ScriptError, match="not found"):
        load_script(tmp_path / "nope.yaml", LABELS)


SCRIPT = Script("t", (Cue(1.0, 3.0, "one", ("happy",)), Cue(3.0, 4.0, "two", ("sad", "angry")),
                      Cue(6.0, 8.0, "three", ("neutral",))))


def test_automatic_player_follows_video_time():
    player = CuePlayer(SCRIPT)
    assert player.started
    assert [player.active_index(t) for t in (0.0, 1.0, 2.99, 3.0, 3.99, 4.0, 5.9, 6.0, 7.99, 8.0, 100.0)] == [
        None, 0, 0, 1, 1, None, None, 2, 2, None, None]
    player.next(2.0)  # a file's time is the video's: manual moves are ignored
    assert player.active_index(2.0) == 0
    assert player.played_spans(10.0) == (((1.0, 3.0),), ((3.0, 4.0),), ((6.0, 8.0),))


def test_manual_player_start_next_previous():
    player = CuePlayer(SCRIPT, manual=True)
    assert not player.started
    assert player.played_spans(10.0) == ((), (), ())
    assert player.active(50.0) is None and player.status(50.0, face("happy")) is None
    player.start(100.0)                           # space: script time 0 is now
    assert player.started
    assert player.active_index(100.5) is None     # the first cue starts 1 s into the scene
    assert player.active_index(101.0) == 0
    assert player.active_index(103.2) == 1        # cues follow on by their times
    player.next(103.5)                            # inside cue 2: jump to cue 3, starting now
    assert player.active_index(103.5) == 2
    assert player.status(104.0, face("neutral")).remaining_s == pytest.approx(1.5)
    player.previous(104.0)                        # inside cue 3: back to cue 2
    assert player.active_index(104.0) == 1
    assert player.active_index(105.0) is None     # cue 2 lasts 1 s, then the script's 2 s pause
    player.previous(105.5)                        # in the pause: back to the cue just played
    assert player.active_index(105.5) == 1
    player.previous(105.6)                        # inside cue 2: back to cue 1
    player.previous(105.7)                        # inside cue 1: it restarts
    assert player.active_index(105.7) == 0
    assert player.status(106.0, None).remaining_s == pytest.approx(1.7)
    player.next(106.0)
    player.next(106.1)
    assert player.active_index(106.1) == 2
    player.next(106.2)                            # past the last cue: the scene is over
    assert player.active_index(106.2) is None and player.active_index(200.0) is None

    spans = player.played_spans(110.0)
    assert spans[0] == ((101.0, 103.0), (105.6, 105.7), (105.7, 106.0))
    assert spans[1] == ((103.0, 103.5), (104.0, 105.0), (105.5, 105.6), (106.0, 106.1))
    assert spans[2] == ((103.5, 104.0), (106.1, 106.2))


def test_a_pause_stops_the_scene_clock():
    player = CuePlayer(SCRIPT, manual=True)
    player.start(100.0)
    assert player.status(102.0, face("happy")).remaining_s == pytest.approx(1.0)
    player.resume(10.0, 112.0)                    # paused at 102 for 10 s
    assert player.active_index(112.0) == 0        # cue 1 goes on where it stopped
    assert player.status(112.5, face("happy")).remaining_s == pytest.approx(0.5)
    assert player.active_index(113.0) == 1
    assert player.played_spans(114.0)[:2] == (((101.0, 102.0), (112.0, 113.0)), ((113.0, 114.0),))
    file_player = CuePlayer(SCRIPT)
    file_player.resume(10.0, 12.0)                # a file's clock is the video's: nothing moves
    assert file_player.active_index(2.0) == 0 and file_player.active_index(12.0) is None


def test_manual_next_before_start_starts_at_the_first_cue():
    player = CuePlayer(SCRIPT, manual=True)
    player.next(10.0)
    assert player.started and player.active_index(10.0) == 0


def test_held_time_tracks_the_on_off_target_state():
    player = CuePlayer(SCRIPT)
    happy, sad = face("happy"), face("sad")
    states = [(1.0, happy), (1.5, happy), (2.0, sad), (2.2, sad), (2.4, None), (2.5, None), (2.6, happy),
              (3.0, sad), (3.5, sad)]
    got = [(status.on_target, round(status.held_s, 6), status.index)
           for status in (player.status(t, f) for t, f in states)]
    assert got == [(True, 0.0, 0), (True, 0.5, 0), (False, 0.0, 0), (False, 0.2, 0), (None, 0.0, 0), (None, 0.1, 0),
                   (True, 0.0, 0), (True, 0.0, 1), (True, 0.5, 1)]  # a new cue starts a new hold
    assert player.status(3.5, sad).held_s == pytest.approx(0.5)  # asking twice for one frame changes nothing
    assert player.status(5.0, sad) is None
    assert player.status(6.0, sad).held_s == 0.0


UNTIMED = """\
title: by ear
cues:
  - line: "You never listen to me."
    emotion: angry
  - line: "This line is never spoken."
    emotion: sad
  - line: "Oh! You came back."
    emotion: [surprised, happy]
"""


def test_the_speech_player_moves_on_when_a_line_is_heard(tmp_path):
    from acting_mirror.audio.live_cues import SpeechCuePlayer

    script = load_script(write(tmp_path, UNTIMED), LABELS)
    assert not script.timed
    player = SpeechCuePlayer(script)
    assert player.started and player.manual  # no space needed: the speech starts the scene
    status = player.status(0.5, face("angry"))
    assert (status.index, status.on_target, status.remaining_s) == (0, True, None)  # the first line shows at once
    player.hear(0, 1.0)
    player.hear(2, 4.0)
    assert [player.active_index(t) for t in (0.5, 1.0, 3.99, 4.0, 9.0)] == [0, 0, 0, 2, 2]
    status = player.status(5.0, face("happy"))
    assert (status.cue.line, status.on_target, status.count) == ("Oh! You came back.", True, 3)
    assert player.played_spans(6.0) == (((1.0, 4.0),), (), ((4.0, 6.0),))
    timed = player.timed_script(6.0)
    assert timed.timed
    assert [(cue.start, cue.end, cue.timing) for cue in timed.cues] == [
        (1.0, 4.0, "speech"), (4.0, 4.0, "not spoken"), (4.0, 6.0, "speech")]
    player.previous(7.0)  # p: back to the line before, by hand
    assert player.active_index(7.5) == 1 and player.played_spans(8.0)[2] == ((4.0, 7.0),)
    player.next(8.0)
    assert player.active_index(8.0) == 2


def test_a_later_decision_replaces_an_earlier_one_at_the_same_time(tmp_path):
    from acting_mirror.audio.live_cues import SpeechCuePlayer

    player = SpeechCuePlayer(load_script(write(tmp_path, UNTIMED), LABELS))
    player.hear(2, 5.0)
    player.hear(1, 3.0)  # heard later, but its line began earlier: it replaces what came after it
    assert player.played_spans(6.0) == ((), ((3.0, 6.0),), ())
