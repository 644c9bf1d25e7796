"""GPT-2 style decoder (pre-LayerNorm, learned positions, GELU, tied embeddings) in plain TensorFlow.

Weights live in a flat ``{name: tf.Variable}`` dict so pruning can slice them and the export can
trace a single-token decode step over a fixed-size KV cache. Layers may have different head
counts and MLP widths (after structured pruning); ``GPTConfig`` records them per layer.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from converters.core.tfenv import tf


@dataclass
class GPTConfig:
    vocab_size: int
    n_ctx: int = 40
    d_model: int = 192
    head_dim: int = 48
    heads: Tuple[int, ...] = (4, 4, 4, 4)
    mlp: Tuple[int, ...] = (768, 768, 768, 768)
    dropout: float = 0.1
    n_cond: int = 0  # size of the condition vector added to every position (0 = tokens only)

    def __post_init__(self) -> None:
        self.heads, self.mlp = tuple(self.heads), tuple(self.mlp)
        if len(self.heads) != len(self.mlp):
            raise ValueError("heads and mlp need one entry per layer")

    @property
    def n_layer(self) -> int:
        return len(self.heads)

    def to_dict(self) -> dict:
        return asdict(self)


def init_weights(cfg: GPTConfig, seed: int = 0) -> Dict[str, np.ndarray]:
    """GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 * n_layer)."""
    rng = np.random.default_rng(seed)
    d, hd = cfg.d_model, cfg.head_dim
    std, res_std = 0.02, 0.02 / math.sqrt(2 * cfg.n_layer)
    normal = lambda shape, s=std: rng.normal(0.0, s, shape).astype(np.float32)  # noqa: E731
    w = {"wte": normal((cfg.vocab_size, d)), "wpe": normal((cfg.n_ctx, d), 0.01),
         "lnf_g": np.ones(d, np.float32), "lnf_b": np.zeros(d, np.float32)}
    if cfg.n_cond:
        w["wc"] = normal((cfg.n_cond, d))
    for l, (h, m) in enumerate(zip(cfg.heads, cfg.mlp)):
        p = f"h{l}_"
        for n in ("q", "k", "v"):
            w[p + "w" + n] = normal((d, h * hd))
            w[p + "b" + n] = np.zeros(h * hd, np.float32)
        w[p + "wo"] = normal((h * hd, d), res_std)
        w[p + "bo"] = np.zeros(d, np.float32)
        w[p + "w1"] = normal((d, m))
        w[p + "b1"] = np.zeros(m, np.float32)
        w[p + "w2"] = normal((m, d), res_std)
        w[p + "b2"] = np.zeros(d, np.float32)
        for n in ("ln1", "ln2"):
            w[p + n + "_g"] = np.ones(d, np.float32)
            w[p + n + "_b"] = np.zeros(d, np.float32)
    return w


def _ln(x, g, b, eps: float = 1e-5):
    mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + eps) * g + b


class GPT(tf.Module):
    """The decoder; ``__call__`` runs full sequences (training), ``decode_step`` one token with a KV cache."""

    def __init__(self, cfg: GPTConfig, weights: Dict[str, np.ndarray]) -> None:
        super().__init__(name="caption_gpt")
        self.cfg = cfg
        self.w = {k: tf.Variable(v, name=k) for k, v in sorted(weights.items())}

    @property
    def variables_list(self) -> List[tf.Variable]:
        return list(self.w.values())

    def numpy_weights(self) -> Dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in self.w.items()}

    def _mlp(self, p: str, x, training: bool):
        h = tf.nn.gelu(tf.matmul(x, self.w[p + "w1"]) + self.w[p + "b1"], approximate=True)
        return self._drop(tf.matmul(h, self.w[p + "w2"]) + self.w[p + "b2"], training)

    def _drop(self, x, training: bool):
        return tf.nn.dropout(x, self.cfg.dropout) if training and self.cfg.dropout > 0 else x

    def _embed_cond(self, cond):
        return tf.matmul(cond, self.w["wc"]) if self.cfg.n_cond else 0.0

    def __call__(self, ids, cond=None, training: bool = False, head_mask: Optional[Sequence] = None):
        """Logits ``[B, T, V]`` for ids ``[B, T]`` and condition vectors ``cond`` ``[B, n_cond]``;
        ``head_mask[l]`` (``[H_l]``) scales head outputs."""
        cfg, w = self.cfg, self.w
        B, T = tf.shape(ids)[0], tf.shape(ids)[1]
        c = tf.expand_dims(self._embed_cond(cond), 1) if cfg.n_cond else 0.0
        x = self._drop(tf.gather(w["wte"], ids) + w["wpe"][:T] + c, training)
        causal = tf.linalg.band_part(tf.ones([T, T]), -1, 0)
        bias = (1.0 - causal) * -1e9
        for l, H in enumerate(cfg.heads):
            p, hd = f"h{l}_", cfg.head_dim
            a = _ln(x, w[p + "ln1_g"], w[p + "ln1_b"])
            split = lambda t: tf.transpose(tf.reshape(t, [B, T, H, hd]), [0, 2, 1, 3])  # noqa: E731
            q, k, v = (split(tf.matmul(a, w[p + "w" + n]) + w[p + "b" + n]) for n in "qkv")
            att = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / math.sqrt(hd) + bias, axis=-1)
            o = tf.matmul(self._drop(att, training), v)  # [B, H, T, hd]
            if head_mask is not None:
                o = o * tf.reshape(tf.cast(head_mask[l], o.dtype), [1, H, 1, 1])
            o = tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B, T, H * hd])
            x = x + self._drop(tf.matmul(o, w[p + "wo"]) + w[p + "bo"], training)
            x = x + self._mlp(p, _ln(x, w[p + "ln2_g"], w[p + "ln2_b"]), training)
        x = _ln(x, w["lnf_g"], w["lnf_b"])
        return tf.matmul(x, w["wte"], transpose_b=True)

    def decode_step(self, token, pos, cond, caches: Sequence):
        """One token (``token`` ``[1]`` int32 at position ``pos`` ``[1]``, condition ``cond``
        ``[1, n_cond]``) over fixed-size caches.

        ``caches`` = ``[k_0, v_0, k_1, v_1, ...]``, each ``[1, H_l, n_ctx, head_dim]``, holding the
        keys/values of positions ``< pos`` (the rest is ignored). Returns ``{"logits": [1, V],
        "k_l"/"v_l": [1, H_l, head_dim]}``; the caller writes the new key/value rows at ``pos``.
        """
        cfg, w = self.cfg, self.w
        T, hd = cfg.n_ctx, cfg.head_dim
        x = tf.gather(w["wte"], token) + tf.gather(w["wpe"], pos) + self._embed_cond(cond)  # [1, d]
        onehot = tf.reshape(tf.one_hot(pos, T), [1, 1, T, 1])
        visible = tf.cast(tf.range(T) <= pos[0], tf.float32)
        bias = tf.reshape((1.0 - visible) * -1e9, [1, 1, 1, T])
        out = {}
        for l, H in enumerate(cfg.heads):
            p = f"h{l}_"
            a = _ln(x, w[p + "ln1_g"], w[p + "ln1_b"])
            q, k, v = (tf.reshape(tf.matmul(a, w[p + "w" + n]) + w[p + "b" + n], [1, H, 1, hd]) for n in "qkv")
            keys = caches[2 * l] * (1.0 - onehot) + k * onehot
            vals = caches[2 * l + 1] * (1.0 - onehot) + v * onehot
            att = tf.nn.softmax(tf.matmul(q, keys, transpose_b=True) / math.sqrt(hd) + bias, axis=-1)
            o = tf.reshape(tf.matmul(att, vals), [1, H * hd])
            x = x + tf.matmul(o, w[p + "wo"]) + w[p + "bo"]
            x = x + self._mlp(p, _ln(x, w[p + "ln2_g"], w[p + "ln2_b"]), False)
            out[f"k_{l}"] = tf.reshape(k, [1, H, hd])
            out[f"v_{l}"] = tf.reshape(v, [1, H, hd])
        x = _ln(x, w["lnf_g"], w["lnf_b"])
        out["logits"] = tf.matmul(x, w["wte"], transpose_b=True)
        return out


def n_params(weights: Dict[str, np.ndarray]) -> int:
    return int(sum(v.size for v in weights.values()))


def save_checkpoint(path: Path, cfg: GPTConfig, weights: Dict[str, np.ndarray]) -> None:
    """``<path>.npz`` with the weights and ``<path>.json`` with the config."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path.with_suffix(".npz"), **weights)
    path.with_suffix(".json").write_text(json.dumps(cfg.to_dict(), indent=1))


def load_checkpoint(path: Path) -> Tuple[GPTConfig, Dict[str, np.ndarray]]:
    path = Path(path)
    cfg = GPTConfig(**json.loads(path.with_suffix(".json").read_text()))
    with np.load(path.with_suffix(".npz")) as data:
        return cfg, {k: data[k] for k in data.files}
