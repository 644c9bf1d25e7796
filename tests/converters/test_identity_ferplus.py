"""FER+ faces as distillation-only samples for the identity student (#19): the teacher cache of
FER+ faces is refused when it does not match its faces, and unlabelled samples reach only the
distillation loss. FER+ tests copy a few faces into a temporary folder (skipped without ../shared)."""
from __future__ import annotations

import json
import shutil
import types

import numpy as np
import pytest


class StandIn:
    """dlib's interface without dlib: a box in the middle, the box's pixels as the "embedding"."""

    version = "stand-in"
    files: dict = {}

    def hog_boxes(self, rgb):
        h, w = rgb.shape[:2]
        return [(0.3 * w, 0.3 * h, 0.7 * w, 0.7 * h)]

    def embed(self, rgb, box):
        import cv2

        left, top, right, bottom = (int(round(v)) for v in box)
        gray = cv2.cvtColor(np.ascontiguousarray(rgb[top:bottom, left:right]), cv2.COLOR_RGB2GRAY)
        return cv2.resize(gray, (16, 8), interpolation=cv2.INTER_AREA).astype(np.float32).ravel() / 255.0


@pytest.fixture
def fer_folder(ferplus_dir, tmp_path):
    """Eight FER+ train faces copied into ``tmp_path/FER2013Train`` (never into the repository)."""
    source = ferplus_dir / "FER2013Train"
    if not source.is_dir():
        pytest.skip(f"{source} not found")
    folder = tmp_path / "FER2013Train"
    folder.mkdir()
    for path in sorted(source.glob("fer*.png"))[:8]:
        shutil.copy(path, folder / path.name)
    return folder


def _cache(folder, tmp_path, subset):
    from converters.identity import ferplus
    from converters.identity.teacher import extract_source

    index, eyes, _ = ferplus.detected_faces(folder, subset, 0, tmp_path / "cache")
    d = extract_source(index, eyes, np.ones(len(index), bool), tmp_path / "t", ["photo"], 0, StandIn(), str(folder))
    return tmp_path / "t" / d["cache_file"], d


def _config(folder, tmp_path, cache, subset):
    from converters.identity.pipeline import IdentityConfig

    return IdentityConfig(cache_dir=str(tmp_path / "cache"), input_size=32, extra_teacher=str(cache),
                          extra_data=str(folder), extra_subset=subset, extra_seed=0)


def test_fer_subset_is_seeded_and_in_number_order(fer_folder):
    from converters.identity.ferplus import index_fer
    from edgekit.errors import ConfigError

    a, b = index_fer(fer_folder, 5, seed=3), index_fer(fer_folder, 5, seed=3)
    assert len(a) == 5 and list(a.numbers) == sorted(a.numbers) and np.array_equal(a.numbers, b.numbers)
    assert len(index_fer(fer_folder)) == 8 and set(a.names) == {"FER2013Train"}
    photo = a.image(0)
    assert photo.ndim == 3 and photo.shape[0] > 48 * 4  # upscaled with a border, as the emotion toolchain does
    with pytest.raises(ConfigError, match="number of faces"):
        index_fer(fer_folder, -1)


@pytest.mark.slow
def test_extra_cache_is_used_and_refused_when_its_faces_differ(fer_folder, tmp_path):
    from converters.identity.pipeline import add_extra
    from edgekit.errors import ConfigError

    cache, d = _cache(fer_folder, tmp_path, 6)
    prep = types.SimpleNamespace(teacher_mean=np.zeros(128, np.float32))
    add_extra(_config(fer_folder, tmp_path, cache, 6), prep)
    n = d["faces"]
    assert prep.extra_gray.shape == (n, 32, 32) and prep.extra_teacher.shape == (n, 128)
    np.testing.assert_allclose(np.linalg.norm(prep.extra_teacher, axis=1), 1.0, atol=1e-5)
    assert prep.extra_info["faces"] == n and prep.extra_info["subset"] == 6
    # another list of faces (count): refused
    with pytest.raises(ConfigError, match=f"covers {n} faces"):
        add_extra(_config(fer_folder, tmp_path, cache, 0), types.SimpleNamespace(teacher_mean=np.zeros(128)))
    # the same names, other bytes (sha256): refused
    listed = sorted(fer_folder.glob("fer*.png"))
    kept = [p for p in listed if int(p.stem[3:]) in set(np.load(cache)["numbers"].tolist())]
    import cv2

    gray = cv2.imread(str(kept[0]), cv2.IMREAD_GRAYSCALE)
    gray[0, 0] = (int(gray[0, 0]) + 1) % 256  # one pixel: the same face for the detector, other bytes
    cv2.imwrite(str(kept[0]), gray)
    with pytest.raises(ConfigError, match="other image files: 1 of"):
        add_extra(_config(fer_folder, tmp_path, cache, 6), types.SimpleNamespace(teacher_mean=np.zeros(128)))
    with pytest.raises(ConfigError, match="LFW teacher cache too"):
        add_extra(_config(fer_folder, tmp_path, cache, 6), types.SimpleNamespace(teacher_mean=None))


