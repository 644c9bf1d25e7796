"""Identity alignment: the similarity transform puts the eyes on IDENTITY_TEMPLATE, removes roll
and scale, and the converters use exactly the runtime's aligner (no TensorFlow needed)."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from edgekit import FaceAligner
from edgekit.identity.template import IDENTITY_TEMPLATE
from edgekit.registry import InputSpec

SIZE = 64


def _aligner(channels: int = 3) -> FaceAligner:
    return FaceAligner(InputSpec(SIZE, SIZE, channels, "rgb" if channels == 3 else "gray"), IDENTITY_TEMPLATE)


def _template_pixels():
    (lx, ly), (rx, ry) = IDENTITY_TEMPLATE.image_left_eye, IDENTITY_TEMPLATE.image_right_eye
    return np.array([[lx * SIZE, ly * SIZE], [rx * SIZE, ry * SIZE]])


def _dot_image(eyes, shape=(300, 400)):
    """Black frame with a white and a gray dot at the two eye points (pixel-edge coordinates)."""
    img = np.zeros((*shape, 3), np.uint8)
    for (x, y), level in zip(eyes, (255, 128)):
        cv2.circle(img, (int(round(x - 0.5)), int(round(y - 0.5))), 9, (level, level, level), -1)
    return img


@pytest.mark.parametrize("angle_deg,distance", [(0.0, 60.0), (25.0, 90.0), (-40.0, 35.0)])
def test_eyes_land_on_the_template(angle_deg, distance):
    centre = np.array([200.0, 150.0])
    half = 0.5 * distance * np.array([math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))])
    left, right = centre - half, centre + half
    face = _aligner().align_eyes(_dot_image([left, right]), tuple(left), tuple(right))
    np.testing.assert_allclose(face.to_crop(np.array([left, right])), _template_pixels(), atol=1e-6)
    assert face.roll_deg == pytest.approx(angle_deg, abs=1e-4)
    template_distance = (IDENTITY_TEMPLATE.image_right_eye[0] - IDENTITY_TEMPLATE.image_left_eye[0]) * SIZE
    assert face.scale == pytest.approx(template_distance / distance, rel=1e-6)


def test_crop_pixels_show_the_eyes_at_the_template():
    left, right = (150.0, 130.0), (230.0, 170.0)  # rotated ~26.6 degrees
    crop = _aligner(channels=1).align_eyes(_dot_image([left, right]), left, right).image
    assert crop.shape == (SIZE, SIZE)
    for (x, y), level in zip(_template_pixels(), (255, 128)):
        patch = crop[int(y) - 1:int(y) + 2, int(x) - 1:int(x) + 2]
        assert patch.max() >= level * 0.8, (x, y, patch)
    far = crop[int(_template_pixels()[0, 1]), SIZE - 3]
    assert far < 40  # nothing bright away from the eyes


def test_identity_template_frames_more_of_the_face_than_the_emotion_one():
    from edgekit.alignment import DEFAULT_TEMPLATE

    def eye_span(t):
        return t.image_right_eye[0] - t.image_left_eye[0]

    assert eye_span(IDENTITY_TEMPLATE) < eye_span(DEFAULT_TEMPLATE)  # smaller eyes distance = wider crop
    assert IDENTITY_TEMPLATE.image_left_eye[1] == IDENTITY_TEMPLATE.image_right_eye[1]


def test_converters_align_with_the_runtime_code_path(tmp_path):
    """converters.identity.data.align_faces is FaceAligner + IDENTITY_TEMPLATE, pixel for pixel."""
    from converters.identity.data import LfwIndex, align_faces

    person = tmp_path / "images" / "Some_One"
    person.mkdir(parents=True)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (250, 250, 3), dtype=np.uint8)
    cv2.imwrite(str(person / "Some_One_0001.jpg"), image)
    index = LfwIndex(tmp_path, np.array(["Some_One"]), np.array([1]))
    eyes = np.array([[100.0, 115.0, 150.0, 112.0]])
    crops = align_faces(index, eyes, SIZE)
    expected = _aligner().align_eyes(str(person / "Some_One_0001.jpg"), (100.0, 115.0), (150.0, 112.0)).image
    assert crops.shape == (1, SIZE, SIZE, 3)
    np.testing.assert_array_equal(crops[0], expected)
