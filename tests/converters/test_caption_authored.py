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


def test_situation_words_only_in_none_rows(tmp_path):
    """The validator applies the runtime's situation check (edgekit/captioning/situation.py, tested in
    tests/features/test_caption_situation.py) to ``none`` rows only."""
    folder = write(tmp_path, "zh\thappiness\tplain\tfamily\t谁把我的充电器拿走了？算了，今天心情好\n"
                             "en\thappiness\tplain\tfamily\tWho left hair in the sink? Still smiling\n"
                             "en\thappiness\tpoetic\tnone\tMy worries are sinking like stones\n"
                             "zh\thappiness\tplain\tnone\t楼上说得对，今天真的很开心\n")
    assert problems_of(folder) == []


def test_situation_word_problems_name_file_and_line(tmp_path):
    folder = write(tmp_path, "zh\tfear\tplain\tnone\t有点慌，但问题不大\n"
                             "zh\tfear\tplain\tnone\t听见牙医的电钻声，腿先软了\n"
                             "en\tfear\tplain\tnone\tUnknown number calling for the third time\n", name="fear.tsv")
    problems = problems_of(folder)
    assert [p.split(": ")[0] for p in problems] == ["fear.tsv:3", "fear.tsv:4"], problems
    assert "'牙医'" in problems[0] and "'unknown number'" in problems[1]


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
