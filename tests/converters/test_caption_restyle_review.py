"""The restyle review rounds (converters/caption/review.py ``restyle-report``, ``restyle-sheet``): the
report on a tiny fake round (two requests, each restyled by two systems, one giving the same caption,
rated by two reviewers) and the sheet builder's request draw and shuffle."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from converters.caption import restyle_sheet, review
from edgekit.errors import ConfigError

SHEET = [("i0", "zh", "今天好累", "poetic", "今天好累。"),
         ("i1", "en", "I got the job", "slang", "I got the job. Meh."),
         ("i2", "zh", "今天好累", "poetic", "今天好累。"),
         ("i3", "en", "I got the job", "slang", "I got the job. Let's go!")]
SYSTEMS = {"i0": "old", "i1": "old", "i2": "new", "i3": "new"}
#: reviewer -> item -> (fluent, keeps_emotion, would_post); fits_style and keeps_content are yes.
RATINGS = {"r1": {"i0": ("yes", "yes", 3), "i1": ("no", "no", 1), "i2": ("yes", "yes", 3), "i3": ("yes", "yes", 5)},
           "r2": {"i0": ("yes", "yes", 2), "i1": ("yes", "no", 2), "i2": ("yes", "yes", 2), "i3": ("yes", "yes", 4)}}


def fake_round(folder: Path, ratings=RATINGS, cells=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sheet.jsonl").write_text("".join(
        json.dumps({"item": i, "lang": lang, "style": style, "source": source, "caption": caption},
                   ensure_ascii=False) + "\n" for i, lang, source, style, caption in SHEET), encoding="utf-8")
    items = {i: {"system": s, "source_emotion": "happiness", "inferred_emotion": "happiness" if s == "new" else "anger"}
             for i, s in SYSTEMS.items()}
    for i, cell in (cells or {}).items():
        items[i]["voice_cell"] = cell
    (folder / "key.json").write_text(json.dumps({"seed": 7, "code": {"old": "aaa", "new": "bbb"}, "items": items}))
    for reviewer, rated in ratings.items():
        (folder / f"ratings_{reviewer}.jsonl").write_text("".join(
            json.dumps({"item": i, "fluent": f, "fits_style": "yes", "keeps_content": "yes", "keeps_emotion": e,
                        "would_post": w}) + "\n" for i, (f, e, w) in rated.items()))
    (folder / "remarks.json").write_text(json.dumps({"ratings_r1": "Prefixes add little."}))
    return folder


def test_review_of_a_tiny_round(tmp_path):
    report = review.write_restyle_review(fake_round(tmp_path / "round"))
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
        review.restyle_round(fake_round(tmp_path, skipped))
    assert "i3" in str(err.value)


def test_a_request_without_every_system_is_refused(tmp_path):
    folder = fake_round(tmp_path)
    key = json.loads((folder / "key.json").read_text())
    key["items"]["i3"]["system"] = "old"
    (folder / "key.json").write_text(json.dumps(key))
    with pytest.raises(ConfigError, match="two old captions"):
        review.restyle_round(folder)


def test_a_round_with_voice_cells_is_split_by_the_new_systems_cell(tmp_path):
    # new took the zh request's fragment from the mood-neutral cell, the en request's from happiness
    folder = fake_round(tmp_path / "round", cells={"i0": "anger", "i1": "anger", "i2": "any", "i3": "happiness"})
    (folder / "made.json").write_text(json.dumps({"sheet": "python -m converters.caption.review restyle-sheet X"}))
    report = review.write_restyle_review(folder)
    neutral, emotional = report["summary"]["voice_cell_any"], report["summary"]["voice_cell_emotion"]
    assert neutral["new"]["all"]["would_post"] == 2.5 and neutral["old"]["all"]["would_post"] == 2.5  # i2 / i0
    assert emotional["new"]["all"]["would_post"] == 4.5 and emotional["old"]["all"]["would_post"] == 1.5  # i3 / i1
    assert set(neutral["new"]) == {"zh", "all"} and set(emotional["old"]) == {"en", "all"}
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "## By new's voice cell" in readme and "| any | new | all | 1 | 2 | 2.50 |" in readme
    assert "| an emotion's | old | en | 1 | 2 | 1.50 |" in readme
    assert "`python -m converters.caption.review restyle-sheet X` rebuilds" in readme


def test_a_round_without_voice_cells_has_no_cell_table(tmp_path):
    report = review.write_restyle_review(fake_round(tmp_path / "round"))
    assert set(report["summary"]) == {"all", "differing"} and report["meta"]["sheet_command"] is None
    assert "voice cell" not in (tmp_path / "round" / "README.md").read_text(encoding="utf-8")


SOURCES = "lang\temotion\tscene\ttext\n" + "".join(
    f"{lang}\t{emotion}\tnone\t{lang} {emotion} {k}\n" for lang in ("zh", "en")
    for emotion in ("anger", "fear", "sadness") for k in range(3))


def test_a_sheet_draws_unused_sentences_and_shuffles_both_systems(tmp_path):
    (tmp_path / "sources.tsv").write_text(SOURCES, encoding="utf-8")
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_text(json.dumps({"item": "r000", "lang": "en", "source": "en fear 0", "style": "retro",
                                   "caption": "x"}) + "\n", encoding="utf-8")
    rows = restyle_sheet.requests(5, [earlier], tmp_path / "sources.tsv")
    assert rows == restyle_sheet.requests(5, [earlier], tmp_path / "sources.tsv")  # the seed fixes the draw
    sentences = {(r["lang"], r["source"]) for r in rows}
    assert ("en", "en fear 0") not in sentences
    for lang in ("zh", "en"):  # 2 sentences per emotion, one emotion drawn to give 1
        per_emotion = sorted(sum(s[0] == lang and s[1].split()[1] == e for s in sentences)
                             for e in ("anger", "fear", "sadness"))
        assert per_emotion == [1, 2, 2]
    assert len(rows) == 2 * len(sentences) and all(r["style"] in restyle_sheet.STYLES for r in rows)
    assert all(len({r["style"] for r in rows if r["source"] == s}) == 2 for _, s in sentences)
    made = {system: [{**r, "caption": f"{r['source']} ({system})", "inferred_emotion": r["source_emotion"],
                      "voice_cell": "any"} for r in rows] for system in restyle_sheet.SYSTEMS}
    restyle_sheet.assemble(made, {"old": "aaa", "new": "bbb"}, 5, tmp_path / "round")
    sheet = [json.loads(line) for line in (tmp_path / "round" / "sheet.jsonl").read_text(encoding="utf-8").splitlines()]
    key = json.loads((tmp_path / "round" / "key.json").read_text(encoding="utf-8"))
    assert len(sheet) == 2 * len(rows) and key["code"] == {"old": "aaa", "new": "bbb"} and key["seed"] == 5
    assert all(row["caption"].endswith(f"({key['items'][row['item']]['system']})") for row in sheet)
    assert [key["items"][row["item"]]["system"] for row in sheet[:len(rows)]] != ["old"] * len(rows)  # shuffled
    assert set(sheet[0]) == {"item", "lang", "style", "source", "caption"}  # no system on the sheet


def test_an_unknown_commit_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no-such-commit"):
        restyle_sheet.captions_at("no-such-commit", [])


def test_captions_record_the_voice_cell():
    made = restyle_sheet.captions([{"lang": "en", "source": "I feel awful", "source_emotion": "sadness",
                                    "style": "poetic", "seed": 3}])[0]
    assert made["caption"].startswith("I feel awful") and made["caption"] != "I feel awful"
    assert (made["inferred_emotion"], made["voice_cell"]) == ("sadness", "sadness")  # a cue word: certain


def test_restyle_sheet_takes_every_excluded_sheet_however_they_are_written(tmp_path, monkeypatch):
    """The rebuild command a round's README prints (``--exclude A --exclude B``) excludes both sheets."""
    seen = []
    monkeypatch.setattr(restyle_sheet, "build", lambda old, new, seed, exclude, out, **kw: seen.append(list(exclude)))
    base = ["restyle-sheet", "--old", "a", "--new", "b", "--seed", "1", "--out", str(tmp_path)]
    review.main(base + ["--exclude", "r6.jsonl", "--exclude", "r7.jsonl"])
    review.main(base + ["--exclude", "r6.jsonl", "r7.jsonl"])
    assert seen == [[Path("r6.jsonl"), Path("r7.jsonl")]] * 2


