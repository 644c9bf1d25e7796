"""Validate the caption library: tags, duplicates, lengths, blocklist, language, cell coverage."""
from __future__ import annotations

from collections import Counter
from typing import Dict, List, Sequence, Tuple

from edgekit.captioning.library import MAX_CHARS, Entry, blocked_term, unbalanced_bracket
from edgekit.captioning.taxonomy import EMOTIONS, LANGS, SCENES, STYLES, has_cjk

MIN_CHARS = 4
#: Minimum captions per (emotion, style, language) cell in the training split.
MIN_PER_CELL = 40
MIN_TOTAL = 5000


def cell_counts(entries: Sequence[Entry]) -> Dict[Tuple[str, str, str], int]:
    """Number of captions per (emotion, style, lang) cell, every cell present (0 when empty)."""
    counts = Counter((e.emotion, e.style, e.lang) for e in entries)
    return {(em, st, la): counts.get((em, st, la), 0) for em in EMOTIONS for st in STYLES for la in LANGS}


def validate(entries: Sequence[Entry], blocklist: Sequence[str]) -> List[str]:
    """All problems found (empty list = valid)."""
    problems = []
    valid = {"lang": LANGS, "emotion": EMOTIONS, "style": STYLES, "scene": SCENES, "split": ("train", "heldout")}
    seen: Dict[str, int] = {}
    for i, e in enumerate(entries, start=2):  # line numbers in the TSV (header is line 1)
        for field, allowed in valid.items():
            if getattr(e, field) not in allowed:
                problems.append(f"line {i}: {field}={getattr(e, field)!r} not in {allowed}")
        if e.text in seen:
            problems.append(f"line {i}: duplicate of line {seen[e.text]}: {e.text!r}")
        seen.setdefault(e.text, i)
        if not MIN_CHARS <= len(e.text) <= MAX_CHARS.get(e.lang, 0):
            problems.append(f"line {i}: length {len(e.text)} outside [{MIN_CHARS}, {MAX_CHARS.get(e.lang)}]: {e.text!r}")
        if e.text != e.text.strip() or any(c in e.text for c in "\t\r\n"):
            problems.append(f"line {i}: stray whitespace in {e.text!r}")
        term = blocked_term(e.text, blocklist)
        if term:
            problems.append(f"line {i}: blocklisted term {term!r} in {e.text!r}")
        pair = unbalanced_bracket(e.text)
        if pair:
            problems.append(f"line {i}: unbalanced {pair} in {e.text!r}")
        if e.lang in LANGS and has_cjk(e.text) != (e.lang == "zh"):
            problems.append(f"line {i}: text does not look like lang={e.lang}: {e.text!r}")
    if len(entries) < MIN_TOTAL:
        problems.append(f"only {len(entries)} captions, need >= {MIN_TOTAL}")
    for cell, n in cell_counts([e for e in entries if e.split == "train"]).items():
        if n < MIN_PER_CELL:
            problems.append(f"cell {cell}: {n} training captions, need >= {MIN_PER_CELL}")
    return problems
