"""Chat suggestions: lexicon validation, text emotion/scene inference (zh + en, negation,
intensifiers), fusion with the face's emotion, ranked captions, CLI end to end."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from edgekit.captioning.emotioncues import load_lexicon
from edgekit.captioning.taxonomy import EMOTIONS, SCENES
from edgekit.cli import main
from edgekit.errors import ConfigError, InputError
from edgekit.personalize import FeedbackStore
from edgekit.suggestions import NEGATIVE, Lexicon, analyze_text, default_lexicon, fuse, suggest
from edgekit.suggestions.lexicon import LEXICON_DIR

EXAM_ZH = "明天考试，完全没复习"
EXAM_EN = "finals tomorrow and i'm so stressed, haven't even started"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("EDGEKIT_DATA_DIR", str(folder))
    return folder


def face(**probs: float) -> dict:
    """A face probability dict: the given labels, the rest spread evenly."""
    rest = (1 - sum(probs.values())) / (len(EMOTIONS) - len(probs))
    return {k: probs.get(k, rest) for k in EMOTIONS}


# ---------------------------------------------------------------- lexicon files
def test_bundled_lexicon_is_valid_and_covers_every_label_in_both_languages():
    lex = Lexicon.load()  # validates labels, weights, header, duplicates, wildcards
    for table, labels in ((lex.emotions, EMOTIONS), (lex.scenes, SCENES)):
        for lang in ("zh", "en"):
            covered = Counter(e.label for e in table if e.lang == lang)
            assert set(labels) <= set(covered), (lang, set(labels) - set(covered))
    kinds = {(m.lang, m.label) for m in lex.modifiers}
    assert {(lang, k) for lang in ("zh", "en") for k in ("negator", "intensifier", "diminisher")} <= kinds


def _lexicon_dir(tmp_path: Path, table: str, rows: list) -> Path:
    folder = tmp_path / "lex"
    folder.mkdir()
    for name in ("emotions", "modifiers", "scenes"):
        (folder / f"{name}.tsv").write_text((LEXICON_DIR / f"{name}.tsv").read_text(encoding="utf-8"), encoding="utf-8")
    with open(folder / f"{table}.tsv", "a", encoding="utf-8") as f:
        f.write("".join("\t".join(r) + "\n" for r in rows))
    return folder


@pytest.mark.parametrize("table,row,message", [
    ("emotions", ("zh", "开心", "happiness", "1.0"), "duplicate of line"),
    ("emotions", ("zh", "开森", "joyful", "1.0"), "unknown emotion 'joyful'"),
    ("scenes", ("en", "moon", "space", "1.0"), "unknown scene 'space'"),
    ("emotions", ("fr", "heureux", "happiness", "1.0"), "unknown language 'fr'"),
    ("emotions", ("en", "meh2", "neutral", "-1"), "weight must be a positive number"),
    ("emotions", ("en", "meh3", "neutral"), "expected 4 tab-separated columns"),
    ("emotions", ("en", "*wow", "surprise", "1.0"), "may only end a Latin term"),
    ("emotions", ("zh", "哇*", "surprise", "1.0"), "must end a Latin word"),
    ("modifiers", ("zh", "很", "amplifier", "1.5"), "unknown kind 'amplifier'"),
])
def test_lexicon_validator_names_the_bad_row(tmp_path, table, row, message):
    folder = _lexicon_dir(tmp_path, table, [row])
    n_lines = len((folder / f"{table}.tsv").read_text(encoding="utf-8").splitlines())
    with pytest.raises(ConfigError, match=message) as info:
        Lexicon.load(folder)
    assert str(info.value).startswith(f"{folder / (table + '.tsv')}:{n_lines}:")


def test_lexicon_refuses_a_term_that_is_both_emotion_and_modifier(tmp_path):
    with pytest.raises(ConfigError, match="both emotion terms and modifiers: 很"):
        Lexicon.load(_lexicon_dir(tmp_path, "emotions", [("zh", "很", "happiness", "1.0")]))


# ---------------------------------------------------------------- text inference
@pytest.mark.parametrize("chat", [EXAM_ZH, EXAM_EN])
def test_exam_stress_is_negative_with_exam_scene(chat):
    a = analyze_text(chat)
    assert a.emotion == "fear" and a.scene == "exam" and a.confidence > 0.5
    assert a.lang == ("zh" if chat == EXAM_ZH else "en")


@pytest.mark.parametrize("chat,emotion", [
    ("今天好开心", "happiness"), ("不开心", "sadness"), ("我不是很开心", "sadness"), ("一点都不难过", "neutral"),
    ("I'm happy", "happiness"), ("I'm not happy", "sadness"), ("not bad at all!", "happiness"),
    ("never scared of anything", "neutral"), ("气死我了", "anger"), ("ewww gross", "disgust"),
    ("哇，居然是你？！", "surprise"), ("呵呵，就这？", "contempt"), ("ok sounds good", "neutral"),
])
def test_negation_and_lexicon(chat, emotion):
    assert analyze_text(chat).emotion == emotion


@pytest.mark.parametrize("chat,emotion", [
    # review of 554e405: a negator inside a longer term (特别, can't believe, can't wait, didn't expect) negates nothing
    ("今天特别开心", "happiness"), ("特别难过", "sadness"), ("I can't believe how happy I am", "happiness"),
    ("can't wait so happy", "happiness"), ("didn't expect such good news, so happy", "happiness"),
    ("Nothing but love for this", "happiness"), ("Nothing makes me happier", "happiness"),
    ("could not be happier", "happiness"), ("never happier", "happiness"),
    # ... while the plain negations still negate
    ("一点都不开心", "sadness"), ("not happy", "sadness"), ("我不太开心", "sadness"),
])
def test_negation_goes_through_the_scans_negator_hits(chat, emotion):
    a = analyze_text(chat)
    assert a.emotion == emotion, a.evidence
    if emotion == "happiness":
        assert not any(e.negated for e in a.evidence), a.evidence


def test_the_chat_analyzer_reads_the_one_cached_emotion_lexicon():
    assert default_lexicon().emotion_lexicon is load_lexicon()
    assert Lexicon.load().emotion_lexicon is load_lexicon()


def test_intensifiers_and_diminishers_scale_the_evidence():
    base, strong, weak = (analyze_text(t).scores["sadness"] for t in ("难过", "非常难过", "有点难过"))
    assert weak < base < strong
    base, strong, weak = (analyze_text(t).scores["happiness"] for t in ("happy", "extremely happy", "a bit happy"))
    assert weak < base < strong
    assert analyze_text("累死了").scores["sadness"] > analyze_text("累").scores["sadness"]  # booster after the term


def test_negation_stops_at_a_clause_break():
    assert analyze_text("不，我很开心").emotion == "happiness"
    assert analyze_text("not really. so happy").emotion == "happiness"


def test_text_without_emotion_words_gives_the_prior_and_no_scene():
    a = analyze_text("see the attached file")
    assert a.confidence == 0 and a.emotion == "neutral" and a.scene is None and a.evidence == ()
    assert sum(a.probs.values()) == pytest.approx(1.0)


def test_latest_message_counts_most():
    assert analyze_text("今天好开心\n但是刚刚被老板骂了，好难过").emotion == "sadness"
    assert analyze_text("i was so sad\nbut now i'm really happy!").emotion == "happiness"


@pytest.mark.parametrize("chat", ["", "   ", "\n\t", "\u3000\u3000"])
def test_empty_or_whitespace_chat_is_a_clear_input_error(chat):
    with pytest.raises(InputError, match="chat text is empty"):
        analyze_text(chat)
    with pytest.raises(InputError, match="chat text is empty"):
        suggest(chat)


def test_non_string_chat_is_an_input_error():
    with pytest.raises(InputError, match="must be a string"):
        analyze_text(None)


# ---------------------------------------------------------------- fusion
def top(probs: dict) -> str:
    return max(probs, key=probs.get)


@pytest.mark.parametrize("chat", [EXAM_ZH, EXAM_EN])
def test_exam_stress_and_a_sad_face_fuse_to_a_negative_emotion(chat):
    fused = fuse(analyze_text(chat), face(sadness=0.6, neutral=0.25))
    assert top(fused) in NEGATIVE and sum(fused.values()) == pytest.approx(1.0)
    assert fused["fear"] + fused["sadness"] > 0.7


def test_a_happy_face_outweighs_mild_text_but_not_strong_text():
    happy = face(happiness=0.9)
    mild = analyze_text("有点累")
    assert top(mild.probs) == "sadness" and top(fuse(mild, happy)) == "happiness"  # documented example
    assert fuse(mild, happy)["happiness"] == pytest.approx(0.58, abs=0.01)
    strong = analyze_text("难过死了，想哭")
    assert top(fuse(strong, happy)) == "sadness"
    assert top(fuse(analyze_text("a bit tired"), happy)) == "happiness"


def test_fusion_limits():
    sad_face = face(sadness=0.7)
    neutral_text = analyze_text("the file is attached")
    assert fuse(neutral_text, sad_face) == pytest.approx(sad_face)  # text without evidence: face unchanged
    text = analyze_text(EXAM_ZH)
    assert fuse(text) == text.probs  # no face: the text alone
    assert fuse(text, sad_face, face_weight=0) == pytest.approx({k: float(k == "fear") for k in EMOTIONS})
    with pytest.raises(ConfigError, match="face_weight"):
        fuse(text, sad_face, face_weight=-1)
    with pytest.raises(InputError, match="sum to"):
        fuse(text, {"happiness": 0.3})


# ---------------------------------------------------------------- suggest()
@pytest.mark.parametrize("chat,lang", [(EXAM_ZH, "zh"), (EXAM_EN, "en")])
def test_suggest_returns_n_distinct_captions_for_the_scene(chat, lang):
    result = suggest(chat, n=5, seed=3)
    assert result.emotion == "fear" and result.scene == "exam" and result.lang == lang
    texts = [s.text for s in result.suggestions]
    assert len(texts) == 5 and len(set(texts)) == 5
    assert all(s.caption.lang == lang and s.caption.scene == "exam" for s in result.suggestions)
    assert len({s.caption.style for s in result.suggestions}) >= 4  # varied without feedback
    assert suggest(chat, n=2, lang="en" if lang == "zh" else "zh", seed=3).lang != lang


def test_liked_style_rises_in_suggestions(data_dir):
    from edgekit.captioning import Captioner

    captioner = Captioner()  # its own: the shared one's recent-caption memory depends on earlier tests

    def styles(store):
        captioner.reset_recent()
        found = suggest(EXAM_ZH, n=5, seed=7, personalize=store, captioner=captioner)
        return [s.caption.style for s in found.suggestions]

    store = FeedbackStore()
    before = styles(store)
    for text in ["好耶(≧▽≦)", "冲鸭～", "元气满满哒！", "呜呜考完啦(T_T)", "嘿嘿～"]:
        store.like(text, style="retro")
    after = styles(FeedbackStore())  # a fresh object reading the same file
    assert after.count("retro") > before.count("retro") and after[0] == "retro"
    assert styles(False).count("retro") <= 1  # personalization off


def test_suggest_with_a_selfie_fuses_the_face(astronaut_path):
    result = suggest("今天心情一般", photo=astronaut_path, n=2, seed=1)  # weak text, smiling astronaut
    assert result.face is not None and top(result.face) == "happiness" and result.emotion == "happiness"
    with pytest.raises(InputError, match="no face 3"):
        suggest("今天心情一般", photo=astronaut_path, face=3)


def test_suggest_without_a_face_notes_it(tmp_path):
    import numpy as np

    blank = np.full((240, 320, 3), 200, np.uint8)
    result = suggest(EXAM_EN, photo=blank, n=1)
    assert result.face is None and result.emotion == "fear" and "no face found" in result.notes[0]


def test_ready_memes_need_a_photo(tmp_path):
    with pytest.raises(ConfigError, match="ready memes need a photo"):
        suggest(EXAM_ZH, memes_dir=tmp_path / "memes")


def test_ready_memes_are_rendered(tmp_path, astronaut_path):
    result = suggest(EXAM_ZH, photo=astronaut_path, n=2, seed=1, memes_dir=tmp_path / "memes")
    paths = [s.meme for s in result.suggestions]
    assert all(p is not None and p.is_file() and p.stat().st_size > 1000 for p in paths), result.notes


# ---------------------------------------------------------------- CLI
def test_cli_suggest_and_feedback_end_to_end(capsys, data_dir, tmp_path):
    assert main(["suggest", "--chat", EXAM_ZH, "-n", "3", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["emotion"] == "fear" and out["scene"] == "exam" and len(out["suggestions"]) == 3
    first = out["suggestions"][0]

    assert main(["feedback", "like", first["text"], "--style", first["style"], "--scene", "exam"]) == 0
    assert main(["feedback", "dislike", out["suggestions"][1]["text"]]) == 0
    capsys.readouterr()
    assert main(["feedback", "--show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["events"] == 2 and shown["styles"][first["style"]] > 0
    assert shown["path"] == str(data_dir / "feedback.json")

    assert main(["feedback", "--export", str(tmp_path / "fb.json")]) == 0
    assert main(["feedback", "--reset"]) == 0
    assert "removed 2 events" in capsys.readouterr().out and not (data_dir / "feedback.json").exists()
    assert main(["feedback", "--import", str(tmp_path / "fb.json")]) == 0
    assert "imported 2 new events" in capsys.readouterr().out

    assert main(["suggest", "--chat", "finals tomorrow, so stressed", "-n", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("chat: fear") and "scene: exam" in lines[0] and lines[1].startswith("1. [")


def test_cli_errors_are_one_line(capsys, data_dir):
    assert main(["suggest", "--chat", "  "]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgekit: error:") and "chat text is empty" in err[0]
    assert main(["feedback", "like"]) == 2
    assert main(["feedback", "like", "x", "--reset"]) == 2
    data_dir.mkdir(parents=True)
    (data_dir / "feedback.json").write_text('{"kind": "feedback", "version": 7}')
    assert main(["feedback", "--show"]) == 2
    assert "newer edgekit" in capsys.readouterr().err


def test_cli_reports_a_rebuilt_store_as_a_warning(capsys, data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / "feedback.json").write_bytes(b'{"events": [{"broken')
    assert main(["feedback", "--show"]) == 0
    captured = capsys.readouterr()
    assert "edgekit: warning:" in captured.err and "rebuilt" in captured.err
    assert "unreadable files kept aside" in captured.out
    assert default_lexicon() is default_lexicon()  # read once per process
