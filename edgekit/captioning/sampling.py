"""Next-token sampling: repetition penalty, temperature, top-k, top-p, banned tokens."""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Optional, Sequence

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class SamplingOptions:
    """How the next token is drawn. ``temperature == 0`` means greedy (argmax)."""

    temperature: float = 0.9
    top_k: int = 40
    top_p: float = 0.95
    repetition_penalty: float = 1.2
    max_new_tokens: int = 32

    def __post_init__(self) -> None:
        num = lambda v, lo, hi: isinstance(v, Real) and lo <= v <= hi  # noqa: E731  (NaN fails both)
        checks = (
            ("temperature", self.temperature, num(self.temperature, 0.0, 5.0), "a number in [0, 5]"),
            ("top_k", self.top_k, isinstance(self.top_k, int) and self.top_k >= 0, "an integer >= 0 (0 = off)"),
            ("top_p", self.top_p, num(self.top_p, 1e-9, 1.0), "a number in (0, 1]"),
            ("repetition_penalty", self.repetition_penalty, num(self.repetition_penalty, 1.0, 5.0), "a number in [1, 5]"),
            ("max_new_tokens", self.max_new_tokens, isinstance(self.max_new_tokens, int) and 1 <= self.max_new_tokens <= 64,
             "an integer in [1, 64]"),
        )
        for name, value, ok, expected in checks:
            if isinstance(value, bool) or not ok:
                raise ConfigError(f"{name} must be {expected}", subject=f"{name}={value!r}")


def next_token(logits: np.ndarray, previous: Sequence[int], rng: np.random.Generator, opts: SamplingOptions,
               banned: Optional[np.ndarray] = None, bias: Optional[np.ndarray] = None) -> int:
    """Draw the next token id from ``logits`` ``[V]``.

    ``previous`` are the generated tokens (penalised CTRL-style: positive logits divided,
    negative multiplied by ``repetition_penalty``); ``banned`` is a boolean mask of ids never
    drawn; ``bias`` is added to the logits first. Top-k and top-p work on the k best candidates
    only, so a step costs a partition of the vocabulary, not a sort.
    """
    z = logits.astype(np.float64)
    if bias is not None:
        z += bias
    if len(previous) and opts.repetition_penalty != 1.0:
        idx = np.fromiter(set(previous), dtype=np.int64)
        z[idx] = np.where(z[idx] > 0, z[idx] / opts.repetition_penalty, z[idx] * opts.repetition_penalty)
    if banned is not None:
        z[banned] = -np.inf
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
