"""Build the caption tokenizer's vocabulary from the library's training split."""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

from edgekit.captioning.tokenizer import WORD_PATTERN, CaptionTokenizer

from .grammar import KAOMOJI


def train_tokenizer(texts: Sequence[str], min_word_count: int = 2, atoms: Iterable[str] = ()) -> CaptionTokenizer:
    """Kaomoji atoms + Latin words seen ``min_word_count`` times (with/without leading space) + every character."""
    atoms = sorted(set(atoms) or {k for ks in KAOMOJI.values() for k in ks})
    atom_re = re.compile("|".join(re.escape(a) for a in sorted(atoms, key=len, reverse=True)))
    words: Counter = Counter()
    chars = set()
    for text in texts:
        chars.update(text)
        words.update(re.findall(WORD_PATTERN, atom_re.sub("\x00", text)))
    kept_words = sorted(w for w, n in words.items() if n >= min_word_count and len(w) > 1)
    return CaptionTokenizer(atoms, kept_words, sorted(chars))
