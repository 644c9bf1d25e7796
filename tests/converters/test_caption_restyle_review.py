"""The restyle review report (converters/caption/restyle_audit.py ``review``) on a tiny fake round:
two requests, each restyled by two systems, one giving the same caption, rated by two reviewers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters.caption import restyle_audit
from edgekit.errors import ConfigError

SHEET = [("i0", "zh", "今天好累", "poetic", "今天好累。"),
         ("i1", "en", "I got the job", "slang", "I got the job. Meh."),
         ("i2", "zh", "今天好累", "poetic", "今天好累。"),
         ("i3", "en", "I got the job", "slang", "I got the job. Let's go!")]
SYSTEMS = {"i0": "old", "i1": "old", "i2": "new", "i3": "new"}
#: reviewer -> item -> (fluent, keeps_emotion, would_post); fits_style and keeps_content are yes.
RATINGS = {"r1": {"i0": ("yes", "yes", 3), "i1": ("no", "no", 1), "i2": ("yes", "yes", 3), "i3": ("yes", "yes", 5)},
           "r2": {"i0": ("yes", "yes", 2), "i1": ("yes", "no", 2), "i2": ("yes", "yes", 2), "i3": ("yes", "yes", 4)}}


def fake_round(folder: Path, ratings=RATINGS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sheet.jsonl").write_text("".join(
        json.dumps({"item": i, "lang": lang, "style": style, "source": source, "caption": caption},
                   ensure_ascii=False) + "\n" for i, lang, source, style, caption in SHEET), encoding="utf-8")
    items = {i: {"system": s, "source_emotion": "happiness", "inferred_emotion": "happiness" if s == "new" else "anger"}
             for i, s in SYSTEMS.items()}
    (folder / "key.json").write_text(json.dumps({"seed": 7, "code": {"old": "aaa", "new": "bbb"}, "items": items}))
    for reviewer, rated in ratings.items():
        (folder / f"ratings_{reviewer}.jsonl").write_text("".join(
            json.dumps({"item": i, "fluent": f, "fits_style": "yes", "keeps_content": "yes", "keeps_emotion": e,
                        "would_post": w}) + "\n" for i, (f, e, w) in rated.items()))
    (folder / "remarks.json").write_text(json.dumps({"ratings_r1": "Prefixes add little."}))
    return folder


def test_review_of_a_tiny_round(tmp_path):
    report = restyle_audit.write_review(fake_round(tmp_path / "round"))
    old, new = report["summary"]["all"]["old"], report["summary"]["all"]["new"]
    assert (old["all"]["would_post"], old["all"]["fluent"], old["all"]["keeps_emotion"]) == (2.0, 0.75, 0.5)
    assert (new["all"]["would_post"], new["all"]["fluent"], new["all"]["would_post_4plus"]) == (3.5, 1.0, 0.5)
    assert (old["zh"]["ratings"], old["en"]["would_post"], old["all"]["emotion_inferred_right"]) == (2, 1.5, 0.0)
    differing = report["summary"]["differing"]  # the zh request got the same caption from both: left out
    assert differing["old"]["all"]["would_post"] == 1.5 and differing["new"]["all"]["would_post"] == 4.5
    assert "zh" not in differing["new"] and report["meta"]["differing_pairs"] == 1
    assert report["agreement"] == {"ratings_r1~ratings_r2": 0.816}  # 3,3,5,1 vs 2,2,4,2
    assert report["second_vs_first_on_differing_pairs"] == {"higher": 1}
    assert report["consistency_on_identical_pairs"]["ratings_r2"] == {"identical_pairs": 1, "same_would_post": 1,
                                                                      "same_rubric": 1}
    assert not report["targets"]["old"]["fluent"]["met"] and report["targets"]["new"]["keeps_emotion"]["met"]
    readme = (tmp_path / "round" / "README.md").read_text(encoding="utf-8")
    assert "old (aaa) vs. new (bbb)" in readme and "| new | all | 2 | 4 | 3.50 | 50% | 100% |" in readme
    assert "| fluent >= 97% | 75% (not met) | 100% (met) |" in readme and "Prefixes add little." in readme
    assert json.loads((tmp_path / "round" / "report.json").read_text()) == report


def test_a_reviewer_who_skipped_an_item_is_named(tmp_path):
    skipped = {**RATINGS, "r2": {k: v for k, v in RATINGS["r2"].items() if k != "i3"}}
    with pytest.raises(ConfigError, match="ratings_r2.jsonl") as err:
        restyle_audit.review_round(fake_round(tmp_path, skipped))
    assert "i3" in str(err.value)


def test_a_request_without_every_system_is_refused(tmp_path):
    folder = fake_round(tmp_path)
    key = json.loads((folder / "key.json").read_text())
    key["items"]["i3"]["system"] = "old"
    (folder / "key.json").write_text(json.dumps(key))
    with pytest.raises(ConfigError, match="two old captions"):
        restyle_audit.review_round(folder)
