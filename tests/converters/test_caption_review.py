"""The blind caption review (converters/caption/review.py): a fixed panel, four systems per
request, a sheet that never names the system, and the report's aggregation."""
from __future__ import annotations

import json

from converters.caption import review


def test_the_panel_is_fixed_and_covers_the_space():
    a, b = review.panel(), review.panel()
    assert a == b and len(a) >= 200 and [r["id"] for r in a] == list(range(len(a)))
    assert sum(r["kind"] == "generate" for r in a) == review.PANEL_SIZE
    assert {r["lang"] for r in a} == {"zh", "en"} and len({r["emotion"] for r in a}) == 8
    assert any(r["probs"] for r in a) and any(r["style"] is None for r in a) and any(r["scene"] is None for r in a)
    assert all(r["probs"] is None or max(r["probs"], key=r["probs"].get) == r["emotion"] for r in a)
    kinds = {k: [r for r in a if r["kind"] == k] for k in ("chat", "free_scene", "restyle")}
    assert len(kinds["chat"]) == 40 and all(r["chat"] and r["probs"] for r in kinds["chat"])
    assert {r["scene"] for r in kinds["free_scene"]} == {s for _, s in review.FREE_SCENES}
    assert len(kinds["restyle"]) == 64 and all(r["source"] and r["style"] != "plain" for r in kinds["restyle"])


def test_the_sheet_is_blind_and_the_key_complete(tmp_path):
    full = review.panel(size=6)
    requests = full[:6] + [next(r for r in full if r["kind"] == k) for k in ("chat", "free_scene", "restyle")]
    items = review.captions_for(requests)
    assert {i["system"] for i in items} == set(review.CAPTIONERS) | {"corpus", "template", "voice"}
    for r in requests[:-1]:  # the held-out corpus line is never the line the library system picked
        texts = {i["system"]: i["text"] for i in items if i["request"] == r["id"]}
        assert texts.get("corpus") != texts["library"]
    assert [i["system"] for i in items if i["request"] == requests[-1]["id"]] == ["voice"]
    review.write_sheet(requests, items, tmp_path)
    sheet = [json.loads(line) for line in (tmp_path / "sheet.jsonl").read_text(encoding="utf-8").splitlines()]
    key = json.loads((tmp_path / "key.json").read_text(encoding="utf-8"))
    assert len(sheet) == len(items) == len(key["items"])
    base = {"item", "lang", "emotion", "style", "scene", "caption"}
    assert sorted(frozenset(row) - base for row in sheet).count(frozenset({"task", "source"})) == 1
    assert all(set(row) - base in ({"task", "source"}, {"chat"}, set()) for row in sheet)
    assert not any(system in json.dumps(row) for row in sheet for system in ('"library"', '"model"', '"corpus"',
                                                                             '"template"', '"voice"'))


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
    assert "| model | all | 2 | 3.00 |" in review.markdown(summary,
                                                           {"requests": 2, "items": 3, "reviewers": 1,
                                                            "per_reviewer": "3"})


def test_split_sheet_gives_every_item_to_a_reviewer_and_overlaps_neighbours(tmp_path):
    lines = [json.dumps({"item": f"c{i:04d}"}) for i in range(10)]
    (tmp_path / "sheet.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    parts = [[json.loads(x)["item"] for x in p.read_text().splitlines()] for p in review.split_sheet(tmp_path, 3, 2)]
    assert parts[0] == ["c0000", "c0001", "c0002", "c0003", "c0004", "c0005"]
    assert parts[2] == ["c0008", "c0009", "c0000", "c0001"]
    assert {i for p in parts for i in p} == {f"c{i:04d}" for i in range(10)}


def test_the_default_source_section_is_read_from_the_review_reports():
    """reports/caption/README.md's "Default source" section: numbers from the rounds' report.json,
    committed up to date, and rewritten in place."""
    from converters.caption import default_source as ds

    lines = ds.section_lines()
    text = "\n".join(lines)
    for r in ds.ROUNDS:
        summary = json.loads((r.report / "report.json").read_text(encoding="utf-8"))["summary"]
        assert all(f"{summary[s]['all']['would_post']:.2f}" in text for s in ("corpus", "model", "template"))
    readme = ds.README.read_text(encoding="utf-8")
    assert text in readme and ds.splice(readme, lines) == readme
    fresh = ds.splice("# Report\n\n## Targets\n\nx\n\n## Model\n\ny\n", lines)
    assert fresh.index("## Targets") < fresh.index(ds.TITLE) < fresh.index("## Model") and fresh.endswith("y\n")


def test_the_scene_audit_report_is_up_to_date_and_its_log_matches_the_corpus():
    """reports/caption_review/scene_audit: the README is what the module writes; for both audits every
    retag and rewrite (authored corpus and drafts) is in the corpus now and no deleted line is; every
    line round 4 (first audit) and round 5 (second audit) flagged has a decision."""
    from converters.caption import authored, scene_audit

    assert (scene_audit.FOLDER / "README.md").read_text(encoding="utf-8") == scene_audit.build()
    corpora = {"authored": authored.load(), "drafts": authored.load(authored.FOLDER.parent / "drafts")}
    now = {name: {(c.lang, c.emotion, c.style, c.scene, c.text) for c in captions}
           for name, captions in corpora.items()}
    logs = ((scene_audit.AUDIT, scene_audit.ROUND4), (scene_audit.AUDIT2, scene_audit.ROUND5))
    later = {}  # (corpus, lang, text) -> text now, for a line a later audit rewrote again
    for log, _ in reversed(logs):
        later.update({(r["corpus"], r["lang"], r["text"]): later.get((r["corpus"], r["lang"], r["new"]), r["new"])
                      for r in scene_audit.audit_rows(log) if r["action"] == "rewrite"})
    for log, round_dir in logs:
        rows = scene_audit.audit_rows(log)
        for r in rows:
            cell, lines = (r["lang"], r["emotion"], r["style"]), now[r["corpus"]]
            if r["action"] == "retag":
                assert cell + (r["new"], r["text"]) in lines, r
            elif r["action"] == "rewrite":
                text_now = later[(r["corpus"], r["lang"], r["text"])]
                assert cell + ("none", text_now) in lines and cell + ("none", r["text"]) not in lines, r
            else:
                assert r["action"] == "delete" and cell + ("none", r["text"]) not in lines, r
        decided = {(r["lang"], r["text"]) for r in rows if r["corpus"] == "authored"}
        flags = scene_audit.flagged(round_dir)
        assert flags and all((f["lang"], f["caption"]) in decided for f in flags), log


def test_a_new_panel_seed_gives_unseen_chat_and_restyle_requests():
    old, new = review.panel(), review.panel(seed=review.PANEL_SEED + 1)
    assert old == review.panel(seed=review.PANEL_SEED)  # rounds 1-4 unchanged
    for kind, field in (("chat", "chat"), ("restyle", "source")):
        before = {r[field] for r in old if r["kind"] == kind}
        after = {r[field] for r in new if r["kind"] == kind}
        assert before and after and not before & after
    assert [r["style"] for r in old if r["kind"] == "generate"] != [r["style"] for r in new if r["kind"] == "generate"]
