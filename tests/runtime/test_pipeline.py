"""Pipeline on the astronaut photo with the tiny INT8 emotion model: image, video and live-stream
modes, timings, JSON round trip, analyze() and option validation."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import edgekit
from edgekit import pipeline as pipeline_mod
from edgekit.labels import EMOTIONS
from edgekit.errors import ConfigError, InputError
from edgekit.results import FrameResult

LABELS = EMOTIONS


@pytest.fixture(scope="module")
def image_pipe(tiny_emotion_model):
    with edgekit.Pipeline(emotion_model=tiny_emotion_model) as pipe:
        yield pipe


def shifted(image: np.ndarray, dx: int, dy: int = 0) -> np.ndarray:
    """A 400x320 window of ``image`` moved by (dx, dy): the face moves the other way."""
    return np.ascontiguousarray(image[40 + dy:360 + dy, 20 + dx:420 + dx])


def test_image_mode_finds_the_astronaut_face(image_pipe, astronaut_path):
    result = image_pipe.process(astronaut_path)
    assert isinstance(result, FrameResult)
    assert result.source == str(astronaut_path) and result.image_size == (512, 512)
    assert len(result.faces) == 1
    face = result.faces[0]
    box = face.box
    # the face of Eileen Collins: ~95 px wide around (225, 130) in the 512x512 photo
    assert 60 < box.width < 140 and 60 < box.height < 140
    assert 190 < box.x + box.width / 2 < 260 and 100 < box.y + box.height / 2 < 170
    assert face.detection.score > 0.7
    (rx, ry), (lx, ly) = face.detection.keypoint("right_eye"), face.detection.keypoint("left_eye")
    assert box.x < rx < lx < box.x + box.width
    assert box.y < ry < box.y + box.height / 2 and box.y < ly < box.y + box.height / 2
    assert face.track_id is None  # image mode
    assert face.emotion is not None and face.raw_emotion == face.emotion
    assert tuple(face.emotion.probs) == LABELS
    assert sum(face.emotion.probs.values()) == pytest.approx(1.0, abs=0.02)
    assert face.emotion.label == max(face.emotion.probs, key=face.emotion.probs.get)


def test_timings_are_filled_and_add_up(image_pipe, astronaut_path):
    t = image_pipe.process(astronaut_path).timings
    for stage in ("decode_ms", "detect_ms", "align_ms", "classify_ms"):
        assert getattr(t, stage) > 0, stage
    assert t.track_ms == 0  # image mode does not track
    parts = t.decode_ms + t.detect_ms + t.align_ms + t.classify_ms
    assert parts <= t.total_ms < parts + 50


def test_json_round_trip(image_pipe, astronaut_path):
    result = image_pipe.process(astronaut_path)
    data = json.loads(result.to_json())
    assert data == json.loads(json.dumps(result.to_dict()))
    face = data["faces"][0]
    assert set(face) >= {"track_id", "box", "keypoints", "score", "emotion"}
    assert face["box"]["width"] == pytest.approx(result.faces[0].box.width)
    assert face["emotion"]["label"] == result.faces[0].emotion.label
    assert data["timings_ms"]["total_ms"] > 0


def test_array_and_path_inputs_agree(image_pipe, astronaut_path, astronaut):
    from_path = image_pipe.process(astronaut_path).faces[0]
    from_array = image_pipe.process(astronaut).faces[0]
    assert from_array.box == from_path.box
    assert from_array.emotion == from_path.emotion


def test_no_face_is_an_empty_result_not_an_error(image_pipe):
    blank = np.full((240, 320, 3), 127, np.uint8)
    assert image_pipe.process(blank).faces == []


def test_analyze_one_call_api_caches_its_pipeline(tiny_emotion_model, astronaut_path):
    pipeline_mod.clear_cache()
    faces = edgekit.analyze(astronaut_path, emotion_model=tiny_emotion_model)
    assert len(faces) == 1 and faces[0].emotion.label in LABELS
    cached = list(pipeline_mod._DEFAULT_PIPELINES.values())
    assert edgekit.analyze(str(astronaut_path), emotion_model=tiny_emotion_model)[0].box == faces[0].box
    assert list(pipeline_mod._DEFAULT_PIPELINES.values()) == cached  # models loaded once
    assert edgekit.analyze(np.zeros((64, 64, 3), np.uint8), emotion_model=tiny_emotion_model) == []
    json.dumps([f.to_dict() for f in faces])
    pipeline_mod.clear_cache()


def test_detection_only_without_an_emotion_model(astronaut_path):
    with edgekit.Pipeline(emotion_model=None) as pipe:
        result = pipe.process(astronaut_path)
    assert len(result.faces) == 1 and result.faces[0].emotion is None
    assert result.timings.classify_ms == 0


def test_option_validation():
    with pytest.raises(ConfigError, match="running_mode"):
        edgekit.PipelineOptions(running_mode="batch")
    with pytest.raises(ConfigError, match="result_callback"):
        edgekit.PipelineOptions(running_mode="live_stream")
    with pytest.raises(ConfigError, match="unknown Pipeline option"):
        edgekit.Pipeline(min_confidance=0.3)
    with pytest.raises(ConfigError, match="min_confidence"):
        edgekit.Pipeline(min_confidence=1.5, emotion_model=None)
    with pytest.raises(ConfigError, match="tracker_iou"):
        edgekit.Pipeline(tracker_iou=0.0, emotion_model=None)
    with pytest.raises(ConfigError, match="image mode"):
        edgekit.analyze("x.png", running_mode="video")


def test_create_from_options_and_overrides(tiny_emotion_model):
    opts = edgekit.PipelineOptions(emotion_model=tiny_emotion_model, max_faces=1)
    with edgekit.Pipeline.create_from_options(opts) as a, edgekit.Pipeline(opts, num_threads=2) as b:
        assert a.options == opts
        assert b.options.num_threads == 2 and b.options.max_faces == 1
        assert a.labels == LABELS


def test_video_mode_tracks_and_smooths(tiny_emotion_model, astronaut):
    frames = [shifted(astronaut, 6 * i, 2 * i) for i in range(8)]
    tau = 200.0
    with edgekit.Pipeline(running_mode="video", emotion_model=tiny_emotion_model, smoothing_ms=tau) as pipe:
        results = [pipe.process(f, timestamp_ms=i * 40.0) for i, f in enumerate(frames)]
        with pytest.raises(InputError, match="timestamp_ms"):
            pipe.process(frames[0], timestamp_ms=40.0)  # not after the previous frame
        pipe.reset()  # a new video: the clock restarts and smoothing starts afresh
        after_reset = pipe.process(frames[5], timestamp_ms=0.0).faces[0]
        assert after_reset.emotion == after_reset.raw_emotion != results[5].faces[0].emotion
    assert [len(r.faces) for r in results] == [1] * 8
    assert {r.faces[0].track_id for r in results} == {1}
    assert all(r.timings.track_ms > 0 for r in results)
    # smoothed probabilities follow the timestamp-aware EMA of the raw ones
    alpha = 1 - np.exp(-40.0 / tau)
    state = None
    for r in results:
        raw = np.array([r.faces[0].raw_emotion.probs[k] for k in LABELS])
        state = raw if state is None else (1 - alpha) * state + alpha * raw
        np.testing.assert_allclose([r.faces[0].emotion.probs[k] for k in LABELS], state, atol=1e-9)
    assert results[0].faces[0].emotion == results[0].faces[0].raw_emotion


def test_live_stream_mode_delivers_results_to_the_callback(tiny_emotion_model, astronaut):
    received = []
    arrived = threading.Semaphore(0)

    def callback(result, image, timestamp_ms):
        received.append((result, image.shape, timestamp_ms))
        arrived.release()

    opts = edgekit.PipelineOptions(running_mode="live_stream", emotion_model=tiny_emotion_model,
                                   result_callback=callback)
    with edgekit.Pipeline(opts) as pipe:
        with pytest.raises(ConfigError, match="process_async"):
            pipe.process(astronaut)
        for i in range(3):
            pipe.process_async(shifted(astronaut, 4 * i), timestamp_ms=100.0 * i)
            assert arrived.acquire(timeout=30)
        with pytest.raises(InputError, match="timestamp_ms"):
            pipe.process_async(astronaut, timestamp_ms=150.0)
    assert [ts for _, _, ts in received] == [0.0, 100.0, 200.0]
    assert [r.faces[0].track_id for r, _, _ in received] == [1, 1, 1]
    assert received[0][1] == (320, 400, 3)


def test_live_stream_callback_errors_surface_in_the_caller(tiny_emotion_model, astronaut):
    def callback(result, image, timestamp_ms):
        raise RuntimeError("callback failed")

    pipe = edgekit.Pipeline(running_mode="live_stream", emotion_model=tiny_emotion_model, result_callback=callback)
    pipe.process_async(astronaut, timestamp_ms=0)
    with pytest.raises(RuntimeError, match="callback failed"):
        pipe.close()


def test_image_mode_rejects_async(image_pipe, astronaut):
    with pytest.raises(ConfigError, match="live_stream"):
        image_pipe.process_async(astronaut, 0)
