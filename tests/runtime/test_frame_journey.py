"""A frame's journey keeps its JSON: ``edgekit.analyze`` on photos, the pipeline's image, video and
live-stream modes, ``stream_video``/``process_video`` on a short lossless synthetic video (with
tracking, smoothing, identity and action units) and ``edgekit analyze`` give the records that the
code before the single-pass refactor (#21 item 3) wrote to ``tests/fixtures/frame_journey.json``.
Timings are compared by their keys only; every number within a tight tolerance. And the frame is
validated once, where it enters the pipeline, while the stages' public methods still validate.

Regenerate the expected records (only on purpose, from the code whose output is the reference):
``python tests/runtime/test_frame_journey.py --write tests/fixtures/frame_journey.json``.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List

import cv2
import numpy as np
import pytest

import edgekit
from edgekit.assets import demo_photo

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "frame_journey.json"
#: Frames of the synthetic video: (x of the astronaut's face or None, blurred?, second face?).
VIDEO_FRAMES = [(100, False, False), (108, True, False), (116, False, True), (124, True, True),
                (None, False, False), (132, False, True), (140, True, False)]
VIDEO_FPS = 10.0
Record = Any


def _face_crop() -> np.ndarray:
    return edgekit.load_image(demo_photo())[40:260, 110:330]


def photos() -> Dict[str, np.ndarray]:
    """The astronaut as the arrays users pass (gray, float BGRA, uint16, two faces, a small face, none)."""
    bgr = edgekit.load_image(demo_photo())
    small = np.full((768, 1024, 3), 120, np.uint8)
    small[300:428, 600:728] = cv2.resize(_face_crop(), (128, 128), interpolation=cv2.INTER_AREA)
    return {
        "gray": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
        "float_bgra": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA).astype(np.float32) / 255.0,
        "uint16": bgr.astype(np.uint16) * 257,
        "two_faces": np.concatenate([bgr, bgr[:, ::-1]], axis=1),
        "small_face": small,
        "no_face": np.full((240, 320, 3), 127, np.uint8),
    }


def video_frame(x: Any, blurred: bool, second: bool) -> np.ndarray:
    canvas = np.full((360, 560, 3), 90, np.uint8)
    face = _face_crop()
    if x is not None:
        canvas[70:290, x:x + 220] = cv2.GaussianBlur(face, (0, 0), 4) if blurred else face
    if second:
        canvas[180:350, 380:550] = cv2.resize(face, (170, 170), interpolation=cv2.INTER_AREA)
    return canvas


def write_video(path: Path) -> Path:
    """The synthetic video, uncompressed (fourcc 0): every decoder reads the same pixels back."""
    writer = cv2.VideoWriter(str(path), 0, VIDEO_FPS, (560, 360))
    assert writer.isOpened(), "this OpenCV cannot write uncompressed AVI"
    for frame in VIDEO_FRAMES:
        writer.write(video_frame(*frame))
    writer.release()
    return path


def frame_record(result: Any) -> Record:
    """``FrameResult.to_dict()`` with the source as a file name and the timings as their keys."""
    out = result.to_dict() if not isinstance(result, dict) else dict(result)
    if isinstance(out.get("source"), str):
        out["source"] = Path(out["source"]).name
    out["timings_ms"] = sorted(out["timings_ms"])
    return out


def _live_stream(frames: List[np.ndarray]) -> List[Record]:
    got: List[Record] = []
    done = threading.Event()

    def callback(result: Any, image: np.ndarray, ts: float) -> None:
        got.append(frame_record(result))
        done.set()

    with edgekit.Pipeline(running_mode="live_stream", result_callback=callback) as pipe:
        for i, frame in enumerate(frames):  # one at a time: nothing is dropped
            done.clear()
            pipe.process_async(frame, i * 100.0)
            assert done.wait(60)
    return got


def _cli(photo: Path, video: Path, out: Path) -> List[Record]:
    from edgekit.cli import main

    assert main(["analyze", str(photo), str(video), "--out", str(out), "--no-progress"]) == 0
    return [frame_record(json.loads(line)) for line in out.read_text(encoding="utf-8").splitlines()]


def records(astronaut: Path, work: Path) -> Dict[str, Record]:
    """Every journey's records, by name (``work``: an empty folder for the video and the gallery)."""
    os.environ["EDGEKIT_DATA_DIR"] = str(work / "data")
    video = write_video(work / "faces.avi")
    arrays = photos()
    out: Dict[str, Record] = {}
    out["analyze/path"] = [f.to_dict() for f in edgekit.analyze(astronaut)]
    for name, image in arrays.items():
        out[f"analyze/{name}"] = [f.to_dict() for f in edgekit.analyze(image)]
    variants: Dict[str, Callable[[], list]] = {
        "no_flip": lambda: edgekit.analyze(astronaut, flip_average=False),
        "max_faces": lambda: edgekit.analyze(arrays["two_faces"], max_faces=1),
        "full_range": lambda: edgekit.analyze(arrays["two_faces"], detector="full_range"),
        "no_emotion": lambda: edgekit.analyze(astronaut, emotion_model=None),
    }
    for name, run in variants.items():
        out[f"analyze/{name}"] = [f.to_dict() for f in run()]
    frames = [video_frame(*f) for f in VIDEO_FRAMES]
    with edgekit.Pipeline() as pipe:
        out["process/path"] = frame_record(pipe.process(astronaut))
        out["process/array"] = frame_record(pipe.process(arrays["two_faces"], 5.0))
        out["stream_video/image_mode"] = [frame_record(r) for _, r in pipe.stream_video(video)]
    with edgekit.Pipeline(running_mode="video") as pipe:
        out["process/video_mode"] = [frame_record(pipe.process(f, i * 100.0)) for i, f in enumerate(frames)]
        pipe.reset()
        out["process_video"] = [frame_record(r) for r in pipe.process_video(video, max_frames=5)]
    out["live_stream"] = _live_stream(frames)
    gallery = work / "gallery.json"
    with edgekit.FaceIdentifier(gallery_path=gallery) as identifier:
        identifier.enroll("Astronaut", astronaut)
    with edgekit.Pipeline(running_mode="video", identify=True, gallery_path=gallery, action_units=True,
                          au_stream_neutral=True) as pipe:
        out["stream_video/identity_aus"] = [frame_record(r) for _, r in pipe.stream_video(video)]
    out["cli"] = _cli(astronaut, video, work / "out.jsonl")
    return out


