"""Caption segmentation, line breaking and shrink-to-fit (edgekit.meme.segment / layout / fonts)."""
from __future__ import annotations

import pytest

from edgekit.errors import FontError
from edgekit.meme.fonts import find_font, font_chain, load_face
from edgekit.meme.layout import block_height, fit_text
from edgekit.meme.render import CLASSIC, draw_block
from edgekit.meme.segment import NO_LINE_END, NO_LINE_START, clusters, tokenize

LONG_ZH = "今天终于把拖了三个月的报告交上去了，老板说写得不错，结果下午又来了三个新需求，我真的会谢！"
LONG_EN = "when the meeting could have been an email but you still had to pretend to take notes for an hour"


@pytest.fixture(scope="module")
def zh_chain():
    return font_chain("zh")  # installed CJK fonts or edgekit's bundled ones


@pytest.fixture(scope="module")
def en_chain():
    return font_chain("en")


def visible(text):
    return [(t.text, t.kind) for t in tokenize(text) if t.visible]


# ------------------------------------------------------------------------------ segmentation


@pytest.mark.parametrize("kaomoji", ["(≧∇≦)ノ", "٩(◕‿◕)۶", "(｡•́︿•̀｡)", "ヽ(°〇°)ﾉ", "(*^▽^*)", "(╯°□°)╯︵"])
def test_kaomoji_are_single_tokens_in_any_context(kaomoji):
    for text in (f"开心到飞起{kaomoji}", f"so happy {kaomoji} today", kaomoji):
        assert (kaomoji, "kaomoji") in visible(text), text


def test_parenthesised_words_are_not_kaomoji():
    assert visible("(so true) really") == [("(so", "word"), ("true)", "word"), ("really", "word")]
    assert all(kind != "kaomoji" for _, kind in visible("我（真的）很累"))


def test_cjk_breaks_per_character_with_kinsoku_glue():
    tokens = visible("“开心”到飞起！！好累……（哭）")
    texts = [t for t, _ in tokens]
    assert texts == ["“开", "心”", "到", "飞", "起！！", "好", "累……", "（哭）"]
    for text in texts:
        assert text[0] not in NO_LINE_START and text[-1] not in NO_LINE_END


def test_latin_words_keep_their_punctuation_and_mixed_text_splits_by_script():
    assert visible("Kyaa~ peak happiness!") == [("Kyaa~", "word"), ("peak", "word"), ("happiness!", "word")]
    assert [t for t, _ in visible("Hello，世界。10点见~")] == ["Hello，", "世", "界。", "10", "点", "见~"]


def test_emoji_sequences_stay_whole():
    family, flag, thumbs, keycap = "👨\u200d👩\u200d👧", "🇨🇳", "👍🏽", "1\ufe0f\u20e3"
    assert clusters(family + flag + thumbs + keycap) == [family, flag, thumbs, keycap]
    assert [k for _, k in visible(f"ok {family}{flag}")] == ["word", "emoji", "emoji"]
    assert clusters("e\u0301x") == ["e\u0301", "x"]  # combining accent stays on its letter


# ------------------------------------------------------------------------------ line breaking


def test_long_chinese_caption_wraps_into_lines_of_bounded_width(zh_chain):
    layout = fit_text(LONG_ZH, zh_chain, 300, 10_000, max_size=32, min_size=32, max_lines=20)
    assert not layout.overflow and layout.size == 32
    lines = layout.line_texts()
    assert len(lines) >= 4
    assert "".join(lines) == LONG_ZH                                  # nothing lost or added
    assert max(layout.line_widths) <= 300
    assert all(line[0] not in NO_LINE_START for line in lines)     # kinsoku: no line starts with ，！
    block = draw_block(layout, CLASSIC)
    x0, _, x1, _ = block.getbbox()
    assert x1 - x0 <= 300 + 2 * CLASSIC.pad_px(32)                  # drawn ink matches the measured width


def test_latin_caption_wraps_at_spaces_only(en_chain):
    layout = fit_text(LONG_EN, en_chain, 320, 10_000, max_size=28, min_size=28, max_lines=20)
    lines = layout.line_texts()
    assert len(lines) >= 3
    assert " ".join(lines) == LONG_EN                                 # breaks only where spaces were
    assert all(line == line.strip() for line in lines)
    assert max(layout.line_widths) <= 320


