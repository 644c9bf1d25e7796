"""Line breaking and shrink-to-fit for captions.

:func:`fit_text` finds the largest font size (between ``min_size`` and ``max_size`` pixels) at
which the caption's tokens (see :mod:`.segment`) wrap into at most ``max_lines`` lines inside a
box, then balances the lines (the narrowest width giving the same number of lines), so a long
Chinese caption does not end with a one-character line. When even ``min_size`` does not fit,
the layout is returned at ``min_size`` with ``overflow=True``: the caller picks another place
(or adds a caption band), and tokens wider than the box are split between grapheme clusters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .fonts import FontChain, FontFace
from .segment import Token, clusters, tokenize

#: Distance between baselines, in font sizes.
LINE_SPACING = 1.22
#: Baseline of the first line below the top of the block, and height of one line of ink
#: (ascender to descender, emoji included), in font sizes.
ASCENT_EM = 1.0
LINE_EM = 1.32
#: Smallest font size ever used, in pixels.
MIN_FONT_PX = 12

Run = Tuple[str, FontFace]


@dataclass(frozen=True)
class Piece:
    """A token with the font runs that draw it (runs are chosen per grapheme cluster)."""

    token: Token
    runs: Tuple[Run, ...]

    def width(self, size: int) -> float:
        return sum(face.length(text, size) for text, face in self.runs)


@dataclass(frozen=True)
class TextLayout:
    """Caption wrapped at one font ``size``: ``lines`` of pieces (no leading/trailing spaces)."""

    text: str
    size: int
    lines: Tuple[Tuple[Piece, ...], ...]
    line_widths: Tuple[float, ...]
    overflow: bool = False

    @property
    def line_height(self) -> float:
        return LINE_SPACING * self.size

    @property
    def width(self) -> float:
        return max(self.line_widths, default=0.0)

    @property
    def height(self) -> float:
        """Nominal height of the block of lines (top of the first line to the last descender)."""
        return block_height(len(self.lines), self.size)

    @property
    def visible_tokens(self) -> int:
        """Number of visible tokens (the units a caption reveal animates)."""
        return sum(p.token.visible for line in self.lines for p in line)

    def line_texts(self) -> List[str]:
        return ["".join(p.token.text for p in line) for line in self.lines]


def block_height(n_lines: int, size: int) -> float:
    return 0.0 if n_lines == 0 else (n_lines - 1) * LINE_SPACING * size + LINE_EM * size


class _Measured:
    """Pieces of one caption with their widths cached per font size."""

    def __init__(self, text: str, chain: FontChain) -> None:
        self.chain = chain
        self.pieces = [Piece(t, tuple(chain.runs(t.text)) if t.kind != "newline" else ()) for t in tokenize(text)]
        self._widths: Dict[Tuple[int, int], float] = {}

    def width(self, index: int, size: int) -> float:
        key = (index, size)
        if key not in self._widths:
            self._widths[key] = self.pieces[index].width(size)
        return self._widths[key]

    def split(self, piece: Piece) -> List[Piece]:
        """A too-wide token as one piece per grapheme cluster."""
        return [Piece(Token(c, piece.token.kind), tuple(self.chain.runs(c))) for c in clusters(piece.token.text)]

    def wrap(self, size: int, max_width: float, split: bool) -> Optional[List[List[Tuple[Piece, float]]]]:
        """Greedy line breaking; None when a token is wider than ``max_width`` and ``split`` is off."""
        lines: List[List[Tuple[Piece, float]]] = [[]]
        used = 0.0
        space: Optional[Tuple[Piece, float]] = None
        for i, piece in enumerate(self.pieces):
            kind = piece.token.kind
            if kind == "newline":
                lines.append([])
                used, space = 0.0, None
                continue
            if kind == "space":
                space = (piece, self.width(i, size)) if lines[-1] else None
                continue
            width = self.width(i, size)
            parts = [(piece, width)]
            if width > max_width:
                if not split:
                    return None
                parts = [(p, p.width(size)) for p in self.split(piece)]
            for n, (part, w) in enumerate(parts):
                gap = space[1] if space is not None and n == 0 else 0.0
                if lines[-1] and used + gap + w > max_width:
                    lines.append([])
                    used, gap = 0.0, 0.0
                elif gap:
                    lines[-1].append(space)  # type: ignore[arg-type]
                    used += gap
                lines[-1].append((part, w))
                used += w
            space = None
        return lines if any(lines) else []

    def layout(self, text: str, size: int, lines: List[List[Tuple[Piece, float]]], overflow: bool) -> TextLayout:
        return TextLayout(text, size, tuple(tuple(p for p, _ in line) for line in lines),
                          tuple(sum(w for _, w in line) for line in lines), overflow)


def fit_text(text: str, chain: FontChain, box_width: float, box_height: float, *, max_size: int, min_size: int,
             max_lines: int = 4, pad_em: float = 0.0) -> TextLayout:
    """Largest size in ``[min_size, max_size]`` whose wrapped, balanced text fits the box.

    ``pad_em`` reserves room on every side for the outline/shadow/bubble, in font sizes.
    Raises :class:`~edgekit.errors.FontError` when no installed font covers some character.
    """
    min_size = max(1, int(min_size))
    max_size = max(min_size, int(max_size))
    measured = _Measured(text, chain)

    def attempt(size: int) -> Optional[List[List[Tuple[Piece, float]]]]:
        width, height = box_width - 2 * pad_em * size, box_height - 2 * pad_em * size
        lines = measured.wrap(size, width, split=False) if width > 0 else None
        if lines is None or len(lines) > max_lines or block_height(len(lines), size) > height:
            return None
        return lines

    lo, hi, best = min_size, max_size, None
    while lo <= hi:  # largest size that fits
        mid = (lo + hi) // 2
        lines = attempt(mid)
        if lines is not None:
            best, lo = (mid, lines), mid + 1
        else:
            hi = mid - 1
    if best is None:
        width = max(1.0, box_width - 2 * pad_em * min_size)
        return measured.layout(text, min_size, measured.wrap(min_size, width, split=True) or [], overflow=True)
    size, lines = best
    return measured.layout(text, size, _balanced(measured, size, lines, box_width - 2 * pad_em * size), False)


def _balanced(measured: _Measured, size: int, lines: List[List[Tuple[Piece, float]]], max_width: float
              ) -> List[List[Tuple[Piece, float]]]:
    """The same number of lines at the narrowest width that still gives that number."""
    if len(lines) < 2:
        return lines
    lo = max(w for line in lines for _, w in line)
    hi = max_width
    best = lines
    for _ in range(12):
        if hi - lo < 1:
            break
        mid = (lo + hi) / 2
        trial = measured.wrap(size, mid, split=False)
        if trial is not None and len(trial) <= len(lines):
            best, hi = trial, mid
        else:
            lo = mid
    return best


def size_bounds(width: int, height: int) -> Tuple[int, int]:
    """(min_size, max_size) font sizes in pixels for a caption drawn over a ``width`` x ``height``
    photo: from 1/16 to 1/9 of its short side, and at least 1/60 of its long side (captions that
    need less go on a caption band)."""
    base = min(width, height)
    min_size = max(MIN_FONT_PX, int(round(base / 16)), int(round(max(width, height) / 60)))
    return min_size, max(min_size, int(round(base / 9)))


def band_min_size(width: int, height: int) -> int:
    """Smallest font size on a caption band (1/28 of the short side, at least MIN_FONT_PX)."""
    return max(MIN_FONT_PX, int(round(min(width, height) / 28)))


__all__ = ["TextLayout", "Piece", "fit_text", "size_bounds", "band_min_size", "block_height",
           "LINE_SPACING", "ASCENT_EM", "LINE_EM", "MIN_FONT_PX"]
