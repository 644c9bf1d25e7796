"""The detector's second look for small faces (FaceDetectorOptions.small_faces): a face the
128 px short-range model misses in the scaled-down frame is found in an overlapping window, in the
right place, once; frames with a face found whole, small frames and streams pay nothing."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import edgekit
from edgekit import FaceDetector
from edgekit.errors import ConfigError
from fuzz import seeds

FACE = np.ascontiguousarray(seeds.face_rgb(140)[..., ::-1])
AT, SIDE = (528, 576), 140  # a face 1/7 of a 960 px frame: 1/3.5 of a window


def small_face_photo(at=AT, side: int = SIDE, size: int = 960) -> np.ndarray:
    board = np.full((size, size, 3), 120, np.uint8)
    x, y = at
    board[y:y + side, x:x + side] = cv2.resize(FACE, (side, side))
    return board


def count_runs(detector: FaceDetector, monkeypatch) -> list:
    runs = []
    real = detector.detect_raw

    def counting(image):
        runs.append(image.shape[:2])
        return real(image)

    monkeypatch.setattr(detector, "detect_raw", counting)
    return runs


def test_a_small_face_is_found_in_a_window_and_mapped_back(monkeypatch):
    photo = small_face_photo()
    assert FaceDetector(small_faces=False).detect(photo) == []  # too small for the whole-frame pass
    detector = FaceDetector()
    runs = count_runs(detector, monkeypatch)
    found = detector.detect(photo)
    assert len(found) == 1 and len(runs) == 10  # the whole frame, then 9 windows; duplicates merged
    box, (x, y) = found[0].box, AT
    assert abs(box.x + box.width / 2 - (x + SIDE / 2)) < 0.15 * SIDE
    assert abs(box.y + box.height / 2 - (y + SIDE / 2)) < 0.2 * SIDE
    right_eye = found[0].keypoint("right_eye")  # the image-left eye lies in the face's left half
    assert x < right_eye[0] < x + SIDE / 2 and y < right_eye[1] < y + SIDE


def test_frames_with_a_face_or_too_small_pay_nothing(monkeypatch):
    detector = FaceDetector()
    runs = count_runs(detector, monkeypatch)
    assert len(detector.detect(cv2.resize(FACE, (400, 400)))) == 1 and len(runs) == 1
    runs.clear()
    assert detector.detect(np.full((200, 200, 3), 120, np.uint8)) == [] and len(runs) == 1


def test_analyze_finds_small_faces_and_streams_skip_the_second_look(monkeypatch):
    photo = small_face_photo()
    assert len(edgekit.analyze(photo)) == 1
    pipe = edgekit.Pipeline(running_mode="video")
    assert pipe.detector.options.small_faces is False and pipe.process(photo, 0.0).faces == []


def test_small_faces_must_be_a_bool():
    with pytest.raises(ConfigError, match="small_faces"):
        FaceDetector(small_faces="yes")
