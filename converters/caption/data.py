"""Turn library entries into fixed-length training arrays for the caption model."""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from edgekit.captioning.library import Entry
from edgekit.captioning.tokenizer import ANY_SCENE, EOS, PAD, CaptionTokenizer

PROMPT_LEN = 5  # lang, emotion, style, scene, <bos>
SCENE_POS = 3


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


def drop_scene(x: np.ndarray, tok: CaptionTokenizer, rng: np.random.Generator, p: float) -> np.ndarray:
    """Copy of ``x`` with the scene token replaced by ``<scn:any>`` in a fraction ``p`` of rows."""
    x = x.copy()
    x[rng.random(len(x)) < p, SCENE_POS] = tok.ids[f"<scn:{ANY_SCENE}>"]
    return x
