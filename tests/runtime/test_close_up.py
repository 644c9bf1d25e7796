"""The detector's close-up pass (FaceDetectorOptions.close_up, opt-in): a small face's eye points come
from a second detection in a crop twice its size, so they no longer move with the framing; large
faces and the default (off) pay nothing, and the box and score stay those of the whole-frame pass."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edgekit import FaceDetector
from edgekit.detection.detector import CLOSE_UP_MAX_FACE
from edgekit.errors import ConfigError
from runtime.test_small_faces import count_runs


def framed(photo: np.ndarray, scale: float, at, size: int = 700) -> np.ndarray:
    """``photo`` scaled by ``scale`` and pasted at ``at`` on a plain ``size`` x ``size`` board."""
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    board = np.full((size, size, 3), 90, np.uint8)
    h, w = small.shape[:2]
    board[at[1]:at[1] + h, at[0]:at[0] + w] = small
    return board


def eye_error(found, truth: np.ndarray, face_width: float) -> float:
    """Largest eye-point distance from ``truth`` (x or y), in face widths."""
    return float(np.abs(np.array(found.keypoints)[:2] - truth).max() / face_width)


def test_small_faces_keep_their_eye_points_wherever_they_are_framed(astronaut):
    reference = FaceDetector(close_up=True).detect(astronaut)[0]
    on, off = FaceDetector(close_up=True), FaceDetector()
    errors = {True: [], False: []}
    for scale in (0.5, 0.6):
        for at in [(x, y) for x in (0, 60, 130, 180) for y in (0, 70, 150)]:
            board = framed(astronaut, scale, at)
            truth = np.array(reference.keypoints)[:2] * scale + at
            for close_up, detector in ((True, on), (False, off)):
                errors[close_up].append(eye_error(detector.detect(board)[0], truth, scale * reference.box.width))
    # measured: whole-frame eye points are off by 0.09-0.12 face widths on average (0.22 worst), close-ups 0.02
    assert np.mean(errors[True]) < 0.4 * np.mean(errors[False])
    assert max(errors[True]) < 0.05 < max(errors[False])


def test_the_close_up_changes_keypoints_only(astronaut):
    board = framed(astronaut, 0.5, (130, 150))
    on, off = FaceDetector(close_up=True).detect(board), FaceDetector().detect(board)
    assert len(on) == len(off) == 1
    assert on[0].box == off[0].box and on[0].score == off[0].score
    assert on[0].keypoints != off[0].keypoints


def test_one_more_run_per_small_face_and_none_for_large_ones(astronaut, monkeypatch):
    detector = FaceDetector(close_up=True)
    runs = count_runs(detector, monkeypatch)
    face = detector.detect(astronaut)[0]
    assert max(face.box.width, face.box.height) < CLOSE_UP_MAX_FACE * 512 and len(runs) == 2
    runs.clear()
    x, y, w = int(face.box.x), int(face.box.y), int(face.box.width)
    tight = np.ascontiguousarray(astronaut[max(0, y - w // 4):y + w + w // 4, max(0, x - w // 4):x + w + w // 4])
    assert len(detector.detect(tight)) == 1 and len(runs) == 1  # the face fills the frame: no close-up
    runs.clear()
    off = FaceDetector()
    runs_off = count_runs(off, monkeypatch)
    assert len(off.detect(astronaut)) == 1 and len(runs_off) == 1


def test_close_up_must_be_a_bool():
    with pytest.raises(ConfigError, match="close_up"):
        FaceDetector(close_up="yes")


def test_the_pipeline_turns_it_on_for_photos_and_off_for_streams():
    import edgekit

    assert edgekit.PipelineOptions().detector_options.close_up is True  # image mode
    for mode, extra in (("video", {}), ("live_stream", {"result_callback": print})):
        assert edgekit.PipelineOptions(running_mode=mode, **extra).detector_options.close_up is False
        assert edgekit.PipelineOptions(running_mode=mode, close_up=True, **extra).detector_options.close_up is True
    assert edgekit.PipelineOptions(close_up=False).detector_options.close_up is False
    with edgekit.Pipeline(close_up=False, emotion_model=None) as pipe:
        assert pipe.detector.options.close_up is False


def test_the_cli_flags_turn_it_off_and_on(astronaut_path, tmp_path):
    from edgekit.cli import main

    keypoints = {}
    for flags in (("--no-luma-keypoints",), ("--no-luma-keypoints", "--no-close-up")):
        out = tmp_path / f"{len(flags)}.jsonl"
        assert main(["analyze", str(astronaut_path), "--out", str(out), *flags]) == 0
        keypoints[len(flags) == 1] = json.loads(out.read_text().splitlines()[0])["faces"][0]["keypoints"]
    with FaceDetector(close_up=True) as on, FaceDetector() as off:
        expected = {True: on.detect(str(astronaut_path))[0], False: off.detect(str(astronaut_path))[0]}
    for close_up in (True, False):
        assert keypoints[close_up]["right_eye"] == pytest.approx(list(expected[close_up].keypoint("right_eye")))
    assert keypoints[True] != keypoints[False]
