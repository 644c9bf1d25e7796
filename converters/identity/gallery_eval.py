"""Operating point for strangers: the shipped threshold and identify margin, and a gallery test.

The held-out people (never trained on) are split in two seeded halves:

- **calibration** (half A): thresholds whose false-accept rate on A's mismatched pairs is at most
  ``far`` (1%; that threshold and stricter ones, :data:`THRESHOLD_STEPS`) and identify margins
  (:data:`MARGINS`) are tried in gallery simulations on A; the pair that recognises the most enrolled
  people while naming at most :data:`STRANGER_TARGET` of strangers is shipped;
- **report** (half B): the same simulation with that threshold and margin, never seen while
  choosing them: galleries of :data:`GALLERY_SIZE` people with two or more photos, enrolled from
  their first photo and probed with their other photos; everyone not enrolled is a stranger to
  every gallery, "named" when identify returns any enrolled name.

Everything works on unit embeddings (what the runtime computes, flip-averaged when it ships so).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from converters.identity import metrics

MARGINS = (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15)
#: Thresholds tried: the one at the asked pair FAR, then stricter ones in these steps (a stranger
#: must not be named by *any* of the people in a gallery, which a per-pair FAR does not bound).
THRESHOLD_STEPS = tuple(0.02 * k for k in range(16))
STRANGER_TARGET = 0.02
MAX_PROBES_PER_PERSON = 3
GALLERY_SIZE = 10  # people enrolled per simulated gallery (a family or a team)


@dataclass
class Gallery:
    enrolled: List[str]
    centres: np.ndarray  # [P, D] unit
    probes: List[Tuple[int, str]]  # (image index, true name) of enrolled people's unseen photos
    strangers: List[int]  # image indices of people not enrolled


def halves(people: Sequence[str], seed: int) -> Tuple[List[str], List[str]]:
    order = np.random.default_rng(seed + 101).permutation(len(people))
    people = sorted(people)
    half = len(people) // 2
    return sorted(people[i] for i in order[:half]), sorted(people[i] for i in order[half:])


def build_galleries(names: np.ndarray, people: Sequence[str], emb: np.ndarray, seed: int,
                    size: int = GALLERY_SIZE) -> List[Gallery]:
    """Galleries of ``size`` people (enrolled from their first photo, probed with up to three
    others) drawn without overlap from half of ``people`` with two or more photos; everyone else
    (the other half, and people with one photo) is a stranger to every gallery."""
    by_person: Dict[str, List[int]] = {}
    wanted = set(people)
    for i, n in enumerate(names):
        if str(n) in wanted:
            by_person.setdefault(str(n), []).append(i)
    multi = sorted(p for p, idx in by_person.items() if len(idx) >= 2)
    order = np.random.default_rng(seed + 7).permutation(len(multi))
    enrolled = [multi[i] for i in order[: len(multi) // 2]]
    enrolled_set = set(enrolled)
    strangers = [by_person[p][0] for p in sorted(by_person) if p not in enrolled_set]
    galleries = []
    for start in range(0, len(enrolled) - size + 1, size):
        group = sorted(enrolled[start:start + size])
        galleries.append(Gallery(group, np.stack([emb[by_person[p][0]] for p in group]),
                                 [(i, p) for p in group for i in by_person[p][1:1 + MAX_PROBES_PER_PERSON]], strangers))
    return galleries


def identify(gallery: Gallery, vectors: np.ndarray, threshold: float, margin: float) -> List[str]:
    """What ``FaceIdentifier.identify_embedding`` answers for each vector ("unknown" or a name)."""
    if not gallery.enrolled:
        return ["unknown"] * len(vectors)
    sims = vectors @ gallery.centres.T
    order = np.argsort(-sims, axis=1)
    out = []
    for row, rank in zip(sims, order):
        best = row[rank[0]]
        second = row[rank[1]] if len(rank) > 1 else -np.inf
        out.append(gallery.enrolled[rank[0]] if best >= threshold and best - second >= margin else "unknown")
    return out


def gallery_test(galleries: Sequence[Gallery], emb: np.ndarray, threshold: float, margin: float) -> dict:
    """Enrolled people recognised / misnamed and strangers named, over every gallery."""
    recognised = misnamed = probes = named = strangers = 0
    for gallery in galleries:
        answers = identify(gallery, emb[[i for i, _ in gallery.probes]], threshold, margin)
        truth = [p for _, p in gallery.probes]
        recognised += sum(a == t for a, t in zip(answers, truth))
        misnamed += sum(a != "unknown" and a != t for a, t in zip(answers, truth))
        probes += len(truth)
        named += sum(a != "unknown" for a in identify(gallery, emb[gallery.strangers], threshold, margin))
        strangers += len(gallery.strangers)
    return {"galleries": len(galleries), "gallery_size": len(galleries[0].enrolled) if galleries else 0,
            "probes": probes, "stranger_probes": strangers, "recognised": recognised / max(probes, 1),
            "misnamed": misnamed / max(probes, 1), "unknown": (probes - recognised - misnamed) / max(probes, 1),
            "strangers_named": named / max(strangers, 1), "threshold": threshold, "margin": margin}


def operating_point(names: np.ndarray, heldout_people: Sequence[str], pairs: np.ndarray, emb: np.ndarray,
                    far: float, seed: int) -> dict:
    """Threshold (pair FAR at most ``far``) and margin chosen on half A of the held-out people so
    that galleries name at most 2% of strangers while recognising as many enrolled people as
    possible; then the gallery test and pair verification on half B."""
    a, b = halves(heldout_people, seed)
    a_set = set(a)
    in_a = np.array([str(names[i]) in a_set and str(names[j]) in a_set for i, j, _ in pairs], bool)
    sims, same = metrics.pair_similarities(emb, pairs[in_a])
    if not (~same).any() or not same.any():  # too few people for pairs inside half A: use every held-out pair
        sims, same = metrics.pair_similarities(emb, pairs)
    cal = build_galleries(names, a, emb, seed)
    base = metrics.threshold_at_far(sims, same, far)
    thresholds = sorted({min(base + step, 1.0) for step in THRESHOLD_STEPS})  # a cosine never exceeds 1
    sweep = [gallery_test(cal, emb, t, m) for t in thresholds for m in MARGINS]
    ok = [row for row in sweep if row["strangers_named"] <= STRANGER_TARGET]
    best = max(ok, key=lambda r: (r["recognised"], -r["margin"])) if ok else \
        min(sweep, key=lambda r: (r["strangers_named"], -r["recognised"]))
    threshold, margin = best["threshold"], best["margin"]
    test = gallery_test(build_galleries(names, b, emb, seed), emb, threshold, margin)
    in_b = np.array([str(names[i]) not in a_set and str(names[j]) not in a_set for i, j, _ in pairs], bool)
    sims_b, same_b = metrics.pair_similarities(emb, pairs[in_b])
    return {"threshold": float(threshold), "margin": float(margin), "far_asked": far,
            "pair_far_on_a": float(np.mean(sims[~same] >= threshold)),
            "calibration": {"people": len(a), "pairs": int(in_a.sum()), "sweep": sweep},
            "gallery_test": test,
            "report_half": {"people": len(b), "pairs": int(in_b.sum()),
                            "accuracy": metrics.accuracy_at(sims_b, same_b, threshold),
                            "far": float(np.mean(sims_b[~same_b] >= threshold)) if (~same_b).any() else None,
                            "tar": float(np.mean(sims_b[same_b] >= threshold)) if same_b.any() else None}}
