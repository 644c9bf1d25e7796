"""Model integrity through the public entry points: a bundled model whose sha256 differs from the
manifest, a truncated ``.tflite`` or a model with the wrong input shape is refused with a
ModelError / ModelIntegrityError naming the file, before any inference runs.

Works on a copy of ``edgekit/models/`` (and of the MediaPipe face models) in a temporary folder,
so the installed files are never touched. The wrong-shape models are built here with the TFLite
flatbuffer schema shipped in ai_edge_litert (no TensorFlow).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Dict, List, Sequence

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import interpreter as litert_interpreter
from ai_edge_litert import schema_py_generated as tfl

import edgekit
from edgekit import litert, registry
from edgekit.captioning import Captioner, api as caption_api, decoder as caption_decoder
from edgekit.cli import main
from edgekit.detection import FaceDetector
from edgekit.errors import ModelError, ModelIntegrityError
from edgekit.pipeline import clear_cache
from fuzz import seeds

FACE = np.ascontiguousarray(seeds.face_rgb()[..., ::-1])
INSTALLED_MODELS = registry.MODELS_DIR


def softmax_model(shape: Sequence[int]) -> bytes:
    """A valid one-op .tflite (float32 SOFTMAX) whose input and output have ``shape``."""
    model = tfl.ModelT()
    model.version = 3
    model.buffers = [tfl.BufferT()]
    code = tfl.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = tfl.BuiltinOperator.SOFTMAX
    code.version = 1
    model.operatorCodes = [code]
    tensors = []
    for name in ("image", "probs"):
        tensor = tfl.TensorT()
        tensor.shape, tensor.type, tensor.buffer, tensor.name = list(shape), tfl.TensorType.FLOAT32, 0, name
        tensors.append(tensor)
    op = tfl.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    op.builtinOptionsType, op.builtinOptions = tfl.BuiltinOptions.SoftmaxOptions, tfl.SoftmaxOptionsT()
    op.builtinOptions.beta = 1.0
    graph = tfl.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators, graph.name = tensors, [0], [1], [op], "main"
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    """A private copy of the bundled models, the third-party face models and the manifest that
    the registry uses for this test; caches of loaded models are cleared around it."""
    copy = tmp_path / "models"
    shutil.copytree(registry.MODELS_DIR, copy)
    monkeypatch.setattr(registry, "MODELS_DIR", copy)
    monkeypatch.setattr(registry, "MANIFEST_PATH", copy / "manifest.json")
    monkeypatch.setattr(caption_api, "_defaults", {})
    clear_cache()
    yield copy
    clear_cache()


@pytest.fixture
def loads(monkeypatch) -> List[Path]:
    """Paths handed to LiteRT, recorded; any inference fails the test (refusal must come first)."""
    seen: List[Path] = []
    real = litert.make_interpreter

    def recording(model, num_threads=1):
        seen.append(Path(getattr(model, "path", model)).resolve())
        return real(model, num_threads)

    def no_inference(self):
        raise AssertionError("inference ran on a model that should have been refused")

    monkeypatch.setattr(litert, "make_interpreter", recording)
    monkeypatch.setattr(caption_decoder, "make_interpreter", recording)
    monkeypatch.setattr(litert_interpreter.Interpreter, "invoke", no_inference)
    return seen


def _manifest(models: Path) -> Dict:
    return json.loads((models / "manifest.json").read_text())


def _save_manifest(models: Path, manifest: Dict) -> None:
    (models / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _bundled(models: Path, name: str) -> Path:
    return models / _manifest(models)["models"][name]["file"]


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _register_file(models: Path, name: str, data: bytes, **fields) -> Path:
    """Replace bundled model ``name`` by ``data`` with a matching sha256 (a consistent but wrong
    manifest entry, as a bad export would produce)."""
    manifest = _manifest(models)
    entry = manifest["models"][name]
    path = models / entry["file"]
    path.write_bytes(data)
    entry.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), **fields)
    _save_manifest(models, manifest)
    return path


EMOTION_ENTRY_POINTS = {
    "EmotionClassifier()": lambda: edgekit.EmotionClassifier(),
    "Pipeline()": lambda: edgekit.Pipeline(),
    "analyze()": lambda: edgekit.analyze(FACE),
}
#: Entry points that load the caption model (the default source, the library, never does).
CAPTION_ENTRY_POINTS = {
    "Captioner()": lambda: Captioner(source="model"),
    "caption()": lambda: edgekit.caption("happiness", source="model"),
    "caption_styles()": lambda: edgekit.caption_styles("happiness", source="model"),
}


@pytest.mark.parametrize("entry", sorted(EMOTION_ENTRY_POINTS))
def test_tampered_emotion_model_is_refused_before_loading(entry, models, loads):
    path = _bundled(models, "emotion")
    expected = _manifest(models)["models"]["emotion"]["sha256"]
    _flip_byte(path)
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch") as err:
        EMOTION_ENTRY_POINTS[entry]()
    message = str(err.value)
    assert str(path) in message and expected in message and hashlib.sha256(path.read_bytes()).hexdigest() in message
    assert "python -m converters.emotion" in message  # how to get a good file back
    assert path.resolve() not in loads


@pytest.mark.parametrize("entry", sorted(CAPTION_ENTRY_POINTS))
def test_tampered_caption_model_or_tokenizer_is_refused(entry, models, loads):
    model = _bundled(models, "caption")
    _flip_byte(model)
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch"):
        CAPTION_ENTRY_POINTS[entry]()
    assert model.resolve() not in loads
    shutil.copy(INSTALLED_MODELS / model.name, model)  # restore the model, break the tokenizer
    _flip_byte(models / "caption_tokenizer.json")
    with pytest.raises(ModelError, match="tokenizer"):
        CAPTION_ENTRY_POINTS[entry]()


def test_the_default_library_source_never_reads_the_caption_model(models, loads):
    """source="library" (the default) needs no model: a tampered one is neither read nor refused."""
    model = _bundled(models, "caption")
    _flip_byte(model)
    _flip_byte(models / "caption_tokenizer.json")
    assert Captioner().decoder is None
    assert edgekit.caption("happiness")[0].source == "library"
    assert edgekit.restyle("hello", style="anime")[0].source == "voice"
    assert model.resolve() not in loads


@pytest.mark.parametrize("entry", ["FaceDetector()", "Pipeline(emotion_model=None)"])
def test_tampered_face_detector_model_is_refused(entry, models, loads):
    entry_info = registry.load_manifest()["external"]["face_short_range"]
    path = models / entry_info["file"]
    _flip_byte(path)
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch") as err:
        FaceDetector() if entry == "FaceDetector()" else edgekit.Pipeline(emotion_model=None)
    assert "converters.thirdparty" in str(err.value)
    assert path.resolve() not in loads


@pytest.mark.parametrize("name", ["emotion", "caption"])
@pytest.mark.parametrize("keep", [0.0, 0.01, 0.5, 0.999])
def test_truncated_bundled_models_are_refused(name, keep, models, loads):
    path = _bundled(models, name)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    entry = EMOTION_ENTRY_POINTS["EmotionClassifier()"] if name == "emotion" else CAPTION_ENTRY_POINTS["Captioner()"]
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch"):
        entry()
    if keep > 0.9:
        return  # only the trailing metadata is cut: the network itself is intact and would load
    # the same truncated bytes registered with a matching sha256 (a broken export): LiteRT refuses
    _register_file(models, name, data[: int(len(data) * keep)])
    with pytest.raises(ModelError, match="not a TFLite model|LiteRT cannot load|no labels found|signature") as err:
        entry()
    assert str(path) in str(err.value)


@pytest.mark.parametrize("shape", [[1, 8], [8], [2, 64, 64, 3], [1, 64, 64, 4], [1, 64, 64, 2], [1, 1, 64, 64, 3]])
def test_wrong_input_shape_registered_as_the_emotion_model(shape, models, loads):
    _register_file(models, "emotion", softmax_model(shape))
    with pytest.raises(ModelError, match=r"input shape .* is not \[1, H, W, 1\|3\]"):
        edgekit.EmotionClassifier()
    with pytest.raises(ModelError, match="input shape"):
        edgekit.analyze(FACE)


def test_wrong_output_shape_registered_as_the_emotion_model(models, loads):
    _register_file(models, "emotion", softmax_model([1, 64, 64, 3]))
    with pytest.raises(ModelError, match=r"output shape \[1, 64, 64, 3\] is not \[1, num_classes\]"):
        edgekit.EmotionClassifier()


def test_model_and_manifest_disagreeing_on_the_input_size(models, loads):
    manifest = _manifest(models)
    size = manifest["models"]["emotion"]["input"]["height"]  # what the shipped file really takes
    manifest["models"]["emotion"]["input"].update(height=48, width=48)
    _save_manifest(models, manifest)
    with pytest.raises(ModelError,
                       match=rf"input shape \[{size}, {size}, 3\] \(HxWxC\) differs from the manifest's \[48, 48, 3\]"):
        edgekit.EmotionClassifier()


@pytest.mark.parametrize("shape", [[1, 8], [2, 64, 64, 3], [1, 64, 64, 4]])
def test_wrong_shape_model_given_by_path(shape, tmp_path, loads):
    path = tmp_path / "model.tflite"
    path.write_bytes(softmax_model(shape))
    with pytest.raises(ModelError, match="input shape") as err:
        edgekit.Pipeline(emotion_model=path)
    assert str(path) in str(err.value)


def test_a_model_of_another_task_is_refused(loads):
    with pytest.raises(ModelError, match="inputs, expected 1 image input"):
        edgekit.EmotionClassifier("caption")
    emotion = registry.model_path("emotion")
    with pytest.raises(ModelError, match="signature"):
        Captioner(model_path=emotion, tokenizer_path=registry.MODELS_DIR / "caption_tokenizer.json", source="model")


def test_models_command_reports_the_tampered_file(models, capsys):
    _flip_byte(_bundled(models, "emotion"))
    assert main(["models"]) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "sha256 mismatch" in rows["emotion"] and "ok" in rows["caption"].split()


def test_softmax_helper_builds_loadable_models(tmp_path):
    """Guard for the wrong-shape tests: the built models are valid, so the refusals above come
    from edgekit's checks, not from a broken file."""
    path = tmp_path / "ok.tflite"
    path.write_bytes(softmax_model([1, 8]))
    interpreter = litert.make_interpreter(path)
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.arange(8, dtype=np.float32)[None])
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert out.shape == (1, 8) and abs(float(out.sum()) - 1.0) < 1e-5


