"""The caption fonts edgekit ships: their files (sha256-checked) and the characters they draw.

``edgekit/assets/fonts/`` holds subset fonts built from pinned OFL/permissive packages by
``python -m converters.thirdparty`` (never committed; the wheel ships them), described by
``fonts.json``. They let Chinese, kaomoji and emoji captions render with pip alone; installed
system fonts are still preferred where they exist (see :mod:`edgekit.meme.fonts`).

The caption model never emits a token these fonts cannot draw (:func:`drawable`), so a caption
edgekit generates renders the same on every machine.
"""
from __future__ import annotations

import functools
import hashlib
import json
from bisect import bisect_right
from pathlib import Path
from typing import List, Optional, Set, Tuple

from .errors import FontError, ModelIntegrityError
from .registry import THIRD_PARTY_FIX as FIX

FONTS_DIR = Path(__file__).resolve().parent / "assets" / "fonts"
DESCRIPTOR = FONTS_DIR / "fonts.json"


@functools.lru_cache(maxsize=1)
def _descriptor() -> Optional[dict]:
    if not DESCRIPTOR.is_file():
        return None
    try:
        data = json.loads(DESCRIPTOR.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FontError(f"cannot be read ({exc})", DESCRIPTOR, FIX) from None
    if data.get("format") != "edgekit-fonts" or not isinstance(data.get("fonts"), list):
        raise FontError("is not an edgekit fonts descriptor", DESCRIPTOR, FIX)
    return data


def available() -> bool:
    """The bundled fonts were built into this checkout or install."""
    return _descriptor() is not None


@functools.lru_cache(maxsize=1)
def font_files() -> Tuple[Path, ...]:
    """Paths of the bundled fonts in fallback order, each checked against its sha256.

    Raises:
        ModelIntegrityError: a font differs from the one ``fonts.json`` was written for.
        FontError: a listed font file is missing.
    """
    data = _descriptor()
    if data is None:
        return ()
    paths = []
    for entry in data["fonts"]:
        path = FONTS_DIR / entry["file"]
        if not path.is_file():
            raise FontError("bundled font file is missing", path, FIX)
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != entry["sha256"]:
            raise ModelIntegrityError(f"sha256 mismatch: fonts.json expects {entry['sha256']}, file has {actual}",
                                      subject=path, hint=FIX)
        paths.append(path)
    return tuple(paths)


@functools.lru_cache(maxsize=1)
def _coverage() -> Tuple[List[int], List[int]]:
    data = _descriptor()
    runs = sorted(tuple(r) for f in (data["fonts"] if data else []) for r in f.get("coverage", []))
    return [r[0] for r in runs], [r[1] for r in runs]


def covers(char: str) -> bool:
    """A bundled font has a glyph for ``char`` (whitespace and format characters always pass)."""
    if char.isspace() or not char.isprintable():
        return True
    starts, ends = _coverage()
    k = bisect_right(starts, ord(char)) - 1
    return k >= 0 and ord(char) <= ends[k]


def undrawable(text: str) -> Set[str]:
    """The characters of ``text`` no bundled font covers (empty without bundled fonts)."""
    return set() if not available() else {c for c in set(text) if not covers(c)}


def drawable(text: str) -> bool:
    """Every character of ``text`` has a glyph in the bundled fonts. Without bundled fonts
    (not built yet) nothing is ruled out."""
    return not available() or all(covers(c) for c in text)


__all__ = ["FONTS_DIR", "available", "covers", "drawable", "font_files", "undrawable"]
