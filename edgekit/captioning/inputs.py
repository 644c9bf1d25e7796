"""Validation of caption requests: emotion labels or probability dicts, counts, free text."""
from __future__ import annotations

import math
from numbers import Real
from typing import Mapping, Optional, Tuple

from ..errors import InputError, describe
from ..task_options import SEED
from ..validate import check, integer
from .taxonomy import EMOTIONS, resolve_emotion, sanitize_text

#: Most captions one call may ask for (``n``); larger requests raise ConfigError.
MAX_N = 20
#: Tolerance on the sum of an emotion probability dict.
PROB_SUM_TOL = 0.02
#: Longest text ``restyle`` reads; longer input is truncated.
MAX_TEXT_CHARS = 200


def emotion_of(value: object) -> Tuple[str, Optional[Mapping[str, float]]]:
    """Emotion label for a label/alias, a ``{label: probability}`` dict or an object with ``.probs``
    (e.g. :class:`edgekit.results.EmotionResult`); returns ``(label, probs or None)``.

    A dict must use the 8 FER+ labels only, hold finite non-negative numbers and sum to 1
    (within :data:`PROB_SUM_TOL`); its most probable label is used.
    """
    probs = getattr(value, "probs", value)
    if isinstance(probs, str):
        return resolve_emotion(probs), None
    if not isinstance(probs, Mapping):
        raise InputError("emotion must be a label or a {label: probability} dict", subject=repr(value)[:80],
                         hint=f"Valid labels: {', '.join(EMOTIONS)}")
    unknown = [k for k in probs if k not in EMOTIONS]
    if unknown or not probs:
        raise InputError(f"unknown emotion keys {unknown!r}" if unknown else "empty probability dict",
                         subject="emotion probabilities",
                         hint=f"Valid keys: {', '.join(EMOTIONS)}")
    clean = {}
    for k, v in probs.items():
        number = _finite_float(v)
        if number is None or number < 0:
            raise InputError(f"probability of {k!r} is {describe(v)}, expected a finite number >= 0",
                             subject="emotion probabilities")
        clean[k] = number
    total = sum(clean.values())
    if abs(total - 1.0) > PROB_SUM_TOL:
        raise InputError(f"probabilities sum to {total:.4f}, expected 1 (within {PROB_SUM_TOL})",
                         subject="emotion probabilities",
                         hint="pass EmotionResult.probs unchanged or normalise the dict")
    return max(clean, key=clean.get), clean


def _finite_float(value: object) -> Optional[float]:
    """``value`` as a finite float, or None (bools, non-numbers, NaN/inf, ints too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return number if math.isfinite(number) else None


def check_count(n: object, limit: int = MAX_N, what: str = "n") -> int:
    """``n`` (an int, numpy ints included) as an int in ``[1, limit]`` or ConfigError."""
    hint = f"at most {limit} captions are produced per call" if what == "n" else ""
    return int(check(what, n, integer(1, limit), hint))


def check_seed(seed: object) -> Optional[int]:
    """A sampling seed: None (fresh randomness) or an integer >= 0; anything else is a ConfigError."""
    check("seed", seed, SEED)
    return None if seed is None else int(seed)  # type: ignore[call-overload]  # an integer, checked


def check_text(text: object) -> str:
    """Sanitised caption text for ``restyle`` (truncated to :data:`MAX_TEXT_CHARS`); NFC, so the
    person's own punctuation and full-width characters are kept."""
    if not isinstance(text, str):
        raise InputError("text must be a string", subject=repr(text)[:80])
    clean = sanitize_text(text, MAX_TEXT_CHARS, form="NFC")
    if not clean:
        raise InputError("text is empty after removing control and blank characters", subject=repr(text)[:80])
    return clean
