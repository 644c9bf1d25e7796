"""FaceAligner: similarity geometry, pixels, output spec, borders, FER+ calibration, real faces."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgekit.alignment import DEFAULT_TEMPLATE, AlignedFace, AlignmentTemplate, FaceAligner
from edgekit.detection import FaceDetector
from edgekit.errors import ConfigError, InputError
from edgekit.registry import InputSpec

ROOT = Path(__file__).resolve().parents[2]
RGB64 = InputSpec(64, 64, 3, "rgb")


def _template_points(aligner: FaceAligner) -> np.ndarray:
    w, h = aligner.output_size
    t = aligner.template
    return np.array([[t.image_left_eye[0] * w, t.image_left_eye[1] * h],
                     [t.image_right_eye[0] * w, t.image_right_eye[1] * h]])


def _eyes(center, distance, roll_deg):
    """Image-left and image-right eye for a face rolled by ``roll_deg`` (image axes, y down)."""
    a = math.radians(roll_deg)
    half = np.array([math.cos(a), math.sin(a)]) * distance / 2
    c = np.asarray(center, float)
    return c - half, c + half


@pytest.mark.parametrize("roll", [-40.0, -7.5, 0.0, 12.0, 33.0])
@pytest.mark.parametrize("distance", [12.0, 60.0, 210.0])
def test_eyes_land_on_template_and_roll_is_recovered(roll, distance):
    aligner = FaceAligner(RGB64)
    left, right = _eyes((320.3, 241.7), distance, roll)
    face = aligner.align_eyes(np.zeros((480, 640, 3), np.uint8), tuple(left), tuple(right))
    assert isinstance(face, AlignedFace) and face.matrix.shape == (2, 3)
    np.testing.assert_allclose(face.to_crop(np.array([left, right])), _template_points(aligner),
                               atol=1e-4)  # OpenCV fits in float32
    assert face.roll_deg == pytest.approx(roll, abs=1e-4)
    template_distance = (aligner.template.image_right_eye[0] - aligner.template.image_left_eye[0]) * 64
    assert face.scale == pytest.approx(template_distance / distance, rel=1e-5)


def _blob_image(left, right, size=(480, 640), sigma=4.0) -> np.ndarray:
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]] + 0.5  # pixel centres, pixel-edge convention
    img = np.zeros(size, np.float64)
    for x, y in (left, right):
        img += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return cv2.cvtColor(np.clip(img * 255, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def _centroids(gray: np.ndarray) -> np.ndarray:
    w = gray.shape[1]
    out = []
    for half in (gray[:, : w // 2], gray[:, w // 2 :]):
        weights = half.astype(np.float64) ** 2
        yy, xx = np.mgrid[0 : half.shape[0], 0 : half.shape[1]] + 0.5
        out.append([(weights * xx).sum() / weights.sum(), (weights * yy).sum() / weights.sum()])
    out[1][0] += w // 2
    return np.array(out)


@pytest.mark.parametrize("distance, sigma", [(40.0, 2.5), (200.0, 10.0)])  # upscaling, and >2x shrinking (area path)
def test_pixels_follow_the_matrix(distance, sigma):
    aligner = FaceAligner(InputSpec(96, 96, 1, "gray"))
    left, right = _eyes((300.0, 250.0), distance, 21.0)
    face = aligner.align_eyes(_blob_image(tuple(left), tuple(right), sigma=sigma), tuple(left), tuple(right))
    assert face.image.shape == (96, 96) and face.image.dtype == np.uint8
    np.testing.assert_allclose(_centroids(face.image), _template_points(aligner), atol=0.35)


def test_area_reduction_avoids_aliasing():
    """A fine checkerboard shrunk 6x must come out as flat gray, not as aliasing patterns."""
    board = ((np.indices((600, 600)).sum(axis=0) % 2) * 255).astype(np.uint8)
    aligner = FaceAligner(InputSpec(64, 64, 1, "gray"))
    left, right = _eyes((300, 300), 140, 10.0)
    crop = aligner.align_eyes(board, tuple(left), tuple(right)).image
    assert crop.std() < 8 and abs(float(crop.mean()) - 127.5) < 8


def test_output_spec_drives_size_channels_and_color():
    blue = np.zeros((200, 200, 3), np.uint8)
    blue[..., 0] = 255  # BGR blue
    eyes = ((80.0, 90.0), (120.0, 90.0))
    rgb = FaceAligner(InputSpec(40, 56, 3, "rgb")).align_eyes(blue, *eyes).image
    assert rgb.shape == (40, 56, 3) and rgb[..., 2].min() == 255 and rgb[..., 0].max() == 0
    bgr = FaceAligner(InputSpec(40, 56, 3, "bgr")).align_eyes(blue, *eyes).image
    assert bgr[..., 0].min() == 255
    gray = FaceAligner(InputSpec(24, 24, 1, "gray")).align_eyes(blue, *eyes).image
    assert gray.shape == (24, 24) and gray.flags["C_CONTIGUOUS"]


def test_for_classifier_uses_its_input_spec():
    class FakeClassifier:
        input_spec = InputSpec(50, 70, 3, "rgb")

    aligner = FaceAligner.for_classifier(FakeClassifier())
    assert aligner.output_size == (70, 50)
    assert FaceAligner(FakeClassifier()).output_size == (70, 50)


def test_faces_at_the_border_replicate_edge_pixels():
    rng = np.random.default_rng(3)
    img = rng.integers(60, 250, (300, 400, 3), dtype=np.uint8)
    for eyes in (((2.0, 5.0), (30.0, 8.0)), ((380.0, 290.0), (399.0, 296.0)), ((-40.0, -30.0), (-10.0, -30.0))):
        crop = FaceAligner(RGB64).align_eyes(img, *eyes).image
        assert crop.min() >= 60, eyes  # no black fill anywhere


def test_bad_arguments():
    with pytest.raises(InputError, match="not two distinct finite points"):
        FaceAligner(RGB64).align_eyes(np.zeros((10, 10, 3), np.uint8), (5.0, 5.0), (5.0, 5.0))
    with pytest.raises(InputError, match="not two distinct finite points"):
        FaceAligner(RGB64).align_eyes(np.zeros((10, 10, 3), np.uint8), (5.0, float("nan")), (7.0, 5.0))
    with pytest.raises(ConfigError, match="needs an InputSpec or a classifier"):
        FaceAligner((64, 64))
    with pytest.raises(ConfigError, match="unsupported aligner output"):
        FaceAligner(InputSpec(64, 64, 2, "rgb"))
    with pytest.raises(ConfigError, match="image_left_eye must lie left"):
        AlignmentTemplate((0.7, 0.4), (0.3, 0.4))


def test_default_template_is_the_calibration_report():
    report = json.loads((ROOT / "reports" / "alignment" / "calibration.json").read_text())
    assert report["detection_rate"] > 0.9
    assert DEFAULT_TEMPLATE.image_left_eye == tuple(report["template"]["image_left_eye"])
    assert DEFAULT_TEMPLATE.image_right_eye == tuple(report["template"]["image_right_eye"])


# ------------------------------------------------------------------------------ real faces


def _eyes_after_alignment(detector: FaceDetector, aligner: FaceAligner, bgr: np.ndarray):
    """Detect, align, then re-detect on the crop prepared like the calibration; eye fractions."""
    faces = detector.detect(bgr)
    if not faces:
        return None
    crop = aligner.align(bgr, faces[0]).image
    w, h = aligner.output_size
    scale, pad = 4, w  # same preparation family as converters/checks/calibrate_alignment.py
    big = cv2.copyMakeBorder(cv2.resize(crop, None, fx=scale, fy=scale), pad, pad, pad, pad, cv2.BORDER_CONSTANT,
                             value=(128, 128, 128))
    again = detector.detect(big)
    if not again:
        return None
    kps = (np.asarray(again[0].keypoints[:2]) - pad) / scale
    return kps / [w, h]


def test_real_faces_come_out_upright_on_the_template(astronaut, lfw_dir):
    detector = FaceDetector(max_faces=1)
    aligner = FaceAligner(InputSpec(64, 64, 3, "bgr"))
    photos = [astronaut, cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((256, 256), 25, 1.0), (512, 512))]
    photos += [cv2.imread(str(p)) for p in sorted((lfw_dir / "images").glob("*/*.jpg"))[:400:40]]
    target = np.array([DEFAULT_TEMPLATE.image_left_eye, DEFAULT_TEMPLATE.image_right_eye])
    aligned = (_eyes_after_alignment(detector, aligner, p) for p in photos)
    errors = [np.abs(eyes - target).max() for eyes in aligned if eyes is not None]
    assert len(errors) >= len(photos) - 1
    assert np.median(errors) < 0.03 and max(errors) < 0.08
