"""Structured pruning of the caption GPT: drop whole attention heads and MLP hidden units.

Heads are ranked by the held-in loss increase when each is masked alone; MLP units by
``|w1[:, j]| * |w2[j, :]|``. The weights are sliced, so the pruned model is really smaller.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from .model import GPT, GPTConfig
from .train import mean_nll


def head_importance(model: GPT, rows: np.ndarray, cond: np.ndarray) -> List[np.ndarray]:
    """Per layer, the loss increase (nats/token) when each head is masked alone."""
    cfg = model.cfg
    full = [np.ones(h, np.float32) for h in cfg.heads]
    base = mean_nll(model, rows, cond, head_mask=full)
    out = []
    for l, H in enumerate(cfg.heads):
        deltas = np.zeros(H)
        for h in range(H):
            mask = [m.copy() for m in full]
            mask[l][h] = 0.0
            deltas[h] = mean_nll(model, rows, cond, head_mask=mask) - base
        out.append(deltas)
    return out


def plan(cfg: GPTConfig, weights: Dict[str, np.ndarray], importance: List[np.ndarray], fraction: float
         ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Heads and MLP units to keep: the globally least important ``fraction`` of heads (at least one
    kept per layer) and the lowest-magnitude ``fraction`` of units in every layer."""
    n_drop = int(round(fraction * sum(cfg.heads)))
    ranked = sorted((float(d), l, h) for l, ds in enumerate(importance) for h, d in enumerate(ds))
    dropped = {l: set() for l in range(cfg.n_layer)}
    for _, l, h in ranked:
        if n_drop == 0:
            break
        if len(dropped[l]) < cfg.heads[l] - 1:
            dropped[l].add(h)
            n_drop -= 1
    keep_heads = [np.array([h for h in range(H) if h not in dropped[l]]) for l, H in enumerate(cfg.heads)]
    keep_units = []
    for l, m in enumerate(cfg.mlp):
        score = np.linalg.norm(weights[f"h{l}_w1"], axis=0) * np.linalg.norm(weights[f"h{l}_w2"], axis=1)
        keep_units.append(np.sort(np.argsort(-score)[: m - int(round(fraction * m))]))
    return keep_heads, keep_units


def apply(cfg: GPTConfig, weights: Dict[str, np.ndarray], keep_heads: List[np.ndarray], keep_units: List[np.ndarray]
          ) -> Tuple[GPTConfig, Dict[str, np.ndarray]]:
    """Slice the weights to the kept heads/units; returns the smaller config and weights."""
    hd = cfg.head_dim
    w = dict(weights)
    for l, (heads, units) in enumerate(zip(keep_heads, keep_units)):
        p = f"h{l}_"
        cols = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in heads])
        for n in "qkv":
            w[p + "w" + n] = weights[p + "w" + n][:, cols]
            w[p + "b" + n] = weights[p + "b" + n][cols]
        w[p + "wo"] = weights[p + "wo"][cols, :]
        w[p + "w1"] = weights[p + "w1"][:, units]
        w[p + "b1"] = weights[p + "b1"][units]
        w[p + "w2"] = weights[p + "w2"][units, :]
    new_cfg = GPTConfig(**{**cfg.to_dict(), "heads": tuple(len(h) for h in keep_heads),
                           "mlp": tuple(len(u) for u in keep_units)})
    return new_cfg, {k: np.ascontiguousarray(v) for k, v in w.items()}
