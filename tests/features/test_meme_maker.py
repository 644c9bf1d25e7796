"""The main job on real photos: faces -> emotion -> caption -> rendered meme (bundled models)."""
from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest
from PIL import Image

import edgekit
from edgekit.assets import demo_photo
from edgekit.captioning.taxonomy import EMOTIONS, STYLES
from edgekit.errors import ConfigError, ImageReadError, InputError, NoFaceError
from edgekit.meme import Meme, make_meme, meme_styles
from edgekit.meme.canvas import MAX_SIDE, MIN_SIDE, intersects
from edgekit.meme.fonts import font_chain


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return edgekit.load_image(demo_photo())


@pytest.fixture(scope="module")
def cjk_font():
    """Chinese always renders: installed CJK fonts or edgekit's bundled ones (never a skip)."""
    assert font_chain("zh").face_for("中") is not None


@pytest.fixture(scope="module")
def two_faces(photo) -> np.ndarray:
    """A bigger face on the left, a smaller one (70%) on the right."""
    crop = photo[30:260, 110:340]
    small = cv2.resize(crop, None, fx=0.7, fy=0.7)
    canvas = np.full((240, 480, 3), 200, np.uint8)
    canvas[5:235, 5:235] = crop
    canvas[20:20 + small.shape[0], 250:250 + small.shape[1]] = small
    return canvas


def caption_pixels(meme: Meme) -> np.ndarray:
    before = np.asarray(meme.composition.canvas, dtype=np.int16)
    return np.abs(before - np.asarray(meme.image, dtype=np.int16)).max(axis=2) > 0


def test_meme_from_the_demo_photo(photo, cjk_font):
    meme = make_meme(photo, seed=7)
    assert isinstance(meme.image, Image.Image) and meme.image.mode == "RGB" and meme.image.size == (512, 512)
    assert meme.caption and meme.face_index == 0 and meme.emotion in EMOTIONS
    assert meme.face is meme.faces[0] and meme.caption_info.style in STYLES and meme.lang == "zh"
    face = meme.to_meme_pixels(meme.face)
    assert not intersects(face, meme.text_box)
    x0, y0, x1, y1 = (int(v) for v in face)
    drawn = caption_pixels(meme)
    assert drawn.sum() > 1000 and not drawn[y0:y1, x0:x1].any()
    record = json.loads(json.dumps(meme.to_dict(), ensure_ascii=False))
    assert record["caption"] == meme.caption and record["faces"] == 1 and record["style"] == meme.style


def test_same_seed_same_caption_and_options_reach_the_captioner(photo):
    from edgekit.captioning import default_captioner

    a = make_meme(photo, seed=3, style="sarcastic", scene="work", lang="en")
    default_captioner().reset_recent()  # the captioner otherwise never repeats a recent caption
    b = make_meme(photo, seed=3, style="sarcastic", scene="work", lang="en")
    assert a.caption == b.caption and a.caption.isascii()
    assert (a.caption_info.style, a.caption_info.scene, a.lang) == ("sarcastic", "work", "en")


def test_own_text_is_rendered_as_given(photo, cjk_font):
    meme = make_meme(photo, text="  周一的我  ")
    assert meme.caption == "周一的我" and meme.caption_info is None and meme.style is None
    assert meme.to_dict()["caption_source"] == "user"


def test_no_face_needs_text_and_renders_with_it():
    blank = np.full((300, 400, 3), 120, np.uint8)
    with pytest.raises(NoFaceError, match="--text"):
        make_meme(blank)
    meme = make_meme(blank, text="no face, no problem")
    assert meme.face is None and meme.face_index is None and meme.emotion is None
    assert caption_pixels(meme).sum() > 500


def test_several_faces_largest_by_default_or_chosen_left_to_right(two_faces):
    default = make_meme(two_faces, text="who, me?")
    assert len(default.faces) == 2
    left, right = default.faces
    assert left.box.x < right.box.x and left.box.area > right.box.area
    assert default.face_index == 0 and default.face is left
    chosen = make_meme(two_faces, text="who, me?", face=1)
    assert chosen.face is chosen.faces[1] and chosen.face.box.x > 200
    for box in chosen.faces:  # the caption avoids every face when it can, the chosen one always
        assert not intersects(chosen.to_meme_pixels(box), chosen.text_box) or box is not chosen.face
    with pytest.raises(InputError, match="no face 2: 2 face"):
        make_meme(two_faces, text="x", face=2)
    with pytest.raises(ConfigError, match=r"face=-1: must be an integer >= 0\. faces are numbered left to right"):
        make_meme(two_faces, text="x", face=-1)
    with pytest.raises(ConfigError, match="face='1': must be an integer >= 0"):
        make_meme(two_faces, text="x", face="1")


