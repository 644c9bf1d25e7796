"""The authored caption corpus validator (converters/caption/authored.py) and the committed corpus."""
from __future__ import annotations

from pathlib import Path

import pytest

from converters.caption import authored
from edgekit.captioning.library import read_blocklist
from edgekit.errors import ConfigError

HEADER = "lang\temotion\tstyle\tscene\ttext\n"


def write(folder: Path, rows: str, name: str = "happiness.tsv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(HEADER + rows, encoding="utf-8")
    return folder


def problems_of(folder: Path) -> list:
    return authored.validate(authored.load(folder), read_blocklist())


def test_valid_rows_pass(tmp_path):
    folder = write(tmp_path, "zh\thappiness\tslang\tnone\t这波快乐直接拉满！(≧∇≦)ノ\n"
                             "en\thappiness\twholesome\tpet\tMy cat learned to high-five and I am unwell with joy\n"
                             "zh\thappiness\tplain\tnone\t平平无奇的一天突然变甜了\n")
    assert problems_of(folder) == []


@pytest.mark.parametrize("row,fragment", [
    ("zh\thappy\tslang\tnone\t开心到原地转圈圈", "emotion='happy' not in"),
    ("zh\thappiness\tslang\toffice\t开心到原地转圈圈", "scene='office' not in"),
    ("zh\thappiness\tslang\tnone\t" + "开" * 41, "length 41 outside"),
    ("en\thappiness\tslang\tnone\tWhat the fuck is this joy", "blocklisted term 'fuck'"),
    ("zh\thappiness\tslang\tnone\t今天平无奇但我很开心", "damaged doubled word, expected '平平无奇'"),
    ("zh\thappiness\tslang\tnone\t周末到了快乐加倍", "scene 'none' but the text names the scene 'weekend'"),
    ("en\thappiness\tslang\twork\tThis hotpot slaps so hard", "tagged scene 'work' but the text names 'food'"),
    ("zh\thappiness\tslang\tnone\t开心（但没完全开心", "unbalanced brackets"),
    ("zh\thappiness\tanime\tnone\t开心到飞起ꈊ", "characters no bundled font draws: 'ꈊ'"),
    ("zh\thappiness\tplain\tnone\t收到礼物的那一刻，笑出了声", "scene 'none' but the text names a situation"),
    ("en\thappiness\tplain\tnone\tSmiling at the dentist, somehow", "names a situation (retag it to its scene or "
     "rewrite it): 'dentist'"),
])
def test_each_problem_is_reported_with_file_and_line(tmp_path, row, fragment):
    folder = write(tmp_path, "zh\thappiness\tplain\tnone\t今天的快乐刚刚好\n" + row + "\n")
    problems = problems_of(folder)
    assert len(problems) == 1 and problems[0].startswith("happiness.tsv:3: ") and fragment in problems[0], problems


def test_exact_and_near_duplicates(tmp_path):
    folder = write(tmp_path, "en\thappiness\tslang\tnone\tNo thoughts, just vibes and a huge grin\n"
                             "en\thappiness\tplain\tnone\tNo thoughts, just vibes and a huge grin\n"
                             "en\thappiness\tplain\tnone\tNo thoughts, just vibes and a huge grin!!\n"
                             # other language: not compared
                             "zh\thappiness\tplain\tnone\tNo thoughts, just vibes and a huge grin!!\n")
    problems = problems_of(folder)
    assert any(p.startswith("happiness.tsv:3: duplicate of happiness.tsv:2") for p in problems), problems
    assert any("near duplicate" in p and "happiness.tsv:4" in p for p in problems), problems
    assert not any("happiness.tsv:5" in p and "duplicate" in p for p in problems), problems


def test_trigram_jaccard():
    assert authored.trigrams("abcd") == {"abc", "bcd"}
    pairs = authored.near_duplicates([authored.Caption("en", "fear", "plain", "none", t, f"f:{i}")
                                      for i, t in enumerate(["I am so scared right now", "I am so scared right now!",
                                                             "totally different"])])
    assert len(pairs) == 1 and pairs[0][2] >= 0.8


@pytest.mark.parametrize("content,where",
                         [("lang\temotion\tstyle\ttext\n", ":1"), (HEADER + "zh\thappiness\tplain\t开心\n", ":2")])
def test_malformed_files_name_file_and_line(tmp_path, content, where):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "x.tsv").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"x.tsv{where}"):
        authored.load(tmp_path)


