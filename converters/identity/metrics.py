"""Face-verification metrics on cosine similarities of image pairs (numpy only).

- ``kfold_accuracy``: the LFW protocol: pairs split into 10 folds; for each fold the threshold
  that maximises accuracy on the other nine is applied to it; mean and std over folds.
- ``roc``: true-accept rate against false-accept rate over all thresholds; ``tar_at_far`` reads
  it at a given FAR (the largest TAR whose FAR does not exceed it).
- ``best_threshold``: the accuracy-maximising threshold on a set of pairs (what ships).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import numpy as np


def pair_similarities(embeddings: np.ndarray, pairs: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of every ``(i, j, same)`` row and the ``same`` labels (bool)."""
    e = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    sims = np.einsum("ij,ij->i", e[pairs[:, 0]], e[pairs[:, 1]])
    return sims, pairs[:, 2].astype(bool)


def accuracy_at(sims: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((sims >= threshold) == same)) if len(sims) else float("nan")


def best_threshold(sims: np.ndarray, same: np.ndarray) -> Tuple[float, float]:
    """``(threshold, accuracy)`` maximising accuracy; the threshold lies midway between scores."""
    order = np.sort(np.unique(sims))
    candidates = np.concatenate([[order[0] - 1e-6], (order[:-1] + order[1:]) / 2, [order[-1] + 1e-6]])
    # Accuracy for every candidate in one pass: predictions are "same" for sims >= t.
    pos = np.sort(sims[same])
    neg = np.sort(sims[~same])
    tp = len(pos) - np.searchsorted(pos, candidates, side="left")
    tn = np.searchsorted(neg, candidates, side="left")
    acc = (tp + tn) / len(sims)
    best = int(np.argmax(acc))
    return float(candidates[best]), float(acc[best])


def kfold_accuracy(sims: np.ndarray, same: np.ndarray, folds: int = 10, seed: int = 0) -> Dict[str, float]:
    """Mean / std accuracy over ``folds`` with the threshold chosen on the other folds."""
    order = np.random.default_rng(seed).permutation(len(sims))
    accs, thresholds = [], []
    for k, test in enumerate(np.array_split(order, folds)):
        train = np.setdiff1d(order, test)
        t, _ = best_threshold(sims[train], same[train])
        thresholds.append(t)
        accs.append(accuracy_at(sims[test], same[test], t))
    return {"accuracy": float(np.mean(accs)), "std": float(np.std(accs)), "threshold_mean": float(np.mean(thresholds))}


@dataclass
class Roc:
    far: np.ndarray
    tar: np.ndarray
    thresholds: np.ndarray

    def auc(self) -> float:
        return float(np.trapz(self.tar, self.far))


def roc(sims: np.ndarray, same: np.ndarray) -> Roc:
    """ROC over every distinct threshold, from accept-nothing to accept-all."""
    thresholds = np.concatenate([[np.inf], np.sort(np.unique(sims))[::-1]])
    pos, neg = np.sort(sims[same]), np.sort(sims[~same])
    tar = (len(pos) - np.searchsorted(pos, thresholds, side="left")) / max(len(pos), 1)
    far = (len(neg) - np.searchsorted(neg, thresholds, side="left")) / max(len(neg), 1)
    return Roc(far, tar, thresholds)


def tar_at_far(curve: Roc, far: float) -> float:
    ok = curve.far <= far
    return float(curve.tar[ok].max()) if ok.any() else 0.0


def threshold_at_far(sims: np.ndarray, same: np.ndarray, far: float) -> float:
    """The lowest threshold whose false-accept rate on the mismatched pairs is at most ``far``
    (a stranger pair is accepted when its similarity is >= the threshold)."""
    neg = np.sort(sims[~same])[::-1]
    if not len(neg):
        raise ValueError("no mismatched pairs to measure a false-accept rate on")
    allowed = int(np.floor(far * len(neg)))  # how many strangers may pass
    if allowed >= len(neg):
        return float(neg[-1])
    return float(np.nextafter(neg[allowed], np.inf))  # just above the first stranger that must fail


def verification_report(sims: np.ndarray, same: np.ndarray, threshold: float,
                        fars: Sequence[float] = (1e-2, 1e-3)) -> Dict[str, float]:
    """Everything the report lists for one set of pairs, ``threshold`` being the shipped one."""
    curve = roc(sims, same)
    out = {"pairs": int(len(sims)), "matched": int(same.sum()), "mismatched": int((~same).sum()),
           **{f"kfold_{k}": v for k, v in kfold_accuracy(sims, same).items()},
           "accuracy_at_shipped_threshold": accuracy_at(sims, same, threshold),
           "best_threshold_accuracy": best_threshold(sims, same)[1], "roc_auc": curve.auc()}
    negatives = int((~same).sum())
    for far in fars:
        out[f"tar_at_far_{far:g}"] = tar_at_far(curve, far)
        out[f"far_{far:g}_resolvable"] = bool(negatives * far >= 1)  # fewer negatives: the FAR is not measurable
    return out
