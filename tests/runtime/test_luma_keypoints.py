"""The detector's luma keypoints (FaceDetectorOptions.luma_keypoints, opt-in): faces are found on the RGB
pixels, but each face's keypoints come from a second pass on the frame's gray version, so a colour photo
and its gray copy are aligned alike; the box and score stay the RGB pass's, gray frames need no second
pass, and the close-up crop is centred on the gray pass's box."""
from __future__ import annotations

import json

import numpy as np
import pytest

import edgekit
from edgekit import FaceDetector
from edgekit.errors import ConfigError
from runtime.test_luma_input import gray3
from runtime.test_small_faces import count_runs


def test_a_colour_photo_and_its_gray_copy_get_the_same_keypoints(astronaut):
    detector = FaceDetector(luma_keypoints=True)
    colour, gray = detector.detect(astronaut), detector.detect(gray3(astronaut))
    assert len(colour) == len(gray) == 1
    assert colour[0].keypoints == gray[0].keypoints
    rgb = FaceDetector().detect(astronaut)[0]
    assert colour[0].box == rgb.box and colour[0].score == rgb.score  # found in colour
    assert colour[0].keypoints != rgb.keypoints  # the RGB pass's own points differ from the gray pass's


def test_with_the_close_up_the_crop_is_the_gray_pass_s_too(astronaut):
    detector = FaceDetector(luma_keypoints=True, close_up=True)  # the astronaut's face: under 40% of the frame
    colour, gray = detector.detect(astronaut), detector.detect(gray3(astronaut))
    assert len(colour) == len(gray) == 1 and colour[0].keypoints == gray[0].keypoints
    assert colour[0].keypoints != FaceDetector(luma_keypoints=True).detect(astronaut)[0].keypoints  # refined
    assert colour[0].keypoints != FaceDetector(close_up=True).detect(astronaut)[0].keypoints  # from the gray crop


def test_a_face_found_in_windows_is_searched_in_windows_on_the_gray_frame_too(astronaut):
    canvas = np.full((1000, 1000, 3), (40, 120, 200), np.uint8)  # a face too small for the whole-frame look
    canvas[50:562, 50:562] = astronaut
    assert FaceDetector()._detect_whole(canvas) == []
    for close_up in (False, True):
        detector = FaceDetector(luma_keypoints=True, close_up=close_up)
        colour, gray = detector.detect(canvas), detector.detect(gray3(canvas))
        assert len(colour) == len(gray) == 1 and colour[0].keypoints == gray[0].keypoints


def test_each_gray_face_lends_its_keypoints_to_one_face_only():
    from edgekit.detection.detector import _match_faces
    from edgekit.results import BoundingBox, Detection

    def face(x: float, score: float) -> Detection:
        return Detection(box=BoundingBox(x, 0.0, 100.0, 100.0), keypoints=((x, 0.0),) * 6, score=score)

    a, b = face(0.0, 0.9), face(20.0, 0.8)  # two overlapping faces; the gray pass found one of them
    gray = face(5.0, 0.9)
    assert _match_faces([a, b], [gray]) == [gray, b]
    assert _match_faces([a, b], []) == [a, b]


def test_one_more_run_on_colour_frames_none_on_gray_ones(astronaut, monkeypatch):
    detector = FaceDetector(luma_keypoints=True)
    runs = count_runs(detector, monkeypatch)
    detector.detect(astronaut)
    assert len(runs) == 2
    runs.clear()
    assert detector.detect(gray3(astronaut)) == FaceDetector().detect(gray3(astronaut))
    assert len(runs) == 1
    runs.clear()
    assert detector.detect(np.full((200, 200, 3), 128, np.uint8)) == [] and len(runs) == 1  # no face: no second pass


def test_off_for_the_detector_alone_and_for_streams_on_for_photos():
    assert not FaceDetector().options.luma_keypoints
    assert edgekit.PipelineOptions().detector_options.luma_keypoints is True  # image mode
    for mode, extra in (("video", {}), ("live_stream", {"result_callback": print})):
        assert edgekit.PipelineOptions(running_mode=mode, **extra).detector_options.luma_keypoints is False
    assert edgekit.PipelineOptions(luma_keypoints=False).detector_options.luma_keypoints is False


@pytest.mark.parametrize("bad", ["yes", 1])
def test_luma_keypoints_must_be_a_bool(bad):
    with pytest.raises(ConfigError, match="luma_keypoints"):
        FaceDetector(luma_keypoints=bad)
    with pytest.raises(ConfigError, match="luma_keypoints"):
        edgekit.PipelineOptions(luma_keypoints=bad)
    with pytest.raises(ConfigError, match="luma_keypoints"):
        FaceDetector(luma_keypoints=None)  # None (automatic) is the pipeline's, not the detector's


def test_the_pipeline_and_the_cli_pass_it_to_the_detector(astronaut_path, tmp_path):
    from edgekit.cli import main

    with edgekit.Pipeline(luma_keypoints=True, running_mode="video", emotion_model=None) as pipe:
        assert pipe.detector.options.luma_keypoints
    records = {}
    for flags in ((), ("--no-luma-keypoints",)):
        out = tmp_path / f"{len(flags)}.jsonl"
        assert main(["analyze", str(astronaut_path), "--out", str(out), *flags]) == 0
        records[not flags] = json.loads(out.read_text().splitlines()[0])["faces"][0]["keypoints"]
    for luma in (True, False):
        with FaceDetector(luma_keypoints=luma, close_up=True) as detector:
            expected = detector.detect(str(astronaut_path))[0]
        assert records[luma]["right_eye"] == pytest.approx(list(expected.keypoint("right_eye")))


def test_identity_and_action_units_keep_the_first_pass_keypoints(astronaut, monkeypatch):
    refined = FaceDetector(close_up=True, luma_keypoints=True)
    (first, fine), = refined._detect_pairs(astronaut)
    assert first == FaceDetector().detect(astronaut)[0] and fine == refined.detect(astronaut)[0] != first
    with edgekit.Pipeline(identify=True, action_units=True) as pipe:  # a photo: refinements on
        seen = {"identify": [], "aus": []}
        embed, read = pipe.identifier._embed_checked, pipe.au_reader.read
        monkeypatch.setattr(pipe.identifier, "_embed_checked", lambda bgr, det: seen["identify"].append(det) or
                            embed(bgr, det))
        monkeypatch.setattr(pipe.au_reader, "read", lambda bgr, det, *a: seen["aus"].append(det) or read(bgr, det, *a))
        face = pipe.process(astronaut).faces[0]
    assert face.detection == fine  # reported and classified with the refined keypoints
    assert seen == {"identify": [first], "aus": [first]}
