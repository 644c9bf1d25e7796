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
    from converters.core import pruning
    from converters.identity.model import EmbedderSpec, build_embedder, custom_objects

    model = build_embedder(EmbedderSpec(input_size=32, depth=4, embedding_dim=16))
    assert model.output_shape == (None, 16) and model.input_shape == (None, 32, 32, 3)
    thin, plan = pruning.prune(model, 0.3, custom_objects=custom_objects())
    assert 0.2 < plan.removed_fraction() < 0.4
    assert thin.output_shape == (None, 16) and pruning.count_params(thin) < pruning.count_params(model)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    assert thin.predict(x, verbose=0).shape == (2, 16)


@pytest.mark.train
def test_end_to_end_tiny_run(lfw_dir, tmp_path):
    from converters.identity.pipeline import IdentityConfig, run_all
    from converters.identity.train import FitSettings
    from edgekit.identity import FaceEmbedder

    from converters.identity.pipeline import _limited_people

    # a synthetic teacher cache for the faces of this run (distillation and the stranger-safe operating point)
    from converters.identity import views

    index = data_mod.index_lfw(lfw_dir, _limited_people(lfw_dir, 12))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "teacher.npz", embeddings=rng.normal(size=(2, len(index), 16)).astype(np.float32),
             view_names=np.array(["photo", "aug1"]), names=index.names, numbers=index.numbers,
             listing_sha256=np.array("synthetic"), image_sha256=data_mod.image_hashes(index),
             augment_version=np.array(views.VERSION))
    fit = dict(budget_minutes=0.01, epochs=1, batch_size=16, eval_every=0, distill_weight=1.0, relational_weight=1.0)
    cfg = IdentityConfig(data=str(lfw_dir), out=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"),
                         people_limit=12,
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
    d = report["data"]
    assert d["augmented_view_samples"] == d["train_images"] and d["teacher"]["augmented_views_used"] == ["aug1"]
    history = json.loads((tmp_path / "run" / "float" / "history.json").read_text())
    assert history["images"] == 2 * d["train_images"] and "relational_loss" in history["history"][0]
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["shipped"]["threshold"] == pytest.approx(report["shipped"]["threshold"])
    assert (tmp_path / "report" / "roc.png").stat().st_size > 1000
    assert "pairsDevTrain" in (tmp_path / "report" / "README.md").read_text()
    int8 = FaceEmbedder(tmp_path / "run" / "tflite" / "pruned_int8_ptq.tflite",
                        threshold=report["shipped"]["threshold"])
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


@pytest.mark.train
def test_distillation_targets_reach_the_loss(tmp_path):
    """On a tiny set the teacher term is part of the training loss and falls as training goes."""
    from converters.core.augment import AugmentConfig
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
    assert gallery_eval.identify(gal, np.array([[0.9, 0.1], [0.6, 0.58], [0.3, 0.0]]), 0.5, 0.05) == ["x", "unknown",
                                                                                                      "unknown"]


# ------------------------------------------------------------------------------------ teacher (#19)


class StandInTeacher:
    """dlib's interface without dlib: one HOG box in the middle, and a content-dependent 128-d
    "embedding" (the box's gray pixels at 16x8), so views of a photo get different vectors.
    ``fail_after``: raise after that many embeddings (a killed run)."""

    version = "stand-in"
    files: dict = {}

    def __init__(self, fail_after=None):
        self.calls, self.fail_after = 0, fail_after

    def hog_boxes(self, rgb):
        h, w = rgb.shape[:2]
        return [(0.3 * w, 0.3 * h, 0.7 * w, 0.7 * h)]

    def embed(self, rgb, box):
        import cv2

        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("killed")
        left, top, right, bottom = (int(round(v)) for v in box)
        gray = cv2.cvtColor(np.ascontiguousarray(rgb[max(top, 0):bottom, max(left, 0):right]), cv2.COLOR_RGB2GRAY)
        return cv2.resize(gray, (16, 8), interpolation=cv2.INTER_AREA).astype(np.float32).ravel() / 255.0


def test_views_are_deterministic_and_move_points_with_the_photo():
    """The same view everywhere; a marked pixel lands where move_points says (so the student's
    moved eyes and the teacher's moved box follow the face)."""
    from converters.identity import views

    p = views.view_params("Ann", 3, 1)
    assert p == views.view_params("Ann", 3, 1) and p != views.view_params("Ann", 3, 2) != views.view_params("Ann", 4, 2)
    assert len({views.view_params("Ann", 3, k).angle for k in range(1, 20)}) == 19
    geometry = views.ViewParams(angle=9.0, scale=1.08, dx=0.03, dy=-0.02, contrast=1.0, brightness=0.0, gamma=1.0,
                                low_res=0.0, gray=False)
    img = np.zeros((250, 250, 3), np.uint8)
    img[100:103, 150:153] = 255  # centre pixel (151, 101)
    moved, matrix = views.apply_view(img, geometry)
    ys, xs = np.nonzero(moved[:, :, 0] > 60)
    want = views.move_points(matrix, np.array([[151.0, 101.0]]))[0]
    assert abs(np.average(xs, weights=moved[ys, xs, 0]) - want[0]) < 0.5
    assert abs(np.average(ys, weights=moved[ys, xs, 0]) - want[1]) < 0.5
    box = views.move_box(matrix, np.array([100.0, 100.0, 150.0, 150.0]))
    assert box[2] - box[0] == pytest.approx(50 * 1.08) and box[3] - box[1] == pytest.approx(50 * 1.08)
    with pytest.raises(ValueError):
        views.view_params("Ann", 3, 0)


def test_moved_eyes_match_blazeface_on_the_augmented_photo(lfw_dir, tmp_path):
    """The student aligns a view from the BlazeFace eyes moved by the view's matrix: they agree
    with what BlazeFace finds on the transformed photo itself (a few pixels)."""
    from converters.identity import views
    from edgekit import FaceDetector, load_image

    index = data_mod.index_lfw(lfw_dir, ["Aaron_Peirsol"])
    eyes, detected = data_mod.detect_eyes(index, tmp_path)
    assert detected.all()
    with FaceDetector() as detector:
        for i in range(len(index)):
            for view in (1, 2, 3):
                p = views.view_params(str(index.names[i]), int(index.numbers[i]), view)
                moved, matrix = views.apply_view(load_image(index.path(i)), p)
                det = data_mod.centre_face(detector.detect(moved), 250, 250)
                found = np.array([*det.keypoint("right_eye"), *det.keypoint("left_eye")])
                assert np.abs(found - views.move_eyes(matrix, eyes[i])).max() < 6.0, (i, view, p)


def test_teacher_extraction_resumes_extends_and_describes(lfw_dir, tmp_path, monkeypatch):
    from converters.identity import teacher as teacher_mod

    monkeypatch.setattr(teacher_mod, "CHECKPOINT_EVERY", 2)
    out, cache = tmp_path / "t", tmp_path / "cache"
    with pytest.raises(RuntimeError, match="killed"):  # killed during the first augmented view
        teacher_mod.extract(lfw_dir, out, cache, limit=6, views=["photo"], augment=1,
                            teacher=StandInTeacher(fail_after=9))
    partial = list(out.glob("*.partial.npz"))
    assert len(partial) == 1 and not list(out.glob("teacher_????????????????.npz"))
    resumed = StandInTeacher()
    d = teacher_mod.extract(lfw_dir, out, cache, limit=6, views=["photo"], augment=1, teacher=resumed)
    assert resumed.calls == 12 - 8  # only what the last checkpoint had not saved
    clean = teacher_mod.extract(lfw_dir, tmp_path / "clean", cache, limit=6, views=["photo"], augment=1,
                                teacher=StandInTeacher())
    assert d["embeddings_sha256"] == clean["embeddings_sha256"] and d["views"] == ["photo", "aug1"]
    assert d["faces"] == 6 and d["images_sha256"] == clean["images_sha256"] and set(d["cpu_ms_per_face"]) == {"photo",
                                                                                                              "aug1",
                                                                                                              "boxes"}
    first = np.load(out / d["cache_file"])["embeddings"]
    # a later run adds the mirror view and a second augmented view, recomputing nothing else
    more = StandInTeacher()
    d2 = teacher_mod.extract(lfw_dir, out, cache, limit=6, views=["photo", "mirror"], augment=2, teacher=more)
    assert more.calls == 12 and d2["views"] == ["photo", "mirror", "aug1", "aug2"]
    assert not list(out.glob("*.partial.npz"))
    data = np.load(out / d2["cache_file"])
    np.testing.assert_array_equal(data["embeddings"][[0, 2]], first)
    assert d2["produced_by"].endswith("--views photo mirror --augment 2")
    assert teacher_mod.resolve_cache(out) == out / d2["cache_file"]
    with pytest.raises(teacher_mod.ConfigError, match="views must be"):
        teacher_mod.extract(lfw_dir, out, cache, limit=6, views=["mirror"], teacher=StandInTeacher())


def test_a_teacher_cache_that_does_not_match_the_faces_is_refused(lfw_dir, tmp_path):
    from converters.identity import teacher as teacher_mod
    from edgekit.errors import ConfigError

    d = teacher_mod.extract(lfw_dir, tmp_path / "t", tmp_path / "cache", limit=4, views=["photo", "mirror"], augment=1,
                            teacher=StandInTeacher())
    path = tmp_path / "t" / d["cache_file"]
    index = data_mod.index_lfw(lfw_dir)
    index.names, index.numbers = index.names[:4], index.numbers[:4]
    hashes = data_mod.image_hashes(index)
    got = teacher_mod.load_teacher(path, index.names[::-1], index.numbers[::-1], hashes[::-1])  # any order: by name
    raw = np.load(path)["embeddings"]
    np.testing.assert_allclose(got.base, raw[:2].mean(axis=0)[::-1], atol=1e-6)
    np.testing.assert_allclose(got.augmented["aug1"], raw[2][::-1])
    bad = hashes.copy()
    bad[1] = "0" * 64
    with pytest.raises(ConfigError, match="other image files: 1 of 4 faces differ"):
        teacher_mod.load_teacher(path, index.names, index.numbers, bad)
    with pytest.raises(ConfigError, match="no embedding for 1 of 5 faces"):
        teacher_mod.load_teacher(path, np.append(index.names, "Zed"), np.append(index.numbers, 1),
                                 np.append(hashes, "x"))
    with pytest.raises(ConfigError, match="covers 4 faces"):
        teacher_mod.check_matches(dict(np.load(path)), index.names[:3], index.numbers[:3])
    with pytest.raises(ConfigError, match="teacher cache not found"):
        teacher_mod.resolve_cache(tmp_path / "nowhere")
    (tmp_path / "t" / "teacher_0000000000000000.npz").write_bytes(path.read_bytes())
    with pytest.raises(ConfigError, match="holds 2 teacher caches"):
        teacher_mod.resolve_cache(tmp_path / "t")
    assert teacher_mod.resolve_cache(tmp_path / "t", index.names, index.numbers) == path


def test_the_teacher_opens_only_its_two_cc0_files(monkeypatch):
    """Teacher.load hands dlib only the pinned 5-point and ResNet files, never the 68-point model
    (not licensed for commercial use); the package's licence file is CC0."""
    import sys
    import types

    from converters.identity import teacher as teacher_mod

    try:
        teacher_mod.teacher_files()
    except teacher_mod.ModelError:
        pytest.skip("face_recognition_models is not installed (pip install -e '.[teacher]')")
    opened = []
    fake = types.SimpleNamespace(__version__="fake", get_frontal_face_detector=lambda: "hog",
                                 shape_predictor=lambda p: opened.append(p) or "sp",
                                 face_recognition_model_v1=lambda p: opened.append(p) or "resnet")
    monkeypatch.setitem(sys.modules, "dlib", fake)
    loaded = teacher_mod.Teacher.load()
    assert sorted(p.rsplit("/", 1)[-1] for p in opened) == sorted(teacher_mod.TEACHER_FILES)
    assert not any("68" in p for p in opened) and loaded.version == "fake"
    info = teacher_mod.licence()
    assert info["licence"] == "CC0-1.0" and len(info["sha256"]) == 64


def test_real_teacher_embeds_a_photo_and_its_views_alike(lfw_dir, tmp_path):
    """dlib's ResNet through the toolchain (skipped without the [teacher] extra): the photo, its
    mirror and augmented views of one face are within dlib's 0.6; another person is not."""
    pytest.importorskip("dlib")
    from converters.identity import teacher as teacher_mod

    try:
        teacher = teacher_mod.Teacher.load()
    except teacher_mod.ModelError as exc:
        pytest.skip(str(exc))
    d = teacher_mod.extract(lfw_dir, tmp_path / "t", tmp_path / "cache", limit=8, views=["photo", "mirror"], augment=1,
                            teacher=teacher)
    data = np.load(tmp_path / "t" / d["cache_file"])
    emb, names = data["embeddings"], data["names"]
    assert np.linalg.norm(emb[0] - emb[1], axis=1).max() < 0.6 and np.linalg.norm(emb[0] - emb[2], axis=1).max() < 0.6
    same = [(i, j) for i in range(8) for j in range(i + 1, 8) if names[i] == names[j]]
    other = [(i, j) for i in range(8) for j in range(i + 1, 8) if names[i] != names[j]]
    assert same and all(np.linalg.norm(emb[0, i] - emb[0, j]) < 0.6 for i, j in same)
    assert np.mean([np.linalg.norm(emb[0, i] - emb[0, j]) >= 0.6 for i, j in other]) > 0.9
    assert d["teacher"]["licence_file"]["licence"] == "CC0-1.0" and d["cpu_ms_per_face"]["photo"] > 0


# ------------------------------------------------------------------------------- distillation (#19)


def _distill_batch(teacher_dim=16, seed=0):
    from converters.identity.model import EmbedderSpec, build_embedder

    rng = np.random.default_rng(seed)
    embedder = build_embedder(EmbedderSpec(input_size=32, depth=3, embedding_dim=16, dropout=0.0))
    x = rng.uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    labels = np.arange(8) % 4
    teacher = rng.normal(size=(8, teacher_dim)).astype(np.float32)
    return embedder, x, labels, teacher


def _total_loss(model, losses, weights, x, labels, teacher, tape_vars=None):
    from converters.core.tfenv import tf

    with tf.GradientTape() as tape:
        out = model([x, labels], training=True)
        total = 0.0
        for key, fn in losses.items():
            y = labels if key == "cosface" else teacher
            total += weights[key] * tf.reduce_mean(fn(y, out[key]))
    grads = tape.gradient(total, tape_vars) if tape_vars is not None else None
    return float(total), grads


@pytest.mark.parametrize("teacher_dim", [16, 24])
def test_distillation_targets_reach_the_loss_and_its_gradient(teacher_dim):
    """Other teacher targets give another loss, and the distillation terms alone (no CosFace)
    move the embedder's weights; a teacher of another size goes through a learned projection."""
    from converters.identity.model import training_model
    from converters.identity.train import FitSettings, loss_terms

    embedder, x, labels, teacher = _distill_batch(teacher_dim)
    settings = FitSettings(distill_weight=10.0, relational_weight=5.0, cosface_weight=0.0)
    losses, weights = loss_terms(settings, distill=True)
    assert set(losses) == {"cosface", "distill", "relational"} and weights["cosface"] == 0.0
    model = training_model(embedder, 4, 30.0, 0.3, distill=True, teacher_dim=teacher_dim, relational=True)
    assert (teacher_dim != 16) == any(layer.name == "distill_projection" for layer in model.layers)
    base, grads = _total_loss(model, losses, weights, x, labels, teacher, embedder.trainable_variables)
    changed, _ = _total_loss(model, losses, weights, x, labels, teacher[::-1])
    assert abs(base - changed) > 1e-3
    norms = [float(np.linalg.norm(g.numpy())) for g in grads if g is not None]
    assert len(norms) == len(embedder.trainable_variables) and all(np.isfinite(norms)) and sum(norms) > 0
    # each term on its own reaches the embedder
    for key in ("distill", "relational"):
        only = {k: (w if k == key else 0.0) for k, w in weights.items()}
        _, grads = _total_loss(model, losses, only, x, labels, teacher, embedder.trainable_variables)
        assert sum(float(np.linalg.norm(g.numpy())) for g in grads if g is not None) > 0, key
    with pytest.raises(ValueError, match="nothing to train"):
        loss_terms(FitSettings(cosface_weight=0.0), distill=False)


@pytest.mark.train
def test_distillation_alone_with_the_relational_term_trains(tmp_path):
    """fit() with CosFace off: the distillation and relational losses are recorded and fall."""
    from converters.core.augment import AugmentConfig
    from converters.identity.train import FitSettings, fit

    embedder, _, _, _ = _distill_batch()
    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, (32, 32, 32), dtype=np.uint8)
    teacher = rng.normal(size=(32, 24)).astype(np.float32)  # another dimension: projection
    settings = FitSettings(budget_minutes=5, epochs=25, batch_size=16, lr=3e-3, warmup_epochs=0, eval_every=0,
                           distill_weight=5.0, relational_weight=5.0, cosface_weight=0.0,
                           augment=AugmentConfig(flip=False, rotation_deg=0, shift=0, scale=0, brightness=0,
                                                 contrast=0, erase_prob=0))
    fit(embedder, images, np.arange(32) % 4, 4, settings, teacher=teacher, verbose=0, history_path=tmp_path / "h.json")
    history = json.loads((tmp_path / "h.json").read_text())["history"]
    for key in ("distill_loss", "relational_loss"):
        assert history[-1][key] < 0.6 * history[0][key], key
