"""The batch index's order: takes ranked by score with ties in take order, unscored takes
after the scored ones, failed takes last; the best take of each cue with its tie-breaks."""

from __future__ import annotations

from pathlib import Path

from acting_mirror.batch.index import IndexRow, best_for_cue, ranked
from acting_mirror.batch.run import BatchResult
from acting_mirror.batch.takes import Take


def row(name: str, score: float | None = None, cues: list | None = None, status: str = "ok") -> IndexRow:
    summary = None if status != "ok" else {"score": score, "cues": cues or []}
    return IndexRow(Take(name, f"{name}.avi", f"/takes/{name}.avi"), status, summary)


def cue(on_target: float | None, mean_probability: float | None = None) -> dict:
    return {"on_target_fraction": on_target, "mean_target_probability": mean_probability}


def names(rows) -> list[str]:
    return [r.take.name for r in rows]


def test_ranked_by_score_with_ties_in_take_order_then_unscored_then_failed():
    rows = [row("a", 50.0), row("broken", status="cannot open"), row("b", 80.0), row("c", None),
            row("d", 50.0), row("e", 80.0), row("f", 0.0)]
    assert names(ranked(rows)) == ["b", "e", "a", "d", "f", "c", "broken"]


def test_ranked_keeps_every_row_once():
    rows = [row("x", 10.0), row("y", status="gone"), row("z", 10.0)]
    assert sorted(names(ranked(rows))) == ["x", "y", "z"]
    assert ranked([]) == []


def test_best_for_cue_takes_the_most_on_target():
    rows = [row("a", cues=[cue(0.2, 0.9)]), row("b", cues=[cue(0.7, 0.1)])]
    best, best_cue = best_for_cue(rows, 1)
    assert best.take.name == "b" and best_cue["on_target_fraction"] == 0.7


def test_best_for_cue_breaks_a_tie_by_the_mean_target_probability_then_take_order():
    rows = [row("a", cues=[cue(0.5, 0.4)]), row("b", cues=[cue(0.5, 0.6)]), row("c", cues=[cue(0.5, 0.6)])]
    assert best_for_cue(rows, 1)[0].take.name == "b"
    rows = [row("a", cues=[cue(0.5, None)]), row("b", cues=[cue(0.5, None)])]
    assert best_for_cue(rows, 1)[0].take.name == "a"


def test_best_for_cue_skips_takes_that_did_not_reach_the_cue_or_failed():
    rows = [row("a", cues=[cue(1.0), cue(None)]), row("b", cues=[cue(0.0), cue(0.3)]), row("x", status="bad")]
    assert best_for_cue(rows, 2)[0].take.name == "b"
    assert best_for_cue([row("a", cues=[cue(None)]), row("x", status="bad")], 1) is None


def test_the_batch_result_names_the_first_of_equal_best_scores():
    rows = (row("a", 40.0), row("b", 90.0), row("c", 90.0), row("d", None))
    result = BatchResult(Path("out"), rows, ("a", "b", "c", "d"), (), (), 1.0, True)
    assert result.best.take.name == "b" == ranked(rows)[0].take.name
    assert BatchResult(Path("out"), (row("d", None),), ("d",), (), (), 1.0, False).best is None
