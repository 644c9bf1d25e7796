"""Next-token sampling: no-repeat n-grams, repetition penalty, temperature, top-k, top-p, banned tokens."""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Optional, Sequence

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class SamplingOptions:
    """How the next token is drawn. ``temperature == 0`` means greedy (argmax).

    Repetition is controlled by ``no_repeat_ngram`` (a token that would repeat an n-gram already
    generated is never drawn). The per-token ``repetition_penalty`` is off by default: on a
    character-level vocabulary it penalises the second half of every doubled word, so 平平无奇
    came out as 平无奇 (issue #25).
    """

    temperature: float = 0.9
    top_k: int = 40
    top_p: float = 0.95
    repetition_penalty: float = 1.0
    max_new_tokens: int = 48
    no_repeat_ngram: int = 3

    def __post_init__(self) -> None:
        num = lambda v, lo, hi: isinstance(v, Real) and lo <= v <= hi  # noqa: E731  (NaN fails both)
        checks = (
            ("temperature", self.temperature, num(self.temperature, 0.0, 5.0), "a number in [0, 5]"),
            ("top_k", self.top_k, isinstance(self.top_k, int) and self.top_k >= 0, "an integer >= 0 (0 = off)"),
            ("top_p", self.top_p, num(self.top_p, 1e-9, 1.0), "a number in (0, 1]"),
            ("repetition_penalty", self.repetition_penalty, num(self.repetition_penalty, 1.0, 5.0), "a number in [1, 5]"),
            ("max_new_tokens", self.max_new_tokens, isinstance(self.max_new_tokens, int) and 1 <= self.max_new_tokens <= 64,
             "an integer in [1, 64]"),
            ("no_repeat_ngram", self.no_repeat_ngram, isinstance(self.no_repeat_ngram, int) and self.no_repeat_ngram in (0, *range(2, 9)),
             "0 (off) or an integer in [2, 8]"),
        )
        for name, value, ok, expected in checks:
            if isinstance(value, bool) or not ok:
                raise ConfigError(f"{name} must be {expected}", subject=f"{name}={value!r}")


def next_token(logits: np.ndarray, previous: Sequence[int], rng: np.random.Generator, opts: SamplingOptions,
               banned: Optional[np.ndarray] = None) -> int:
    """Draw the next token id from ``logits`` ``[V]``.

    ``previous`` are the generated tokens: a token completing an n-gram of ``previous`` again is
    never drawn (``no_repeat_ngram``), and with a ``repetition_penalty`` > 1 every earlier token is
    penalised CTRL-style (positive logits divided, negative multiplied); ``banned`` is a boolean
    mask of ids never drawn. Top-k and top-p work on the k best candidates
    only, so a step costs a partition of the vocabulary, not a sort.
    """
    z = logits.astype(np.float64)
    if len(previous) and opts.repetition_penalty != 1.0:
        idx = np.fromiter(set(previous), dtype=np.int64)
        z[idx] = np.where(z[idx] > 0, z[idx] / opts.repetition_penalty, z[idx] * opts.repetition_penalty)
    if banned is not None:
        z[banned] = -np.inf
    repeats = repeated_ngram_tokens(previous, opts.no_repeat_ngram)
    if repeats:
        z[list(repeats)] = -np.inf
    if opts.temperature == 0.0:
        return int(np.argmax(z))
    k = opts.top_k if 0 < opts.top_k < z.size else z.size
    cand = np.argpartition(-z, k - 1)[:k] if k < z.size else np.arange(z.size)
    zc = z[cand] / opts.temperature
    order = np.argsort(-zc)
    cand, zc = cand[order], zc[order]
    p = np.exp(zc - zc[0])
    cum = np.cumsum(p)
    cum /= cum[-1]
    if opts.top_p < 1.0:
        n = int(np.searchsorted(cum, opts.top_p)) + 1
        cand, cum = cand[:n], cum[:n] / cum[n - 1]
    return int(cand[min(int(np.searchsorted(cum, rng.random(), side="right")), len(cand) - 1)])


def repeated_ngram_tokens(previous: Sequence[int], n: int) -> set:
    """Tokens that, appended to ``previous``, would repeat one of its ``n``-grams (empty for n < 2)."""
    if n < 2 or len(previous) < n - 1:
        return set()
    prefix = tuple(previous[len(previous) - n + 1:])
    return {previous[i + n - 1] for i in range(len(previous) - n + 1) if tuple(previous[i:i + n - 1]) == prefix}
