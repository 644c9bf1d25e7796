"""Split chat text or captions into matchable units: one unit per CJK character, per Latin word
(with an apostrophe suffix: ``don't``), per digit run and per other visible symbol (emoji, ``！``).

Used by the chat lexicon matcher (:mod:`edgekit.suggestions`) and the caption features of the
personalization store (:mod:`edgekit.personalize`), so both see text the same way.
"""
from __future__ import annotations

import re
import unicodedata
from typing import List

#: Characters ending a clause (negation and intensifiers do not reach across them).
CLAUSE_BREAKS = frozenset("，。！？；：,.!?;:…~～\n")

_UNIT = re.compile(
    r"[a-z]+(?:'[a-z]+)*"          # Latin word, with 's / n't / 're ...
    r"|[0-9]+"                     # digit run
    r"|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"  # one CJK ideograph
    r"|[^\s\u200d\ufe0e\ufe0f]"    # any other visible character (emoji, punctuation, kana)
)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})


def normalize(text: str) -> str:
    """NFKC, lower case, typographic apostrophes to ``'``, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    return " ".join(text.split())


def units(text: str) -> List[str]:
    """The units of ``text`` after :func:`normalize` (``"Don't 考试!"`` -> ``["don't", "考", "试", "!"]``)."""
    return _UNIT.findall(normalize(text))


def is_cjk(unit: str) -> bool:
    """True for a single CJK ideograph unit."""
    return len(unit) == 1 and ("\u4e00" <= unit <= "\u9fff" or "\u3400" <= unit <= "\u4dbf"
                               or "\uf900" <= unit <= "\ufaff")


def is_word(unit: str) -> bool:
    """True for a Latin word or digit unit."""
    return unit[:1].isascii() and unit[:1].isalnum()
