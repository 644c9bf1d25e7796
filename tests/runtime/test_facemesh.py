"""FaceMesh: MediaPipe's face landmark model run through LiteRT with MediaPipe's ROI rules."""
from __future__ import annotations

import ast
import importlib.util
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.facemesh import (FACE_OVAL, LEFT_EYE, LEFT_EYEBROW, LIPS_INNER, LIPS_OUTER, NUM_LANDMARKS, RIGHT_EYE,
                              RIGHT_EYEBROW, FaceMesh, FaceRoi)
from edgekit.results import BoundingBox, Detection


@pytest.fixture(scope="module")
def mesh():
    with FaceMesh() as m:
        yield m


@pytest.fixture(scope="module")
def astronaut_face(mesh, astronaut):
    faces = mesh.process(astronaut)
    assert len(faces) == 1
    return faces[0]


def test_landmarks_lie_on_the_detected_face(astronaut_face):
    face = astronaut_face
    assert face.points.shape == (NUM_LANDMARKS, 3) and np.isfinite(face.points).all()
    assert face.presence > 0.9
    box = face.detection.box
    x0, y0 = box.x - 0.15 * box.width, box.y - 0.35 * box.height  # the mesh reaches the forehead above the box
    x1, y1 = box.x + 1.15 * box.width, box.y + 1.15 * box.height
    inside = ((face.xy[:, 0] > x0) & (face.xy[:, 0] < x1) & (face.xy[:, 1] > y0) & (face.xy[:, 1] < y1)).mean()
    assert inside == 1.0
    # anatomy: eyes above the nose tip above the mouth above the chin; subject's right eye on the image left
    eye_r, eye_l = face.xy[list(RIGHT_EYE)].mean(0), face.xy[list(LEFT_EYE)].mean(0)
    nose, mouth, chin = face.xy[1], face.xy[list(LIPS_OUTER)].mean(0), face.xy[152]
    assert eye_r[0] < eye_l[0]
    assert max(eye_r[1], eye_l[1]) < nose[1] < mouth[1] < chin[1]
    # the mesh eyes agree with BlazeFace's eye keypoints to a fraction of the eye distance
    kp_r, kp_l = np.array(face.detection.keypoints[0]), np.array(face.detection.keypoints[1])
    assert np.linalg.norm(eye_r - kp_r) < 0.2 * face.eye_distance
    assert np.linalg.norm(eye_l - kp_l) < 0.2 * face.eye_distance


def test_roi_follows_mediapipe_rules():
    det = Detection(BoundingBox(100, 50, 80, 100), ((120.0, 80.0), (160.0, 120.0), (0, 0), (0, 0), (0, 0), (0, 0)), 0.9)
    roi = FaceRoi.from_detection(det)
    assert (roi.x_center, roi.y_center) == (140.0, 100.0)
    assert roi.size == pytest.approx(1.5 * 100)  # square on the long side, x1.5
    assert roi.rotation == pytest.approx(math.radians(45))  # left eye lower on screen: clockwise
    # the tensor matrix maps the ROI corners onto the tensor corners; projection inverts it
    corners = roi.corners()
    mapped = cv2.perspectiveTransform(corners[None], roi.to_tensor_matrix(192))[0]
    assert mapped == pytest.approx(np.float32([[0, 192], [0, 0], [192, 0], [192, 192]]), abs=1e-3)
    back = roi.project(np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]))
    assert back[:, :2] == pytest.approx(corners, abs=1e-3)


def test_landmarks_rotate_with_the_face(mesh, astronaut, astronaut_face):
    """A photo rotated by 25 degrees gives the rotated landmarks (the ROI rotation, from BlazeFace's
    eye keypoints, undoes most of the roll)."""
    h, w = astronaut.shape[:2]
    centre = astronaut_face.xy.mean(axis=0)
    matrix = cv2.getRotationMatrix2D((float(centre[0] - 0.5), float(centre[1] - 0.5)), 25, 1.0)
    rotated = cv2.warpAffine(astronaut, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    faces = mesh.process(rotated)
    assert len(faces) == 1
    assert faces[0].roi.rotation == pytest.approx(astronaut_face.roi.rotation - math.radians(25), abs=math.radians(8))
    expected = cv2.transform((astronaut_face.xy - 0.5)[None], matrix)[0] + 0.5
    error = np.linalg.norm(faces[0].xy - expected, axis=1)
    assert np.median(error) < 0.05 * astronaut_face.eye_distance


def test_no_face_and_options(mesh):
    assert mesh.process(np.full((200, 200, 3), 127, np.uint8)) == []
    with pytest.raises(ConfigError, match="min_presence"):
        FaceMesh(min_presence=1.5)
    with pytest.raises(ConfigError, match="unknown FaceMesh option"):
        FaceMesh(colour="red")


def test_region_contours_are_mediapipes():
    """The closed contours match the edge sets of mediapipe's face_mesh_connections (read as source
    text: importing mediapipe would import TensorFlow)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("mediapipe is not installed")
    source = Path(list(spec.submodule_search_locations)[0]) / "python" / "solutions" / "face_mesh_connections.py"
    sets = {}
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and node.value.args:
            arg = node.value.args[0]
            if isinstance(arg, ast.List):
                sets[node.targets[0].id] = {frozenset(e) for e in ast.literal_eval(arg)}

    def closed(poly):
        return {frozenset((a, b)) for a, b in zip(poly, poly[1:] + poly[:1])}

    def chain(poly):
        return {frozenset(e) for e in zip(poly, poly[1:])}

    assert closed(FACE_OVAL) == sets["FACEMESH_FACE_OVAL"]
    assert closed(LIPS_OUTER) | closed(LIPS_INNER) == sets["FACEMESH_LIPS"]
    assert closed(RIGHT_EYE) == sets["FACEMESH_RIGHT_EYE"] and closed(LEFT_EYE) == sets["FACEMESH_LEFT_EYE"]
    assert chain(RIGHT_EYEBROW[0]) | chain(RIGHT_EYEBROW[1]) == sets["FACEMESH_RIGHT_EYEBROW"]
    assert chain(LEFT_EYEBROW[0]) | chain(LEFT_EYEBROW[1]) == sets["FACEMESH_LEFT_EYEBROW"]
