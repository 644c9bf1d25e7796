"""The AU toolchain (converters.aus): calibration constants, the fusion head's maths, and AUs
on real FER+ faces (skipped without ../shared)."""
from __future__ import annotations

import numpy as np
import pytest

from converters.aus.calibrate import FLOOR_PERCENTILE, PERCENTILE, constants
from converters.aus.common import EMOTIONS, ferplus_rows, majority, mesh_raw
from converters.aus.validate import fit_logistic, macro_f1, softmax
from edgekit.aus import AU_NAMES, FEATURE_NAMES, activations_from_raw


def test_constants_are_neutral_median_floor_and_span():
    rng = np.random.default_rng(0)
    n = 4000
    labels = rng.integers(0, 8, n)
    raw = rng.normal(0.0, 0.01, (n, len(FEATURE_NAMES))) + 5.0
    k = AU_NAMES.index("AU12")
    raw[labels == 1, 2 * k:2 * k + 2] += 0.3  # happy faces pull the lip corners
    base, floor, span = constants(raw, labels)
    assert base == pytest.approx(np.full(len(FEATURE_NAMES), 5.0), abs=0.002)
    neutral_delta = (raw[labels == 0] - base).reshape(-1, len(AU_NAMES), 2)[:, k].ravel()
    assert floor[k] == pytest.approx(np.percentile(neutral_delta, FLOOR_PERCENTILE), abs=1e-9)
    assert span[k] > 0.25 and all(span[j] < 0.05 for j in range(len(AU_NAMES)) if j != k)
    assert PERCENTILE > FLOOR_PERCENTILE and (span > floor).all()


def test_majority_protocol():
    assert majority(np.array([8, 1, 0, 0, 0, 0, 0, 0, 1, 0])) == 0
    assert majority(np.array([4, 4, 0, 0, 0, 0, 0, 0, 2, 0])) == -1  # tie
    assert majority(np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 9])) == -1  # not a face


def test_logistic_head_and_macro_f1():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 600)
    x = np.eye(3)[y] * 3 + rng.normal(0, 1, (600, 3))
    w, b = fit_logistic(x, y, 3, steps=300)
    pred = np.argmax(x @ w + b, axis=1)
    assert (pred == y).mean() > 0.85
    f1, f1s, recalls = macro_f1(y, y, 3)
    assert f1 == 1.0 and recalls == [1.0, 1.0, 1.0]
    f1, _, recalls = macro_f1(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2)
    assert recalls == [0.5, 1.0] and f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert softmax(np.array([[0.0, 0.0]])) == pytest.approx(np.array([[0.5, 0.5]]))


def test_aus_follow_the_expression_on_real_ferplus_faces(ferplus_dir):
    """On FER2013Valid: smiles read more AU12 than neutral faces, surprise more AU1/AU2/AU26."""
    rows = ferplus_rows(ferplus_dir / "FER2013Valid")
    picked = {e: [p for p, v in rows if majority(v) == EMOTIONS.index(e) and v[EMOTIONS.index(e)] >= 8][:25]
              for e in ("neutral", "happiness", "surprise")}
    acts = {}
    for emotion, paths in picked.items():
        data = mesh_raw(paths, emotion)
        assert data["ok"].mean() > 0.8, f"the mesh reads too few {emotion} faces"
        acts[emotion] = np.array([[activations_from_raw(r)[0][a] for a in AU_NAMES] for r in data["raw"][data["ok"]]])
    mean = {e: dict(zip(AU_NAMES, a.mean(axis=0))) for e, a in acts.items()}
    assert mean["happiness"]["AU12"] > mean["neutral"]["AU12"] + 0.3
    for au in ("AU1", "AU2", "AU26", "AU25"):
        assert mean["surprise"][au] > mean["neutral"][au] + 0.1, au
    assert mean["neutral"]["AU12"] < 0.2 and mean["surprise"]["AU12"] < 0.2
