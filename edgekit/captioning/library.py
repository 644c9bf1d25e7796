"""The caption library (TSV, one tagged caption per line) and the blocklist, read without TensorFlow.

Format of ``library.tsv``: a header ``lang emotion style scene split text`` (tab separated), then
one caption per line; ``scene`` is a taxonomy scene or ``none`` (the caption names no scene).
``split`` is ``train`` (seen by the generator) or ``heldout`` (10%, never seen in training: used
for perplexity, the blind review's corpus lines and the evaluation scorer). The library is the
authored corpus (``converters/caption/corpus/authored``), built by ``python -m converters.caption corpus``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .. import glyphs
from ..errors import ModelError
from .taxonomy import NO_SCENE

COLUMNS: Tuple[str, ...] = ("lang", "emotion", "style", "scene", "split", "text")
ASSET_DIR = Path(__file__).resolve().parents[1] / "assets" / "captions"
LIBRARY_PATH = ASSET_DIR / "library.tsv"
BLOCKLIST_PATH = ASSET_DIR / "blocklist.txt"
#: Longest caption (characters) per language, for the library and for model output.
MAX_CHARS: Dict[str, int] = {"zh": 40, "en": 110}


class Entry(NamedTuple):
    """One caption of the library with its tags."""

    lang: str
    emotion: str
    style: str
    scene: str
    split: str
    text: str


def read_library(path: Path = LIBRARY_PATH) -> List[Entry]:
    """Read ``library.tsv``; raise ModelError when the file or its header is wrong."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ModelError(f"cannot read the caption library ({exc})", subject=path,
                         hint="Reinstall edgekit or rebuild it with `python -m converters.caption corpus`") from exc
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise ModelError(f"bad header, expected {'|'.join(COLUMNS)}", subject=path)
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split("\t")
        if len(parts) != len(COLUMNS):
            raise ModelError(f"line {number} has {len(parts)} columns, expected {len(COLUMNS)}", subject=path)
        entries.append(Entry(*parts))
    return entries


def write_library(path: Path, entries: Iterable[Entry]) -> None:
    """Write entries as TSV (sorted by the caller; tabs/newlines inside text are rejected)."""
    rows = ["\t".join(COLUMNS)]
    for e in entries:
        if any(c in e.text for c in "\t\r\n"):
            raise ValueError(f"caption contains a tab or newline: {e.text!r}")
        rows.append("\t".join(e))
    Path(path).write_text("\n".join(rows) + "\n", encoding="utf-8")


def read_blocklist(path: Path = BLOCKLIST_PATH) -> Tuple[str, ...]:
    """Blocklist entries (lower case), comments and blank lines skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the caption blocklist ({exc})", subject=path,
                         hint="reinstall edgekit, or pass a UTF-8 text file with one blocked term per line") from None
    return tuple(l.strip().lower() for l in lines if l.strip() and not l.lstrip().startswith("#"))


#: Bracket pairs a caption must balance (kaomoji in the library balance them too).
BRACKETS: Tuple[str, ...] = ("【】", "（）", "()", "[]", "「」")


def unbalanced_bracket(text: str) -> Optional[str]:
    """The first bracket pair whose opening and closing counts differ in ``text``, or None."""
    return next((pair for pair in BRACKETS if text.count(pair[0]) != text.count(pair[1])), None)


def blocked_term(text: str, blocklist: Sequence[str]) -> Optional[str]:
    """The first blocklist entry found in ``text`` (case-insensitive), or None."""
    low = text.lower()
    return next((term for term in blocklist if term in low), None)


class Library:
    """Tagged captions indexed for lookups: the default caption source and the model's fallback."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = list(entries)
        self.texts = frozenset(e.text for e in self.entries)
        self._index: Dict[Tuple[str, str, str, str], List[Entry]] = {}
        for e in self.entries:
            for key in ((e.lang, e.emotion, e.style, e.scene), (e.lang, e.emotion, "*", e.scene)):
                self._index.setdefault(key, []).append(e)

    @classmethod
    def load(cls, path: Path = LIBRARY_PATH) -> "Library":
        """The library at ``path`` without captions the bundled fonts cannot draw."""
        entries = read_library(path)
        bad = glyphs.undrawable("".join(e.text for e in entries))  # a few characters at most: check those only
        return cls([e for e in entries if not bad.intersection(e.text)] if bad else entries)

    def _pools(self, lang: str, emotion: str, style: Optional[str], scene: Optional[str],
               relax_style: bool = True) -> Iterator[List[Entry]]:
        scenes = (scene, NO_SCENE) if scene and scene != NO_SCENE else (NO_SCENE,)
        styles = (style or "*", "*") if relax_style else (style or "*",)
        for key in [(lang, emotion, st, sc) for st in styles for sc in scenes]:
            if self._index.get(key):
                yield self._index[key]

    def candidates(self, lang: str, emotion: str, style: Optional[str], scene: Optional[str]) -> List[str]:
        """Captions for the most specific tag combination that has any. A missing scene is relaxed to
        scene-less captions (never to another scene), then the style to any style."""
        return [e.text for e in next(self._pools(lang, emotion, style, scene), [])]

    def pick(self, rng: np.random.Generator, lang: str, emotion: str, style: Optional[str], scene: Optional[str],
             exclude: Iterable[str] = (), accept: Callable[[str], bool] = lambda text: True,
             prefer: Optional[Callable[[str], bool]] = None, relax_style: bool = True) -> Optional[Entry]:
        """A random library entry for the tags whose text is not in ``exclude`` and that ``accept``
        accepts, from the most specific tag combination that still has one (None when there is
        none); ``relax_style=False`` never leaves the asked style. Within that combination, texts
        ``prefer`` accepts are drawn when there are any (``prefer`` never moves the pick to a less
        specific combination). The entry's own tags say which combination it came from."""
        excluded = set(exclude)
        for pool in self._pools(lang, emotion, style, scene, relax_style):
            unused = [e for e in pool if e.text not in excluded and accept(e.text)]
            if unused:
                preferred = [e for e in unused if prefer(e.text)] if prefer is not None else []
                chosen = preferred or unused
                return chosen[int(rng.integers(len(chosen)))]
        return None
