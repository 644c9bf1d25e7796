"""Measure where BlazeFace puts the eyes in FER+ training crops -> the aligner's default template.

FER+ crops are 48x48 and tightly framed, so each one is upscaled and padded before detection
(BlazeFace is trained on faces with context). A sweep over padding amount and border type on a
sample picks the setting with the highest detection rate; the full split is then run with it and
the eye keypoints are mapped back into the original 48x48 crop.

    python -m converters.checks.calibrate_alignment [--limit N] [--out reports/alignment]

Writes ``calibration.json``, ``calibration.md`` and ``eyes.png`` under ``--out``. The ``template``
entry of the JSON is what ``edgekit/alignment.py``'s ``DEFAULT_TEMPLATE`` must hold.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from converters.core.fercrops import BORDERS, FER_SIZE, Setting, ferplus_rows
from converters.core.paths import ROOT, shared_dir
from converters.core.provenance import environment
from edgekit.detection import FaceDetector, FaceDetectorOptions
from edgekit.errors import ConfigError
from edgekit.results import KEYPOINT_NAMES

def face_images(split_dir: Path) -> tuple:
    """Image paths of a FER+ split, minus images whose votes say "not a face"; and the count dropped."""
    label_csv = split_dir / "label.csv"
    if not label_csv.is_file():
        raise ConfigError("FER+ label.csv not found", subject=label_csv,
                          hint="pass --data <ferplus root> or set EDGEKIT_SHARED")
    rows = ferplus_rows(split_dir)
    paths = [path for path, votes in rows if int(np.argmax(votes)) != 9]  # 9: NF (not a face) is the majority
    return paths, len(rows) - len(paths)


def run(detector: FaceDetector, setting: Setting, paths: Sequence[Path], desc: str) -> Dict[str, np.ndarray]:
    """Keypoints (N, 6, 2) as crop fractions and scores of detected images, plus hit mask."""
    kps, scores, hits = [], [], np.zeros(len(paths), dtype=bool)
    for i, path in enumerate(tqdm(paths, desc=desc, unit="img", mininterval=2.0, leave=False)):
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None or gray.shape != (FER_SIZE, FER_SIZE):
            continue
        dets = detector.detect(setting.prepare(gray))
        if dets:
            hits[i] = True
            kps.append(setting.to_crop(np.asarray(dets[0].keypoints)))
            scores.append(dets[0].score)
    return {"keypoints": np.asarray(kps).reshape(-1, 6, 2), "scores": np.asarray(scores), "hits": hits}


def stats(values: np.ndarray) -> dict:
    return {"mean": _r(np.mean(values, axis=0)), "std": _r(np.std(values, axis=0)),
            "median": _r(np.median(values, axis=0))}


def _r(v) -> object:
    return np.round(np.asarray(v, dtype=np.float64), 4).tolist()


def eye_geometry(kps: np.ndarray) -> dict:
    left, right = kps[:, 0], kps[:, 1]  # BlazeFace right_eye is on the image's left
    mid = (left + right) / 2
    delta = right - left
    distance = np.hypot(delta[:, 0], delta[:, 1])
    roll = np.degrees(np.arctan2(delta[:, 1], delta[:, 0]))
    return {"midpoint": stats(mid), "distance": stats(distance), "roll_deg": stats(roll)}


def template_from(geometry: dict) -> dict:
    """Upright template: eyes level at the mean midpoint, mean distance apart."""
    (mx, my), d = geometry["midpoint"]["mean"], geometry["distance"]["mean"]
    return {"image_left_eye": [round(mx - d / 2, 4), round(my, 4)],
            "image_right_eye": [round(mx + d / 2, 4), round(my, 4)]}


def plot(path: Path, paths: Sequence[Path], hits: np.ndarray, kps: np.ndarray, template: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [p for p, h in zip(paths, hits) if h][:2000]
    mean_face = np.mean([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(np.float32) for p in chosen], axis=0)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(mean_face, cmap="gray", extent=(0, FER_SIZE, FER_SIZE, 0))
    sample = kps[:: max(1, len(kps) // 3000)]
    for k, color in ((0, "tab:cyan"), (1, "tab:orange")):
        ax.scatter(sample[:, k, 0] * FER_SIZE, sample[:, k, 1] * FER_SIZE, s=1, alpha=0.15, color=color,
                   label=KEYPOINT_NAMES[k])
    for key in ("image_left_eye", "image_right_eye"):
        x, y = template[key]
        ax.plot(x * FER_SIZE, y * FER_SIZE, "r+", markersize=14, mew=2)
    ax.set_title("BlazeFace eyes on FER+ train crops (+ = template)")
    ax.legend(loc="lower right", markerscale=8, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(report: dict) -> str:
    t, g, s = report["template"], report["eye_geometry"], report["setting"]
    lines = [
        "# Alignment calibration: BlazeFace eyes in FER+ training crops",
        "",
        f"Written by `{report['environment']['command']}` (git {report['environment']['git_sha']}, "
        f"{report['environment']['date_utc']}).",
        "",
        f"- split: `{report['split']}`, {report['images']} face images "
        f"({report['dropped_not_face']} dropped: majority 'not a face')",
        f"- detector: BlazeFace `{report['detector']['model']}`, min_confidence {report['detector']['min_confidence']}",
        f"- chosen preparation: upscale x{s['scale']}, pad {s['pad']} of the crop per side, `{s['border']}` border "
        "(highest detection rate in the sweep)",
        f"- detection rate: **{report['detection_rate']:.4f}** ({report['detected']} / {report['images']})",
        "",
        "## Template (fractions of crop width / height, pixel-edge convention)",
        "",
        "| point | x | y |",
        "|---|---|---|",
        f"| image-left eye (BlazeFace right_eye) | {t['image_left_eye'][0]} | {t['image_left_eye'][1]} |",
        f"| image-right eye (BlazeFace left_eye) | {t['image_right_eye'][0]} | {t['image_right_eye'][1]} |",
        "",
        "## Eye geometry over detected crops",
        "",
        "| quantity | mean | std | median |",
        "|---|---|---|---|",
    ]
    for name, key in (("eye midpoint (x, y)", "midpoint"), ("eye distance / crop size", "distance"),
                      ("roll (degrees)", "roll_deg")):
        lines.append(f"| {name} | {g[key]['mean']} | {g[key]['std']} | {g[key]['median']} |")
    lines += ["", "## Keypoints (mean / std, fractions of the crop)", "", "| keypoint | mean (x, y) | std (x, y) |",
              "|---|---|---|"]
    for name, st in report["keypoints"].items():
        lines.append(f"| {name} | {st['mean']} | {st['std']} |")
    lines += ["", f"## Preparation sweep ({report['sweep_images']} images)", "",
              "| scale | pad | border | detection rate | eye midpoint mean | eye distance mean |",
              "|---|---|---|---|---|---|"]
    for row in report["sweep"]:
        lines.append(f"| {row['scale']} | {row['pad']} | {row['border']} | {row['detection_rate']:.4f} | "
                     f"{row['eye_midpoint_mean']} | {row['eye_distance_mean']} |")
    lines += ["", "![eyes](eyes.png)", "",
              f"Host: {report['environment']['host']}; versions: {report['environment']['versions']}.", ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters.checks.calibrate_alignment",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help="FER+ root (default: $EDGEKIT_SHARED/data/ferplus or ../shared/data/ferplus)")
    parser.add_argument("--split", default="FER2013Train")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (0 = all)")
    parser.add_argument("--sweep-limit", type=int, default=1000, help="images used to choose the preparation")
    parser.add_argument("--scale", type=int, default=4, help="upscale factor of the 48x48 crops")
    parser.add_argument("--pads", default="0,0.25,0.5,1.0", help="padding fractions to sweep")
    parser.add_argument("--model", default="short_range", choices=["short_range", "full_range"])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "alignment")
    args = parser.parse_args(argv)

    data = args.data or shared_dir() / "data" / "ferplus"
    paths, dropped = face_images(data / args.split)
    if args.limit:
        paths = paths[: args.limit]
    detector = FaceDetector(FaceDetectorOptions(model=args.model, max_faces=1))
    start = time.perf_counter()

    sweep, sweep_paths = [], paths[: args.sweep_limit]
    for pad in (float(p) for p in args.pads.split(",")):
        for border in BORDERS:
            setting = Setting(args.scale, pad, border)
            res = run(detector, setting, sweep_paths, desc=f"sweep pad={pad} {border}")
            geo = eye_geometry(res["keypoints"]) if len(res["keypoints"]) else None
            sweep.append({"scale": setting.scale, "pad": pad, "border": border,
                          "detection_rate": float(res["hits"].mean()),
                          "eye_midpoint_mean": geo["midpoint"]["mean"] if geo else None,
                          "eye_distance_mean": geo["distance"]["mean"] if geo else None})
            print(f"sweep {sweep[-1]}", flush=True)
    best = max(sweep, key=lambda row: row["detection_rate"])
    setting = Setting(best["scale"], best["pad"], best["border"])

    res = run(detector, setting, paths, desc="calibrate")
    kps = res["keypoints"]
    if not len(kps):
        raise SystemExit("no face detected; cannot calibrate")
    geometry = eye_geometry(kps)
    report = {
        "split": f"{args.split} ({data})",
        "images": len(paths),
        "dropped_not_face": dropped,
        "detected": int(res["hits"].sum()),
        "detection_rate": round(float(res["hits"].mean()), 4),
        "detector": {"model": args.model, "min_confidence": detector.options.min_confidence},
        "setting": {"scale": setting.scale, "pad": setting.pad, "border": setting.border},
        "template": template_from(geometry),
        "eye_geometry": geometry,
        "keypoints": {name: stats(kps[:, i]) for i, name in enumerate(KEYPOINT_NAMES)},
        "score": stats(res["scores"]),
        "sweep_images": len(sweep_paths),
        "sweep": sweep,
        "seconds": round(time.perf_counter() - start, 1),
        "environment": environment("python -m converters.checks.calibrate_alignment"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "calibration.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / "calibration.md").write_text(markdown(report), encoding="utf-8")
    plot(args.out / "eyes.png", paths, res["hits"], kps, report["template"])
    print(json.dumps({"template": report["template"], "detection_rate": report["detection_rate"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
