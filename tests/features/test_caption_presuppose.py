"""What a sentence says (tense, senses, arousal) and restyle's filter of fragments it contradicts."""
from __future__ import annotations

import numpy as np
import pytest

from edgekit.captioning import Captioner
from edgekit.captioning.presuppose import TAGS, clashes, sentence_features
from edgekit.captioning.voices import Voice, Voices, attach, read_voices
from edgekit.errors import ModelError


@pytest.mark.parametrize("text, lang, present, absent", [
    # time ahead, and none gone by: prospective
    ("明天就出发去海边，行李都收好了", "zh", {"prospective"}, {"retrospective"}),
    ("下周要搬家了", "zh", {"prospective"}, set()),
    ("准备去爬山，等不及了", "zh", {"prospective", "aroused"}, set()),
    ("打算周末去看展", "zh", {"prospective"}, set()),
    ("Flying to Lisbon tomorrow morning", "en", {"prospective"}, {"retrospective"}),
    ("We're going to the lake this weekend", "en", {"prospective"}, set()),
    ("I'll finally meet my niece next week", "en", {"prospective"}, set()),
    ("Can't wait for the concert", "en", {"prospective", "aroused"}, set()),
    ("Booked the hotel, leaving Friday", "en", {"prospective"}, set()),
    ("Went out on Friday", "en", set(), {"prospective"}),
    ("I’ll finally meet my niece next week", "en", {"prospective"}, set()),  # typographic apostrophe
    ("I’ll be there", "en", {"prospective"}, set()),
    ("明天出发之前收拾一下", "zh", {"prospective"}, {"retrospective"}),  # 之前 of a plan: no time gone by
    ("回家以前买点菜", "zh", set(), {"retrospective"}),
    # "will" the name or the noun is no plan
    ("Will called me", "en", set(), {"prospective"}),
    ("Believe in free will", "en", set(), {"prospective"}),
    # time gone by wins over a plan word: the event is told afterwards
    ("三天之前就收拾好了，明天出发", "zh", {"retrospective"}, {"prospective"}),
    ("很久以前的照片", "zh", {"retrospective"}, set()),
    ("以前的我很胆小", "zh", {"retrospective"}, set()),
    ("昨天准备了很久的面试终于结束了", "zh", {"retrospective"}, {"prospective"}),
    ("Went to the lake yesterday, I will go again", "en", {"retrospective"}, {"prospective"}),
    # neither: 了 and -ed alone say nothing about a plan
    ("吃完饭散了个步", "zh", set(), {"prospective", "retrospective"}),
    ("Finished the puzzle", "en", set(), {"prospective", "retrospective"}),
    ("要是能再睡一会就好了", "zh", set(), {"prospective"}),
    # the senses a sentence names
    ("电梯里一股烟味", "zh", {"smell"}, {"sight", "sound"}),
    ("楼上装修的声音吵了一整天", "zh", {"sound"}, {"smell"}),
    ("刚看到一只猫在晒太阳", "zh", {"sight"}, {"smell", "sound"}),
    ("The bus smells like wet socks", "en", {"smell"}, {"sight"}),
    ("Heard a weird noise in the attic", "en", {"sound"}, {"smell"}),
    ("Saw the sunrise from the balcony", "en", {"sight"}, {"sound", "smell"}),
    ("Had a nap on the sofa", "en", set(), {"sight", "sound", "smell", "taste"}),
    # arousal: an exclamation, capitals, a stretched word, a booster, an urgent word, a high-arousal cue
    ("We did it!", "en", {"aroused"}, set()),
    ("This is SO unfair", "en", {"aroused"}, set()),
    ("Sooo done with this", "en", {"aroused"}, set()),
    ("累死了", "zh", {"aroused"}, set()),
    ("他居然又迟到", "zh", {"aroused"}, set()),
    ("Got a call from NASA", "en", set(), {"aroused"}),  # an acronym is no shouting
    ("Read a book in the afternoon", "en", set(), {"aroused"}),
    ("下午在家看书", "zh", set(), {"aroused"}),
])
def test_sentence_features(text, lang, present, absent):
    found = sentence_features(text, lang)
    assert present <= found and not (absent & found), sorted(found)


@pytest.mark.parametrize("tags, features, expected", [
    ({"past"}, {"prospective"}, ("past",)),
    ({"past"}, {"retrospective"}, ()),
    ({"past"}, set(), ()),
    ({"sight"}, {"smell"}, ("sight",)),
    ({"sight"}, {"smell", "sight"}, ()),  # names seeing too
    ({"sight"}, set(), ()),  # names no sense: nothing contradicts
    ({"sound"}, {"taste"}, ("sound",)),
    ({"calm"}, {"aroused"}, ("calm",)),
    ({"calm"}, {"prospective"}, ()),
    ({"past", "calm"}, {"prospective", "aroused"}, ("past", "calm")),
    (set(), {"prospective", "aroused", "smell"}, ()),
])
def test_clashes(tags, features, expected):
    assert set(clashes(tags, frozenset(features))) == set(expected)
    assert set(tags) <= set(TAGS)


