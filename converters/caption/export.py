"""Export the caption GPT as a LiteRT model with one ``decode`` signature over a fixed-size KV cache.

Signature ``decode``: inputs ``token`` [1] int32, ``pos`` [1] int32, ``cond`` [1, n_cond] float32
(the condition vector of :mod:`edgekit.captioning.conditioning`) and, per layer l,
``k_cache_l``/``v_cache_l`` [1, H_l, n_ctx, head_dim] float32; outputs ``logits`` [1, V] and the
new key/value rows ``k_l``/``v_l`` [1, H_l, head_dim] that the runtime writes at ``pos``.
One token per invoke; the prefix is never re-run.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Dict

import numpy as np

from converters.core.tfenv import tf

from .model import GPT, GPTConfig

SIGNATURE = "decode"


def _decode_fn(model: GPT):
    cfg = model.cfg
    specs = [tf.TensorSpec([1], tf.int32, name="token"), tf.TensorSpec([1], tf.int32, name="pos"),
             tf.TensorSpec([1, cfg.n_cond], tf.float32, name="cond")]
    for l, H in enumerate(cfg.heads):
        for kv in "kv":
            specs.append(tf.TensorSpec([1, H, cfg.n_ctx, cfg.head_dim], tf.float32, name=f"{kv}_cache_{l}"))

    @tf.function(input_signature=specs)
    def decode(token, pos, cond, *caches):
        return model.decode_step(token, pos, cond, caches)

    return decode


def export_tflite(cfg: GPTConfig, weights: Dict[str, np.ndarray], out_path: Path, int8: bool) -> Path:
    """Write ``out_path``: float32, or dynamic-range INT8 (int8 weights, float activations) when ``int8``."""
    model = GPT(cfg, weights)
    model.decode = _decode_fn(model)
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(model, tmp, signatures={SIGNATURE: model.decode.get_concrete_function()})
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=[SIGNATURE])
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        blob = converter.convert()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(blob)
    return out_path
