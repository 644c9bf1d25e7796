"""Split chat text or captions into matchable units: one unit per CJK character, per Latin word
(with an apostrophe suffix: ``don't``), per digit run and per other visible symbol (emoji, ``！``).

Used by the chat lexicon matcher (:mod:`edgekit.suggestions`) and the caption features of the
personalization store (:mod:`edgekit.personalize`), so both see text the same way. :data:`KAOMOJI`
is what every part of the runtime takes for a kaomoji.
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
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: A kaomoji's face, the runtime's one definition (captions' plain voice and restyle joins, caption
#: line breaking, the voices validator): a run of 1-16 characters in 1-3 brackets ("(((ﾟДﾟ)))") with
#: no word inside, i.e. no two Latin letters in a row, no Han character but the mouths 皿 口 益, and
#: not only letters, digits and spaces: "(≧∇≦)", "(ﾟДﾟ)", "(T_T)", "(｀皿´)", "(o.o)"; not "(maybe)",
#: "(I'm not.)", "（小声）", "(1)". Arms around the brackets ("ヽ(°〇°)ﾉ") are the caller's business.
KAOMOJI = re.compile(rf"[(（]{{1,3}}(?![^()（）]*(?:[A-Za-z]{{2}}|(?![皿口益])[{_HAN}]))(?![A-Za-z0-9\s]*[)）])"
                     r"[^()（）\n]{1,16}[)）]{1,3}")
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