def test_a_round_can_draw_from_another_sources_file(tmp_path):
    """``--sources``: the held-out sentences of a later round; the report says which file they are from."""
    sources = tmp_path / "restyle_sources_x.tsv"
    rows = ["lang\temotion\tscene\ttext"] + [f"{lang}\t{emotion}\tnone\t{lang} {emotion} sentence {i}"
                                          for lang in ("zh", "en") for emotion in ("neutral", "anger")
                                          for i in range(3)]
    sources.write_text("\n".join(rows) + "\n", encoding="utf-8")
    drawn = restyle_sheet.requests(7, (), sources)
    assert drawn and {r["source"] for r in drawn} <= {line.split("\t")[3] for line in rows[1:]}


def test_the_rebuild_command_names_a_sources_file_other_than_the_default(tmp_path, monkeypatch):
    sources = tmp_path / "restyle_sources_x.tsv"
    sources.write_text("lang\temotion\tscene\ttext\nzh\tneutral\tnone\t今天下雨\nen\tneutral\tnone\tIt rains\n",
                       encoding="utf-8")
    monkeypatch.setattr(restyle_sheet, "captions_at", lambda commit, rows: [])
    monkeypatch.setattr(restyle_sheet, "assemble", lambda *a, **k: (tmp_path / "out").mkdir(exist_ok=True))
    restyle_sheet.build("a", "b", 1, (), tmp_path / "out", sources)
    assert f"--sources {sources}" in json.loads((tmp_path / "out" / "made.json").read_text())["sheet"]
    restyle_sheet.build("a", "b", 1, (), tmp_path / "out")
    assert "--sources" not in json.loads((tmp_path / "out" / "made.json").read_text())["sheet"]


def test_a_sources_file_that_runs_out_of_sentences_says_which(tmp_path):
    sources = tmp_path / "restyle_sources_x.tsv"
    sources.write_text("lang\temotion\tscene\ttext\n" + "".join(
        f"{lang}\t{emotion}\tnone\t{lang} {emotion} only\n" for lang in ("zh", "en") for emotion in ("anger", "fear")),
        encoding="utf-8")
    with pytest.raises(ConfigError, match=r"1 unused zh (anger|fear) sentence\(s\) left, the round needs 2"):
        restyle_sheet.requests(3, (), sources)
    with pytest.raises(ConfigError, match="no unused zh sentences"):
        restyle_sheet.requests(3, (), _only_en(sources, tmp_path))


def _only_en(sources: Path, tmp_path: Path) -> Path:
    out = tmp_path / "restyle_sources_en.tsv"
    lines = sources.read_text(encoding="utf-8").splitlines()
    out.write_text("\n".join([lines[0]] + [line for line in lines[1:] if line.startswith("en")]) + "\n",
                   encoding="utf-8")
    return out
