"""Draw a laid-out caption: the classic meme look (white bold text, black outline, soft drop
shadow) or plain ink for speech bubbles and caption bands, with colour emoji pasted in.

Text is drawn with Pillow (``stroke_width`` for the outline); colour bitmap emoji fonts are
drawn at their strike size with ``embedded_color=True`` and scaled to the text size.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from PIL import Image, ImageDraw, ImageFilter

from .fonts import FontFace
from .layout import ASCENT_EM, TextLayout

RGB = Tuple[int, int, int]


@dataclass(frozen=True)
class TextStyle:
    """How caption text looks. Sizes are fractions of the font size (``*_em``)."""

    fill: RGB = (255, 255, 255)
    stroke: Optional[RGB] = (0, 0, 0)
    stroke_em: float = 0.09
    shadow_em: float = 0.05
    shadow_alpha: int = 150

    def stroke_px(self, size: int) -> int:
        return max(1, round(size * self.stroke_em)) if self.stroke is not None else 0

    def shadow_px(self, size: int) -> int:
        return max(1, round(size * self.shadow_em)) if self.shadow_em > 0 else 0

    @property
    def pad_em(self) -> float:
        """Room the outline and shadow need around the text, in font sizes."""
        return (self.stroke_em if self.stroke is not None else 0.0) + 2.5 * self.shadow_em + 0.04

    def pad_px(self, size: int) -> int:
        return int(math.ceil(self.pad_em * size)) + 1


#: White text, black outline, drop shadow: the classic meme caption.
CLASSIC = TextStyle()
#: Black text without outline: speech bubbles and caption bands.
INK = TextStyle(fill=(20, 20, 20), stroke=None, shadow_em=0.0)


def block_size(layout: TextLayout, style: TextStyle) -> Tuple[int, int]:
    """Pixel size of the image :func:`draw_block` returns for ``layout``."""
    pad = style.pad_px(layout.size)
    return int(math.ceil(layout.width)) + 2 * pad, int(math.ceil(layout.height)) + 2 * pad


def draw_block(layout: TextLayout, style: TextStyle = CLASSIC, limit: Optional[int] = None) -> Image.Image:
    """The caption as a transparent RGBA image, lines centred; ``limit`` draws only the first
    ``limit`` visible tokens (the caption reveal), keeping every token where the full caption has it."""
    size = layout.size
    pad = style.pad_px(size)
    layer = Image.new("RGBA", block_size(layout, style), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    placed = list(_placed_runs(layout, pad, limit))
    stroke = style.stroke_px(size)
    if stroke:  # all outlines first, so no outline covers a neighbouring run's fill
        for text, face, x, y in placed:
            if not face.is_bitmap:
                draw.text((x, y), text, font=face.font(size), anchor="ls", fill=style.stroke,
                          stroke_width=stroke, stroke_fill=style.stroke)
    for text, face, x, y in placed:
        if face.is_bitmap:
            _composite(layer, _bitmap_run(face, text, size), x, y)
        else:
            draw.text((x, y), text, font=face.font(size), anchor="ls", fill=style.fill)
    return _with_shadow(layer, style.shadow_px(size), style.shadow_alpha)


def _placed_runs(layout: TextLayout, pad: int, limit: Optional[int]):
    """(text, face, x, baseline_y) of every visible run, in drawing order."""
    size, remaining = layout.size, limit
    for i, (line, width) in enumerate(zip(layout.lines, layout.line_widths)):
        x = pad + (layout.width - width) / 2
        baseline = pad + ASCENT_EM * size + i * layout.line_height
        for piece in line:
            if piece.token.visible and remaining is not None:
                if remaining <= 0:
                    return
                remaining -= 1
            for text, face in piece.runs:
                if piece.token.visible:
                    yield text, face, x, baseline
                x += face.length(text, size)


@functools.lru_cache(maxsize=128)
def _strike_image(face: FontFace, text: str) -> Tuple[Image.Image, int, int]:
    """``text`` drawn in colour at the font's strike size, with its bbox origin relative to the baseline."""
    font = face.font(0)
    x0, y0, x1, y1 = font.getbbox(text, anchor="ls")
    image = Image.new("RGBA", (max(1, x1 - x0), max(1, y1 - y0)), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((-x0, -y0), text, font=font, anchor="ls", embedded_color=True)
    return image, x0, y0


def _bitmap_run(face: FontFace, text: str, size: int) -> Tuple[Image.Image, float, float]:
    image, x0, y0 = _strike_image(face, text)
    k = face.scale(size)
    scaled = image.resize((max(1, round(image.width * k)), max(1, round(image.height * k))), Image.Resampling.LANCZOS)
    return scaled, x0 * k, y0 * k


def _composite(layer: Image.Image, run: Tuple[Image.Image, float, float], x: float, baseline: float) -> None:
    image, dx, dy = run
    paste_rgba(layer, image, round(x + dx), round(baseline + dy))


def paste_rgba(dst: Image.Image, src: Image.Image, x: int, y: int) -> None:
    """Alpha-composite ``src`` onto ``dst`` (both RGBA) at (x, y), clipped to ``dst``."""
    left, top = max(0, x), max(0, y)
    right, bottom = min(dst.width, x + src.width), min(dst.height, y + src.height)
    if right <= left or bottom <= top:
        return
    part = src.crop((left - x, top - y, right - x, bottom - y))
    dst.alpha_composite(part, dest=(left, top))


def _with_shadow(layer: Image.Image, offset: int, alpha: int) -> Image.Image:
    if offset <= 0:
        return layer
    shadow_alpha = layer.getchannel("A").point(lambda a: a * alpha // 255)
    shadow = Image.new("RGBA", layer.size, (0, 0, 0, 0))
    shadow.paste((0, 0, 0, 255), (offset, offset),
                 shadow_alpha.crop((0, 0, layer.width - offset, layer.height - offset)))
    shadow = shadow.filter(ImageFilter.GaussianBlur(max(1.0, offset * 0.6)))
    shadow.alpha_composite(layer)
    return shadow


def draw_bubble(overlay: Image.Image, rect: Sequence[float], tip: Optional[Tuple[float, float]], size: int) -> None:
    """A white speech bubble (rounded rectangle, black border of :func:`bubble_border` px drawn
    outside ``rect``) with a tail pointing at ``tip``."""
    draw = ImageDraw.Draw(overlay)
    border = bubble_border(size)
    radius = max(4, round(size * 0.5))
    x0, y0, x1, y1 = rect
    tail = _tail(rect, tip, size, inset=border * 2) if tip is not None else None
    black, white = (0, 0, 0, 255), (255, 255, 255, 255)
    draw.rounded_rectangle((x0 - border, y0 - border, x1 + border, y1 + border), radius=radius + border, fill=black)
    if tail is not None:
        draw.polygon(tail, fill=black, outline=black, width=2 * border)
    draw.rounded_rectangle((x0, y0, x1, y1), radius=radius, fill=white)
    if tail is not None:
        draw.polygon(tail, fill=white)


def bubble_border(size: int) -> int:
    """Border width of a speech bubble for text of ``size`` pixels."""
    return max(2, round(size * 0.07))


def _tail(rect: Sequence[float], tip: Tuple[float, float], size: int, inset: float
          ) -> Optional[List[Tuple[float, float]]]:
    """Triangle [base corner, base corner, tip] from inside the bubble side facing ``tip``
    (the tip pulled back by ``inset`` so the outline stops at ``tip``)."""
    x0, y0, x1, y1 = rect
    tx, ty = tip
    half = max(2.0, min(size * 0.45, (x1 - x0) * 0.2, (y1 - y0) * 0.3))
    if y0 <= ty <= y1 and x0 <= tx <= x1:
        return None  # tip inside the bubble: no tail
    if ty > y1 or ty < y0:  # below or above
        bx = min(max(tx, x0 + 2 * half), x1 - 2 * half)
        side = y1 - inset if ty > y1 else y0 + inset
        base = [(bx - half, side), (bx + half, side)]
        root = (bx, side)
    else:  # right or left
        by = min(max(ty, y0 + 2 * half), y1 - 2 * half)
        side = x1 - inset if tx > x1 else x0 + inset
        base = [(side, by - half), (side, by + half)]
        root = (side, by)
    ux, uy = _unit(tx - root[0], ty - root[1])
    return base + [(tx - ux * inset, ty - uy * inset)]


def _unit(dx: float, dy: float) -> Tuple[float, float]:
    n = math.hypot(dx, dy) or 1.0
    return dx / n, dy / n


__all__ = ["TextStyle", "CLASSIC", "INK", "block_size", "draw_block", "draw_bubble", "bubble_border", "paste_rgba"]
