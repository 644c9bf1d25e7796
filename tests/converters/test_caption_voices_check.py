"""The restyle voices validator (converters/caption/voices_check.py) and the restyle audit."""
from __future__ import annotations

import pytest

from converters.caption import restyle_audit, voices_check
from edgekit.captioning.taxonomy import STYLES
from edgekit.captioning.voices import Voice, read_voices

HEADER = "lang\tstyle\temotion\tposition\ttext\n"


def rules(lang: str, style: str, emotion: str, position: str, text: str, tags: str = "") -> set:
    voice = Voice(position, text, frozenset(t for t in tags.split(",") if t))
    return {rule for rule, _ in voices_check.fragment_problems(lang, style, emotion, voice)}


def test_the_bundled_voices_pass():
    assert voices_check.validate() == []
    assert voices_check.main([]) == 0


@pytest.mark.parametrize("lang, style, emotion, position, text", [
    ("zh", "slang", "sadness", "suffix", "。破防了家人们。"),
    ("zh", "anime", "sadness", "suffix", "……呜呜，要抱抱 (╥﹏╥)"),
    ("zh", "retro", "anger", "suffix", "。搁以前连录像带都不配录。"),  # 录像 is no simile
    ("en", "slang", "sadness", "suffix", ". Big L, ngl."),
    ("en", "anime", "sadness", "suffix", "... *sniffle* (╥﹏╥)"),
    # sarcasm may say the opposite where mocking the event is the mood; on sad news it mocks the poster
    ("en", "sarcastic", "anger", "suffix", ". Thanks, love it."),
    ("en", "sarcastic", "sadness", "suffix", ". I'm fine. (I'm not.)"),
    # prefixes with the style's voice: action tags, kaomoji, labels with a voice marker
    ("en", "anime", "anger", "prefix", "*stomps foot* "),
    ("zh", "wholesome", "anger", "prefix", "（小声抗议）"),
    ("zh", "anime", "surprise", "prefix", "(ﾟДﾟ)诶——汇报："),
    ("zh", "anime", "fear", "prefix", "(((ﾟДﾟ)))小声报告："),
    ("zh", "retro", "happiness", "prefix", "本台喜讯："),
    ("zh", "slang", "anger", "prefix", "我真的栓Q："),
    ("en", "slang", "happiness", "prefix", "POV: "),
    # the mood-neutral cell: style markers that say nothing about the event or its mood
    ("zh", "anime", "any", "suffix", "(・ω・)"),
    ("en", "poetic", "any", "suffix", "..."),
    ("zh", "poetic", "any", "suffix", "……"),
    ("zh", "dramatic", "any", "prefix", "（旁白）"),
    ("en", "sarcastic", "any", "prefix", "*deadpan* "),
    ("zh", "retro", "any", "prefix", "本台消息："),
    ("en", "dramatic", "any", "prefix", "Narrator: "),
    ("zh", "slang", "any", "prefix", "家人们，"),
    ("en", "slang", "any", "prefix", "Chat, "),
    # situation words as nouns only: the verb and the stage are no scene
    ("en", "wholesome", "surprise", "suffix", ". Still blinking at this, honestly."),
    ("en", "dramatic", "sadness", "suffix", ". The curtain falls in silence."),
])
def test_fragments_that_read_naturally_pass(lang, style, emotion, position, text):
    assert rules(lang, style, emotion, position, text) == set()


