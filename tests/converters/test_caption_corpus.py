"""Caption library validator, shipped library, tokenizer round-trip (no TensorFlow)."""
from __future__ import annotations

import json

import pytest

from converters.caption.templates import generate
from converters.caption.tokenizer_train import train_tokenizer
from edgekit.captioning.library import read_library
from edgekit.captioning.taxonomy import EMOTIONS, LANGS, SCENES, STYLES
from edgekit.captioning.tokenizer import UNK, CaptionTokenizer
from edgekit.errors import ModelError

@pytest.fixture(scope="module")
def library():
    return read_library()


def test_shipped_library_is_the_authored_corpus_with_a_heldout_split(library):
    from converters.caption import authored

    # exactly what `python -m converters.caption corpus` writes; stale after a corpus edit until it runs
    assert authored.to_library(authored.load()) == library, \
        ("library.tsv is stale: rebuild it, `python -m converters.caption corpus --library-only` (the shipped "
         "tokenizer kept) or with the model, `python -m converters.caption all` (corpus/authored/README.md)")
    held = [e for e in library if e.split == "heldout"]
    assert 0.08 <= len(held) / len(library) <= 0.12
    assert {(e.lang, e.emotion, e.style) for e in held} == {(l, e, s) for l in LANGS for e in EMOTIONS for s in STYLES}
    assert {e.scene for e in library} == set(SCENES) | {"none"}


def test_template_filler_still_covers_every_cell():
    """The review's template baseline: every (lang, emotion, style, scene) cell gets captions."""
    entries = generate(per_cell=1)
    assert {(e.lang, e.emotion, e.style, e.scene) for e in entries} == {
        (l, e, s, sc) for l in LANGS for e in EMOTIONS for s in STYLES for sc in SCENES}


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
    assert [tokenizer.pieces[i] for i in tokenizer.encode("My heart")] == ["My", " heart"]
    assert tokenizer.encode("🦖") == [UNK]
    # control tokens decode to nothing
    assert tokenizer.decode(tokenizer.prompt("zh", "happiness", "anime", None)) == ""


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

    from converters.caption.data import augment, conditions, encode_entries
    from edgekit.captioning.conditioning import COND_DIM

    entries = library[:400]
    rows, cond = encode_entries(tokenizer, entries, 56), conditions(entries)
    assert cond.shape == (400, COND_DIM) and np.allclose(cond.sum(axis=1), 4)  # emotion, style, scene, lang
    x, c = augment(rows[:, :-1], cond, np.random.default_rng(0), soft_p=1.0)
    labels = np.array([EMOTIONS.index(e.emotion) for e in entries])
    assert (c[:, :8].argmax(axis=1) == labels).all() and (c[np.arange(400), labels] >= 0.55).all()
    np.testing.assert_allclose(c[:, :8].sum(axis=1), 1, atol=1e-6)
    assert (x == rows[:, :-1]).all() and (c[:, 8:] == cond[:, 8:]).all()  # tokens, style, scene and language untouched
    none_rows = [i for i, e in enumerate(entries) if e.scene == "none"]
    assert none_rows and (x[none_rows, 3] == tokenizer.ids["<scn:none>"]).all()


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
