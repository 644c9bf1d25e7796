"""edgekit's own caption fonts: every caption edgekit can write renders with no system fonts."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgekit import glyphs
from edgekit.captioning.library import LIBRARY_PATH, Library, read_library
from edgekit.captioning.tokenizer import CaptionTokenizer
from edgekit.errors import FontError, ModelIntegrityError
from edgekit.meme import fonts as meme_fonts
from edgekit.registry import MODELS_DIR

ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "edgekit" / "assets" / "astronaut.png"


def _clear() -> None:
    for fn in (glyphs._descriptor, glyphs.font_files, glyphs._coverage, meme_fonts._chain_cached,
               meme_fonts.installed_fonts):
        fn.cache_clear()


@pytest.fixture()
def no_system_fonts(monkeypatch):
    """A machine with no fontconfig and no font folders: only edgekit's fonts and Pillow's."""
    monkeypatch.setattr(meme_fonts, "_fc_list", lambda pattern="": ())
    monkeypatch.setattr(meme_fonts, "FONT_DIRS", ())
    _clear()
    yield
    _clear()


def test_fonts_are_built_and_described():
    data = json.loads(glyphs.DESCRIPTOR.read_text(encoding="utf-8"))
    assert data["format"] == "edgekit-fonts" and len(data["fonts"]) >= 2
    assert all(f["licence"] and f["source"]["package"].count("==") == 1 for f in data["fonts"])
    assert len(glyphs.font_files()) == len(data["fonts"])
    for ch in "这波快乐直接拉满！(≧∇≦)ノ Hello 😂🎉":
        assert glyphs.covers(ch), ch


def test_every_generated_caption_character_is_drawable():
    """Tokens the fonts lack are never sampled; library captions with them are never picked; and
    the only such characters are the ones fonts.json declares missing."""
    from edgekit.captioning.captioner import Captioner

    missing = set(json.loads(glyphs.DESCRIPTOR.read_text(encoding="utf-8"))["caption_characters_missing"])
    captioner = Captioner(source="model")
    tok = captioner.tokenizer
    for token in range(tok.n_controls, tok.vocab_size):
        text = tok.decode([token])
        if not captioner._banned[token]:
            assert glyphs.drawable(text), (token, text)
        elif token != 3:  # <eos> is handled apart
            assert set(text) & missing, (token, text)
    assert all(glyphs.drawable(e.text) for e in captioner.library.entries)
    dropped = [e.text for e in read_library(LIBRARY_PATH) if not glyphs.drawable(e.text)]
    assert all(set(t) & missing for t in dropped)
    assert len(dropped) < 0.005 * len(read_library(LIBRARY_PATH))  # 39 of 10,752 today


def test_chinese_kaomoji_and_emoji_render_without_system_fonts(no_system_fonts):
    chain = meme_fonts.font_chain("zh")
    assert meme_fonts.installed_fonts() == ()
    text = "这波快乐直接拉满！(≧∇≦)ノ 🎉"
    runs = chain.runs(text)
    assert {Path(face.path).parent for _, face in runs} == {glyphs.FONTS_DIR}
    before = np.asarray(Image.open(PHOTO).convert("RGB"))
    out = np.asarray(meme_fonts_render(text))
    assert out.shape[1] == before.shape[1] and np.abs(out[: before.shape[0]].astype(int) - before).sum() > 0


def meme_fonts_render(text: str) -> Image.Image:
    from edgekit import render_caption

    return render_caption(str(PHOTO), text, lang="zh").convert("RGB")


def test_text_no_font_covers_is_still_a_clear_error(no_system_fonts):
    with pytest.raises(FontError, match="no installed font has glyphs for 'ꈊ'"):
        meme_fonts.font_chain("zh").check("ꈊ")


def test_tampered_bundled_font_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "fonts"
    shutil.copytree(glyphs.FONTS_DIR, copy)
    target = copy / json.loads((copy / "fonts.json").read_text())["fonts"][0]["file"]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    monkeypatch.setattr(glyphs, "FONTS_DIR", copy)
    monkeypatch.setattr(glyphs, "DESCRIPTOR", copy / "fonts.json")
    _clear()
    try:
        with pytest.raises(ModelIntegrityError, match="sha256 mismatch") as err:
            glyphs.font_files()
        assert str(target) in str(err.value) and "converters.thirdparty" in str(err.value)
    finally:
        _clear()


def test_library_load_keeps_drawable_captions(tmp_path):
    from edgekit.captioning.library import write_library

    rows = read_library(LIBRARY_PATH)[:3]
    lib = tmp_path / "lib.tsv"
    write_library(lib, rows + [rows[0]._replace(text="(((;꒪ꈊ꒪;)))")])
    assert [e.text for e in Library.load(lib).entries] == [r.text for r in rows]


def test_tokenizer_file_is_the_one_fonts_were_built_for():
    """The fonts are rebuilt when the caption vocabulary changes (converters.thirdparty checks the
    character count); a stale build would leave new characters undrawn."""
    tok = CaptionTokenizer.load(MODELS_DIR / "caption_tokenizer.json")
    chars = {c for piece in tok.atoms + tok.words + tok.chars for c in piece if c.isprintable() and not c.isspace()}
    declared_missing = set(json.loads(glyphs.DESCRIPTOR.read_text(encoding="utf-8"))["caption_characters_missing"])
    assert all(glyphs.covers(c) or c in declared_missing for c in chars)


def test_bundled_cjk_font_takes_the_cjk_place_when_none_is_installed(monkeypatch):
    """With only a Latin system font, a Chinese chain starts with edgekit's CJK font (the Latin
    font comes second); an English chain starts with the Latin font."""
    latin = meme_fonts.InstalledFont("/usr/share/fonts/x/DejaVuSans-Bold.ttf", 0, "DejaVu Sans", "Bold")
    monkeypatch.setattr(meme_fonts, "installed_fonts", lambda: (latin,))
    loaded = {}

    def fake_load(font, index=0):
        path = font.path if isinstance(font, meme_fonts.InstalledFont) else str(font)
        return loaded.setdefault(path, meme_fonts.FontFace(path, 0, Path(path).name))

    monkeypatch.setattr(meme_fonts, "load_face", fake_load)
    meme_fonts._chain_cached.cache_clear()
    try:
        zh = meme_fonts._chain_cached("zh", None, 0)
        en = meme_fonts._chain_cached("en", None, 0)
    finally:
        meme_fonts._chain_cached.cache_clear()
    assert zh.faces[0].path == str(glyphs.font_files()[0]) and zh.faces[len(glyphs.font_files())].path == latin.path
    assert en.faces[0].path == latin.path and en.faces[1].path == str(glyphs.font_files()[0])
