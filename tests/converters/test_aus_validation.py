"""The AU toolchain (converters.aus): calibration constants, the fusion head's maths, and AUs
on real FER+ faces (skipped without ../shared)."""
from __future__ import annotations

import numpy as np
import pytest

from converters.aus.calibrate import FLOOR_PERCENTILE, PERCENTILE, constants
from converters.aus.common import EMOTIONS, majority, mesh_raw
from converters.core.fercrops import ferplus_rows
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


class _StubPipe:
    """A pipeline whose face reads p(neutral) from the photo's mean pixel (0..255 -> 0..1); no face when 0."""

    def process(self, image):
        from types import SimpleNamespace

        p = float(image.mean()) / 255.0
        face = SimpleNamespace(box=SimpleNamespace(area=1.0), emotion=SimpleNamespace(probs={"neutral": p}))
        return SimpleNamespace(faces=[face] if p > 0 else [])


def test_lfw_targets_are_the_photos_read_as_neutral_in_seeded_order(tmp_path):
    import cv2

    from converters.aus.transfer_check import NEUTRAL_P, lfw_neutral_targets

    levels = [0, 40, 200, 250, 120, 230, 180, 10]
    for i, level in enumerate(levels):
        folder = tmp_path / "lfw" / "images" / f"person_{i}"
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / f"person_{i}_0001.png"), np.full((8, 8, 3), level, np.uint8))
    for path in (tmp_path / "lfw" / "images").glob("*/*.png"):
        path.rename(path.with_suffix(".jpg"))  # PNG bytes; cv2 reads by content
    chosen, looked = lfw_neutral_targets(tmp_path, 3, _StubPipe())
    neutral = {f"person_{i}" for i, level in enumerate(levels) if level / 255.0 >= NEUTRAL_P}
    assert len(chosen) == 3 and {p.parent.name for p in chosen} <= neutral and 3 <= looked <= len(levels)
    assert lfw_neutral_targets(tmp_path, 3, _StubPipe()) == (chosen, looked)  # seeded: the same every run
    everything, looked_all = lfw_neutral_targets(tmp_path, 10, _StubPipe())
    assert {p.parent.name for p in everything} == neutral and looked_all == len(levels)


def test_transfer_summary_and_diagnosis_of_per_pair_rows():
    from converters.aus.transfer_check import diagnose_random_sample, remaining_failures, summary

    def row(p_neutral, target12, source12, moved12, remesh12=0.05, yaw=0.0):
        return {"target_p_neutral": p_neutral, "target_au12_vs_population": target12,
                "source_au12_vs_population": source12, "moved_au12_change": moved12, "moved_au6_change": 0.01,
                "au12_change": remesh12, "au6_change": -0.01, "au12_activation_change": 0.2,
                "au6_activation_change": 0.0, "both_active_against_own_neutral": True,
                "target_pose": {"yaw": yaw, "pitch": 0.0, "roll": 0.0}}

    rows = [row(0.9, 0.0, 0.2, 0.15), row(0.8, 0.0, 0.1, 0.05, yaw=-20.0), row(0.1, 0.3, 0.2, -0.08, -0.02, 12.0),
            row(0.3, 0.1, 0.2, 0.04), {"source": "x", "target": "y", "skipped": "no face"}]
    s = summary(rows)
    assert s["pairs"] == 4 and s["au12_rises_on_transferred_landmarks"] == 0.75 and s["au12_rises"] == 0.75
    assert s["au6_rises"] == 0.0 and s["source_au12_above_population"] == 1.0 and s["au12_mean_change"] == 0.2
    d = diagnose_random_sample(rows)
    assert d["pairs"] == 4 and d["targets_read_neutral"] == 2
    assert d["au12_rises_on_transferred_landmarks"] == {"neutral_targets": 1.0, "other_targets": 0.5}
    assert d["fails_on_transferred_landmarks"] == 1 and d["fails_with_target_not_read_neutral"] == 1
    assert d["fails_with_target_au12_at_least_the_source"] == 1
    assert d["target_abs_yaw_median"] == {"fails": 12.0, "rises": 0.0}
    for r in rows[:4]:
        r["source"], r["source_corners_au12"] = "smile.png", 0.25
    assert remaining_failures(rows, 0.2) == {"pairs": 1, "sources": 1, "source_corners_minus_reference": [0.05]}
