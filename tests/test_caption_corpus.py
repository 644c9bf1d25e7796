"""Caption library validator, shipped library, tokenizer round-trip (no TensorFlow)."""
from __future__ import annotations

import json

import pytest

from converters.caption.corpus import generate
from converters.caption.tokenizer_train import train_tokenizer
from converters.caption.validate import MIN_PER_CELL, cell_counts, validate
from edgekit.captioning.library import Entry, read_blocklist, read_library
from edgekit.captioning.taxonomy import EMOTIONS, LANGS, SCENES, STYLES
from edgekit.captioning.tokenizer import UNK, CaptionTokenizer
from edgekit.errors import ModelError

BLOCK = read_blocklist()


@pytest.fixture(scope="module")
def library():
    return read_library()


def test_shipped_library_is_valid_and_covers_every_cell(library):
    assert len(library) >= 5000
    assert validate(library, BLOCK) == []
    train = [e for e in library if e.split == "train"]
    assert min(cell_counts(train).values()) >= MIN_PER_CELL
    assert {e.scene for e in library} == set(SCENES) and len(SCENES) >= 12
    held = [e for e in library if e.split == "heldout"]
    assert 0.08 <= len(held) / len(library) <= 0.12


def test_shipped_library_matches_the_generator(library):
    assert generate() == library  # the TSV is exactly what `python -m converters.caption corpus` writes


@pytest.mark.parametrize("bad, expected", [
    (Entry("zh", "joy", "plain", "party", "train", "今天真开心呀"), "emotion='joy'"),
    (Entry("zh", "happiness", "kawaii", "party", "train", "今天真开心呀"), "style='kawaii'"),
    (Entry("zh", "happiness", "plain", "moon", "train", "今天真开心呀"), "scene='moon'"),
    (Entry("fr", "happiness", "plain", "party", "train", "quelle fête"), "lang='fr'"),
    (Entry("zh", "happiness", "plain", "party", "train", "长" * 41), "length 41"),
    (Entry("zh", "happiness", "plain", "party", "train", "聚会真开心，去死吧"), "blocklisted term '去死'"),
    (Entry("en", "happiness", "plain", "party", "train", "What the fuck a party"), "blocklisted term 'fuck'"),
    (Entry("en", "happiness", "plain", "party", "train", "聚会真开心"), "does not look like lang=en"),
    (Entry("zh", "happiness", "plain", "party", "train", "party time!"), "does not look like lang=zh"),
    (Entry("zh", "happiness", "plain", "party", "train", "以快乐】聚会，开战！"), "unbalanced 【】"),
    (Entry("en", "happiness", "plain", "party", "train", "Party (with cake: happy."), "unbalanced ()"),
])
def test_validator_flags_each_problem(library, bad, expected):
    problems = validate(list(library) + [bad], BLOCK)
    assert any(expected in p for p in problems), problems


def test_validator_flags_duplicates_and_thin_cells(library):
    problems = validate(list(library) + [library[0]], BLOCK)
    assert any("duplicate of line 2" in p for p in problems)
    thin = [e for e in library if not (e.emotion == "fear" and e.style == "retro" and e.lang == "en")]
    assert any("('fear', 'retro', 'en')" in p for p in validate(thin, BLOCK))


@pytest.fixture(scope="module")
def tokenizer(library):
    return train_tokenizer([e.text for e in library if e.split == "train"])


@pytest.mark.parametrize("text", [
    "这波快乐直接拉满！(≧∇≦)ノ", "Kyaa~ this party! Grinning ear to ear! (＾▽＾)", "考试周，瞳孔地震 Σ(°△°|||)",
    "yyds，绝绝子 ٩(◕‿◕)۶", "I'm not impressed ┐(￣ヘ￣)┌", "(╯°□°)╯︵┻━┻ 血压拉满",
])
def test_tokenizer_round_trip_cjk_latin_kaomoji(tokenizer, text):
    ids = tokenizer.encode(text)
    assert UNK not in ids
    assert tokenizer.decode(ids) == text


def test_tokenizer_atoms_words_and_unknown_chars(tokenizer):
    assert len(tokenizer.encode("(≧∇≦)ノ")) == 1  # a kaomoji is one token
    assert [tokenizer.pieces[i] for i in tokenizer.encode("my heart")] == ["my", " heart"]
    assert tokenizer.encode("🦖") == [UNK]
    assert tokenizer.decode(tokenizer.prompt("zh", "happiness", "anime", None)) == ""  # control tokens decode to nothing


def test_tokenizer_file_round_trip_and_errors(tokenizer, tmp_path):
    path = tmp_path / "tok.json"
    tokenizer.save(path)
    again = CaptionTokenizer.load(path)
    assert again.pieces == tokenizer.pieces
    data = json.loads(path.read_text(encoding="utf-8"))
    data["controls"] = data["controls"][:-1]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match="control tokens"):
        CaptionTokenizer.load(path)
    (tmp_path / "x.json").write_text("[]")
    with pytest.raises(ModelError, match="not a edgekit-caption-tokenizer"):
        CaptionTokenizer.load(tmp_path / "x.json")


def test_taxonomy_sizes():
    assert len(EMOTIONS) == 8 and len(STYLES) == 8 and LANGS == ("zh", "en")


def test_training_augmentation_keeps_the_label_dominant(library, tokenizer):
    import numpy as np

    from converters.caption.data import SCENE_POS, augment, conditions, encode_entries
    from edgekit.captioning.conditioning import COND_DIM

    entries = library[:400]
    rows, cond = encode_entries(tokenizer, entries, 36), conditions(entries)
    assert cond.shape == (400, COND_DIM) and np.allclose(cond.sum(axis=1), 4)  # emotion, style, scene, lang
    x, c = augment(rows[:, :-1], cond, tokenizer, np.random.default_rng(0), scene_p=0.5, soft_p=1.0)
    labels = np.array([EMOTIONS.index(e.emotion) for e in entries])
    assert (c[:, :8].argmax(axis=1) == labels).all() and (c[np.arange(400), labels] >= 0.55).all()
    np.testing.assert_allclose(c[:, :8].sum(axis=1), 1, atol=1e-6)
    dropped = x[:, SCENE_POS] == tokenizer.ids["<scn:any>"]
    assert 100 < dropped.sum() < 300 and (c[dropped, COND_DIM - 3] == 1).all() and (c[dropped, 16:COND_DIM - 3] == 0).all()
    assert (rows[:, :-1] == x)[:, [i for i in range(35) if i != SCENE_POS]].all()


def test_scene_keywords_find_every_grammar_scene_phrase_and_nothing_else():
    import re

    from converters.caption.grammar import GRAMMARS
    from edgekit.captioning.taxonomy import resolve_scene
    from edgekit.errors import ConfigError

    def scene_of(text):
        try:
            return resolve_scene(text)
        except ConfigError:
            return None

    for g in GRAMMARS.values():
        for scene, phrases in g.SCENE_PHRASES.items():
            assert all(scene_of(p) == scene for p in phrases), scene
        others = [p for slots in g.EMOTION_SLOTS.values() for ps in slots.values() for p in ps]
        others += [t.replace("{", "").replace("}", "") for ts in g.STYLE_TEMPLATES.values() for t in ts]
        # Only a scene's own name ("rain" in "my thoughts fall like rain") may match outside scene phrases.
        assert [p for p in others if scene_of(p) and not re.search(rf"\b{scene_of(p)}\b", p.lower())] == []
