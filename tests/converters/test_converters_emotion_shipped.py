"""The shipped emotion model: MediaPipe Tasks' ImageClassifier loads it as is and agrees with
``edgekit.EmotionClassifier`` on real faces; its metadata and manifest entry are consistent."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edgekit import registry

pytest.importorskip("mediapipe", reason="mediapipe is needed to check the model in MediaPipe Tasks")


@pytest.fixture(scope="module")
def shipped():
    return registry.model_path("emotion")  # a broken shipped model fails here, never skips


def _mediapipe_top1(model_path, rgb_images):
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(model_path)), max_results=8)
    with vision.ImageClassifier.create_from_options(options) as clf:
        out = []
        for rgb in rgb_images:
            result = clf.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))
            categories = result.classifications[0].categories
            assert len(categories) == 8
            out.append(categories[0].category_name)
    return out


def test_metadata_labels_and_manifest(shipped):
    from converters.emotion.data import EMOTIONS
    from converters.emotion.export import read_labels

    assert read_labels(shipped.read_bytes()) == list(EMOTIONS)
    info = registry.model_info("emotion")
    assert list(info.labels) == list(EMOTIONS)
    manifest = json.loads((shipped.parent / "manifest.json").read_text())["models"]["emotion"]
    assert manifest["sha256"] == registry.sha256_file(shipped)
    assert manifest["bytes"] <= 1_100_000


def test_mediapipe_agrees_with_edgekit_on_real_faces(shipped, ferplus_dir, astronaut_path):
    from edgekit.emotion import EmotionClassifier

    clf = EmotionClassifier(shipped)
    w, h = clf.input_size
    names = sorted(p for p in (ferplus_dir / "FER2013Valid").glob("fer*.png"))[:60]
    faces = [cv2.cvtColor(cv2.resize(cv2.imread(str(p)), (w, h), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
             for p in names]
    astro = cv2.imread(str(astronaut_path))[30:230, 150:320]  # the astronaut's face, roughly FER-framed
    faces.append(cv2.cvtColor(cv2.resize(astro, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    edgekit_top1 = [clf.predict_aligned(rgb).label for rgb in faces]
    mp_top1 = _mediapipe_top1(shipped, faces)
    agree = np.mean([a == b for a, b in zip(edgekit_top1, mp_top1)])
    assert agree >= 0.95, list(zip(edgekit_top1, mp_top1))
