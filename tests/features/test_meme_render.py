"""Golden-style checks on meme rendering (no models): where caption pixels land, that they stay
inside the image and off the face, placements, caption bands, size policy, emoji, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgekit import BoundingBox, load_image
from edgekit.assets import demo_photo
from edgekit.errors import ConfigError, FontError, InputError
from edgekit import glyphs
from edgekit.meme import render_caption
from edgekit.meme.canvas import MAX_SIDE, MIN_SIDE, fit_scale
from edgekit.meme.compose import MAX_CAPTION_CHARS, MIN_BAND_WIDTH, chain_for, compose
from edgekit.meme.fonts import find_font, font_chain
from edgekit.meme.render import block_size

#: The face of the demo photo (BlazeFace box, x0 y0 x1 y1, in its 512x512 pixels).
FACE = (177.6, 82.9, 272.9, 178.2)
ZH = "吾之第一次见面，开心到原地起飞，此乃命运的安排！(≧∇≦)ノ"
EN = "Kyaa~ sports day! This is peak happiness! ٩(◕‿◕)۶"


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(demo_photo()).convert("RGB")


@pytest.fixture(scope="module")
def cjk_font():
    """Chinese always renders: installed CJK fonts or edgekit's bundled ones (never a skip)."""
    assert font_chain("zh").face_for("中") is not None


def changed_mask(before: Image.Image, after: Image.Image) -> np.ndarray:
    a, b = np.asarray(before, dtype=np.int16), np.asarray(after, dtype=np.int16)
    return np.abs(a - b).max(axis=2) > 0


def assert_caption_placed_well(comp, face=FACE):
    """Caption pixels: inside the image, inside text_box, none on the face; the block not clipped."""
    image = comp.image()
    w, h = image.size
    mask = changed_mask(comp.canvas, image)
    ys, xs = np.nonzero(mask)
    assert len(xs) > 500, "no caption drawn"
    x0, y0, x1, y1 = comp.text_box
    assert 0 <= x0 and 0 <= y0 and x1 <= w and y1 <= h
    assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1
    px, py = comp.photo_box[:2]  # a caption band above the photo shifts it down
    fx0, fy0, fx1, fy1 = (int(v) for v in (face[0] + px, face[1] + py, face[2] + px, face[3] + py))
    assert not mask[fy0:fy1 + 1, fx0:fx1 + 1].any(), "caption covers the face"
    ox, oy = comp.origin
    bw, bh = block_size(comp.layout, comp.style)
    assert ox >= 0 and oy >= 0 and ox + bw <= w and oy + bh <= h, "caption block clipped by the image border"


@pytest.mark.parametrize("placement", ["auto", "top", "bottom", "bubble"])
@pytest.mark.parametrize("text", [ZH, EN], ids=["zh", "en"])
def test_caption_stays_inside_the_image_and_off_the_face(photo, request, placement, text):
    if text == ZH:
        request.getfixturevalue("cjk_font")
    comp = compose(photo, text, chain_for(text, None), [FACE], placement)
    assert_caption_placed_well(comp)
    if placement in ("top", "bottom"):
        assert comp.placement in (placement, f"band-{placement}")
    if placement == "bubble":
        assert comp.placement.startswith("bubble-") and comp.bubble is not None
        rect, tip = comp.bubble
        assert tip is not None and not (FACE[0] < tip[0] < FACE[2] and FACE[1] < tip[1] < FACE[3])


def test_auto_picks_the_big_free_area_below_the_face(photo, cjk_font):
    comp = compose(photo, ZH, chain_for(ZH, "zh"), [FACE], "auto")
    assert comp.placement == "bottom" and comp.text_box[1] > FACE[3]
    assert comp.layout.size >= 30  # the free area is large: the caption is big, not shrunk to the minimum


def test_face_filling_the_frame_gets_a_caption_band(photo, cjk_font):
    closeup = photo.crop((150, 60, 300, 210))  # the face fills this crop
    face = (FACE[0] - 150, FACE[1] - 60, FACE[2] - 150, FACE[3] - 60)
    comp = compose(closeup, ZH, chain_for(ZH, "zh"), [face], "auto")
    assert comp.placement == "band-bottom"
    px, py, pw, ph = comp.photo_box
    assert comp.canvas.height > ph and comp.text_box[1] >= py + ph  # text below the photo
    image = comp.image()
    assert np.array_equal(np.asarray(image.crop((px, py, px + pw, py + ph))), np.asarray(closeup))  # photo untouched
    top = compose(closeup, ZH, chain_for(ZH, "zh"), [face], "top")
    assert top.placement == "band-top" and top.text_box[3] <= top.photo_box[1]


