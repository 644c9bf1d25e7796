"""edgekit.registry and edgekit.litert: manifest writing, sha256 checks, MediaPipe files, LiteRT loading."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinymodels
from edgekit import litert, registry
from edgekit.errors import ConfigError, ModelError, ModelIntegrityError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_bytes() -> bytes:
    _, tflite = tinymodels.int8_model()
    return tinymodels.with_label_metadata(tflite, tinymodels.LABELS)


@pytest.fixture
def models_dir(tmp_path, tiny_bytes) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    (d / "tiny.tflite").write_bytes(tiny_bytes)
    return d


def _register(models_dir: Path, **fields):
    return registry.register_model("tiny", models_dir / "tiny.tflite", manifest_path=models_dir / "manifest.json",
                                   **fields)


# ---------------------------------------------------------------------------- register_model


def test_register_model_writes_a_complete_entry(models_dir, tiny_bytes):
    info = _register(models_dir, task="emotion", produced_by="python -m converters.emotion export",
                     report="reports/emotion/README.md")
    assert info.sha256 == registry.sha256_file(models_dir / "tiny.tflite") and info.bytes == len(tiny_bytes)
    assert info.file == "tiny.tflite" and info.path == models_dir / "tiny.tflite"
    assert info.input == registry.InputSpec(32, 32, 3, "rgb", "uint8", (0.0, 255.0))  # read from the model
    assert info.labels == tinymodels.LABELS  # read from its metadata
    data = json.loads((models_dir / "manifest.json").read_text())
    assert data["schema"] == 1 and data["models"]["tiny"]["sha256"] == info.sha256
    assert {p.name for p in models_dir.iterdir()} == {"tiny.tflite", "manifest.json"}  # no temporary file left
    (listed,) = registry.list_models(models_dir / "manifest.json")
    assert listed == info and listed.to_dict()["input"]["height"] == 32
    assert registry.model_path("tiny", models_dir / "manifest.json") == models_dir / "tiny.tflite"


def test_register_model_updates_in_place_and_keeps_other_sections(models_dir):
    manifest = models_dir / "manifest.json"
    registry.write_manifest({"schema": 1, "models": {"other": {"file": "o.tflite", "sha256": "0" * 64}},
                             "external": {"x": {"path": "p", "sha256": "1" * 64}}}, manifest)
    _register(models_dir, description="first")
    info = _register(models_dir, labels=list("abcdefgh"))
    data = json.loads(manifest.read_text())
    assert set(data["models"]) == {"other", "tiny"} and data["external"] == {"x": {"path": "p", "sha256": "1" * 64}}
    assert data["models"]["tiny"]["description"] == "first" and info.labels == tuple("abcdefgh")


def _companion(models_dir: Path, content: bytes = b"companion bytes", **fields):
    (models_dir / "tiny_cam.tflite").write_bytes(content)
    return registry.register_companion("tiny", "cam", models_dir / "tiny_cam.tflite",
                                       manifest_path=models_dir / "manifest.json", **fields)


def test_register_companion_writes_the_sub_entry_and_leaves_the_model_alone(models_dir):
    manifest = models_dir / "manifest.json"
    info = _register(models_dir, task="emotion", produced_by="make tiny")
    before = json.loads(manifest.read_text())["models"]["tiny"]
    command = "python -m converters.emotion.cam_model --shipped tiny.tflite --ship"
    sub = _companion(models_dir, produced_by=command, description="two outputs")
    data = json.loads(manifest.read_text())
    assert data["models"]["tiny"] == {**before, "cam": sub}
    assert sub == {"file": "tiny_cam.tflite", "sha256": registry.sha256_file(models_dir / "tiny_cam.tflite"),
                   "bytes": len(b"companion bytes"), "model_sha256": info.sha256, "produced_by": command,
                   "description": "two outputs"}
    assert registry.load_companion("tiny", "cam", manifest) == (models_dir / "tiny_cam.tflite", b"companion bytes")
    assert manifest.read_text() == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    # replaced, not merged, on the next registration
    sub = _companion(models_dir, b"new bytes")
    assert json.loads(manifest.read_text())["models"]["tiny"]["cam"] == sub and "produced_by" not in sub


def test_register_companion_refusals(models_dir, tmp_path):
    with pytest.raises(ModelError, match="register the model first|no manifest entry"):
        _companion(models_dir)
    _register(models_dir)
    (tmp_path / "elsewhere.tflite").write_bytes(b"x")
    with pytest.raises(ConfigError, match="manifest directory"):
        registry.register_companion("tiny", "cam", tmp_path / "elsewhere.tflite",
                                    manifest_path=models_dir / "manifest.json")
    for bad in ({"sha256": "0" * 64}, {"model_sha256": "0" * 64}, {"file": "x"}):
        with pytest.raises(ConfigError, match="computes"):
            _companion(models_dir, **bad)
    with pytest.raises(ConfigError, match="field of the model entry"):
        registry.register_companion("tiny", "labels", models_dir / "tiny.tflite",
                                    manifest_path=models_dir / "manifest.json")
    assert "cam" not in json.loads((models_dir / "manifest.json").read_text())["models"]["tiny"]


def test_shipping_a_new_model_drops_its_cam_companion(models_dir, tiny_bytes):
    """A re-shipped model keeps no companion built from the old one (the stale ``cam`` of #22);
    companions passed again (the caption model's tokenizer) and plain sub-entries stay."""
    manifest = models_dir / "manifest.json"
    _register(models_dir, identity={"threshold": 0.5})
    _companion(models_dir)
    _register(models_dir, description="same bytes again")  # the same model: its companion still fits
    assert set(registry.companion_files("tiny", manifest)) == {"cam"}
    _, plain = tinymodels.int8_model()  # another model file: no label metadata, other bytes
    assert plain != tiny_bytes
    (models_dir / "tiny.tflite").write_bytes(plain)
    tokenizer = {"file": "tok.json", "sha256": "2" * 64, "bytes": 3}
    info = _register(models_dir, labels=list(tinymodels.LABELS), tokenizer=tokenizer)
    entry = json.loads(manifest.read_text())["models"]["tiny"]
    assert "cam" not in entry and entry["tokenizer"] == tokenizer and entry["identity"] == {"threshold": 0.5}
    assert entry["description"] == "same bytes again"
    assert info.sha256 == registry.sha256_file(models_dir / "tiny.tflite")
    with pytest.raises(ModelError, match="no 'cam' file"):
        registry.load_companion("tiny", "cam", manifest)


def test_shipped_cam_companion_is_registered_for_the_shipped_model():
    """The manifest's ``cam`` entry was written by ``cam_model --ship`` (registry.register_companion):
    built for the emotion model's current bytes, and ``produced_by`` is that command."""
    entry = registry.load_manifest()["models"]["emotion"]
    cam = entry["cam"]
    assert cam["model_sha256"] == entry["sha256"]
    assert cam["produced_by"].startswith("python -m converters.emotion.cam_model ")
    assert "--ship" in cam["produced_by"].split() and "--from-json" not in cam["produced_by"]
    assert registry.sha256_file(registry.MODELS_DIR / cam["file"]) == cam["sha256"]


@pytest.mark.parametrize("field", ["sha256", "bytes", "file"])
def test_register_model_refuses_computed_fields(models_dir, field):
    with pytest.raises(ConfigError, match="computes"):
        _register(models_dir, **{field: 1})


def test_register_model_refuses_files_outside_the_manifest_dir(models_dir, tmp_path):
    with pytest.raises(ConfigError, match="not in the manifest directory"):
        registry.register_model("tiny", models_dir / "tiny.tflite", manifest_path=tmp_path / "manifest.json")


def test_register_model_refuses_wrong_input_shape(models_dir):
    _, bad = tinymodels.int8_model(channels=2)
    (models_dir / "bad.tflite").write_bytes(bad)
    with pytest.raises(ModelError, match=r"input tensor shape \[1, 32, 32, 2\] is not \[1, H, W, 1\|3\]"):
        registry.register_model("bad", models_dir / "bad.tflite", manifest_path=models_dir / "manifest.json")
    assert not (models_dir / "manifest.json").exists()


def test_register_model_refuses_non_tflite(models_dir):
    (models_dir / "notes.tflite").write_text("not a model")
    with pytest.raises(ModelError, match="not a TFLite model"):
        registry.register_model("notes", models_dir / "notes.tflite", manifest_path=models_dir / "manifest.json")


# ------------------------------------------------------------------------- model_path checks


def test_sha_mismatch_names_file_hashes_and_fix(models_dir):
    info = _register(models_dir, produced_by="python -m converters.emotion export --out x")
    path = models_dir / "tiny.tflite"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError) as err:
        registry.model_path("tiny", models_dir / "manifest.json")
    text = str(err.value)
    assert str(path) in text and info.sha256 in text and registry.sha256_file(path) in text
    assert "python -m converters.emotion export --out x" in text
    assert isinstance(err.value, ModelError)


def test_truncated_model_is_refused_by_registry_and_litert(models_dir):
    _register(models_dir)
    path = models_dir / "tiny.tflite"
    path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch"):
        registry.model_path("tiny", models_dir / "manifest.json")
    with pytest.raises(ModelError, match="LiteRT cannot load this model"):
        litert.make_interpreter(path)


def test_missing_model_file(models_dir):
    _register(models_dir)
    (models_dir / "tiny.tflite").unlink()
    with pytest.raises(ModelError, match="model file not found"):
        registry.model_path("tiny", models_dir / "manifest.json")


def test_unknown_name_lists_valid_names(models_dir):
    _register(models_dir)
    with pytest.raises(ConfigError, match=r"unknown model name 'emotion' \(valid names: tiny\)"):
        registry.model_path("emotion", models_dir / "manifest.json")


def test_empty_or_broken_manifest(tmp_path):
    assert registry.list_models(tmp_path / "none.json") == []
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ModelError, match="manifest is unreadable"):
        registry.load_manifest(bad)
    bad.write_text(json.dumps({"schema": 99}))
    with pytest.raises(ModelError, match="unsupported manifest schema 99"):
        registry.load_manifest(bad)


