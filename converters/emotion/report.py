"""Evaluate every variant on the validation split, ship the better INT8 model, write the report.

Writes ``<report_dir>/report.json``, ``README.md``, confusion-matrix PNGs and copies of the
configs; every number in them is measured here.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from converters.core.paths import ROOT
from converters.core.report import host_info, write_keeping_marked_sections
from converters.emotion import evaluate as ev
from converters.emotion.config import folded_gates_record, stage_dir
from converters.emotion.data import EMOTIONS
from converters.emotion.report_markdown import render_markdown

log = logging.getLogger(__name__)
#: How every variant's validation faces are prepared (recorded so runs scored otherwise show as such).
EVAL_INPUTS = "runtime pixels"

#: Targets from the issues (shipped = pruned INT8); #26 raised accuracy, added macro-F1 and lifted
#: the latency and size limits that had kept the model at 96 px (0.5 ms, 1 MB before).
TARGETS = {
    "accuracy_min": 0.855,
    "macro_f1_min": 0.70,
    "int8_drop_max_points": 1.0,
    "pruned_drop_max_points": 1.5,
    "file_max_bytes": 3_000_000,
    "latency_max_ms": 1.2,
    "pruned_latency_ratio_max": 0.7,
}


def _sha(path: Path) -> str:
    from edgekit.registry import sha256_file

    return sha256_file(path)


def ship(cfg, source: Path, description: str) -> Path:
    """Copy the chosen ``.tflite`` into ``edgekit/models/`` and register it in the manifest.

    A new model drops the entry's ``cam`` companion (:func:`edgekit.registry.register_model`): it
    was built from the old model, so ``python -m converters.emotion.cam_model ... --ship`` must
    build and register a new one."""
    from edgekit.registry import companion_files, register_model

    models_dir = Path(cfg.models_dir) if Path(cfg.models_dir).is_absolute() else ROOT / cfg.models_dir
    manifest = models_dir / "manifest.json"
    dest = models_dir / cfg.ship_file
    before = companion_files(cfg.ship_name, manifest)
    shutil.copyfile(source, dest)
    register_model(cfg.ship_name, dest, manifest_path=manifest, task="emotion",
                   labels=list(EMOTIONS),
                   produced_by=cfg.produced_by, report=f"{cfg.report_dir}/README.md", description=description)
    dropped = sorted(set(before) - set(companion_files(cfg.ship_name, manifest)))
    if dropped:
        log.warning("%s: the new model dropped its companion file(s) %s, built from the old model; rebuild "
                    "the CAM companion with python -m converters.emotion.cam_model ... --ship",
                    cfg.ship_name, ", ".join(dropped))
    return dest


def mediapipe_agreement(model_path: Path, rgb_inputs: Sequence[np.ndarray], runtime_probs: np.ndarray) -> dict:
    """MediaPipe Tasks' ImageClassifier vs edgekit on the same RGB crops, already at the model's
    input size (so only model loading/execution differs)."""
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(model_path)),
                                            max_results=len(EMOTIONS))
    scores = np.zeros((len(rgb_inputs), len(EMOTIONS)), np.float32)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for i, rgb in enumerate(rgb_inputs):
            result = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))
            for cat in result.classifications[0].categories:
                scores[i, EMOTIONS.index(cat.category_name)] = cat.score
    top = runtime_probs.max(axis=1)
    unique_top = (np.isclose(runtime_probs, top[:, None], atol=1e-6).sum(axis=1) == 1)
    same = scores.argmax(axis=1) == runtime_probs.argmax(axis=1)
    return {"n": len(rgb_inputs), "top1_agreement": float(same.mean()),
            "top1_agreement_untied": float(same[unique_top].mean()) if unique_top.any() else None,
            "max_abs_prob_diff": float(np.abs(scores - runtime_probs).max())}


def classifier_input_size(model_path: Path) -> int:
    from edgekit.registry import inspect_model

    return inspect_model(model_path)[0].height


def _runtime_path(cfg, model_path: Path, paths: List[Path]) -> Tuple[np.ndarray, np.ndarray]:
    """Probabilities through the runtime on the validation images and the RGB crops it fed: the
    detector + aligner path for a model trained on aligned crops, else ``EmotionClassifier.predict``
    on the files (its own resize)."""
    import cv2

    if cfg.train.aligned:
        from converters.emotion.aligned import runtime_predict

        return runtime_predict(model_path, paths)
    size = int(classifier_input_size(model_path))
    fed = np.stack([cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), (size, size),
                               interpolation=cv2.INTER_LINEAR)
                    for p in paths])
    return ev.runtime_predict(model_path, paths), fed


def evaluate_and_report(cfg, data, models: Dict[str, Path], tflites: Dict[str, Path], plan: dict) -> dict:
    from converters.core import pruning
    from converters.core.keras_io import load_model

    report_dir = ROOT / cfg.report_dir if not Path(cfg.report_dir).is_absolute() else Path(cfg.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    _, val = data
    labels = val.majority()
    keep = labels >= 0
    images, labels = val.images[keep], labels[keep]
    names = [n for n, k in zip(val.names, keep) if k]
    size = cfg.train.input_size
    results: Dict[str, dict] = {}
    probs: Dict[str, np.ndarray] = {}
    for name in ("float", "pruned"):
        model = load_model(models[name])
        probs[f"{name}_keras"] = ev.predict_keras(model, images, size)
        results[f"{name}_keras"] = {**ev.classification_metrics(labels, probs[f"{name}_keras"]),
                                    "params": pruning.count_params(model), "macs": pruning.count_macs(model)}
    timed: Dict[str, "ev.TFLiteRunner"] = {}
    pixels = ev.runtime_inputs(images, size)
    for name, path in tflites.items():
        runner = timed[name] = ev.TFLiteRunner(path, num_threads=1)
        probs[name] = runner.predict_pixels(pixels)
        results[name] = {**ev.classification_metrics(labels, probs[name]), "file_bytes": path.stat().st_size,
                         "noise_flip_rate": runner.noise_flip_rate(pixels, probs[name]),
                         "sha256": _sha(path),
                         "input": {"dtype": str(np.dtype(runner.inp["dtype"])),
                                   "quantization": list(runner.inp["quantization"])},
                         "xnnpack_partitions": runner.delegate_partitions()}
        if not runner.xnnpack:
            results[name]["xnnpack_refused_ops"] = runner.xnnpack_requant_violations()
        if "int8" in name:  # like-for-like INT8 comparison even when XNNPACK refuses one of the graphs
            timed[f"{name}:builtin"] = ev.TFLiteRunner(path, num_threads=1, xnnpack=False)
    for key, latency in ev.interleaved_latency(timed).items():
        name, _, kernels = key.partition(":")
        results[name]["latency_1thread_builtin" if kernels else "latency_1thread"] = latency
    for name in tflites:
        base = "pruned_keras" if name.startswith("pruned") else "float_keras"
        for key in ("params", "macs"):
            results[name][key] = results[base][key]
    # Ship the better INT8 variant of the pruned model: more targets met, then higher validation accuracy.
    def merit(name: str) -> tuple:
        return sum(t["met"] for t in check_targets(results, name).values()), results[name]["accuracy"]

    shipped_name = max(("pruned_int8_ptq", "pruned_int8_qat"), key=merit)
    shipped = {"variant": shipped_name, "source": str(tflites[shipped_name])}
    if cfg.ship:
        dest = ship(cfg, tflites[shipped_name], _description(shipped_name, results, cfg.train))
        shipped.update(path=_rel(dest), sha256=_sha(dest), bytes=dest.stat().st_size)
        paths = [Path(val.source) / n for n in names]
        runtime, fed = _runtime_path(cfg, dest, paths)
        shipped["runtime_path"] = {**ev.classification_metrics(labels, runtime),
                                   "top1_agreement_with_toolchain": ev.agreement(runtime, probs[shipped_name])}
        subset = list(range(0, len(paths), max(1, len(paths) // 300)))
        shipped["mediapipe_image_classifier"] = mediapipe_agreement(dest, fed[subset], runtime[subset])
    for key, title in (("float_keras", "float (Keras)"), ("pruned_keras", "pruned float (Keras)"),
                       (shipped_name, f"pruned INT8 ({shipped_name.rsplit('_', 1)[-1].upper()}, shipped)")):
        ev.plot_confusion(results[key]["confusion"], f"{title}: acc {results[key]['accuracy']:.3f}",
                          report_dir / f"confusion_{key}.png")
    targets = check_targets(results, shipped_name)
    configs = _copy_configs(cfg, report_dir)
    report = {"host": host_info(),
              "dataset": {"validation": val.source, "n_majority": int(keep.sum()),
                          "n_dropped_no_majority": int((~keep).sum()),
                          "note": "FER2013Test is not available here: all numbers are on FER2013Valid, "
                                  "which was also used to choose the shipped INT8 variant"},
              "pruning": plan, "folded_gates": _folded_gates(cfg), "results": results, "shipped": shipped,
              "targets": targets, "configs": configs,
              "training": _training_summaries(cfg), "reproduce": cfg.produced_by,
              "eval_inputs": EVAL_INPUTS}
    if cfg.teacher_labels:
        report["teacher"] = teacher_summary(cfg.teacher_labels, cfg.teacher_weight)
        float_config = stage_dir(cfg, "float") / "config.json"  # what the float model was trained with
        trained = json.loads(float_config.read_text()) if float_config.is_file() else cfg.train.to_dict()
        report["teacher"]["float_weight"] = trained.get("teacher_weight") if trained.get("teacher_labels") else None
    if cfg.continue_from:
        report["continued_from"] = {"run": cfg.continue_from,
                                    "training": _training_summaries(replace(cfg, out=cfg.continue_from))}
    report["history"] = _history(cfg, report, report_dir)
    (report_dir / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    # keep the sections other scripts wrote into the README (cam_model, gradcam, ...)
    kept = write_keeping_marked_sections(report_dir / "README.md", render_markdown(report, report_dir))
    if kept:
        log.info("README.md: kept the marked sections %s", ", ".join(kept))
    return report


def _history(cfg, report: dict, report_dir: Path) -> List[dict]:
    """The committed earlier runs of this report, then this one (see :mod:`converters.emotion.history`)."""
    from converters.emotion import history

    float_cfg = report_dir / "configs" / "float.json"
    configs = {"float": json.loads(float_cfg.read_text()) if float_cfg.is_file() else {}, "pipeline": cfg.to_dict()}
    current = history.summarize(report, configs, "this report", report["host"]["date_utc"][:10])
    return [r.to_dict() for r in history.with_current(ROOT, report_dir, current)]


def teacher_summary(labels: str, weight: float) -> dict:
    """The teacher labels the fine-tune and QAT learned from: file, sha256, share, and the
    teacher's own validation accuracy from the report beside the file (when there is one)."""
    path = ROOT / labels  # an absolute ``labels`` stays as it is
    summary = {"labels": labels, "weight": weight, "sha256": _sha(path)}
    teacher_report = path.parent / "report.json"
    if teacher_report.is_file():
        t = json.loads(teacher_report.read_text())
        summary.update(report=_rel(path.parent / "report.md"), val_accuracy=t.get("val_majority_accuracy_ensemble"),
                       oof_train_accuracy=t.get("oof_majority_accuracy_train"))
    return summary


