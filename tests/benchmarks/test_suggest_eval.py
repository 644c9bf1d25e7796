"""``python -m benchmarks.suggest_eval``: the committed README is what the generator writes from the committed
report.json, and the README says the held-out numbers are a re-score once the lexicon changed after the first
scoring (the first scoring's numbers stay in it)."""
from __future__ import annotations

import copy
import json

from benchmarks import suggest_eval


def _committed() -> dict:
    return json.loads((suggest_eval.OUT / "report.json").read_text(encoding="utf-8"))


def test_committed_readme_is_the_generators_output():
    assert suggest_eval.to_markdown(_committed()) == (suggest_eval.OUT / "README.md").read_text(encoding="utf-8")


def test_readme_says_rescore_and_keeps_first_scoring():
    report = _committed()
    text = suggest_eval.to_markdown(report)
    first = report["first_scored"]["sets"]["heldout"]["all"]["emotion_accuracy"]
    assert "not first-time scores" in text and "## First scoring" in text
    assert f"| heldout / all | 108 | {first:.3f} |" in text
    assert all(c["git"] in text for c in suggest_eval.CHANGES_SINCE_FIRST_SCORED)
    untouched = copy.deepcopy(report)
    untouched["changes_since_first_scored"] = []
    plain = suggest_eval.to_markdown(untouched)
    assert "from the first time that set was scored" in plain and "## First scoring" not in plain
    lost = copy.deepcopy(report)
    lost.pop("first_scored")  # changed since, but the first scoring was not kept: never claim first-time scores
    text = suggest_eval.to_markdown(lost)
    assert "not first-time scores" in text and "first scoring was not kept" in text
    assert "from the first time that set was scored" not in text


def test_first_scored_diff(tmp_path):
    old = json.loads(suggest_eval.FIRST_SCORED.read_text(encoding="utf-8"))
    now = {"heldout": {"misses": old["sets"]["heldout"]["misses"][1:] + [{"text": "new miss"}]}}
    out = suggest_eval.first_scored(suggest_eval.FIRST_SCORED, now)
    assert out["heldout_misses_fixed"] == [old["sets"]["heldout"]["misses"][0]["text"]]
    assert out["heldout_misses_new"] == ["new miss"]
    assert "dev_misses_fixed" not in out
    assert suggest_eval.first_scored(tmp_path / "absent.json", now) is None
