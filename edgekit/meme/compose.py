"""Place a caption on a photo without covering the faces, and compose the meme.

Placement looks at the free areas around the faces (each face box grown by
:data:`FACE_MARGIN`): the bands above and below them and, when those are too small, the columns
beside them. Each area gets the largest caption that fits (:func:`~.layout.fit_text`); the
biggest wins (bands are preferred to columns, the bottom band to the top one). ``placement``:

- ``"auto"``: classic outlined text in the best area;
- ``"top"`` / ``"bottom"``: classic text in that band only;
- ``"bubble"``: a speech bubble in the best area, its tail pointing at the face.

When no area can hold the caption at a readable size (a face filling the frame, a very small or
narrow photo), the canvas is extended by a white caption band below the photo (above it for
``"top"``), so the caption never covers a face.
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

from PIL import Image

from ..errors import ConfigError, InputError
from .canvas import Box, as_boxes, expand, normalized, scale_box, union
from .fonts import FontChain, font_chain
from .layout import TextLayout, band_min_size, fit_text, size_bounds
from .render import CLASSIC, INK, TextStyle, block_size, bubble_border, draw_block, draw_bubble, paste_rgba
from .segment import is_han

PLACEMENTS = ("auto", "top", "bottom", "bubble")
#: Longest caption accepted, in characters.
MAX_CAPTION_CHARS = 200
#: Captions stay this far from a face box, in fractions of the box (left, top, right, bottom).
FACE_MARGIN = (0.12, 0.25, 0.12, 0.12)
#: A caption band is at least this wide (narrow photos are centred on it).
MIN_BAND_WIDTH = 320
#: Inner padding of a speech bubble, in font sizes.
BUBBLE_PAD_EM = 0.4
_WEIGHT = {"bottom": 1.0, "top": 0.99, "right": 0.8, "left": 0.79}
_BAND_COLOR = (255, 255, 255)


@dataclass(frozen=True)
class Slot:
    """A free area of the photo for the caption (``name``: top, bottom, left, right)."""

    name: str
    box: Box


@dataclass
class Composition:
    """A placed caption: the ``canvas`` (photo, plus a caption band if one was added, no text),
    where the photo lies on it, the laid-out text and where it is drawn.

    ``text_box`` is the (x0, y0, x1, y1) pixel box of everything drawn over the canvas (text,
    outline, shadow, bubble). ``image()`` is the meme; ``image(limit=k)`` shows only the first
    ``k`` tokens of the caption (used by the caption-reveal animation).
    """

    canvas: Image.Image
    photo_box: Tuple[int, int, int, int]
    layout: TextLayout
    style: TextStyle
    origin: Tuple[int, int]
    placement: str
    bubble: Optional[Tuple[Box, Optional[Tuple[float, float]]]] = None
    text_box: Tuple[int, int, int, int] = field(init=False)

    def __post_init__(self) -> None:
        self._full = self.overlay()
        bbox = self._full.getbbox()
        self.text_box = tuple(bbox) if bbox else (0, 0, 0, 0)  # type: ignore[assignment]

    def overlay(self, limit: Optional[int] = None) -> Image.Image:
        """Everything drawn over the canvas, as a canvas-sized RGBA image."""
        if limit is None and hasattr(self, "_full"):
            return self._full
        layer = Image.new("RGBA", self.canvas.size, (0, 0, 0, 0))
        if self.bubble is not None:
            draw_bubble(layer, self.bubble[0], self.bubble[1], self.layout.size)
        paste_rgba(layer, draw_block(self.layout, self.style, limit), *self.origin)
        return layer

    def image(self, limit: Optional[int] = None) -> Image.Image:
        """The meme as an RGB image."""
        out = self.canvas.convert("RGBA")
        out.alpha_composite(self.overlay(limit))
        return out.convert("RGB")


def check_caption(text: Any) -> str:
    """``text`` cleaned for rendering: control characters dropped, spaces collapsed per line.

    Raises InputError for a non-string, an empty caption or one longer than MAX_CAPTION_CHARS.
    """
    if not isinstance(text, str):
        raise InputError("caption must be a string", repr(text)[:80], "pass the caption text")
    kept = "".join(ch for ch in text.replace("\r\n", "\n") if ch == "\n" or unicodedata.category(ch) != "Cc")
    lines = [" ".join(line.split()) for line in kept.split("\n")]
    cleaned = "\n".join(lines).strip("\n ")
    if not cleaned:
        raise InputError("caption is empty", repr(text)[:80],
                         "pass some text, or leave --text out to generate a caption")
    if len(cleaned) > MAX_CAPTION_CHARS:
        raise InputError(f"caption is too long ({len(cleaned)} characters, at most {MAX_CAPTION_CHARS})",
                         repr(cleaned[:40] + "..."), "shorten it; memes read best under ~40 characters")
    return cleaned


def check_placement(placement: Any) -> str:
    if placement not in PLACEMENTS:
        raise ConfigError("unknown placement", repr(placement)[:80], f"valid placements: {', '.join(PLACEMENTS)}")
    return placement


def free_slots(size: Tuple[int, int], avoid: Optional[Box], margin: float, gap: float) -> List[Slot]:
    """Areas of a ``size`` image that keep ``gap`` pixels away from the ``avoid`` box."""
    w, h = size
    if avoid is None:
        band = h * 0.4
        return [Slot("top", (margin, margin, w - margin, margin + band)),
                Slot("bottom", (margin, h - margin - band, w - margin, h - margin))]
    x0, y0, x1, y1 = avoid
    slots = [Slot("top", (margin, margin, w - margin, y0 - gap)),
             Slot("bottom", (margin, y1 + gap, w - margin, h - margin)),
             Slot("left", (margin, margin, x0 - gap, h - margin)),
             Slot("right", (x1 + gap, margin, w - margin, h - margin))]
    return [s for s in slots if s.box[2] - s.box[0] >= 8 and s.box[3] - s.box[1] >= 8]


def _position(slot: Slot, size: Tuple[float, float], focus: Optional[Box], bubble: bool) -> Tuple[float, float]:
    """Top-left corner of a ``size`` block in ``slot``: classic text hugs the photo edge, a
    bubble sits next to the face."""
    sx0, sy0, sx1, sy1 = slot.box
    bw, bh = size
    cx, cy = ((focus[0] + focus[2]) / 2, (focus[1] + focus[3]) / 2) if focus else ((sx0 + sx1) / 2, (sy0 + sy1) / 2)
    x = cx - bw / 2 if bubble else (sx0 + sx1 - bw) / 2
    y = cy - bh / 2
    if slot.name == "top":
        y = sy1 - bh if bubble and focus else sy0
    elif slot.name == "bottom":
        y = sy0 if bubble and focus else sy1 - bh
    elif slot.name == "left":
        x = sx1 - bw if bubble else x
    elif slot.name == "right":
        x = sx0 if bubble else x
    return min(max(x, sx0), max(sx0, sx1 - bw)), min(max(y, sy0), max(sy0, sy1 - bh))


def _tip(slot: Slot, avoid: Box, focus: Box) -> Tuple[float, float]:
    """Where a bubble's tail points: the edge of the face area facing the bubble."""
    cx, cy = (focus[0] + focus[2]) / 2, (focus[1] + focus[3]) / 2
    return {"top": (cx, avoid[1]), "bottom": (cx, avoid[3]), "left": (avoid[0], cy), "right": (avoid[2], cy)}[slot.name]