def _folded_gates(cfg) -> Dict[str, list]:
    found = {}
    for stage in ("float", "pruned"):
        record = folded_gates_record(cfg, stage)
        if record.is_file():
            found[stage] = json.loads(record.read_text())
    return found


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _description(variant: str, results: dict, train) -> str:
    r = results[variant]
    return (f"MobileNetV3-{train.variant.capitalize()} {train.input_size} px, 30% channels pruned, full-integer INT8 "
            f"({variant.rsplit('_', 1)[-1].upper()}), FER+ 8 classes; "
            f"FER2013Valid majority accuracy {r['accuracy']:.3f}, "
            f"macro-F1 {r['macro_f1']:.3f}")


def check_targets(results: dict, shipped: str) -> dict:
    s, pf, ff = results[shipped], results["pruned_keras"], results["float_keras"]
    lat_pruned = results[shipped]["latency_1thread"]["median_ms"]
    lat_unpruned = results["float_int8_ptq"]["latency_1thread"]["median_ms"]
    if results["float_int8_ptq"].get("xnnpack_partitions") == 0:
        # XNNPACK refused the unpruned INT8 graph: compare like with like (float32, both in XNNPACK).
        lat_pruned = results["pruned_fp32"]["latency_1thread"]["median_ms"]
        lat_unpruned = results["float_fp32"]["latency_1thread"]["median_ms"]
    rows = {
        "accuracy": (s["accuracy"], ">=", TARGETS["accuracy_min"]),
        "macro_f1": (s["macro_f1"], ">=", TARGETS["macro_f1_min"]),
        "int8_drop_points": (100 * (pf["accuracy"] - s["accuracy"]), "<=", TARGETS["int8_drop_max_points"]),
        "pruned_drop_points": (100 * (ff["accuracy"] - pf["accuracy"]), "<=", TARGETS["pruned_drop_max_points"]),
        "file_bytes": (s["file_bytes"], "<=", TARGETS["file_max_bytes"]),
        "latency_ms_1thread": (results[shipped]["latency_1thread"]["median_ms"], "<=", TARGETS["latency_max_ms"]),
        "pruned_vs_unpruned_int8_latency_ratio": (lat_pruned / lat_unpruned, "<=", TARGETS["pruned_latency_ratio_max"]),
    }
    out = {}
    for name, (value, op, limit) in rows.items():
        ok = value >= limit if op == ">=" else value <= limit
        out[name] = {"measured": value, "target": f"{op} {limit}", "met": bool(ok),
                     "miss_by": 0.0 if ok else abs(value - limit)}
    return out


def _copy_configs(cfg, report_dir: Path) -> dict:
    out_dir = report_dir / "configs"
    out_dir.mkdir(exist_ok=True)
    copied = {}
    for stage in ("float", "pruned", "qat"):
        src = stage_dir(cfg, stage) / "config.json"
        if src.is_file():
            shutil.copyfile(src, out_dir / f"{stage}.json")
            copied[stage] = f"configs/{stage}.json"
    (out_dir / "pipeline.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    copied["pipeline"] = "configs/pipeline.json"
    return copied


def _training_summaries(cfg) -> dict:
    out = {}
    for stage in ("float", "pruned", "qat"):
        f = stage_dir(cfg, stage) / "history.json"
        if f.is_file():
            h = json.loads(f.read_text())
            hist = h.get("history", [])
            out[stage] = {"epochs": len(hist), "wall_clock_s": h.get("elapsed_s"),
                          "final": hist[-1] if hist else None}
    return out
