"""The blind caption review (converters/caption/review.py): a fixed panel, three systems per
request, a sheet that never names the system, and the report's aggregation."""
from __future__ import annotations

import json

from converters.caption import review


def test_the_panel_is_fixed_and_covers_the_space():
    a, b = review.panel(), review.panel()
    assert a == b and len(a) == review.PANEL_SIZE
    assert {r["lang"] for r in a} == {"zh", "en"} and len({r["emotion"] for r in a}) == 8
    assert any(r["probs"] for r in a) and any(r["style"] is None for r in a) and any(r["scene"] is None for r in a)
    assert all(r["probs"] is None or max(r["probs"], key=r["probs"].get) == r["emotion"] for r in a)


def test_the_sheet_is_blind_and_the_key_complete(tmp_path):
    requests = review.panel(size=6)
    items = review.captions_for(requests)
    assert {i["system"] for i in items} == set(review.SYSTEMS)
    review.write_sheet(requests, items, tmp_path)
    sheet = [json.loads(line) for line in (tmp_path / "sheet.jsonl").read_text(encoding="utf-8").splitlines()]
    key = json.loads((tmp_path / "key.json").read_text(encoding="utf-8"))
    assert len(sheet) == len(items) == len(key["items"])
    assert all(set(row) == {"item", "lang", "emotion", "style", "scene", "caption"} for row in sheet)
    assert not any(system in json.dumps(row) for row in sheet for system in ('"model"', '"corpus"', '"template"'))


def test_summary_joins_ratings_with_the_key():
    key = {"requests": [{"id": 0, "lang": "zh"}, {"id": 1, "lang": "en"}],
           "items": {"c0": {"system": "model", "request": 0}, "c1": {"system": "corpus", "request": 1},
                     "c2": {"system": "model", "request": 1}}}
    ratings = [{"item": "c0", "fluent": "no", "fits_emotion": "yes", "fits_style": "n/a", "fits_scene": "n/a",
                "invented_scene": "yes", "would_post": 2},
               {"item": "c2", "fluent": "yes", "fits_emotion": "yes", "fits_style": "yes", "fits_scene": "n/a",
                "invented_scene": "no", "would_post": 4},
               {"item": "c1", "fluent": "yes", "fits_emotion": "no", "fits_style": "yes", "fits_scene": "yes",
                "invented_scene": "n/a", "would_post": 5}]
    summary = review.summarize(key, ratings)
    assert summary["model"]["all"]["would_post"] == 3.0 and summary["model"]["all"]["fluent"] == 0.5
    assert summary["model"]["zh"]["invented_scene"] == 1.0 and summary["model"]["en"]["would_post_4plus"] == 1.0
    assert summary["corpus"]["en"]["fits_emotion"] == 0.0 and summary["corpus"]["en"]["fits_scene"] == 1.0
    assert "| model | all | 2 | 3.00 |" in review.markdown(summary, {"requests": 2, "items": 3, "reviewers": 1, "per_reviewer": "3"})