def _cell(*voices):
    return Voices({("en", "retro", "any"): list(voices)})


def test_restyle_never_attaches_a_fragment_the_sentence_contradicts():
    v = _cell(Voice("suffix", ". Roll the end credits.", frozenset({"past"})),
              Voice("suffix", ". That's the news, folks."),
              Voice("suffix", ". Over and out.", frozenset({"calm"})))
    rng = np.random.default_rng(0)
    for _ in range(30):  # a prospective, aroused sentence: only the untagged line fits
        assert v.restyle(rng, "Flying out tomorrow!", "en", "retro", "any") == (
            "Flying out tomorrow! That's the news, folks.")
    # a plain past sentence may get any of them
    outs = {v.restyle(rng, "Flew back yesterday", "en", "retro", "any") for _ in range(60)}
    assert len(outs) == 3
    # the compatible fragment used recently: None, so the caller may repeat it rather than clash
    assert v.restyle(rng, "Flying out tomorrow!", "en", "retro", "any",
                     {"Flying out tomorrow! That's the news, folks."}) is None


def test_a_cell_without_a_compatible_fragment_falls_back_to_its_least_clashing():
    v = _cell(Voice("suffix", ". Roll the end credits.", frozenset({"past", "calm"})),
              Voice("suffix", ". Filed for later.", frozenset({"past"})))
    assert [x.text for x in v.candidates("Flying out tomorrow!", "en", "retro", "any")] == [". Filed for later."]
    assert v.restyle(np.random.default_rng(0), "Flying out tomorrow!", "en", "retro", "any") == (
        "Flying out tomorrow! Filed for later.")


def test_bundled_cells_never_answer_a_prospective_sentence_with_a_past_fragment():
    voices = read_voices()
    v = Voices(voices)
    tagged = {(lang, x.text): x.tags for (lang, _, _), cell in voices.items() for x in cell}
    assert sum(bool(t) for t in tagged.values()) >= 40  # the emotion cells; the mood-neutral markers carry none
    for text, lang in (("明天就要出发旅行啦！", "zh"), ("Leaving for the mountains tomorrow, can't wait!", "en"),
                       ("车厢里一股汗味，太难闻了", "zh"), ("The smell in the hallway is unreal", "en")):
        feats = sentence_features(text, lang)
        for (cell_lang, style, emotion) in voices:
            if cell_lang != lang:
                continue
            picks = v.candidates(text, lang, style, emotion)
            assert picks and not any(clashes(p.tags, feats) for p in picks), (style, emotion, text)


def test_captioner_restyle_keeps_retrospective_and_sight_lines_off():
    cap = Captioner(seed=1)
    voices = cap.voices.voices
    for text, lang, tag in (("明天就要出发旅行啦", "zh", "past"), ("Trip starts tomorrow, bags packed", "en", "past"),
                            ("电梯里一股烟味", "zh", "sight")):
        for _ in range(4):
            for c in cap.restyle(text, lang=lang)[1:]:  # every style but plain
                used = [v for (lg, style, _), cell in voices.items() if lg == lang and style == c.style
                        for v in cell if attach(text, v, lang) == c.text]
                assert used and not any(tag in v.tags for v in used), (c.style, c.text)


def test_the_tags_column_is_optional_and_checked(tmp_path):
    path = tmp_path / "voices.tsv"
    path.write_text("lang\tstyle\temotion\tposition\ttext\ttags\n"
                    "en\tretro\tany\tsuffix\t. Roll the end credits.\tpast\n"
                    "en\tretro\tany\tsuffix\t. Stay tuned.\t\n", encoding="utf-8")
    assert [x.tags for x in read_voices(path)[("en", "retro", "any")]] == [frozenset({"past"}), frozenset()]
    path.write_text("lang\tstyle\temotion\tposition\ttext\ttags\nen\tretro\tany\tsuffix\t. Stay tuned.\tnostalgic\n",
                    encoding="utf-8")
    with pytest.raises(ModelError, match="line 2"):
        read_voices(path)
    path.write_text("lang\tstyle\temotion\tposition\ttext\tmood\n", encoding="utf-8")
    with pytest.raises(ModelError, match="bad header"):
        read_voices(path)