def test_balanced_lines_do_not_leave_a_lonely_last_character(zh_chain):
    text = "今天的我也是元气满满的一天呀！"
    layout = fit_text(text, zh_chain, 400, 10_000, max_size=48, min_size=48, max_lines=4)
    widths = layout.line_widths
    assert len(widths) >= 2 and min(widths) >= 0.5 * max(widths)


def test_kaomoji_is_never_split_across_lines(zh_chain):
    text = "今天也要加油鸭(≧∇≦)ノ冲冲冲冲冲冲冲"
    for width in (180, 220, 260, 320):
        lines = fit_text(text, zh_chain, width, 10_000, max_size=30, min_size=30, max_lines=20).line_texts()
        assert sum("(≧∇≦)ノ" in line for line in lines) == 1, (width, lines)


def test_hard_line_breaks_are_kept(en_chain):
    layout = fit_text("top text\nbottom text", en_chain, 2000, 2000, max_size=40, min_size=12)
    assert layout.line_texts() == ["top text", "bottom text"]


# ------------------------------------------------------------------------------ shrink to fit


def test_shrink_to_fit_gives_longer_captions_smaller_text(zh_chain):
    def fit(text):
        return fit_text(text, zh_chain, 480, 200, max_size=64, min_size=14, max_lines=4)

    sizes = [fit(t).size for t in ("开心", "今天开心到原地起飞，谁也别想拦住我", LONG_ZH)]
    assert sizes[0] == 64 and sizes[0] > sizes[1] > sizes[2] >= 14
    fitted = fit(LONG_ZH)
    assert len(fitted.lines) <= 4 and fitted.height <= 200 and max(fitted.line_widths) <= 480
    assert fit_text(LONG_ZH, zh_chain, 480, 200, max_size=sizes[2] + 1, min_size=sizes[2] + 1).overflow  # largest


def test_text_that_cannot_fit_is_flagged_and_split(en_chain):
    layout = fit_text("Supercalifragilisticexpialidocious", en_chain, 60, 40, max_size=30, min_size=20)
    assert layout.overflow and layout.size == 20
    assert len(layout.lines) > 1 and "".join(layout.line_texts()) == "Supercalifragilisticexpialidocious"
    assert block_height(len(layout.lines), 20) == layout.height


# ------------------------------------------------------------------------------ fonts


def test_fallback_chain_mixes_fonts_for_kaomoji_and_emoji(zh_chain):
    runs = zh_chain.runs("开心٩(◕‿◕)۶😂")
    faces = [face for _, face in runs]
    assert faces[0] is zh_chain.primary and len(set(map(id, faces))) >= 2
    assert "".join(text for text, _ in runs) == "开心٩(◕‿◕)۶😂"
    if zh_chain.emoji is not None:
        assert runs[-1] == ("😂", zh_chain.emoji)


def test_missing_glyphs_raise_a_font_error_naming_them(en_chain):
    with pytest.raises(FontError) as info:
        en_chain.check("hello \u0378 world")  # U+0378 is unassigned: no font has it
    message = str(info.value)
    assert "U+0378" in message and "--font" in message and "apt install" in message
    assert info.value.missing == ("\u0378",)


def test_bad_font_files_raise_font_errors(tmp_path):
    with pytest.raises(FontError, match="no such font file"):
        load_face(tmp_path / "missing.ttf")
    bogus = tmp_path / "bogus.ttf"
    bogus.write_text("not a font")
    with pytest.raises(FontError, match="cannot be loaded"):
        load_face(bogus)


def test_font_preferences_and_file_name_fallback():
    from edgekit.meme.fonts import InstalledFont

    listed = [InstalledFont("/f/DejaVuSans-Bold.ttf", 0, "DejaVu Sans", "Bold"),
              InstalledFont("/f/NotoSansCJK-Bold.ttc", 2, "Noto Sans CJK SC", "Bold"),
              InstalledFont("/f/NotoSansCJK-Bold.ttc", 0, "Noto Sans CJK JP", "Bold"),
              InstalledFont("/f/NotoColorEmoji.ttf", 0, "Noto Color Emoji", "Regular", color=True)]
    assert find_font("zh", listed) == listed[1]  # the simplified-Chinese face of the collection
    assert find_font("en", listed) == listed[0] and find_font("emoji", listed) == listed[3]
    scanned = [InstalledFont("/usr/share/fonts/x/NotoSansCJK-Bold.ttc"),
               InstalledFont("/usr/share/fonts/x/DejaVuSans.ttf")]
    assert find_font("zh", scanned) == scanned[0]  # no fontconfig: recognised by file name
    assert find_font("emoji", scanned) is None
