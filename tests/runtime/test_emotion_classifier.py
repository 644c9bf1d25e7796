"""EmotionClassifier on tiny real INT8 models built with TF (tests/tinymodels.py)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import tinymodels
from edgekit import litert, registry
from edgekit.alignment import FaceAligner
from edgekit.emotion import EmotionClassifier
from edgekit.labels import EMOTIONS
from edgekit.errors import ConfigError, ImageReadError, InputError, ModelError
from edgekit.results import EmotionResult

LABELS = tinymodels.LABELS
CONTRACT_LABELS = EMOTIONS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Files of the tiny model: with metadata, plain, plain + sidecar; and the float Keras model."""
    d = tmp_path_factory.mktemp("tiny")
    keras_model, tflite = tinymodels.int8_model()
    (d / "meta.tflite").write_bytes(tinymodels.with_label_metadata(tflite, LABELS))
    (d / "plain.tflite").write_bytes(tflite)
    (d / "side.tflite").write_bytes(tflite)
    (d / "side.labels.txt").write_text("\n".join(reversed(LABELS)) + "\n")
    return {"dir": d, "keras": keras_model}


@pytest.fixture(scope="module")
def clf(tiny) -> EmotionClassifier:
    return EmotionClassifier(tiny["dir"] / "meta.tflite")


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return tinymodels.sample_images(24, 32, 32, seed=11)  # RGB uint8, unseen by the converter


def _output_step(clf: EmotionClassifier) -> float:
    return clf._output.scale


# ----------------------------------------------------------------------------------- labels


def test_labels_and_spec_from_model_metadata(clf):
    assert clf.labels == LABELS
    assert clf.input_size == (32, 32)
    assert (clf.input_spec.channels, clf.input_spec.color, clf.input_spec.dtype) == (3, "rgb", "uint8")


def test_labels_from_sidecar(tiny):
    assert EmotionClassifier(tiny["dir"] / "side.tflite").labels == tuple(reversed(LABELS))


def test_no_labels_anywhere(tiny):
    with pytest.raises(ModelError, match="no labels found.*plain.labels.txt"):
        EmotionClassifier(tiny["dir"] / "plain.tflite")


def test_label_count_must_match_output(tiny, tmp_path):
    (tmp_path / "m.tflite").write_bytes((tiny["dir"] / "plain.tflite").read_bytes())
    (tmp_path / "m.labels.txt").write_text("a\nb\nc\n")
    with pytest.raises(ModelError, match="output has 8 values but the labels from .*m.labels.txt have 3"):
        EmotionClassifier(tmp_path / "m.tflite")


def test_output_size_differs_from_labels(tmp_path):
    _, five = tinymodels.int8_model(num_classes=5)
    (tmp_path / "five.tflite").write_bytes(tinymodels.with_label_metadata(five, LABELS))
    with pytest.raises(ModelError, match="output has 5 values but the labels from its TFLite metadata have 8"):
        EmotionClassifier(tmp_path / "five.tflite")


def test_wrong_input_shape_refused_before_inference(tmp_path):
    _, two = tinymodels.int8_model(channels=2)
    (tmp_path / "two.tflite").write_bytes(tinymodels.with_label_metadata(two, LABELS))
    with pytest.raises(ModelError, match=r"input shape \[1, 32, 32, 2\] is not \[1, H, W, 1\|3\]"):
        EmotionClassifier(tmp_path / "two.tflite")


def test_not_a_model(tmp_path):
    (tmp_path / "x.tflite").write_text("hello")
    with pytest.raises(ModelError, match="not a TFLite model"):
        EmotionClassifier(tmp_path / "x.tflite")
    with pytest.raises(ModelError, match="model file not found"):
        EmotionClassifier(tmp_path / "missing.tflite")
    with pytest.raises(ConfigError, match="model=42: must be a manifest name or a .tflite path"):
        EmotionClassifier(42)


# --------------------------------------------------------------------------------- manifest


def _tmp_manifest(monkeypatch, directory: Path) -> Path:
    manifest = directory / "manifest.json"
    monkeypatch.setattr(registry, "MANIFEST_PATH", manifest)
    return manifest


def test_no_bundled_model_says_how_to_make_one(monkeypatch, tmp_path):
    manifest = _tmp_manifest(monkeypatch, tmp_path)
    manifest.write_text(json.dumps({"schema": 1, "models": {}, "external": {}}))
    with pytest.raises(ModelError, match=r"manifest lists no model yet.*python -m converters\.emotion"):
        EmotionClassifier()


def test_loads_registered_model_by_name_with_manifest_labels(monkeypatch, tiny, tmp_path):
    (tmp_path / "tiny.tflite").write_bytes((tiny["dir"] / "plain.tflite").read_bytes())
    _tmp_manifest(monkeypatch, tmp_path)
    registry.register_model("tiny", tmp_path / "tiny.tflite", labels=list(LABELS[::-1]), task="emotion")
    named = EmotionClassifier("tiny")
    assert named.labels == LABELS[::-1] and named.model_path == tmp_path / "tiny.tflite"
    assert EmotionClassifier(tmp_path / "tiny.tflite").labels == LABELS[::-1]  # path: entry found by sha256
    with pytest.raises(ConfigError, match=r"unknown model name 'emotion' \(valid names: tiny\)"):
        EmotionClassifier("emotion")
    data = bytearray((tmp_path / "tiny.tflite").read_bytes())
    data[-1] ^= 1
    (tmp_path / "tiny.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 mismatch"):
        EmotionClassifier("tiny")


