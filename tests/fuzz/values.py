"""Value strategies shared by the fuzz targets: odd text and junk of every type."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from hypothesis import strategies as st

# -------------------------------------------------------------------------- text strategies

#: Characters that break naive text handling: controls, bidi overrides, zero-width joiners,
#: combining marks, lone surrogates, BOM, emoji (with modifiers), CJK, RTL scripts.
ODD_CHARS = ("\x00\x07\x1b\n\r\t\u202e\u202d\u200b\u200d\ufeff\u0301\u0336\ud800\udfff"
             "\U0001f389\U0001f44d\U0001f3fd好開心😂مرحباשלום")


def any_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any unicode (surrogates and controls included), odd characters, or huge repeated text."""
    every_char = st.characters(exclude_categories=())
    huge = st.builds(lambda piece, times: piece * times,
                     st.text(st.sampled_from(ODD_CHARS + "ab好"), min_size=1, max_size=4),
                     st.integers(1_000, 60_000))
    return st.one_of(st.text(every_char, max_size=max_size), st.text(st.sampled_from(ODD_CHARS), max_size=max_size),
                     huge)


def junk_values() -> st.SearchStrategy[Any]:
    """Values of the wrong type or out of any sane range."""
    return st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                     st.floats(allow_nan=True, allow_infinity=True),
                     any_text(12), st.binary(max_size=8), st.lists(st.integers(), max_size=2))


def maybe(valid: Sequence[Any], junk: Optional[st.SearchStrategy[Any]] = None) -> st.SearchStrategy[Any]:
    """A valid value from ``valid`` or junk (default :func:`junk_values`)."""
    return st.one_of(st.sampled_from(list(valid)), junk if junk is not None else junk_values())