def test_without_faces_the_caption_goes_to_the_bottom(photo):
    comp = compose(photo, EN, chain_for(EN, "en"), [], "auto")
    assert comp.placement == "bottom" and comp.text_box[3] > photo.height * 0.7


def test_classic_look_is_white_text_with_black_outline(cjk_font):
    gray = Image.new("RGB", (600, 400), (128, 128, 128))
    comp = compose(gray, "周一的我", chain_for("周一的我", "zh"), [], "auto")
    pixels = np.asarray(comp.image().crop(comp.text_box)).reshape(-1, 3)
    assert (pixels.min(axis=1) > 240).sum() > 300   # white fill
    assert (pixels.max(axis=1) < 30).sum() > 300    # black outline


def test_colour_emoji_are_drawn_in_colour():
    chain = chain_for("nice 😂", "en")
    if chain.emoji is None:
        pytest.skip("no colour emoji font installed (Debian/Ubuntu: apt install fonts-noto-color-emoji)")
    gray = Image.new("RGB", (600, 400), (128, 128, 128))
    image = np.asarray(compose(gray, "nice 😂", chain, [], "auto").image(), dtype=np.int16)
    yellow = (image[..., 0] > 200) & (image[..., 1] > 150) & (image[..., 2] < 110)
    assert yellow.sum() > 200


def test_render_caption_accepts_arrays_paths_and_boxes(photo):
    bgr = load_image(demo_photo())
    from_array = render_caption(bgr, EN, avoid=BoundingBox(FACE[0], FACE[1], FACE[2] - FACE[0], FACE[3] - FACE[1]))
    from_path = render_caption(demo_photo(), EN, avoid=[FACE])
    assert from_array.mode == "RGB" and from_array.size == photo.size
    assert np.array_equal(np.asarray(from_array), np.asarray(from_path))
    mask = changed_mask(photo, from_array)
    assert mask.any() and not mask[83:179, 178:273].any()


@pytest.mark.parametrize("size", [(3000, 2000), (24, 24), (2000, 90), (20, 900)])
def test_huge_tiny_and_extreme_images_are_resized_within_the_caps(size):
    image = Image.new("RGB", size, (90, 120, 150))
    out = render_caption(image, "big mood, no notes",
                         avoid=(0.4 * size[0], 0.1 * size[1], 0.6 * size[0], 0.4 * size[1]))
    scale = fit_scale(*size)
    photo_w, photo_h = round(size[0] * scale), round(size[1] * scale)
    assert max(photo_w, photo_h) <= MAX_SIDE
    assert min(photo_w, photo_h) >= MIN_SIDE or max(photo_w, photo_h) == MAX_SIDE  # upscaled as far as the cap allows
    assert out.width in (photo_w, max(photo_w, MIN_BAND_WIDTH))  # a caption band is at least MIN_BAND_WIDTH wide
    assert out.height >= photo_h


def test_font_override_is_used_first(photo):
    latin = find_font("en")
    path = latin.path if latin is not None else str(glyphs.font_files()[0])  # bundled when none is installed
    chain = chain_for(EN, "en", path)
    assert chain.faces[0].path == path
    assert render_caption(photo, EN, font=path).size == photo.size


@pytest.mark.parametrize("text, error, match", [
    ("", InputError, "empty"),
    ("  \n\t ", InputError, "empty"),
    ("x" * (MAX_CAPTION_CHARS + 1), InputError, "too long"),
    (42, InputError, "must be a string"),
    ("abc \u0378", FontError, "U\\+0378"),
])
def test_bad_captions_raise_clear_errors(photo, text, error, match):
    with pytest.raises(error, match=match):
        render_caption(photo, text)


def test_bad_options_raise_config_errors(photo):
    with pytest.raises(ConfigError, match="placement"):
        render_caption(photo, "hi", placement="middle")
    with pytest.raises(ConfigError, match="box"):
        render_caption(photo, "hi", avoid=(10, 10, 5, 5))
    with pytest.raises(FontError, match="no such font file"):
        render_caption(photo, "hi", font="/nonexistent/font.ttf")