@pytest.mark.parametrize("lang, style, emotion, position, text, expected", [
    # round-5 failures
    ("en", "poetic", "surprise", "suffix", ", like a flower in winter.", {"glued", "simile"}),
    ("zh", "poetic", "surprise", "suffix", "，措手不及，却很美。", {"glued"}),
    ("zh", "poetic", "surprise", "suffix", "。像冬天忽然开了花。", {"simile"}),
    ("en", "poetic", "happiness", "prefix", "Like petals opening, ", {"glued", "simile", "weak-prefix"}),
    ("en", "wholesome", "anger", "suffix", ". Your feelings are valid.", {"second-person"}),
    ("zh", "wholesome", "sadness", "suffix", "。你已经很努力了。", {"second-person"}),
    ("zh", "dramatic", "disgust", "prefix", "退下！", {"exclamation-prefix", "weak-prefix"}),
    ("zh", "dramatic", "fear", "prefix", "吾觉不妙！", {"exclamation-prefix"}),
    ("en", "retro", "happiness", "suffix", ". Ghastly, simply gross.", {"emotion"}),
    # round-6 failures
    ("zh", "retro", "fear", "suffix", "。这可比老式电梯还吓人。", {"comparison", "scene"}),
    ("en", "retro", "happiness", "suffix", ". Happier than a kid with a new VHS tape.", {"comparison"}),
    ("en", "wholesome", "disgust", "prefix", "Gently: ", {"weak-prefix"}),
    ("en", "dramatic", "happiness", "prefix", "At long last: ", {"weak-prefix"}),
    ("zh", "slang", "neutral", "prefix", "【今日无事】", {"weak-prefix"}),
    ("zh", "poetic", "disgust", "prefix", "写给不堪的一幕：", {"weak-prefix"}),
    ("en", "anime", "happiness", "prefix", "(yay): ", {"weak-prefix"}),  # a word in brackets is no kaomoji
    ("en", "sarcastic", "surprise", "suffix", ". Of course it did.", {"denies-surprise"}),
    ("zh", "sarcastic", "surprise", "suffix", "。谁能想到呢（所有人）。", {"denies-surprise"}),
    ("en", "sarcastic", "sadness", "suffix", ". Great. Fantastic. Thrilled.", {"emotion"}),
    ("zh", "slang", "any", "suffix", "。快乐直接拉满！", {"mood-neutral", "marker"}),
    ("en", "poetic", "any", "suffix", "~ The page turns.", {"marker"}),
    # round-7 failures: a mood-neutral line that comforts presupposes a hard day, one that treasures a good one
    ("zh", "wholesome", "any", "suffix", "。今天也辛苦了。", {"presupposes", "marker"}),
    ("zh", "wholesome", "any", "suffix", "。抱抱今天的自己。", {"presupposes", "marker"}),
    ("en", "wholesome", "any", "suffix", ". Holding space for this one.", {"presupposes", "marker"}),
    ("en", "retro", "any", "suffix", ". Saving this one for the scrapbook.", {"presupposes", "tags", "marker"}),
    # rounds 7-9: on an uncertain reading a remark, however neutral it looks, misses or flips the sentence's mood;
    # the mood-neutral cell holds style markers only
    ("en", "wholesome", "any", "suffix", ". A little piece of today.", {"marker"}),
    ("zh", "sarcastic", "any", "suffix", "。已阅，不予置评。", {"marker"}),
    ("zh", "anime", "any", "suffix", "。(・ω・)", {"marker"}),  # a kaomoji alone, without an opener of its own
    ("en", "poetic", "any", "suffix", "... And on it goes...", {"marker"}),
    ("zh", "dramatic", "any", "prefix", "【吾之命运又添一笔】", {"marker"}),  # a label, but a remark
    ("en", "retro", "any", "prefix", "Bulletin from the desk of fate: ", {"marker"}),
    # an address is one voice marker of the style and nothing more; a comma ends no other prefix
    ("zh", "slang", "any", "prefix", "家人们都懂，", {"marker"}),
    ("en", "slang", "any", "prefix", "Honestly, ", {"marker", "weak-prefix"}),
    ("en", "slang", "neutral", "prefix", "Chat, ", {"glued"}),
    ("zh", "wholesome", "sadness", "suffix", "。抱抱今天的自己。", set()),  # fine where the sentence is sad
    # a situation the sentence did not set: taxonomy scene words and situation words alike
    ("zh", "retro", "any", "suffix", "。夹进旧相册里。", {"scene", "tags", "marker"}),
    ("en", "poetic", "disgust", "suffix", ". Hair in the sink again.", {"scene"}),
    # the other rules
    ("zh", "anime", "surprise", "suffix", "？！诶诶诶？！", {"glued"}),
    ("en", "slang", "sadness", "suffix", ". big L.", {"casing"}),
    ("en", "slang", "sadness", "prefix", "lowkey sad: ", {"casing"}),
    ("zh", "slang", "neutral", "suffix", "。平平无奇一天+1", {"ending"}),
    ("zh", "slang", "happiness", "suffix", "。火锅自由了，快乐直接拉满到顶了！", {"scene", "length"}),
    ("zh", "slang", "neutral", "suffix", "。平无奇。", {"doubled"}),
    ("en", "anime", "neutral", "suffix", ". Okay! (￣ω￣", {"brackets", "ending"}),
])
def test_each_rule_names_the_fragments_that_break_it(lang, style, emotion, position, text, expected):
    assert rules(lang, style, emotion, position, text) == expected