# ---------------------------------------------------------------- names vs paths, bytes loaded (#20)


@pytest.mark.parametrize("name", ["emotion", "identity"])
def test_a_file_named_like_a_model_in_the_working_directory_does_not_replace_it(name, models, tmp_path, monkeypatch):
    """A bare name is always a manifest name: a planted file called ``emotion`` in the working
    directory is never loaded in place of the sha256-checked bundled model."""
    planted = tmp_path / "cwd"
    planted.mkdir()
    (planted / name).write_bytes(softmax_model([1, 96, 96, 3]))
    monkeypatch.chdir(planted)
    loaded = registry.load_model(name)
    assert loaded.path == _bundled(models, name) and loaded.info is not None and loaded.info.name == name
    assert loaded.sha256 == _manifest(models)["models"][name]["sha256"]
    assert registry.load_model(f"./{name}").path == Path(f"./{name}")  # an explicit path still works


def test_the_default_emotion_model_ignores_a_planted_file(models, tmp_path, monkeypatch, loads):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "emotion").write_bytes(softmax_model([1, 96, 96, 3]))
    classifier = edgekit.EmotionClassifier()
    assert classifier.model_path == _bundled(models, "emotion") and loads == [_bundled(models, "emotion").resolve()]


def test_a_same_size_change_with_the_mtime_restored_is_still_refused(models):
    """The sha256 is computed on the bytes LiteRT loads, every time: no (path, size, mtime) cache
    that a same-size edit with a restored mtime could slip past."""
    path = _bundled(models, "emotion")
    edgekit.EmotionClassifier()  # a first, good load
    st = path.stat()
    _flip_byte(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(ModelIntegrityError, match="sha256 mismatch"):
        edgekit.EmotionClassifier()


def test_litert_gets_the_bytes_that_were_hashed_not_the_path(models, monkeypatch):
    """Every model is handed to LiteRT as the checked bytes (``model_content``), so the file cannot
    change between the check and the load."""
    calls: List[tuple] = []
    real = litert_interpreter.Interpreter

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(litert_interpreter, "Interpreter", spy)
    edgekit.EmotionClassifier()
    FaceDetector()
    Captioner(source="model")
    assert len(calls) >= 3
    assert all(not args and "model_content" in kw and "model_path" not in kw for args, kw in calls)


def test_models_command_checks_the_caption_tokenizer(models, capsys):
    tokenizer = models / _manifest(models)["models"]["caption"]["tokenizer"]["file"]
    text = tokenizer.read_bytes()
    tokenizer.write_bytes(text.replace(b"{", b"{ ", 1))
    assert main(["models"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("caption/tokenizer"))
    assert "sha256 mismatch" in row
    with pytest.raises(ModelIntegrityError):
        Captioner(source="model")
