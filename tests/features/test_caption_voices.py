"""Restyle voices: the bundled fragments, how a fragment is attached, and the plain voice."""
from __future__ import annotations

import numpy as np
import pytest

from edgekit import glyphs
from edgekit.captioning.library import MAX_CHARS
from edgekit.captioning.taxonomy import EMOTIONS, LANGS, STYLES, match_scene
from edgekit.captioning import Captioner
from edgekit.captioning.voices import ANY_MOOD, MOODS, Voice, Voices, attach, is_kaomoji, plain, read_voices
from edgekit.errors import ModelError


@pytest.fixture(scope="module")
def voices():
    return read_voices()


def test_every_style_emotion_and_language_has_suffixes_and_a_mood_neutral_cell(voices):
    for lang in LANGS:
        for style in STYLES[1:]:  # plain is the sentence itself
            for emotion in EMOTIONS:
                cell = voices[(lang, style, emotion)]
                assert len({v.text for v in cell if v.position == "suffix"}) >= 6, (lang, style, emotion)
            # the mood-neutral cell: style markers, a kaomoji or an ellipsis alone after the sentence or a
            # short tag or label before it
            markers = voices[(lang, style, ANY_MOOD)]
            assert len({v.text for v in markers}) >= 2 and all(
                v.position == "prefix" or is_kaomoji(v.text) or v.text in ("……", "...") for v in markers), markers
    assert not any(key[1] == "plain" for key in voices)
    assert ANY_MOOD not in EMOTIONS


def test_fragments_name_no_scene_and_render_with_the_bundled_fonts(voices):
    texts = [v.text for cell in voices.values() for v in cell]
    assert [t for t in texts if match_scene(t)] == []
    assert glyphs.undrawable("".join(texts)) == set()


@pytest.mark.parametrize("source, voice, lang, expected", [
    # a suffix opens its own sentence; the sentence's trailing comma or full stop makes way for it
    ("终于吃上火锅。", Voice("suffix", "。快乐直接拉满！"), "zh", "终于吃上火锅。快乐直接拉满！"),
    ("终于吃上火锅", Voice("suffix", "。快乐直接拉满！"), "zh", "终于吃上火锅。快乐直接拉满！"),
    ("终于吃上火锅，", Voice("suffix", "～开心到转圈圈！"), "zh", "终于吃上火锅～开心到转圈圈！"),
    # after "!", "?", "…" or a kaomoji the suffix's opener is dropped
    ("终于吃上火锅！", Voice("suffix", "。快乐直接拉满！"), "zh", "终于吃上火锅！快乐直接拉满！"),
    ("差两分没过……", Voice("suffix", "！心态崩了。"), "zh", "差两分没过……心态崩了。"),
    ("这波快乐直接拉满！(≧∇≦)ノ", Voice("suffix", "。yyds！"), "zh", "这波快乐直接拉满！(≧∇≦)ノ yyds！"),
    ("Bombed my exam, ugh", Voice("suffix", ". Big L, ngl."), "en", "Bombed my exam, ugh. Big L, ngl."),
    ("Got stood up. Again.", Voice("suffix", "! Big mad."), "en", "Got stood up. Again! Big mad."),
    ("My knees are shaking!", Voice("suffix", ". Big yikes."), "en", "My knees are shaking! Big yikes."),
    ("Wait...", Voice("suffix", "! Nani?!"), "en", "Wait... Nani?!"),
    # a bracketed word is part of the sentence, not a kaomoji: the suffix keeps its opener, no stray space
    ("I will be there (maybe)", Voice("suffix", ". The page turns."), "en", "I will be there (maybe). The page turns."),
    ("明天见（大概）", Voice("suffix", "。风知道。"), "zh", "明天见（大概）。风知道。"),
    ("So tired (T_T)", Voice("suffix", ". The page turns."), "en", "So tired (T_T) The page turns."),
    ("吓死我了(((ﾟДﾟ)))", Voice("suffix", "。风知道。"), "zh", "吓死我了(((ﾟДﾟ))) 风知道。"),
    # a user's voices file may still glue with a comma: joined without doubled punctuation
    ("终于吃上火锅。", Voice("suffix", "，这波快乐直接拉满！"), "zh", "终于吃上火锅，这波快乐直接拉满！"),
    # a prefix is a label; after an English colon label a sentence-initial capital is lower-cased
    ("终于吃上火锅", Voice("prefix", "【吾之宿命】"), "zh", "【吾之宿命】终于吃上火锅"),
    ("My cat ate my homework", Voice("prefix", "Plot twist: "), "en", "Plot twist: my cat ate my homework"),
    ("I can't even", Voice("prefix", "Plot twist: "), "en", "Plot twist: I can't even"),
    ("NASA called", Voice("prefix", "Plot twist: "), "en", "Plot twist: NASA called"),
    ("Bombed my exam", Voice("prefix", "*sobs in anime* "), "en", "*sobs in anime* Bombed my exam"),
    # style markers of the mood-neutral cells: a kaomoji alone follows after a space, in place of a full stop
    ("下雨了，在家待着。", Voice("suffix", "(・ω・)"), "zh", "下雨了，在家待着 (・ω・)"),
    ("Rain all day.", Voice("suffix", "(・_・)"), "en", "Rain all day (・_・)"),
    ("Rain all day?!", Voice("suffix", "(・_・)"), "en", "Rain all day?! (・_・)"),
    # an ellipsis alone replaces a full stop or comma and adds nothing after "!", "?" or "…"
    ("下雨了，在家待着。", Voice("suffix", "……"), "zh", "下雨了，在家待着……"),
    ("下雨了！", Voice("suffix", "……"), "zh", "下雨了！"),
    ("Rain all day,", Voice("suffix", "..."), "en", "Rain all day..."),
    ("Rain all day!", Voice("suffix", "..."), "en", "Rain all day!"),
    # an address ending with a comma: a capital that only started the sentence is lower-cased
    ("下雨了，在家待着", Voice("prefix", "家人们，"), "zh", "家人们，下雨了，在家待着"),
    ("Rain all day", Voice("prefix", "Chat, "), "en", "Chat, rain all day"),
    ("I stayed in", Voice("prefix", "Chat, "), "en", "Chat, I stayed in"),
])
def test_attach_keeps_the_sentence_and_joins_punctuation(source, voice, lang, expected):
    assert attach(source, voice, lang) == expected


