"""Next-token sampling: no-repeat n-grams, repetition penalty, temperature, top-k, top-p, banned tokens."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..task_options import SamplingOptions


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


__all__ = ["SamplingOptions", "next_token"]