def _fit(tmp_path, name, labels, teacher, labelled, extra_weight=1.0):
    from converters.core.augment import AugmentConfig
    from converters.identity.model import EmbedderSpec, build_embedder
    from converters.identity.train import FitSettings, fit
    from converters.core.tfenv import keras

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (32, 32, 32), dtype=np.uint8)
    keras.utils.set_random_seed(0)  # the same initial weights in every run
    embedder = build_embedder(EmbedderSpec(input_size=32, depth=3, embedding_dim=16, dropout=0.0))
    settings = FitSettings(budget_minutes=5, epochs=1, batch_size=16, lr=3e-3, warmup_epochs=0, eval_every=0,
                           distill_weight=5.0, augment=AugmentConfig(flip=False, rotation_deg=0, shift=0, scale=0,
                                                                      brightness=0, contrast=0, erase_prob=0))
    fit(embedder, images, labels, 4, settings, teacher=teacher, labelled=labelled, unlabelled_weight=extra_weight,
        verbose=0, history_path=tmp_path / f"{name}.json")
    return json.loads((tmp_path / f"{name}.json").read_text())["history"], embedder


def test_unlabelled_rows_weigh_zero_in_cosface_and_their_weight_in_distillation():
    from converters.core.tfenv import tf
    from converters.identity.train import mixed_targets

    y = np.array([[3, 0.1, 0.2, 1], [0, 0.3, 0.4, 0], [1, 0.5, 0.6, 1]], np.float32)  # label, teacher (2), flag
    x = np.zeros((3, 4, 4, 3), np.float32)
    (image, label), targets, weights = mixed_targets(["distill", "relational"], 0.5)(tf.constant(x), tf.constant(y),
                                                                                     None)
    assert label.numpy().tolist() == [3, 0, 1] and targets["cosface"].numpy().tolist() == [3, 0, 1]
    np.testing.assert_allclose(targets["distill"].numpy(), y[:, 1:3])
    np.testing.assert_allclose(targets["relational"].numpy(), y[:, 1:3])
    assert weights["cosface"].numpy().tolist() == [1, 0, 1]
    assert weights["distill"].numpy().tolist() == [1, 0.5, 1] == weights["relational"].numpy().tolist()


@pytest.mark.train
@pytest.mark.slow
def test_unlabelled_samples_reach_only_the_distillation_loss(tmp_path):
    """Half the faces are unlabelled: their labels change neither the CosFace loss nor its
    accuracy (the labelled faces' labels do), their teacher targets change the distillation loss."""
    rng = np.random.default_rng(1)
    labels = np.arange(32) % 4
    teacher = rng.normal(size=(32, 16)).astype(np.float32)
    labelled = np.arange(32) < 16
    base, _ = _fit(tmp_path, "a", labels, teacher, labelled)
    other_labels = labels.copy()
    other_labels[16:] = (labels[16:] + 1) % 4
    same, _ = _fit(tmp_path, "b", other_labels, teacher, labelled)
    for key in ("loss", "cosface_loss", "distill_loss", "cosface_acc"):  # equal up to float noise between runs
        np.testing.assert_allclose(same[0][key], base[0][key], rtol=1e-4, err_msg=key)
    relabelled = labels.copy()
    relabelled[:16] = (labels[:16] + 1) % 4
    changed, _ = _fit(tmp_path, "c", relabelled, teacher, labelled)
    assert abs(changed[0]["cosface_loss"] - base[0]["cosface_loss"]) > 1e-3 * base[0]["cosface_loss"]
    other_teacher = teacher.copy()
    other_teacher[16:] = rng.normal(size=(16, 16))
    moved, _ = _fit(tmp_path, "d", labels, other_teacher, labelled)
    assert abs(moved[0]["distill_loss"] - base[0]["distill_loss"]) > 1e-3 * base[0]["distill_loss"]


def test_unlabelled_samples_need_a_teacher():
    from converters.identity.model import EmbedderSpec, build_embedder
    from converters.identity.train import FitSettings, fit

    embedder = build_embedder(EmbedderSpec(input_size=32, depth=3, embedding_dim=16, dropout=0.0))
    images = np.zeros((8, 32, 32), np.uint8)
    with pytest.raises(ValueError, match="need teacher embeddings"):
        fit(embedder, images, np.zeros(8, np.int64), 2, FitSettings(epochs=1), labelled=np.arange(8) < 4)
