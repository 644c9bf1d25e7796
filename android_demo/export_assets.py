"""Export the Android demo's assets: ``python android_demo/export_assets.py [--check]``.

Copies the two models the app runs into ``app/src/main/assets/`` (git-ignored):

- ``face_detection_short_range.tflite``: BlazeFace short range, from the installed
  ``mediapipe==0.10.21`` wheel (sha256-checked by :mod:`edgekit.registry`);
- the bundled default ``emotion`` model (``edgekit/models``, sha256-checked; its file name is in the manifest);

and writes the two committed JSON files the app reads (it hard-codes none of these values):

- ``model_config.json``: file names and sha256, input size / colour / dtype / value range and
  normalisation of both models, BlazeFace's anchor and decoding options, the labels, the face
  alignment template. Every value is read from edgekit's own sources: the model manifest, the
  BlazeFace graph options (:mod:`edgekit.detection.blazeface`), the aligner's template, and the
  emotion model's TFLite metadata (normalisation, colour space, label file);
- ``captions.json``: a few captions per emotion and language from edgekit's caption library.

``--check`` regenerates both JSON files in memory and exits 1 when the committed ones differ
(run it after retraining; ``tests/benchmarks/test_android_demo.py`` does the same).
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from edgekit import litert, registry
from edgekit.alignment import DEFAULT_TEMPLATE
from edgekit.captioning.library import LIBRARY_PATH
from edgekit.detection.blazeface import CONFIGS
from edgekit.results import KEYPOINT_NAMES

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "app" / "src" / "main" / "assets"
CONFIG_FILE, CAPTIONS_FILE = "model_config.json", "captions.json"
DETECTOR = "short_range"
CAPTIONS_PER_EMOTION = 6
LANGUAGES = ("en", "zh")


def _load_by_path(name: str, path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def read_image_metadata(model_path: Path) -> Dict[str, Any]:
    """Normalisation (mean/std) and colour space of input 0 from a model's TFLite metadata.

    Reads the ``TFLITE_METADATA`` buffer with the flatbuffer classes generated from the TFLite
    model schema (``ai_edge_litert``) and the metadata schema shipped in the mediapipe wheel,
    loaded by file path so that ``mediapipe/__init__.py`` (which imports TensorFlow) never runs.
    """
    from ai_edge_litert import schema_py_generated as tfl

    spec = importlib.util.find_spec("mediapipe")  # toolchain venv only; found without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("reading TFLite metadata needs the mediapipe package (the toolchain venv: make dev)")
    meta_fb = _load_by_path("edgekit_metadata_schema", Path(list(spec.submodule_search_locations)[0]) / "tasks"
                            / "metadata" / "metadata_schema_py_generated.py")
    data = model_path.read_bytes()
    model = tfl.Model.GetRootAsModel(data, 0)
    buffer_index = next((model.Metadata(i).Buffer() for i in range(model.MetadataLength())
                         if model.Metadata(i).Name() == b"TFLITE_METADATA"), None)
    if buffer_index is None:
        raise ValueError(f"{model_path}: no TFLite metadata")
    meta = meta_fb.ModelMetadata.GetRootAsModelMetadata(model.Buffers(buffer_index).DataAsNumpy().tobytes(), 0)
    tensor = meta.SubgraphMetadata(0).InputTensorMetadata(0)
    out: Dict[str, Any] = {"mean": None, "std": None, "color_space": None}
    for i in range(tensor.ProcessUnitsLength()):
        unit = tensor.ProcessUnits(i)
        if unit.OptionsType() == meta_fb.ProcessUnitOptions.NormalizationOptions:
            options = meta_fb.NormalizationOptions()
            options.Init(unit.Options().Bytes, unit.Options().Pos)
            out["mean"] = [float(v) for v in options.MeanAsNumpy()]
            out["std"] = [float(v) for v in options.StdAsNumpy()]
    content = tensor.Content()
    if content is not None and content.ContentPropertiesType() == meta_fb.ContentProperties.ImageProperties:
        props = meta_fb.ImageProperties()
        props.Init(content.ContentProperties().Bytes, content.ContentProperties().Pos)
        names = {v: k for k, v in vars(meta_fb.ColorSpaceType).items() if not k.startswith("_")}
        out["color_space"] = names.get(props.ColorSpace())
    return out


def detector_config() -> Dict[str, Any]:
    cfg = CONFIGS[DETECTOR]
    entry = registry.load_manifest()["external"][cfg.model_key]
    a, d = cfg.anchors, cfg.decode
    return {
        "file": Path(entry["path"]).name, "sha256": entry["sha256"], "source": f"{entry['package']}: {entry['path']}",
        "input": {"width": cfg.input_width, "height": cfg.input_height, "channels": 3, "color": "rgb",
                  "dtype": "float32", "range": list(cfg.float_range), "letterbox": True},
        "anchors": {"min_scale": a.min_scale, "max_scale": a.max_scale, "strides": list(a.strides),
                    "offset_x": a.anchor_offset_x, "offset_y": a.anchor_offset_y,
                    "aspect_ratios": list(a.aspect_ratios),
                    "interpolated_scale_aspect_ratio": a.interpolated_scale_aspect_ratio,
                    "fixed_anchor_size": a.fixed_anchor_size,
                    "reduce_boxes_in_lowest_layer": a.reduce_boxes_in_lowest_layer},
        "decode": {"num_boxes": d.num_boxes, "num_coords": d.num_coords, "x_scale": d.x_scale, "y_scale": d.y_scale,
                   "w_scale": d.w_scale, "h_scale": d.h_scale, "box_coord_offset": d.box_coord_offset,
                   "keypoint_coord_offset": d.keypoint_coord_offset, "num_keypoints": d.num_keypoints,
                   "reverse_output_order": d.reverse_output_order, "sigmoid_score": d.sigmoid_score,
                   "score_clipping_thresh": d.score_clipping_thresh},
        "min_score": cfg.default_min_score, "nms": "weighted", "nms_iou": cfg.nms_iou,
        "keypoints": list(KEYPOINT_NAMES),
    }


def emotion_config() -> Dict[str, Any]:
    info = registry.model_info("emotion")
    path = registry.model_path("emotion")
    meta = read_image_metadata(path)
    return {
        "file": info.file, "sha256": info.sha256,
        "input": info.input.to_dict() if info.input else None,
        "normalization": {"mean": meta["mean"], "std": meta["std"]},
        "metadata_color_space": meta["color_space"],
        "labels": list(litert.find_labels(path) or info.labels),
        "output": "probabilities (softmax), quantized: dequantize with the output tensor's scale/zero point",
    }


def build_model_config() -> Dict[str, Any]:
    return {
        "schema": 1,
        "generated_by": "python android_demo/export_assets.py",
        "detector": detector_config(),
        "emotion": emotion_config(),
        "alignment": {"image_left_eye": list(DEFAULT_TEMPLATE.image_left_eye),
                      "image_right_eye": list(DEFAULT_TEMPLATE.image_right_eye),
                      "eyes": ["right_eye", "left_eye"], "border": "replicate"},
        "captions": {"file": CAPTIONS_FILE, "languages": list(LANGUAGES)},
        "smoothing": {"ema_time_constant_ms": 300.0},
    }


def build_captions(library: Path = LIBRARY_PATH, per_emotion: int = CAPTIONS_PER_EMOTION) -> Dict[str, Any]:
    """``{lang: {emotion: [caption, ...]}}``: the first ``per_emotion`` library captions (train split)
    of each emotion and language, one per style where possible, in library order."""
    rows: List[Dict[str, str]] = []
    with library.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["split"] == "train" and r["lang"] in LANGUAGES]
    out: Dict[str, Dict[str, List[str]]] = {lang: {} for lang in LANGUAGES}
    for lang in LANGUAGES:
        for emotion in registry.model_info("emotion").labels:
            pool = [r for r in rows if r["lang"] == lang and r["emotion"] == emotion]
            picked, styles = [], set()
            for r in pool + pool:  # first pass: one per style; second pass: fill up
                if len(picked) == per_emotion:
                    break
                if r["text"] in picked or (r["style"] in styles and len(styles) < len({p['style'] for p in pool})):
                    continue
                picked.append(r["text"])
                styles.add(r["style"])
            out[lang][emotion] = picked
    return {"source": "edgekit/assets/captions/library.tsv", "captions": out}


def _dump(doc: Dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def check(assets: Path = ASSETS) -> List[str]:
    """Names of the committed JSON files that differ from what this script would write."""
    expected = {CONFIG_FILE: _dump(build_model_config()), CAPTIONS_FILE: _dump(build_captions())}
    return [name for name, text in expected.items()
            if not (assets / name).is_file() or (assets / name).read_text(encoding="utf-8") != text]


def export(assets: Path = ASSETS) -> List[Path]:
    assets.mkdir(parents=True, exist_ok=True)
    config = build_model_config()
    copies = {config["detector"]["file"]: registry.third_party_model_path(CONFIGS[DETECTOR].model_key),
              config["emotion"]["file"]: registry.model_path("emotion")}
    written = []
    for name, source in copies.items():
        shutil.copyfile(source, assets / name)
        written.append(assets / name)
    for name, doc in ((CONFIG_FILE, config), (CAPTIONS_FILE, build_captions())):
        (assets / name).write_text(_dump(doc), encoding="utf-8")
        written.append(assets / name)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="only check that the committed JSON files are up to date")
    p.add_argument("--assets", type=Path, default=ASSETS, help="assets folder (default: the app's)")
    args = p.parse_args(argv)
    if args.check:
        stale = check(args.assets)
        for name in stale:
            print(f"export_assets: {args.assets / name} is out of date: run python android_demo/export_assets.py",
                  file=sys.stderr)
        return 1 if stale else 0
    for path in export(args.assets):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