# ------------------------------------------------------------------------------ MediaPipe files


@pytest.mark.parametrize("key", ["face_short_range", "face_full_range", "face_landmark"])
def test_mediapipe_models_found_and_verified(key):
    path = registry.third_party_model_path(key)
    assert path.is_file() and path.suffix == ".tflite"
    assert registry.sha256_file(path) == registry.load_manifest()["external"][key]["sha256"]
    litert.make_interpreter(path)


def test_mediapipe_unknown_key():
    with pytest.raises(ConfigError, match="unknown MediaPipe model 'face_tiny'.*face_short_range"):
        registry.third_party_model_path("face_tiny")


def test_mediapipe_sha_mismatch(tmp_path):
    manifest = registry.load_manifest()
    manifest["external"]["face_short_range"]["sha256"] = "0" * 64
    registry.write_manifest(manifest, tmp_path / "manifest.json")
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch.*converters.thirdparty"):
        registry.third_party_model_path("face_short_range", tmp_path / "manifest.json")


def test_third_party_file_missing_names_the_fix(tmp_path, monkeypatch):
    registry.write_manifest(registry.load_manifest(), tmp_path / "manifest.json")
    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path)  # a checkout where converters.thirdparty never ran
    with pytest.raises(ModelError, match="model file not found") as err:
        registry.third_party_model_path("face_short_range", tmp_path / "manifest.json")
    assert "python -m converters.thirdparty" in str(err.value) and "face_detection_short_range.tflite" in str(err.value)