@pytest.mark.parametrize("lang, style, emotion, position, text, tags, expected", [
    # round 8: words that presuppose the sentence's situation need their tag, so restyle can keep them off
    ("en", "retro", "neutral", "suffix", ". Roll the end credits.", "", {"tags"}),
    ("en", "retro", "neutral", "suffix", ". Roll the end credits.", "past", set()),
    ("en", "retro", "neutral", "suffix", ". Filed under memories.", "", {"tags"}),
    ("zh", "retro", "sadness", "suffix", "……那些年啊，回不去了。", "", {"tags"}),
    ("zh", "retro", "sadness", "suffix", "……那些年啊，回不去了。", "past", set()),
    ("zh", "slang", "disgust", "suffix", "。辣眼睛。", "", {"tags"}),
    ("zh", "slang", "disgust", "suffix", "。辣眼睛。", "sight", set()),
    ("en", "sarcastic", "disgust", "suffix", ". Mmm, love that for my eyes.", "", {"tags"}),
    ("zh", "anime", "neutral", "suffix", "。本宝宝都听到了 (・ω・)", "", {"tags"}),
    ("zh", "anime", "surprise", "prefix", "（揉眼睛）", "", set()),  # the poster's own eyes: no sight presupposed
    ("en", "slang", "neutral", "suffix", ". Core memory status: pending.", "", set()),
    ("en", "wholesome", "any", "suffix", ". One day at a time.", "", {"tags", "presupposes", "marker"}),
    ("zh", "wholesome", "neutral", "suffix", "。记下来，都是日子的一部分。", "", {"tags"}),
    ("zh", "wholesome", "neutral", "suffix", "。记下来，都是日子的一部分。", "calm", set()),
    ("en", "wholesome", "anger", "suffix", ". It's okay to be mad.", "", set()),  # validates the anger
    # a calming line calms an aroused emotion away, tagged or not
    ("en", "wholesome", "disgust", "suffix", ". Protecting my peace.", "", {"tags"}),
    ("en", "wholesome", "disgust", "suffix", ". Protecting my peace.", "calm", {"calm-mood"}),
    ("zh", "wholesome", "anger", "prefix", "（深呼吸）", "calm", {"calm-mood"}),
    ("zh", "wholesome", "surprise", "suffix", "。慢慢消化一下。", "calm", {"calm-mood"}),
    ("en", "wholesome", "sadness", "suffix", ". It's okay to not be okay.", "calm", set()),  # comfort suits sadness
    ("en", "slang", "neutral", "suffix", ". It is what it is.", "calm", set()),
    ("en", "slang", "neutral", "suffix", ". It is what it is.", "wistful", {"tags"}),  # unknown tag
])
def test_tag_rules(lang, style, emotion, position, text, tags, expected):
    assert rules(lang, style, emotion, position, text, tags) == expected


def test_a_voices_file_with_tags_checks_them_and_their_coverage(tmp_path):
    path = tmp_path / "voices.tsv"
    rows = [f"en\tslang\tneutral\tsuffix\t. It is what it is {k}.\tcalm\n" for k in range(4)]
    rows += [f"en\tslang\tneutral\tsuffix\t. Vibes {k}.\t\n" for k in range(2)]
    path.write_text(HEADER.rstrip("\n") + "\ttags\n" + "".join(rows), encoding="utf-8")
    problems = "\n".join(voices_check.validate(path))
    assert f"{path}: coverage: en/slang/neutral has 2 suffixes without tag calm, needs >= 3" in problems
    assert "needs >= 6 distinct suffixes" not in problems.split("en/slang/neutral")[1].split("\n")[0]
    bad = tmp_path / "bad.tsv"
    bad.write_text(HEADER.rstrip("\n") + "\ttags\nen\tslang\tneutral\tsuffix\t. Vibes.\twistful\n", encoding="utf-8")
    assert voices_check.main(["--path", str(bad)]) == 2  # the runtime's reader refuses an unknown tag