def test_coverage_targets(tmp_path):
    folder = write(tmp_path, "zh\thappiness\tplain\twork\t加班也挡不住我嘴角上扬\n")
    cov = authored.coverage(authored.load(folder))
    text = "\n".join(cov.problems())
    assert "zh: 1 captions, fewer than 3000" in text and "zh: 0% of captions have scene 'none'" in text
    assert "en/neutral/plain: 0 captions" in text
    assert "zh/happiness/plain: 0 of 1 captions have scene 'none', fewer than 30%" in text
    assert "en/neutral/plain: 0 of" not in text  # empty cells are reported as thin, not as lacking 'none' rows


def test_the_committed_corpus_and_its_round_2_drafts_are_valid():
    """The authored corpus passes every check and meets the coverage targets; the lines waiting
    for the next retrain (converters/caption/corpus/drafts) pass every check too, duplicates
    counted against the corpus they will join (one validation of both: it is the slow part)."""
    corpus = authored.load()
    drafts = authored.load(authored.FOLDER.parent / "drafts")
    problems = authored.validate(corpus + drafts, read_blocklist()) + authored.coverage(corpus).problems()
    assert problems == [], "\n".join(problems[:30])
    assert len(drafts) >= 4800


def test_situation_words_only_in_none_rows_and_latin_as_whole_words(tmp_path):
    from converters.caption.situation_words import SITUATION_WORDS, situation_word

    folder = write(tmp_path, "zh\thappiness\tplain\tfamily\t谁把我的充电器拿走了？算了，今天心情好\n"
                             "en\thappiness\tplain\tfamily\tWho left hair in the sink? Still smiling\n"
                             "en\thappiness\tpoetic\tnone\tMy worries are sinking like stones\n"
                             "zh\thappiness\tplain\tnone\t楼上说得对，今天真的很开心\n")
    assert problems_of(folder) == []
    assert situation_word("en", "Alone in the ELEVATOR, grinning") == "elevator"
    assert situation_word("en", "Elevator music energy") == "elevator"  # whole words, any case
    assert situation_word("zh", "半夜三点，凌晨的风") == "凌晨" and situation_word("fr", "dentist") is None
    for lang, words in SITUATION_WORDS.items():
        assert len(set(words)) == len(words) and all(w == w.lower().strip() for w in words), lang


def test_situation_word_problems_name_file_and_line(tmp_path):
    folder = write(tmp_path, "zh\tfear\tplain\tnone\t有点慌，但问题不大\n"
                             "zh\tfear\tplain\tnone\t听见牙医的电钻声，腿先软了\n"
                             "en\tfear\tplain\tnone\tUnknown number calling for the third time\n", name="fear.tsv")
    problems = problems_of(folder)
    assert [p.split(": ")[0] for p in problems] == ["fear.tsv:3", "fear.tsv:4"], problems
    assert "'牙医'" in problems[0] and "'unknown number'" in problems[1]