#: Numbers read off the INT8 models (emotion probabilities, identity similarity, AU activations): XNNPACK
#: picks its INT8 kernels by CPU (AVX2, AVX512-VNNI ...), so these move by a few quantization steps from one
#: machine to another (measured: up to 3 steps of 1/256 for emotion, 0.024 for identity similarity, between
#: the AMD EPYC that wrote the fixture and an Intel Xeon); labels, names, boxes and keypoints stay exact.
MODEL_OUTPUT = re.compile(r"(?:\.(?:emotion|raw_emotion)\.(?:score|probs\.\w+)|\.identity\.similarity"
                          r"|\.aus\.(?:activations|sides|asymmetry)\.\w+(?:\[\d+\])?)$")
MODEL_OUTPUT_TOLERANCE = 0.03


def assert_same(got: Record, want: Record, where: str = "") -> None:
    """Same structure (key order included), equal strings/None/bools, numbers within 1e-6 (model outputs
    within :data:`MODEL_OUTPUT_TOLERANCE`)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) or (isinstance(want, int) and isinstance(got, float)):
        assert isinstance(got, (int, float)) and not isinstance(got, bool), f"{where}: {got!r} != {want!r}"
        tolerance = MODEL_OUTPUT_TOLERANCE if MODEL_OUTPUT.search(where) else 1e-6
        assert got == pytest.approx(want, rel=1e-6, abs=tolerance), f"{where}: {got!r} != {want!r}"
    else:
        assert type(got) is type(want) and got == want, f"{where}: {got!r} != {want!r}"


def test_only_model_outputs_get_the_cross_cpu_tolerance():
    face = {"box": [1.0, 2.0], "emotion": {"label": "happiness", "score": 0.90, "probs": {"happiness": 0.90}},
            "identity": {"name": "A", "similarity": 0.67}}
    moved = json.loads(json.dumps(face))
    moved["emotion"]["score"] = moved["emotion"]["probs"]["happiness"] = 0.91
    moved["identity"]["similarity"] = 0.69
    assert_same(moved, face, "f")
    for change in ({"box": [1.01, 2.0]}, {"emotion": {**face["emotion"], "label": "neutral"}},
                   {"identity": {"name": "A", "similarity": 0.75}}):
        with pytest.raises(AssertionError):
            assert_same({**face, **change}, face, "f")


@pytest.fixture(scope="module")
def journeys(astronaut_path, tmp_path_factory):
    saved = os.environ.get("EDGEKIT_DATA_DIR")
    try:
        yield json.loads(json.dumps(records(astronaut_path, tmp_path_factory.mktemp("journey"))))
    finally:
        if saved is None:
            os.environ.pop("EDGEKIT_DATA_DIR", None)
        else:
            os.environ["EDGEKIT_DATA_DIR"] = saved


def test_every_journey_has_its_expected_record(journeys):
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert list(journeys) == list(expected)
    for name in expected:
        assert_same(journeys[name], expected[name], name)


def test_the_records_cover_what_they_should(journeys):
    """Guard the fixture itself: faces found, tracks, smoothing, identity and AUs present."""
    assert len(journeys["analyze/two_faces"]) == 2 and journeys["analyze/no_face"] == []
    assert len(journeys["analyze/small_face"]) == 1 and journeys["analyze/no_emotion"][0]["emotion"] is None
    video = journeys["process/video_mode"]
    assert [len(r["faces"]) for r in video] == [int(x is not None) + s for x, _, s in VIDEO_FRAMES]
    smoothed = [f for r in video for f in r["faces"] if "raw_emotion" in f]
    assert smoothed and any(f["raw_emotion"] != f["emotion"] for f in smoothed)
    assert {f["track_id"] for r in video for f in r["faces"]} >= {1, 2}
    rich = [f for r in journeys["stream_video/identity_aus"] for f in r["faces"]]
    assert any(f["identity"]["name"] == "Astronaut" for f in rich) and all("aus" in f for f in rich)
    assert [r["frame_index"] for r in journeys["stream_video/image_mode"]] == list(range(len(VIDEO_FRAMES)))
    assert {r["source"] for r in journeys["cli"]} == {"astronaut.png", "faces.avi"}


@pytest.fixture
def validations(monkeypatch) -> Dict[str, int]:
    """How often each module on a frame's way calls ``load_image``."""
    import importlib

    counts: Dict[str, int] = {}
    for name in ("pipeline", "detection.detector", "alignment", "identity.identifier", "emotion"):
        module = importlib.import_module(f"edgekit.{name}")

        def spy(*args: Any, _name: str = name, _real: Callable = module.load_image, **kwargs: Any) -> Any:
            counts[_name] = counts.get(_name, 0) + 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, "load_image", spy)
    return counts


