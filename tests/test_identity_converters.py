"""The identity toolchain: verification metrics, the person split, the embedder + pruning, and a
tiny end-to-end ``run_all`` on a few LFW people (skipped without ../shared)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from converters.identity import data as data_mod
from converters.identity import metrics


def test_best_threshold_and_kfold_on_separable_scores():
    same = np.array([True] * 50 + [False] * 50)
    sims = np.where(same, 0.6, 0.1) + np.linspace(0, 0.2, 100)
    t, acc = metrics.best_threshold(sims, same)
    assert acc == 1.0 and 0.3 < t <= 0.6
    assert metrics.kfold_accuracy(sims, same)["accuracy"] == 1.0


def test_accuracy_counts_mistakes():
    same = np.array([True, True, False, False])
    sims = np.array([0.9, 0.2, 0.8, 0.1])  # one matched pair too low, one mismatched too high
    assert metrics.accuracy_at(sims, same, 0.5) == 0.5
    assert metrics.best_threshold(sims, same)[1] == 0.75


def test_roc_and_tar_at_far():
    rng = np.random.default_rng(0)
    same = np.array([True] * 1000 + [False] * 1000)
    sims = np.concatenate([rng.normal(0.6, 0.1, 1000), rng.normal(0.2, 0.1, 1000)])
    curve = metrics.roc(sims, same)
    assert curve.far[0] == 0 and curve.tar[0] == 0 and curve.far[-1] == 1 and curve.tar[-1] == 1
    assert np.all(np.diff(curve.far) >= 0) and np.all(np.diff(curve.tar) >= 0)
    assert 0.95 < curve.auc() < 1.0
    t2, t3 = metrics.tar_at_far(curve, 1e-2), metrics.tar_at_far(curve, 1e-3)
    assert 0 < t3 <= t2 < 1
    report = metrics.verification_report(sims, same, 0.4)
    assert report["far_0.001_resolvable"] and report["pairs"] == 2000


def test_person_split_is_disjoint_and_seeded():
    names = np.array([f"p{i // 3}" for i in range(300)])
    a = data_mod.split_people(names, 0.2, seed=1)
    b = data_mod.split_people(names, 0.2, seed=1)
    assert a == b and len(a.heldout_people) == 20 and not set(a.heldout_people) & set(a.train_people)
    pairs = data_mod.sample_pairs(names, a.heldout_people, count=1000, seed=0, max_per_person=2)
    held = set(a.heldout_people)
    assert all(names[i] in held and names[j] in held for i, j, _ in pairs)
    matched, mismatched = pairs[pairs[:, 2] == 1], pairs[pairs[:, 2] == 0]
    assert len(matched) == 40 == len(mismatched)  # 2 per person, balanced
    assert all(names[i] == names[j] for i, j, _ in matched) and all(names[i] != names[j] for i, j, _ in mismatched)


def test_embedder_shape_and_structured_pruning():
    from converters.emotion import pruning
    from converters.identity.model import EmbedderSpec, build_embedder, custom_objects

    model = build_embedder(EmbedderSpec(input_size=32, depth=4, embedding_dim=16))
    assert model.output_shape == (None, 16) and model.input_shape == (None, 32, 32, 3)
    thin, plan = pruning.prune(model, 0.3, custom_objects=custom_objects())
    assert 0.2 < plan.removed_fraction() < 0.4
    assert thin.output_shape == (None, 16) and pruning.count_params(thin) < pruning.count_params(model)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    assert thin.predict(x, verbose=0).shape == (2, 16)


def test_end_to_end_tiny_run(lfw_dir, tmp_path):
    from converters.identity.pipeline import IdentityConfig, run_all
    from converters.identity.train import FitSettings
    from edgekit.identity import FaceEmbedder

    from converters.identity.pipeline import _limited_people

    # a synthetic teacher cache for the faces of this run (distillation and the stranger-safe operating point)
    index = data_mod.index_lfw(lfw_dir, _limited_people(lfw_dir, 12))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "teacher.npz", embeddings=rng.normal(size=(1, len(index), 16)).astype(np.float32),
             names=index.names, numbers=index.numbers, listing_sha256=np.array("synthetic"))
    fit = dict(budget_minutes=0.01, epochs=1, batch_size=16, eval_every=0, distill_weight=1.0)
    cfg = IdentityConfig(data=str(lfw_dir), out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), people_limit=12,
                         input_size=32, depth=3, embedding_dim=16, heldout_fraction=0.3, train=FitSettings(**fit),
                         finetune=FitSettings(**fit), qat=FitSettings(budget_minutes=0.0), calibration_count=16,
                         ship=False, report_dir=str(tmp_path / "report"), latency_runs=5, produced_by="pytest",
                         teacher=str(tmp_path / "teacher.npz"), threshold_far=0.01)
    report = run_all(cfg)
    assert report["operating_point"]["threshold"] == report["shipped"]["threshold"]
    assert "margin" in report["shipped"] and report["teacher"]["heldout"]["pairs"] > 0
    assert "distill_loss" in json.loads((tmp_path / "run" / "float" / "history.json").read_text())["history"][0]
    assert "Operating point" in (tmp_path / "report" / "README.md").read_text()
    assert set(report["variants"]) == {"float_fp32", "pruned_fp32", "pruned_int8_ptq"}
    assert report["shipped"]["variant"] == "pruned_int8_ptq" and report["shipped"]["file"] is None
    assert 0.25 < report["pruning"]["removed_fraction"] < 0.35
    assert report["data"]["heldout_people"] == 4 and report["data"]["train_people"] == 8
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["shipped"]["threshold"] == pytest.approx(report["shipped"]["threshold"])
    assert (tmp_path / "report" / "roc.png").stat().st_size > 1000
    assert "pairsDevTrain" in (tmp_path / "report" / "README.md").read_text()
    int8 = FaceEmbedder(tmp_path / "run" / "tflite" / "pruned_int8_ptq.tflite", threshold=report["shipped"]["threshold"])
    assert int8.input_spec.dtype == "uint8" and int8.dim == 16


def test_threshold_at_far_picks_the_far_point():
    rng = np.random.default_rng(1)
    same = np.array([True] * 2000 + [False] * 2000)
    sims = np.concatenate([rng.normal(0.7, 0.1, 2000), rng.normal(0.1, 0.15, 2000)])
    for far in (0.1, 0.01, 0.001):
        t = metrics.threshold_at_far(sims, same, far)
        measured = np.mean(sims[~same] >= t)
        assert measured <= far and measured > far - 2 / 2000  # as close to the asked FAR as the data allows
    assert metrics.threshold_at_far(sims, same, 0.0) > sims[~same].max()


def test_teacher_targets_are_looked_up_by_face_and_refuse_a_mismatch(tmp_path):
    from converters.identity.teacher import centred_targets, load_targets
    from edgekit.errors import ConfigError

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(2, 3, 8)).astype(np.float32)
    names, numbers = np.array(["A", "A", "B"]), np.array([1, 2, 1])
    np.savez(tmp_path / "t.npz", embeddings=emb, names=names, numbers=numbers, listing_sha256=np.array("x"))
    got = load_targets(tmp_path / "t.npz", np.array(["B", "A"]), np.array([1, 2]))
    np.testing.assert_allclose(got, emb.mean(axis=0)[[2, 1]], atol=1e-6)
    centred = centred_targets(got + 5.0, np.array([0, 1]))  # a shared offset is removed
    np.testing.assert_allclose(np.linalg.norm(centred, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(centred[0], -centred[1], atol=1e-6)
    with pytest.raises(ConfigError, match="no embedding for 1 of 2 faces"):
        load_targets(tmp_path / "t.npz", np.array(["A", "C"]), np.array([1, 1]))
    emb[0, 0, 0] = np.nan
    np.savez(tmp_path / "u.npz", embeddings=emb, names=names, numbers=numbers, listing_sha256=np.array("x"))
    with pytest.raises(ConfigError, match="unfinished"):
        load_targets(tmp_path / "u.npz", names, numbers)


def test_distillation_targets_reach_the_loss(tmp_path):
    """On a tiny set the teacher term is part of the training loss and falls as training goes."""
    from converters.emotion.augment import AugmentConfig
    from converters.identity.model import EmbedderSpec, build_embedder
    from converters.identity.train import FitSettings, fit

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (32, 32, 32), dtype=np.uint8)
    labels = np.arange(32) % 4
    teacher = rng.normal(size=(32, 16)).astype(np.float32)
    embedder = build_embedder(EmbedderSpec(input_size=32, depth=3, embedding_dim=16, dropout=0.0))
    settings = FitSettings(budget_minutes=5, epochs=30, batch_size=16, lr=3e-3, warmup_epochs=0, eval_every=0,
                           distill_weight=5.0, augment=AugmentConfig(flip=False, rotation_deg=0, shift=0, scale=0,
                                                                      brightness=0, contrast=0, erase_prob=0))
    fit(embedder, images, labels, 4, settings, teacher=teacher, verbose=0, history_path=tmp_path / "h.json")
    history = json.loads((tmp_path / "h.json").read_text())["history"]
    distill = [row["distill_loss"] for row in history]
    assert "cosface_loss" in history[0] and len(distill) == 30
    assert distill[-1] < 0.5 * distill[0]  # 1 - cos fell: the student moved towards its targets
    with pytest.raises(ValueError, match="do not match"):
        fit(embedder, images, labels, 4, settings, teacher=teacher[:5], verbose=0)


def test_operating_point_is_chosen_on_one_half_and_tested_on_the_other():
    """Clustered synthetic people: the threshold meets the asked FAR on half A, the gallery test
    on half B names few strangers and recognises most enrolled people."""
    from converters.identity import gallery_eval

    rng = np.random.default_rng(3)
    people = [f"p{k:03d}" for k in range(200)]
    centres = rng.normal(size=(200, 32))
    names, vectors = [], []
    for k, person in enumerate(people):
        for _ in range(1 + k % 4):  # 1-4 photos per person
            names.append(person)
            vectors.append(centres[k] + 0.3 * rng.normal(size=32))
    names = np.array(names)
    emb = np.array(vectors)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    pairs = data_mod.sample_pairs(names, people, count=400, seed=0)
    point = gallery_eval.operating_point(names, people, pairs, emb, far=0.01, seed=0)
    a, b = gallery_eval.halves(people, 0)
    assert not set(a) & set(b) and point["calibration"]["people"] == len(a)
    assert point["margin"] in gallery_eval.MARGINS
    g = point["gallery_test"]
    assert g["galleries"] >= 2 and g["gallery_size"] == gallery_eval.GALLERY_SIZE and g["probes"] > 10
    assert g["strangers_named"] <= 0.05 and g["recognised"] >= 0.8
    assert point["pair_far_on_a"] <= 0.01 and point["report_half"]["far"] <= 0.05
    # identify follows the runtime's rule: below the threshold or within the margin -> unknown
    gal = gallery_eval.Gallery(["x", "y"], np.eye(2), [], [])
    assert gallery_eval.identify(gal, np.array([[0.9, 0.1], [0.6, 0.58], [0.3, 0.0]]), 0.5, 0.05) == ["x", "unknown", "unknown"]