def test_a_voices_file_reports_lines_duplicates_and_coverage(tmp_path):
    path = tmp_path / "voices.tsv"
    path.write_text(HEADER + "zh\tslang\tsadness\tsuffix\t。破防了家人们。\n"
                             "zh\tslang\tsadness\tsuffix\t，emo了。\n"
                             "zh\tslang\tsadness\tsuffix\t。破防了家人们。\n", encoding="utf-8")
    problems = voices_check.validate(path)
    assert f"{path}:3: glued: " in "\n".join(problems)
    assert any(p.startswith(f"{path}:4: duplicate: same text as line 2") for p in problems)
    assert f"{path}: coverage: zh/slang/sadness needs >= 6 distinct suffixes" in "\n".join(problems)
    assert f"{path}: coverage: zh/slang/any needs >= 2 distinct markers" in "\n".join(problems)
    assert voices_check.main(["--path", str(path)]) == 1


def test_a_mood_neutral_cell_needs_two_distinct_markers(tmp_path):
    path = tmp_path / "voices.tsv"
    path.write_text(HEADER + "en\tpoetic\tany\tsuffix\t...\n", encoding="utf-8")
    assert f"{path}: coverage: en/poetic/any needs >= 2 distinct markers" in "\n".join(voices_check.validate(path))
    path.write_text(HEADER + "en\tpoetic\tany\tsuffix\t...\nen\tpoetic\tany\tprefix\t*softly* \n", encoding="utf-8")
    assert not [p for p in voices_check.validate(path) if "en/poetic/any" in p]


def test_a_cell_with_more_than_two_prefixes_is_named(tmp_path):
    path = tmp_path / "voices.tsv"
    rows = [f"en\tslang\tanger\tsuffix\t. Big mad, ngl {k}.\n" for k in range(6)]
    rows += [f"en\tslang\tanger\tprefix\t{p}\n" for p in ("POV: ", "Bro: ")]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    assert not [p for p in voices_check.validate(path) if "prefixes:" in p]
    path.write_text(HEADER + "".join(rows) + "en\tslang\tanger\tprefix\tNgl: \n", encoding="utf-8")
    assert f"{path}: prefixes: en/slang/anger has 3 prefixes, at most 2" in "\n".join(voices_check.validate(path))
    assert voices_check.main(["--path", str(tmp_path / "missing.tsv")]) == 2


def record(**kw) -> dict:
    base = {"kind": "restyle", "row": 0, "lang": "en", "label": "anger", "inferred": "anger", "style": "poetic",
            "source": "Got elbowed on purpose playing basketball", "position": "suffix",
            "fragment": ". A storm rose in my chest.", "output": "Got elbowed on purpose playing basketball. "
                                                                  "A storm rose in my chest."}
    return {**base, **kw}


def test_audit_classes_of_round5_failures():
    assert restyle_audit.classes(record()) == []
    assert restyle_audit.classes(record(inferred="surprise", fragment=", like a flower in winter.",
                                        output="Got elbowed on purpose playing basketball, like a flower in "
                                               "winter.")) == ["a_glued", "b_emotion"]
    assert restyle_audit.classes(record(lang="zh", style="dramatic", label="happiness", inferred="disgust",
                                        source="楼下新开的奶茶店真好喝", position="prefix", fragment="退下！",
                                        output="退下！楼下新开的奶茶店真好喝")) == ["b_emotion",
                                                                                  "d_exclamation_prefix",
                                                                                  "g_weak_prefix"]
    # a join that adds what the sentence did not have
    assert restyle_audit.classes(record(output="Got elbowed on purpose playing basketball!. A storm rose in my "
                                               "chest.")) == ["e_other"]


