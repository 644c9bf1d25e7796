"""Turn library entries into fixed-length training arrays for the caption model."""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from edgekit.captioning.conditioning import COND_DIM, condition
from edgekit.captioning.library import Entry
from edgekit.captioning.taxonomy import EMOTIONS
from edgekit.captioning.tokenizer import EOS, PAD, CaptionTokenizer

PROMPT_LEN = 5  # lang, emotion, style, scene, <bos>


def encode_entries(tok: CaptionTokenizer, entries: Sequence[Entry], n_ctx: int) -> np.ndarray:
    """``[N, n_ctx + 1]`` int32 rows ``prompt + caption + <eos>`` padded with ``<pad>``."""
    rows = np.full((len(entries), n_ctx + 1), PAD, np.int32)
    for i, e in enumerate(entries):
        ids = tok.prompt(e.lang, e.emotion, e.style, e.scene) + tok.encode(e.text) + [EOS]
        if len(ids) > n_ctx + 1:
            raise ValueError(f"caption needs {len(ids)} tokens > n_ctx + 1 = {n_ctx + 1}: {e.text!r}")
        rows[i, : len(ids)] = ids
    return rows


def split_xy(rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, targets and the loss mask (caption tokens and <eos> only, not the prompt)."""
    x, y = rows[:, :-1], rows[:, 1:]
    mask = (np.arange(x.shape[1])[None, :] >= PROMPT_LEN - 1) & (y != PAD)
    return x, y, mask.astype(np.float32)


def conditions(entries: Sequence[Entry]) -> np.ndarray:
    """``[N, COND_DIM]`` condition vectors (one-hot emotion) of the entries."""
    if not entries:
        return np.zeros((0, COND_DIM), np.float32)
    return np.concatenate([condition(e.lang, e.emotion, e.style, e.scene) for e in entries])


def augment(x: np.ndarray, cond: np.ndarray, rng: np.random.Generator,
            soft_p: float = 0.5) -> Tuple[np.ndarray, np.ndarray]:
    """Training-time copies of ``x``/``cond``: in a fraction ``soft_p`` of rows the one-hot emotion
    becomes a probability vector keeping >= 55% on the true label (the rest spread at random), like
    a classifier's output. Scenes stay as tagged: the ``none`` scene is learnt from the corpus's
    scene-less captions only, so it never produces scene words."""
    x, cond = x.copy(), cond.copy()
    n, k = len(x), len(EMOTIONS)
    soft = rng.random(n) < soft_p
    eps = rng.uniform(0.0, 0.45, n)[:, None]
    noise = rng.dirichlet(np.ones(k), n) * (1 - cond[:, :k])
    noise /= noise.sum(axis=1, keepdims=True)
    cond[soft, :k] = ((1 - eps) * cond[:, :k] + eps * noise)[soft]
    return x, cond
