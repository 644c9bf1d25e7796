"""Embeddings of aligned crops from a Keras model and verification scores on pairs (the held-out
check during training; ``.tflite`` variants are evaluated through the runtime in :mod:`report`)."""
from __future__ import annotations

from typing import Dict

import numpy as np

from converters.identity import metrics


def keras_embeddings(model, images: np.ndarray, flip: bool = False, batch: int = 256) -> np.ndarray:
    """Embeddings (not normalised) of RGB ``[N, S, S, 3]`` or gray ``[N, S, S]`` uint8 crops."""
    x = np.asarray(images, np.float32)
    if x.ndim == 3:
        x = np.repeat(x[..., None], 3, axis=-1)
    out = model.predict(x, batch_size=batch, verbose=0)
    if flip:
        out = _normalise(out) + _normalise(model.predict(x[:, :, ::-1], batch_size=batch, verbose=0))
    return out


def _normalise(e: np.ndarray) -> np.ndarray:
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def pair_accuracy(embeddings: np.ndarray, pairs: np.ndarray) -> Dict[str, float]:
    """10-fold verification accuracy and AUC of ``pairs`` ([M, 3] index pairs into ``embeddings``)."""
    sims, same = metrics.pair_similarities(embeddings, pairs)
    curve = metrics.roc(sims, same)
    return {"acc": metrics.kfold_accuracy(sims, same)["accuracy"], "auc": curve.auc()}


def subset_embeddings(embed, images: np.ndarray, pairs: np.ndarray):
    """Embed only the images ``pairs`` use; returns (embeddings over all indices, remapped pairs)."""
    used = np.unique(pairs[:, :2])
    remap = np.full(len(images), -1, np.int64)
    remap[used] = np.arange(len(used))
    out = pairs.copy()
    out[:, 0], out[:, 1] = remap[pairs[:, 0]], remap[pairs[:, 1]]
    return embed(images[used]), out