def test_precomputed_faces_skip_detection(photo):
    faces = edgekit.analyze(photo)
    meme = make_meme(photo, faces=faces, text="reuse")
    assert meme.faces == faces
    assert make_meme(photo, faces=[], text="pretend there is no face").face is None


def test_meme_styles_one_style_each(photo):
    memes = meme_styles(photo, 3, lang="en", seed=1)
    assert len(memes) == 3 and len({m.style for m in memes}) == 3 and len({m.caption for m in memes}) == 3
    for bad in (0, 9, True):
        with pytest.raises(ConfigError):
            meme_styles(photo, bad)


@pytest.mark.parametrize("shape, expected_long", [((3000, 4000), MAX_SIDE), ((64, 64), MIN_SIDE)])
def test_huge_and_tiny_photos_are_resized(photo, shape, expected_long):
    resized = cv2.resize(photo, shape[::-1], interpolation=cv2.INTER_AREA if shape[0] > 512 else cv2.INTER_LINEAR)
    meme = make_meme(resized, text="size check")
    assert max(meme.image.size) == expected_long
    assert meme.scale == pytest.approx(expected_long / max(shape), rel=0.01)
    if meme.face is not None:  # mapped face boxes land on the resized photo
        x0, y0, x1, y1 = meme.to_meme_pixels(meme.face)
        assert 0 <= x0 < x1 <= meme.image.width and 0 <= y0 < y1 <= meme.image.height


def test_save_formats(photo, tmp_path):
    meme = make_meme(photo, text="save me")
    for suffix in (".png", ".jpg", ".webp"):
        path = meme.save(tmp_path / "sub" / f"m{suffix}")
        assert Image.open(path).size == meme.image.size
    with pytest.raises(ConfigError, match="make_gif"):
        meme.save(tmp_path / "m.gif")
    with pytest.raises(ConfigError, match="unsupported"):
        meme.save(tmp_path / "m.txt")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="cannot be written"):
        meme.save(tmp_path / "file" / "m.png")


@pytest.mark.parametrize("kwargs, match", [
    ({"lang": "fr"}, "language"), ({"style": "baroque"}, "style"), ({"scene": 42}, "scene"),
    ({"placement": "middle"}, "placement"),
])
def test_bad_options(photo, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        make_meme(photo, text="x", **kwargs)


def test_bad_photos(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    for bad in (tmp_path / "missing.jpg", tmp_path / "empty.png", tmp_path):
        with pytest.raises(ImageReadError):
            make_meme(bad, text="x")


def test_generated_caption_with_an_undrawable_glyph_is_replaced(photo, cjk_font, monkeypatch):
    """The caption model can emit a glyph no installed font has (a kaomoji's ๑ without
    fonts-noto-core): a generated caption is then replaced; the user's own text never is."""
    import edgekit.captioning as captioning
    from edgekit.errors import FontError
    from edgekit.meme import maker

    undrawable = "\U000F0000"  # Supplementary Private Use Area: no font has it
    real = captioning.caption
    calls = []

    def caption(*args, **kwargs):
        calls.append(kwargs.get("seed"))
        out = real(*args, **kwargs)
        if len(calls) < 3:
            out[0] = dataclasses.replace(out[0], text=out[0].text + undrawable)
        return out

    monkeypatch.setattr(captioning, "caption", caption)
    meme = make_meme(photo, seed=11, lang="en")
    assert calls == [11, 12, 13] and undrawable not in meme.caption
    calls.clear()
    monkeypatch.setattr(maker, "CAPTION_ATTEMPTS", 2)
    with pytest.raises(FontError, match="no installed font has glyphs"):
        make_meme(photo, seed=11, lang="en")
    with pytest.raises(FontError):
        make_meme(photo, text="mine " + undrawable, lang="en")