def test_bundled_emotion_model():
    model = EmotionClassifier()
    assert model.labels == CONTRACT_LABELS
    assert model.input_spec.channels == 3 and model.input_spec.dtype in ("uint8", "int8")
    result = model.predict(np.full((80, 60, 3), 128, np.uint8))
    assert abs(sum(result.probs.values()) - 1) < 0.05


# --------------------------------------------------------------------------------- numerics


def test_int8_output_matches_float_keras_model(clf, tiny, images):
    reference = tiny["keras"].predict(images.astype(np.float32), verbose=0)
    ours = np.stack([clf.predict_probs(img) for img in images])
    tolerance = 3 * _output_step(clf)  # a few output quantization steps
    assert np.abs(ours - reference).max() <= tolerance
    clear = np.sort(reference, axis=1)[:, -1] - np.sort(reference, axis=1)[:, -2] > 2 * tolerance
    assert clear.sum() >= len(images) // 2
    np.testing.assert_array_equal(ours[clear].argmax(1), reference[clear].argmax(1))


def test_probs_equal_a_manual_litert_run(clf, tiny, images):
    interp = litert.make_interpreter(tiny["dir"] / "meta.tflite")
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.set_tensor(inp["index"], images[3][None])  # uint8 input, scale 1, zero point 0
    interp.invoke()
    scale, zero = out["quantization"]
    expected = (interp.get_tensor(out["index"]).astype(np.float32) - zero) * scale
    np.testing.assert_array_equal(clf.predict_probs(images[3]), expected.reshape(-1))
    result = clf.predict_aligned(images[3])
    assert isinstance(result, EmotionResult) and list(result.probs) == list(LABELS)
    assert result.label == LABELS[int(np.argmax(expected))] and result.score == pytest.approx(float(expected.max()))


def test_int8_io_model(tmp_path, images):
    keras_model, tflite = tinymodels.int8_model(io_dtype="int8")
    (tmp_path / "i8.tflite").write_bytes(tinymodels.with_label_metadata(tflite, LABELS))
    model = EmotionClassifier(tmp_path / "i8.tflite")
    assert model.input_spec.dtype == "int8"
    reference = keras_model.predict(images.astype(np.float32), verbose=0)
    ours = np.stack([model.predict_probs(img) for img in images])
    assert np.abs(ours - reference).max() <= 3 * _output_step(model)


# ---------------------------------------------------------------------------------- inputs


def test_predict_resizes_and_converts_bgr(clf, images):
    rgb = images[5]
    bgr_big = cv2.resize(rgb[..., ::-1], (97, 121), interpolation=cv2.INTER_CUBIC)
    expected = clf.predict_aligned(cv2.resize(cv2.cvtColor(bgr_big, cv2.COLOR_BGR2RGB), (32, 32),
                                              interpolation=cv2.INTER_AREA))
    assert clf.predict(bgr_big) == expected
    assert clf.predict(np.ascontiguousarray(rgb[..., ::-1])) == clf.predict_aligned(rgb)  # right size: no resize


def test_predict_accepts_gray_float_and_paths(clf, images, tmp_path):
    gray = cv2.cvtColor(images[1], cv2.COLOR_RGB2GRAY)
    as_bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    assert clf.predict(gray) == clf.predict(as_bgr)
    assert clf.predict(gray.astype(np.float32) / 255.0) == clf.predict(as_bgr)
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), as_bgr)
    assert clf.predict(path) == clf.predict(as_bgr)


@pytest.mark.parametrize(
    "bad, error",
    [
        (np.full((10, 10), np.nan, np.float32), ImageReadError),
        (np.zeros((0, 10, 3), np.uint8), ImageReadError),
        (np.zeros((10, 10, 3), dtype=object), ImageReadError),
    ],
)
def test_predict_bad_inputs(clf, bad, error):
    with pytest.raises(error, match="face image"):
        clf.predict(bad)


@pytest.mark.parametrize("bad",
                         [np.zeros((31, 32, 3), np.uint8), np.zeros((32, 32, 3), np.float32),
                          np.zeros((32, 32), np.uint8), "x.png"])
def test_predict_aligned_requires_the_exact_format(clf, bad):
    with pytest.raises(InputError, match=r"aligned crop must be uint8 with shape \(32, 32, 3\)"):
        clf.predict_aligned(bad)


def test_aligner_output_feeds_predict_aligned(clf, astronaut_path):
    aligner = FaceAligner.for_classifier(clf)
    face = aligner.align_eyes(astronaut_path, (201.5, 104.9), (245.8, 109.1))
    assert face.image.shape == (32, 32, 3)
    assert clf.predict_aligned(face.image).label in LABELS


def test_registry_serves_the_default_and_the_fast_emotion_model(capsys):
    """#26: the 128-px default ships next to the 96-px model under ``emotion-fast``; both load, both
    are listed by ``edgekit models`` with a valid sha256, and they are different files."""
    from edgekit.cli import main as cli_main

    default, fast = registry.model_info("emotion"), registry.model_info("emotion-fast")
    assert default.task == fast.task == "emotion" and default.sha256 != fast.sha256
    assert (default.input.height, fast.input.height) == (128, 96)
    crop = np.random.default_rng(0).integers(0, 256, (150, 150, 3), dtype=np.uint8)
    for name in ("emotion", "emotion-fast"):
        with EmotionClassifier(name) as clf:
            assert clf.input_size == (registry.model_info(name).input.width,) * 2
            result = clf.predict(crop)
            assert set(result.probs) == set(EMOTIONS)
            assert sum(result.probs.values()) == pytest.approx(1.0, abs=0.02)
    assert cli_main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    assert rows["emotion"]["status"] == rows["emotion-fast"]["status"] == "ok"
    assert rows["emotion"]["sha256"] == default.sha256 and rows["emotion-fast"]["sha256"] == fast.sha256