def test_plain_voice_drops_kaomoji_and_decorations():
    assert plain("这波快乐直接拉满！(≧∇≦)ノ") == "这波快乐直接拉满！"
    assert plain("【今日份快乐】吃火锅 (＾▽＾)") == "吃火锅"
    assert plain("Just a normal sentence.") == "Just a normal sentence."
    assert plain("I will be there (maybe) (｀皿´)") == "I will be there (maybe)"  # words in brackets stay
    assert plain("明天见（大概）✧") == "明天见（大概）"


def test_restyle_picks_an_unused_fragment_of_the_cell_and_keeps_the_sentence(voices):
    v = Voices(voices)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(len(voices[("zh", "dramatic", "fear")])):
        out = v.restyle(rng, "考试周，腿都软了", "zh", "dramatic", "fear", seen)
        assert out is not None and "考试周，腿都软了" in out and out not in seen and len(out) <= MAX_CHARS["zh"]
        seen.add(out)
    assert v.restyle(rng, "考试周，腿都软了", "zh", "dramatic", "fear", seen) is None  # the cell is used up


def test_a_voices_file_without_mood_neutral_cells_answers_them_from_the_neutral_cell():
    v = Voices({("en", "slang", "neutral"): [Voice("suffix", ". It is what it is.")]})
    rng = np.random.default_rng(0)
    assert v.restyle(rng, "Rain all day", "en", "slang", ANY_MOOD) == "Rain all day. It is what it is."
    assert v.restyle(rng, "Rain all day", "en", "slang", "sadness") is None


def _cell_of(voices, text: str, lang: str, style: str, out: str) -> set:
    """The cells whose fragments, attached to ``text``, give ``out``."""
    return {emotion for emotion in MOODS for v in voices.get((lang, style, emotion), ())
            if attach(text, v, lang) == out}


@pytest.mark.parametrize("text, lang, cell", [
    # cue words: the emotion's voice
    ("期末考砸了，心里好难受", "zh", "sadness"),
    ("Bombed my exam and I feel awful", "en", "sadness"),
    # no cue word and an unsure naive Bayes (round 6: a seat on the subway came back "我笑了，气笑的",
    # a sarcastic line "Spring arrived all at once"): the mood-neutral voice
    ("地铁上人不多，找到位置坐了", "zh", ANY_MOOD),
    ("My boss promising raises again, sure", "en", ANY_MOOD),
])
def test_restyle_uses_the_mood_neutral_voice_when_the_emotion_is_uncertain(voices, text, lang, cell):
    cap = Captioner(seed=0)
    for c in cap.restyle(text, lang=lang)[1:]:  # every style but plain
        assert _cell_of(voices, text, lang, c.style, c.text) == {cell}, (c.style, c.text)
    # an emotion the caller gives is certain
    given = cap.restyle(text, style="slang", lang=lang, emotion="anger")[0]
    assert given.emotion == "anger" and _cell_of(voices, text, lang, "slang", given.text) == {"anger"}