def test_runtime_needs_no_mediapipe_package():
    """The face models load with the mediapipe package hidden from the import system."""
    code = ("import sys; sys.modules['mediapipe'] = None\n"
            "from edgekit import registry, litert\n"
            "for key in ('face_short_range', 'face_full_range', 'face_landmark'):\n"
            "    litert.make_interpreter(registry.third_party_model_path(key))\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_runtime_never_imports_tensorflow_or_mediapipe():
    code = (
        "import sys, numpy as np\n"
        "import edgekit.imageio, edgekit.litert, edgekit.registry\n"
        "import edgekit.detection, edgekit.alignment, edgekit.emotion\n"
        "from edgekit.detection import FaceDetector\n"
        "FaceDetector().detect(np.zeros((64, 64, 3), np.uint8))\n"
        "forbidden = ('tensorflow', 'tf_keras', 'mediapipe', 'converters', 'keras')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in forbidden]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_shipped_manifest_is_canonical():
    """The committed manifest is exactly what write_manifest produces (one writer of the format)."""
    text = registry.MANIFEST_PATH.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------- litert


def test_litert_rejects_bad_files_and_threads(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        litert.make_interpreter(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="is a directory, not a model file"):
        litert.make_interpreter(tmp_path)
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(ModelError, match="not a TFLite model"):
        litert.make_interpreter(tmp_path / "empty.tflite")
    path = registry.third_party_model_path("face_short_range")
    for threads in (0, -1, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="num_threads"):
            litert.make_interpreter(path, num_threads=threads)


@pytest.mark.parametrize("dtype, scale, zero_point",
                         [(np.uint8, 0.5, 10), (np.int8, 1.0 / 255, -128), (np.float32, 0.0, 0)])
def test_quantize_roundtrip(dtype, scale, zero_point):
    spec = litert.TensorSpec("t", 0, (4,), np.dtype(dtype), scale, zero_point)
    values = np.array([0.0, 0.25, 0.5, 1.0], np.float32) * (100 if dtype == np.uint8 else 1)
    q = litert.quantize(values, spec)
    assert q.dtype == dtype
    back = litert.dequantize(q, spec)
    assert np.abs(back - values).max() <= (scale / 2 + 1e-6 if spec.quantized else 0)
    if spec.quantized:  # values beyond the representable range saturate
        info = np.iinfo(dtype)
        assert litert.quantize(np.array([1e9, -1e9]), spec).tolist() == [info.max, info.min]


def test_associated_files_read_from_metadata_zip(models_dir):
    files = litert.associated_files(models_dir / "tiny.tflite")
    assert "labels.txt" in files
    assert litert.find_labels(models_dir / "tiny.tflite") == list(tinymodels.LABELS)
    assert litert.find_labels(models_dir / "tiny.tflite", count=5) is None
    assert litert.associated_files(registry.third_party_model_path("face_short_range")) == {}


def test_a_graph_xnnpack_refuses_runs_on_the_builtin_kernels_with_a_warning(monkeypatch):
    # Measured case: an unpruned 96-px INT8 emotion model whose squeeze-excite ReLU never fired
    # on calibration; XNNPACK fails to prepare it ("failed to create XNNPACK runtime").
    path = registry.model_path("emotion")
    real = litert.allocate
    tried = []

    def refuse_xnnpack(p, threads, delegates=True):
        tried.append(delegates)
        if delegates:
            raise RuntimeError("failed to create XNNPACK runtimeNode number 72 (TfLiteXNNPackDelegate) "
                               "failed to prepare.")
        return real(p, threads, delegates)

    monkeypatch.setattr(litert, "allocate", refuse_xnnpack)
    with pytest.warns(litert.DelegateFallbackWarning, match="built-in kernels"):
        interpreter = litert.make_interpreter(path)
    assert tried == [True, False]
    expected = real(path.read_bytes(), 1, False)
    x = np.random.default_rng(0).integers(0, 256, interpreter.get_input_details()[0]["shape"], dtype=np.uint8)
    outputs = []
    for it in (interpreter, expected):
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outputs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(*outputs)


def test_other_load_failures_are_not_retried(monkeypatch):
    calls = []

    def broken(p, threads, delegates=True):
        calls.append(delegates)
        raise RuntimeError("Model provided has model identifier 'xxxx', should be 'TFL3'")

    monkeypatch.setattr(litert, "allocate", broken)
    with pytest.raises(ModelError, match="cannot load this model"):
        litert.make_interpreter(registry.model_path("emotion"))
    assert calls == [True]
