"""The detector's luma input (FaceDetectorOptions.input_color="luma", opt-in): a colour photo and its
gray version give identical detections; the default ("rgb") is unchanged."""
from __future__ import annotations

import json

import cv2
import pytest

import edgekit
from edgekit import FaceDetector
from edgekit.errors import ConfigError


def gray3(bgr):
    return cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def test_luma_gives_identical_detections_for_a_photo_and_its_gray_version(astronaut):
    luma, rgb = FaceDetector(input_color="luma"), FaceDetector()
    found = luma.detect(astronaut)
    assert len(found) == 1
    assert found == luma.detect(gray3(astronaut)) == rgb.detect(gray3(astronaut))  # what a gray photo gets today


def test_the_default_is_rgb_and_unchanged(astronaut):
    default = FaceDetector()
    assert default.options.input_color == "rgb" and edgekit.PipelineOptions().detector_options.input_color == "rgb"
    assert default.detect(astronaut) == FaceDetector(input_color="rgb").detect(astronaut)
    assert default.detect(astronaut) != default.detect(gray3(astronaut))  # colour matters to the RGB input
    tensor, _ = default.preprocess(astronaut)
    assert (tensor[0, ..., 0] != tensor[0, ..., 2]).any()  # RGB channels, not gray


@pytest.mark.parametrize("bad", ["gray", "RGB", None, 1])
def test_a_bad_input_color_raises_config_error(bad):
    with pytest.raises(ConfigError, match="input_color"):
        FaceDetector(input_color=bad)
    with pytest.raises(ConfigError, match="input_color"):
        edgekit.PipelineOptions(input_color=bad)


def test_the_pipeline_and_the_cli_pass_it_to_the_detector(astronaut_path, tmp_path):
    from edgekit.cli import main

    assert edgekit.PipelineOptions(input_color="luma").detector_options.input_color == "luma"
    with edgekit.Pipeline(input_color="luma", emotion_model=None) as pipe:
        assert pipe.detector.options.input_color == "luma"
    out = tmp_path / "luma.jsonl"
    assert main(["analyze", str(astronaut_path), "--out", str(out), "--input-color", "luma"]) == 0
    keypoints = json.loads(out.read_text().splitlines()[0])["faces"][0]["keypoints"]
    with FaceDetector(input_color="luma", close_up=True) as detector:  # a photo: the pipeline's close-up too
        expected = detector.detect(str(astronaut_path))[0]
    assert keypoints["right_eye"] == pytest.approx(list(expected.keypoint("right_eye")))