def test_a_frame_is_validated_once_at_the_public_boundary(validations, astronaut_path, tmp_path):
    with edgekit.Pipeline(identify=True, gallery_path=tmp_path / "gallery.json") as pipe:
        assert len(pipe.process(astronaut_path).faces) == 1
        assert validations == {"pipeline": 1}
        image, result = pipe.decode_and_process(photos()["gray"])
        assert image.shape == (512, 512, 3) and len(result.faces) == 1 and validations == {"pipeline": 2}
        frames = list(pipe.stream_video(write_video(tmp_path / "v.avi")))
        assert len(frames) == len(VIDEO_FRAMES) and validations == {"pipeline": 2 + len(VIDEO_FRAMES)}


def test_the_stages_still_validate_when_called_directly(validations, astronaut_path):
    from edgekit.errors import ImageReadError

    with edgekit.FaceDetector() as detector:
        det = detector.detect(astronaut_path)[0]
        with pytest.raises(ImageReadError):
            detector.detect(np.full((8, 8, 3), 2.0))
    with edgekit.EmotionClassifier() as classifier:
        aligner = edgekit.FaceAligner.for_classifier(classifier)
        crop = aligner.align(str(astronaut_path), det).image
        with pytest.raises(ImageReadError):
            aligner.align(np.zeros((0, 4, 3), np.uint8), det)
        # predict takes BGR (and converts); the aligned crop is already in the model's RGB order
        assert classifier.predict(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)) == classifier.predict_aligned(crop)
    assert validations == {"detection.detector": 2, "alignment": 2, "emotion": 1}


if __name__ == "__main__":  # python tests/runtime/test_frame_journey.py --write FILE
    if sys.argv[1:2] != ["--write"] or len(sys.argv) != 3:
        raise SystemExit(__doc__)
    import skimage.data

    with tempfile.TemporaryDirectory() as tmp:
        found = records(Path(skimage.data.__file__).parent / "astronaut.png", Path(tmp))
    Path(sys.argv[2]).write_text(json.dumps(found, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(found)} journeys to {sys.argv[2]}")