@pytest.mark.parametrize("lang,text,found", [
    # clock times and the small hours
    ("zh", "读者来信：深夜总听见怪声", "深夜"), ("zh", "坏消息：现在才早上九点。", "早上九点"),
    ("zh", "下午3点开始心慌", "下午3点"), ("zh", "三点了，还是睡不着", "三点"), ("zh", "十点半，我还在发呆", "十点"),
    ("zh", "星期三的我，平平无奇", "星期三"),
    ("en", "Wide awake at 3 a.m. again", "3 a.m."), ("en", "Heated at 9am, somehow", "9am"),
    ("en", "See you at 2, or never", "at 2"), ("en", "Ten o'clock and still shaking", "o'clock"),
    ("en", "Tonight at eight, we ride", "tonight at"), ("en", "Lump in my throat since this morning.", "this morning"),
    ("en", "You've disgusted me before noon", "before noon"), ("en", "Don't google it late at night", "late at night"),
    # message and phone stories
    ("zh", "“对方正在输入”整整五分钟", "正在输入"), ("zh", "消息发出去，一直没回。", "消息发出去"),
    ("zh", "消息发错人了，撤回时间刚好过了", "发错人"),
    ("en", "That text never got a reply.", "text"), ("en", "Not me grinning at my phone like a fool", "my phone"),
    ("en", "Got a voice note that says hi", "voice note"), ("en", "Left on read again", "on read"),
    ("en", "Waiting by the rotary phone.", "by the rotary phone"),
])
def test_situation_patterns_catch_clock_times_the_small_hours_and_message_stories(lang, text, found):
    from converters.caption.situation_words import situation_word

    assert situation_word(lang, text) == found


@pytest.mark.parametrize("lang,text", [
    # days relative to the post, durations, percentages, "a little"
    ("zh", "今晚可以开着灯睡吗？"), ("zh", "这一刻，什么都刚刚好"), ("zh", "慢一点，好一点，一点点"),
    ("zh", "寻人启事：本人的胆子，昨夜走失"),
    ("en", "Can I sleep with the lights on? Just tonight?"), ("en", "Today just went right"),
    ("en", "My anger meter is at 100%!"), ("en", "Social battery at 3%, don't @ me."),
    ("en", "Heart rate at 180. Who needs coffee."), ("en", "I'll check. In the morning. With backup."),
    # the meme answering the chat it is posted in, offers, comparisons
    ("zh", "已读，但不知道回什么。"), ("zh", "好消息！本人今天特别高兴"), ("zh", "我还没回过神来"),
    ("zh", "不敢一个人待着的时候，就给我打电话吧"),
    ("en", "Read your message. Still thinking about it."), ("en", "My courage has left the chat"),
    ("en", "About as clever as a rotary phone."), ("en", "If you're scared to be alone, call me. Any time."),
    ("en", "Ah yes, my favorite texture: mystery goo"),
])
def test_situation_patterns_leave_relative_days_and_the_chat_itself(lang, text):
    from converters.caption.situation_words import situation_word

    assert situation_word(lang, text) is None


def test_situation_pattern_problems_name_file_and_line(tmp_path):
    folder = write(tmp_path, "en\tsadness\tplain\tnone\tThat text never got a reply.\n"
                             "en\tsadness\tplain\tnone\tStill waiting on an answer that isn't coming.\n"
                             "zh\tsadness\tsarcastic\twork\t开会到晚上九点，不想说话\n", name="sadness.tsv")
    problems = problems_of(folder)
    assert [p.split(": ")[0] for p in problems] == ["sadness.tsv:2"], problems
    assert "names a situation" in problems[0] and "'text'" in problems[0]


def test_library_only_rebuild_keeps_the_shipped_tokenizer(tmp_path, monkeypatch, capsys):
    """``python -m converters.caption corpus --library-only``: the library of a corpus edit shipped
    without a retrain; the tokenizer (a pair with the shipped model) is not rewritten."""
    from converters.caption import __main__ as cli, paths, pipeline
    from edgekit.captioning.library import read_library

    monkeypatch.setattr(paths, "LIBRARY_PATH", tmp_path / "library.tsv")
    monkeypatch.setattr(paths, "TOKENIZER", tmp_path / "tokenizer.json")
    pipeline.corpus(tokenizer=False)
    assert read_library(tmp_path / "library.tsv") == authored.to_library(authored.load())
    assert not (tmp_path / "tokenizer.json").exists()
    assert cli.main(["train", "--library-only"]) == 2
    assert "--library-only with stage 'train': applies to the corpus stage only" in capsys.readouterr().err