def compose(photo: Image.Image, text: str, chain: FontChain, avoid: Sequence[Box] = (), placement: str = "auto",
            focus: Optional[Box] = None) -> Composition:
    """Lay out and place ``text`` on ``photo`` (RGB), away from the ``avoid`` boxes (faces, in
    ``photo`` pixels); ``focus`` is the face a bubble points at (default: the first box)."""
    check_placement(placement)
    chain.check(text)  # a missing glyph is reported for the whole caption, before any layout
    w, h = photo.size
    min_size, max_size = size_bounds(w, h)
    margin = max(4.0, round(0.025 * min(w, h)))
    faces = [expand(b, (w, h), *FACE_MARGIN) for b in avoid]
    area = union(faces)
    focus = focus if focus is not None else (avoid[0] if avoid else None)
    bubble = placement == "bubble"
    style = INK if bubble else CLASSIC
    pad_em = style.pad_em + 0.05 + (BUBBLE_PAD_EM + 0.1 if bubble else 0.0)
    wanted = {"auto": ("top", "bottom", "left", "right"), "top": ("top",), "bottom": ("bottom",),
              "bubble": ("top", "bottom", "left", "right")}[placement]
    best: Optional[Tuple[float, Slot, TextLayout]] = None
    for slot in free_slots((w, h), area, margin, gap=margin * (2.5 if bubble else 0.5)):
        if slot.name not in wanted:
            continue
        sx0, sy0, sx1, sy1 = slot.box
        layout = fit_text(text, chain, sx1 - sx0, sy1 - sy0, max_size=max_size, min_size=min_size,
                          max_lines=4 if slot.name in ("top", "bottom") else 6, pad_em=pad_em)
        score = layout.size * _WEIGHT[slot.name]
        if not layout.overflow and (best is None or score > best[0]):
            best = (score, slot, layout)
    if best is None:
        return _with_band(photo, text, chain, "top" if placement == "top" else "bottom")
    _, slot, layout = best
    bw, bh = block_size(layout, style)
    if not bubble:
        x, y = _position(slot, (bw, bh), focus, False)
        return Composition(photo, (0, 0, w, h), layout, style, (round(x), round(y)), slot.name)
    pad, border = BUBBLE_PAD_EM * layout.size, bubble_border(layout.size)  # text | pad | rect edge | border
    x, y = _position(slot, (bw + 2 * (pad + border), bh + 2 * (pad + border)), focus, True)
    rect = (x + border, y + border, x + border + bw + 2 * pad, y + border + bh + 2 * pad)
    tip = _tip(slot, area, focus) if area is not None and focus is not None else None
    origin = (round(x + border + pad), round(y + border + pad))
    return Composition(photo, (0, 0, w, h), layout, style, origin, f"bubble-{slot.name}", bubble=(rect, tip))


