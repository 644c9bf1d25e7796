"""Validate edgekit's FaceDetector against MediaPipe's own face detection; time it.

    python -m converters.checks.validate_detector [--lfw 300] [--fer 200] [--out reports/detection]

For both BlazeFace models and both NMS variants (MediaPipe's weighted NMS, ``cv2.dnn.NMSBoxes``)
it measures, on LFW photos and upscaled FER+ crops: face-count agreement, box IoU, keypoint
error and score difference against ``mediapipe.solutions.face_detection``; box jitter under
1-pixel shifts; then detector latency at 640x480 (1 thread) and load time. Writes
``validation.json`` and ``validation.md`` under ``--out``. Imports mediapipe (toolchain only).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np
from tqdm import tqdm

from converters.core.fercrops import ferplus_rows
from converters.core.paths import ROOT, shared_dir
from converters.core.provenance import environment
from converters.core.timing import time_calls
from edgekit.detection import FaceDetector
from edgekit.detection.blazeface import CONFIGS
from edgekit.results import BoundingBox

MODELS = ("short_range", "full_range")
NMS = ("weighted", "hard")


def lfw_images(root: Path, count: int) -> List[Path]:
    paths = sorted((root / "images").glob("*/*.jpg"))
    step = max(1, len(paths) // max(count, 1))
    return paths[::step][:count]


def fer_images(root: Path, count: int) -> List[np.ndarray]:
    out = []
    for path, _ in ferplus_rows(root / "FER2013Valid")[:count]:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        big = cv2.copyMakeBorder(cv2.resize(gray, None, fx=4, fy=4), 48, 48, 48, 48, cv2.BORDER_CONSTANT, value=128)
        out.append(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))
    return out


def mediapipe_detect(solution, bgr: np.ndarray) -> List[tuple]:
    h, w = bgr.shape[:2]
    res = solution.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    out = []
    for d in res.detections or []:
        b = d.location_data.relative_bounding_box
        kps = np.array([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints])
        out.append((BoundingBox(b.xmin * w, b.ymin * h, b.width * w, b.height * h), kps, float(d.score[0])))
    return out


def compare(detector: FaceDetector, solution, images: List[np.ndarray], desc: str) -> dict:
    same_count, ious, kp_err, kp_err_rel, score_diff = 0, [], [], [], []
    for img in tqdm(images, desc=desc, leave=False, mininterval=2.0):
        ours, ref = detector.detect(img), mediapipe_detect(solution, img)
        same_count += len(ours) == len(ref)
        for box, kps, score in ref:
            if not ours:
                break
            match = max(ours, key=lambda d: d.box.iou(box))
            ious.append(match.box.iou(box))
            err = float(np.abs(np.asarray(match.keypoints) - kps).max())
            kp_err.append(err)
            kp_err_rel.append(err / max(box.width, 1e-6))
            score_diff.append(abs(match.score - score))
    return {
        "images": len(images),
        "faces_mediapipe": len(ious),
        "same_face_count_rate": round(same_count / max(len(images), 1), 4),
        "iou_mean": _f(np.mean(ious)) if ious else None,
        "iou_min": _f(np.min(ious)) if ious else None,
        "keypoint_max_err_px_mean": _f(np.mean(kp_err)) if kp_err else None,
        "keypoint_max_err_px_max": _f(np.max(kp_err)) if kp_err else None,
        "keypoint_max_err_rel_max": _f(np.max(kp_err_rel)) if kp_err_rel else None,
        "score_abs_diff_max": _f(np.max(score_diff)) if score_diff else None,
    }


def jitter(detector: FaceDetector, images: List[np.ndarray], shifts: int = 8) -> Optional[float]:
    """Mean over images of the std (px) of the shift-compensated box centre under 1-px shifts."""
    stds = []
    for img in images:
        h, w = img.shape[:2]
        canvas_w = w + shifts
        centres = []
        for dx in range(shifts):
            canvas = cv2.copyMakeBorder(img, 0, 0, dx, shifts - dx, cv2.BORDER_REPLICATE)
            assert canvas.shape[1] == canvas_w
            faces = detector.detect(canvas)
            if not faces:
                break
            b = faces[0].box
            centres.append((b.x + b.width / 2 - dx, b.y + b.height / 2))
        if len(centres) == shifts:
            stds.append(float(np.std(np.asarray(centres), axis=0).mean()))
    return _f(np.mean(stds)) if stds else None


def latency(detector: FaceDetector, image: np.ndarray, runs: int, warmup: int = 20) -> dict:
    times = sorted(time_calls(lambda: detector.detect(image), runs, warmup))
    return {"runs": runs, "p50_ms": _f(statistics.median(times)), "p90_ms": _f(times[int(0.9 * (runs - 1))]),
            "min_ms": _f(times[0])}


def load_time(model: str, repeats: int = 5) -> float:
    return _f(statistics.median(time_calls(lambda: FaceDetector(model=model), repeats)))


def _f(v) -> float:
    return round(float(v), 5)


def markdown(report: dict) -> str:
    env = report["environment"]
    lines = [
        "# FaceDetector validation against MediaPipe",
        "",
        f"Written by `{env['command']}` (git {env['git_sha']}, {env['date_utc']}). Reference: "
        f"`mediapipe.solutions.face_detection` {env['versions'].get('mediapipe')} on the same BGR->RGB pixels. "
        "edgekit runs with MediaPipe's graph thresholds (0.5 short range, 0.6 full range): the mediapipe "
        "0.10.21 Python solution ignores `min_detection_confidence` and always uses those.",
        "",
        "## Agreement (per matched MediaPipe face)",
        "",
        "| model | nms | set | images | same face count | IoU mean | IoU min | keypoint err max (px) "
        "| keypoint err max / box width | score diff max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["agreement"]:
        lines.append(
            f"| {row['model']} | {row['nms']} | {row['set']} | {row['images']} | {row['same_face_count_rate']} | "
            f"{row['iou_mean']} | {row['iou_min']} | {row['keypoint_max_err_px_max']} | "
            f"{row['keypoint_max_err_rel_max']} | {row['score_abs_diff_max']} |"
        )
    lines += ["", "## Box jitter under 1-px shifts (std of shift-compensated centre, px; lower is steadier)", "",
              "| model | weighted NMS | hard NMS (cv2.dnn.NMSBoxes) |", "|---|---|---|"]
    for model, row in report["jitter_px"].items():
        lines.append(f"| {model} | {row['weighted']} | {row['hard']} |")
    lines += ["", f"## Latency at 640x480, 1 thread ({report['latency_image']})", "",
              "| model | load (ms, median of 5) | detect p50 (ms) | p90 (ms) | min (ms) "
              "| mediapipe solution p50 (ms) |",
              "|---|---|---|---|---|---|"]
    for model, row in report["latency"].items():
        lines.append(f"| {model} | {row['load_ms']} | {row['detect']['p50_ms']} | {row['detect']['p90_ms']} | "
                     f"{row['detect']['min_ms']} | {row['mediapipe_p50_ms']} |")
    lines += ["", f"Decision: {report['decision']}", "", f"Host: {env['host']}; versions: {env['versions']}.", ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters.checks.validate_detector",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=int, default=300, help="LFW photos to compare")
    parser.add_argument("--fer", type=int, default=200, help="FER+ valid crops to compare (upscaled x4, padded)")
    parser.add_argument("--jitter-images", type=int, default=40)
    parser.add_argument("--runs", type=int, default=300, help="timed detect() calls per model")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "detection")
    args = parser.parse_args(argv)

    import mediapipe as mp  # toolchain only: imports TensorFlow

    data = shared_dir() / "data"
    sets: Dict[str, List[np.ndarray]] = {}
    if (data / "lfw" / "images").is_dir():
        sets["lfw"] = [cv2.imread(str(p)) for p in lfw_images(data / "lfw", args.lfw)]
    if (data / "ferplus" / "FER2013Valid").is_dir():
        sets["ferplus"] = fer_images(data / "ferplus", args.fer)
    import skimage.data

    astronaut = cv2.imread(str(Path(skimage.data.__file__).parent / "astronaut.png"))
    frame = cv2.resize(astronaut, (640, 480))

    agreement, jitters, timings = [], {}, {}
    for index, model in enumerate(MODELS):
        solution = mp.solutions.face_detection.FaceDetection(model_selection=index)
        threshold = CONFIGS[model].default_min_score
        jitters[model] = {}
        for nms in NMS:
            det = FaceDetector(model=model, nms=nms, min_confidence=threshold)
            for name, images in sets.items():
                agreement.append({"model": model, "nms": nms, "set": name,
                                  **compare(det, solution, images, f"{model}/{nms}/{name}")})
                print(agreement[-1], flush=True)
            jitters[model][nms] = jitter(det, sets.get("lfw", [astronaut])[: args.jitter_images])
        det = FaceDetector(model=model, num_threads=1)
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        mp_times = time_calls(lambda: solution.process(rgb), args.runs // 2, warmup=10)
        timings[model] = {"load_ms": load_time(model), "detect": latency(det, frame, args.runs),
                          "mediapipe_p50_ms": _f(statistics.median(mp_times))}
        print(model, timings[model], flush=True)
        solution.close()

    weighted_iou = [r["iou_mean"] for r in agreement if r["nms"] == "weighted" and r["iou_mean"] is not None]
    hard_iou = [r["iou_mean"] for r in agreement if r["nms"] == "hard" and r["iou_mean"] is not None]
    jitter_text = ", ".join(f"{m} {j['weighted']} (weighted) vs {j['hard']} (hard) px" for m, j in jitters.items())
    decision = (
        f"FaceDetector defaults to nms='weighted' (MediaPipe's algorithm): mean IoU with MediaPipe "
        f"{np.mean(weighted_iou):.4f} (weighted) vs {np.mean(hard_iou):.4f} (hard, cv2.dnn.NMSBoxes); "
        f"jitter {jitter_text}."
        if weighted_iou and hard_iou else "no agreement data (shared data missing)"
    )
    report = {
        "agreement": agreement,
        "jitter_px": jitters,
        "latency": timings,
        "latency_image": "astronaut resized to 640x480, one face",
        "decision": decision,
        "environment": environment("python -m converters.checks.validate_detector"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "validation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / "validation.md").write_text(markdown(report), encoding="utf-8")
    print(decision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