def test_audit_classes_of_round6_failures():
    # a mood-neutral fragment on an uncertain sentence is no mood clash; an emotion's cell of another emotion is
    assert restyle_audit.classes(record(inferred="happiness", cell="any", position="prefix", fragment="*softly* ",
                                        output="*softly* Got elbowed on purpose playing basketball")) == []
    # rounds 7-9: a remark in the mood-neutral cell, not a style marker
    assert restyle_audit.classes(record(inferred="happiness", cell="any", fragment=". Anyway.",
                                        output="Got elbowed on purpose playing basketball. Anyway.")) == ["j_remark"]
    assert restyle_audit.classes(record(style="sarcastic", label="surprise", inferred="surprise",
                                        fragment=". Of course it did.", output="x. Of course it did.")) == [
        "f_mood_rule"]
    assert restyle_audit.classes(record(style="wholesome", label="disgust", inferred="disgust", position="prefix",
                                        fragment="Gently: ", output="Gently: the smell")) == ["g_weak_prefix"]
    assert restyle_audit.classes(record(lang="zh", style="retro", label="fear", inferred="fear",
                                        fragment="。这可比老式电梯还吓人。", output="x。这可比老式电梯还吓人。")) == [
        "e_other", "h_comparison"]  # 电梯 is a situation word too (rule scene)


def test_audit_counts_fragments_the_sentence_contradicts():
    # round 8: a retrospective line on a trip not yet begun; a sight line on a smell; calm on excitement
    trip = record(label="happiness", inferred="happiness", cell="any", style="retro", source="Flying out tomorrow",
                  fragment=". Roll the end credits.", output="Flying out tomorrow. Roll the end credits.")
    assert restyle_audit.classes(trip) == ["i_presupposition", "j_remark"]
    assert restyle_audit.classes({**trip, "source": "Flew back yesterday",
                                  "output": "Flew back yesterday. Roll the end credits."}) == ["j_remark"]
    smell = record(lang="zh", label="disgust", inferred="disgust", style="wholesome", source="车厢里的味道太冲了",
                   fragment="。看不惯的就不看啦。", output="车厢里的味道太冲了。看不惯的就不看啦。")
    assert restyle_audit.classes(smell) == ["i_presupposition"]  # a fragment no longer bundled: tags from its words
    calm = record(label="happiness", inferred="happiness", cell="any", style="wholesome", source="We won the cup!",
                  fragment=". One day at a time.", output="We won the cup! One day at a time.")
    assert "i_presupposition" in restyle_audit.classes(calm)


def test_audit_runs_on_sources_and_counts(tmp_path):
    sources = [{"lang": "zh", "emotion": "sadness", "text": "期末考砸了，心里好难受"},
               {"lang": "en", "emotion": "neutral", "text": "Had leftovers for lunch again"}]
    records = restyle_audit.dump(sources, [{"lang": "en", "emotion": "sadness", "text": "I feel awful"}])
    voices = read_voices()
    # the sentence with cue words gets its emotion's cells; the plain one (no cue, an unsure naive Bayes) the
    # mood-neutral cells
    sizes = [len(voices[("zh", s, "sadness")]) + len(voices[("en", s, "any")]) for s in STYLES[1:]]
    summary = restyle_audit.summary(records)
    assert summary["per_style"]["all"]["outputs"] == len(records) - 1 == sum(sizes)
    assert {r["cell"] for r in records if r["kind"] == "restyle"} == {"sadness", "any"}
    assert summary["per_style"]["all"]["any_cell"] == sum(len(voices[("en", s, "any")]) for s in STYLES[1:])
    assert summary["per_style"]["all"].get("b_emotion", 0) == 0
    assert summary["emotion_accuracy"]["chat_messages"] == {"right": 1, "of": 1, "certain_right": 1, "certain": 1}
    assert summary["emotion_accuracy"]["restyle_sources"]["of"] == 2
    assert summary["emotion_accuracy"]["restyle_sources"]["certain"] == 1
    assert f"| all | {sum(sizes)} |" in restyle_audit.markdown("test", summary)