def _with_band(photo: Image.Image, text: str, chain: FontChain, side: str) -> Composition:
    """Caption on a white band added below (or above) the photo."""
    w, h = photo.size
    width = max(w, MIN_BAND_WIDTH)
    min_size = band_min_size(width, max(h, MIN_BAND_WIDTH))
    margin = max(4, round(0.03 * min(width, max(h, MIN_BAND_WIDTH))))
    max_size = max(min_size, round(min(width, max(h, MIN_BAND_WIDTH)) / 11))
    layout = fit_text(text, chain, width - 2 * margin, math.inf, max_size=max_size, min_size=min_size, max_lines=6,
                      pad_em=INK.pad_em + 0.05)
    bw, bh = block_size(layout, INK)
    band = bh + 2 * margin
    canvas = Image.new("RGB", (width, h + band), _BAND_COLOR)
    px, py = (width - w) // 2, (band if side == "top" else 0)
    canvas.paste(photo, (px, py))
    y = margin if side == "top" else h + margin
    return Composition(canvas, (px, py, w, h), layout, INK, ((width - bw) // 2, y), f"band-{side}")


def chain_for(text: str, lang: Optional[str], font: Any = None) -> FontChain:
    """The font chain for a caption: ``lang`` when given, else guessed from the text."""
    return font_chain(lang if lang in ("zh", "en") else ("zh" if is_han(text) else "en"), font)


def render_caption(image: Any, text: str, *, avoid: Any = None, font: Any = None, placement: str = "auto",
                   lang: Optional[str] = None) -> Image.Image:
    """Draw ``text`` on ``image`` as a meme caption, away from the ``avoid`` boxes. No models.

    Args:
        image: a Pillow image, a BGR numpy array or an image path.
        text: the caption (CJK, Latin, kaomoji, emoji; ``\\n`` forces a line break).
        avoid: a box (``(x0, y0, x1, y1)``, ``BoundingBox`` or ``FaceResult``) or a list of
            them, in ``image`` pixels: the caption does not cover them.
        font: a font file to try first (the fallback chain still covers missing characters).
        placement: ``auto``, ``top``, ``bottom`` or ``bubble`` (see :mod:`edgekit.meme.compose`).
        lang: ``zh`` or ``en`` font preference (default: guessed from the text).

    Returns:
        The meme as an RGB Pillow image, resized by the size policy of :mod:`.canvas` (long
        side <= 1280 px, short side >= 360 px when possible), possibly taller than the input
        when a caption band was needed.

    Raises:
        InputError: empty or over-long caption; FontError: no installed font covers some
        characters (the message names them); ConfigError: bad placement or box.
    """
    text = check_caption(text)
    photo, scale = normalized(image)
    boxes = [scale_box(b, scale) for b in as_boxes(avoid)]
    return compose(photo, text, chain_for(text, lang, font), boxes, placement).image()


def compose_around_faces(photo: Image.Image, text: str, chain: FontChain, faces: Sequence[Box],
                         chosen: Optional[int], placement: str = "auto") -> Composition:
    """:func:`compose` avoiding every face. When that only leaves a caption band and there are
    several faces, a placement around the ``chosen`` face alone is taken if what it draws
    (text, outline, bubble and tail) still covers none of the faces; otherwise the band stays:
    a caption never covers a face."""
    focus = faces[chosen] if chosen is not None else None
    comp = compose(photo, text, chain, faces, placement, focus=focus)
    if comp.placement.startswith("band") and focus is not None and len(faces) > 1:
        alone = compose(photo, text, chain, [focus], placement, focus=focus)
        if not alone.placement.startswith("band") and not any(overlaps(alone.text_box, face) for face in faces):
            return alone
    return comp


def overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two (x0, y0, x1, y1) boxes share any area."""
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


__all__ = ["Composition", "compose_around_faces", "PLACEMENTS", "MAX_CAPTION_CHARS", "FACE_MARGIN", "check_caption",
           "check_placement",
           "compose", "free_slots", "render_caption", "chain_for"]
