"""The Android demo cannot be built here; this checks that what it runs matches what edgekit and
``converters`` export: model file names, labels, input sizes, normalisation, detector options and
the alignment template in ``model_config.json``, and that the Kotlin code takes all of them from
that file instead of hard-coding them."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from converters.emotion.data import EMOTIONS
from edgekit import litert, registry
from edgekit.alignment import DEFAULT_TEMPLATE
from edgekit.detection.anchors import generate_anchors
from edgekit.detection.blazeface import CONFIGS

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "android_demo"
ASSETS = DEMO / "app" / "src" / "main" / "assets"
KOTLIN = sorted((DEMO / "app" / "src" / "main" / "java").rglob("*.kt"))


@pytest.fixture(scope="module")
def export_assets():
    spec = importlib.util.spec_from_file_location("export_assets", DEMO / "export_assets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def config():
    return json.loads((ASSETS / "model_config.json").read_text(encoding="utf-8"))


def test_committed_assets_are_up_to_date(export_assets):
    assert export_assets.check() == [], "run `python android_demo/export_assets.py` and commit the JSON files"


def test_emotion_model_matches_the_exported_model(config, export_assets):
    emotion, manifest = config["emotion"], registry.load_manifest()["models"]["emotion"]
    path = registry.model_path("emotion")
    assert (emotion["file"], emotion["sha256"]) == (manifest["file"], manifest["sha256"]) == (path.name,
                                                                                              registry.sha256_file(path))
    assert emotion["labels"] == list(EMOTIONS) == manifest["labels"] == litert.find_labels(path)
    interpreter = litert.make_interpreter(path)
    tensor = litert.input_specs(interpreter)[0]
    spec = emotion["input"]
    assert spec == manifest["input"]
    assert [1, spec["height"], spec["width"], spec["channels"]] == list(tensor.shape)
    assert spec["dtype"] == tensor.dtype.name
    assert int(np.prod(litert.output_specs(interpreter)[0].shape)) == len(emotion["labels"])
    # normalisation: what the model's own metadata says, and the model contract (raw RGB 0..255)
    meta = export_assets.read_image_metadata(path)
    assert emotion["normalization"] == {"mean": meta["mean"], "std": meta["std"]} == {"mean": [0.0], "std": [1.0]}
    assert meta["color_space"] == emotion["metadata_color_space"] == "RGB" and spec["color"] == "rgb"
    assert spec["range"] == [0, 255]


def test_detector_matches_blazeface(config):
    det, cfg = config["detector"], CONFIGS["short_range"]
    entry = registry.load_manifest()["external"][cfg.model_key]
    path = registry.third_party_model_path(cfg.model_key)
    assert (det["file"], det["sha256"]) == (Path(entry["path"]).name, entry["sha256"]) == (path.name,
                                                                                           registry.sha256_file(path))
    interpreter = litert.make_interpreter(path)
    tensor = litert.input_specs(interpreter)[0]
    assert [1, det["input"]["height"], det["input"]["width"], 3] == list(tensor.shape) == [1, cfg.input_height,
                                                                                           cfg.input_width, 3]
    assert det["input"]["dtype"] == tensor.dtype.name and det["input"]["range"] == list(cfg.float_range)
    a = det["anchors"]
    assert (a["min_scale"], a["max_scale"], a["strides"], a["interpolated_scale_aspect_ratio"]) == (
        cfg.anchors.min_scale, cfg.anchors.max_scale, list(cfg.anchors.strides),
        cfg.anchors.interpolated_scale_aspect_ratio)
    assert len(generate_anchors(cfg.anchors)) == det["decode"]["num_boxes"] == cfg.decode.num_boxes
    shapes = sorted(tuple(s.shape) for s in litert.output_specs(interpreter))
    assert shapes == [(1, det["decode"]["num_boxes"], 1), (1, det["decode"]["num_boxes"], det["decode"]["num_coords"])]
    assert (det["min_score"], det["nms_iou"]) == (cfg.default_min_score, cfg.nms_iou)
    assert det["keypoints"][:2] == ["right_eye", "left_eye"] == config["alignment"]["eyes"]


def test_alignment_and_captions(config):
    assert config["alignment"]["image_left_eye"] == list(DEFAULT_TEMPLATE.image_left_eye)
    assert config["alignment"]["image_right_eye"] == list(DEFAULT_TEMPLATE.image_right_eye)
    captions = json.loads((ASSETS / config["captions"]["file"]).read_text(encoding="utf-8"))["captions"]
    assert sorted(captions) == sorted(config["captions"]["languages"])
    for lang in captions:
        assert all(captions[lang].get(label) for label in config["emotion"]["labels"]), lang


def _json_keys(node, out):
    if isinstance(node, dict):
        for k, v in node.items():
            out.add(k)
            _json_keys(v, out)
    elif isinstance(node, list):
        for v in node:
            _json_keys(v, out)
    return out


def test_kotlin_reads_everything_from_the_config(config):
    assert KOTLIN, "no Kotlin sources found"
    source = "\n".join(p.read_text(encoding="utf-8") for p in KOTLIN)
    read = set(re.findall(r'get(?:String|Int|Double|Boolean|JSONObject|JSONArray)\("([a-z_]+)"\)', source))
    captions = json.loads((ASSETS / "captions.json").read_text(encoding="utf-8"))
    assert read and read <= _json_keys(config, set()) | _json_keys(captions, set()) - set(config["emotion"]["labels"])
    assert {"file", "labels", "normalization", "mean", "std", "width", "height", "range", "strides", "num_boxes",
            "min_score", "nms_iou", "image_left_eye", "image_right_eye", "keypoints"} <= read
    assert 'ASSET = "model_config.json"' in source
    # nothing the config provides is hard-coded: no model file names, labels or input sizes
    assert ".tflite" not in source
    assert not any(label in source for label in config["emotion"]["labels"])
    sizes = {config["emotion"]["input"]["width"], config["detector"]["input"]["width"],
             config["detector"]["decode"]["num_boxes"]}
    assert not re.findall(r"\b(%s)\b" % "|".join(map(str, sizes)), source)
    gradle = (DEMO / "app" / "build.gradle.kts").read_text()
    assert 'noCompress += "tflite"' in gradle and "export_assets.py" in gradle


def test_export_copies_verified_models(tmp_path, export_assets):
    written = {p.name: p for p in export_assets.export(tmp_path)}
    cfg = json.loads(written["model_config.json"].read_text(encoding="utf-8"))
    for key in ("detector", "emotion"):
        assert registry.sha256_file(written[cfg[key]["file"]]) == cfg[key]["sha256"]
    assert export_assets.check(tmp_path) == []
    (tmp_path / "captions.json").write_text("{}")
    assert export_assets.check(tmp_path) == ["captions.json"]
