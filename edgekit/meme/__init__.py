"""Meme making: captions rendered on photos and animations, on device.

- :func:`make_meme` — photo -> faces -> emotion -> caption -> :class:`Meme` (``.save("m.png")``);
- :func:`meme_styles` — one photo, ``n`` memes in ``n`` caption styles;
- :func:`make_gif` — animated meme (GIF / WebP) from a photo, a :class:`Meme` or a video clip;
- :func:`make_memes` — a whole folder, with a JSON Lines manifest;
- :func:`render_caption` — only the rendering (no models): text on an image, away from boxes.

Rendering: classic outlined text or a speech bubble, placed away from faces (a caption band is
added when there is no room); CJK wraps per character with kinsoku rules, Latin per word,
kaomoji stay whole, text shrinks to fit; a font fallback chain (CJK, Latin, symbols, colour
emoji) and a clear :class:`~edgekit.errors.FontError` when no installed font has a glyph.
See ``docs/memes.md``.
"""
from ..errors import FontError
from .animate import AnimatedMeme, animate, make_gif
from .batch import BatchItem, BatchResult, make_memes
from .compose import PLACEMENTS, Composition, render_caption
from .fonts import FontChain, font_chain
from .maker import Meme, make_meme, meme_styles

__all__ = ["Meme", "AnimatedMeme", "make_meme", "meme_styles", "make_gif", "animate", "make_memes", "render_caption",
           "BatchItem", "BatchResult", "Composition", "FontChain", "FontError", "font_chain", "PLACEMENTS"]