@pytest.mark.parametrize("text, lang", [
    # no cue word and an unsure naive Bayes: whatever the sentence's mood, restyle adds a style marker only
    ("地铁上人不多，找到位置坐了", "zh"),
    ("下午去邮局寄了个包裹。", "zh"),
    ("My boss promising raises again, sure", "en"),
    ("Picked up a parcel on the way home.", "en"),
])
def test_an_uncertain_reading_adds_a_style_marker_not_a_remark(voices, text, lang):
    cap = Captioner(seed=3)
    assert cap.emotion_reading(text)[1] is False
    for _ in range(3):
        for c in cap.restyle(text, lang=lang)[1:]:  # every style but plain
            used = [v for v in voices[(lang, c.style, ANY_MOOD)] if attach(text, v, lang) == c.text]
            assert used, (c.style, c.text)
            # the sentence kept (its full stop may make way, an address lower-cases its first letter); what is
            # added is a kaomoji, an ellipsis or a tag or label of a few words
            core = text.rstrip("。.")
            at = c.text.lower().find(core.lower())
            rest = c.text[at + len(core):]
            added = c.text[:at] + (rest[len(text) - len(core):] if rest.startswith(text[len(core):]) else rest)
            assert at >= 0 and len(added.split()) <= 4, (c.style, c.text)
            assert not any(p in added for p in "。！？!?"), (c.style, c.text)


@pytest.mark.parametrize("content, message", [
    ("lang\tstyle\n", "bad header"),
    ("lang\tstyle\temotion\tposition\ttext\nzh\tanime\tjoy\tsuffix\t～好耶\n", "line 2"),
    ("lang\tstyle\temotion\tposition\ttext\nzh\tanime\thappiness\tmiddle\t～好耶\n", "line 2"),
    ("lang\tstyle\temotion\tposition\ttext\nzh\tanime\thappiness\tsuffix\t   \n", "line 2"),
])
def test_bad_voices_file_names_the_problem(tmp_path, content, message):
    path = tmp_path / "voices.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelError, match=message):
        read_voices(path)
    with pytest.raises(ModelError, match="no such file"):
        read_voices(tmp_path / "missing.tsv")


@pytest.mark.parametrize("source, lang, expected", [
    ("I guess...", "en", "I guess... (・ω・)"),  # an ellipsis or a tilde is part of the sentence: kept
    ("好吧～", "zh", "好吧～ (・ω・)"),
    ("下雨了。", "zh", "下雨了 (・ω・)"),  # a full stop gives way to the kaomoji
    ("Rain all day,", "en", "Rain all day (・ω・)"),
    ("Sad (T_T)", "en", "Sad (T_T)"),  # one kaomoji is enough: unchanged, so restyle picks another marker
])
def test_a_kaomoji_marker_replaces_only_a_full_stop_or_comma(source, lang, expected):
    assert attach(source, Voice("suffix", "(・ω・)"), lang) == expected


@pytest.mark.parametrize("label, source, expected", [
    ("Chat, ", "Rain all day", "Chat, rain all day"),
    ("Chat, ", "I missed it", "Chat, I missed it"),
    ("Chat, ", "NASA called", "Chat, NASA called"),
    ("Narrator: ", "Tokyo was fine", "Narrator: Tokyo was fine"),  # a name after a colon label keeps its capital
    ("Narrator: ", "The bus was late", "Narrator: the bus was late"),
])
def test_capitals_after_an_english_label(label, source, expected):
    assert attach(source, Voice("prefix", label), "en") == expected


def test_a_voices_row_without_its_tags_field_has_no_tags(tmp_path):
    path = tmp_path / "voices.tsv"
    path.write_text("lang\tstyle\temotion\tposition\ttext\ttags\n"
                    "en\tanime\tany\tsuffix\t(・ω・)\n"  # the trailing tab trimmed by an editor
                    "en\tretro\tany\tprefix\tDig this: \tpast\n", encoding="utf-8")
    voices = read_voices(path)
    assert voices[("en", "anime", ANY_MOOD)] == [Voice("suffix", "(・ω・)", frozenset())]
    assert voices[("en", "retro", ANY_MOOD)][0].tags == frozenset({"past"})
