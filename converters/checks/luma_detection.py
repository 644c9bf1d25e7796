"""Does feeding BlazeFace the luma of a photo instead of its RGB pixels change detection? (#26)

    python -m converters.checks.luma_detection [--lfw 0] [--mesh 500] [--fer 500] [--seed 0] \\
        [--out reports/detection] [--montage runs/luma_only_faces.jpg]

``FaceDetector(input_color="luma")`` sees the photo's gray (BT.601) in all 3 channels, so a colour
photo and its gray version detect alike by construction. Here, on real colour photos (LFW, all of
them by default; photos whose 3 channels are nearly equal are counted and left out), the default
``"rgb"`` input is compared with ``"luma"`` at the default options:

1. **Agreement**: faces found with each input, one-to-one box matches (IoU > 0.3), matched IoU,
   eye keypoint displacement in face-box widths, score change, photos whose largest face is
   found with one input only.
2. **Keypoint stability** (a quality proxy: LFW has no landmarks): each photo is detected again
   after a sub-pixel shift of up to 4 px, and after a 0.9x rescale plus such a shift; the
   largest face's eye points, mapped back, are compared with the untransformed ones, per input.
   The steadier input is the better one.
3. **Face-mesh agreement** (a second proxy) on ``--mesh`` photos: the eye points of each input
   against the eye-contour centres of :class:`edgekit.FaceMesh` run on the colour photo from the
   mean of both detections (so neither input sets the mesh's crop).
4. **FER2013Valid faces in 4x canvases** (``converters.core.fercrops.canvas``): gray
   images, so both inputs must give identical detections; counted.

Writes ``luma_vs_rgb.json`` and ``luma_vs_rgb.md`` under ``--out`` and, with ``--montage``, one
image of every face found with one input only (each tile captioned with its input and score) to
look at whether those faces are real. Runtime venv, no TensorFlow.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from converters.core.fercrops import canvas, ferplus_rows
from converters.core.paths import ROOT, shared_dir
from converters.core.provenance import environment
from edgekit import FaceDetector
from edgekit.facemesh import LEFT_EYE, RIGHT_EYE, FaceMesh
from edgekit.results import BoundingBox, Detection

INPUTS = ("rgb", "luma")
#: Boxes with IoU above this are the same face.
MATCH_IOU = 0.3
#: A photo whose mean (max - min channel) is under this many grey levels is a gray photo.
GRAY_CHROMA = 2.0
SHIFT_PX = 4.0
RESCALE = 0.9
TRANSFORMS = ("shift", "rescale 0.9 + shift")


def eye_error(a: Detection, b: Detection, width: float) -> float:
    """Mean distance of the two eye keypoints of ``a`` and ``b``, in units of ``width``."""
    pa, pb = np.asarray(a.keypoints[:2]), np.asarray(b.keypoints[:2])
    return float(np.linalg.norm(pa - pb, axis=1).mean() / max(width, 1e-6))


def match(first: Sequence[Detection], second: Sequence[Detection]) -> List[Tuple[int, int]]:
    """Greedy one-to-one matches (index pairs), highest IoU first, IoU > :data:`MATCH_IOU`."""
    pairs = sorted(((a.box.iou(b.box), i, j) for i, a in enumerate(first) for j, b in enumerate(second)), reverse=True)
    used_i, used_j, out = set(), set(), []
    for iou, i, j in pairs:
        if iou > MATCH_IOU and i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j))
    return out


def largest(found: Sequence[Detection]) -> Optional[Detection]:
    return max(found, key=lambda d: d.box.area) if found else None


def transform(rng: np.random.Generator, kind: str) -> Tuple[float, np.ndarray]:
    """(scale, shift) of a random transform of kind ``kind`` (pixel-edge coordinates: p' = s p + t)."""
    scale = RESCALE if kind.startswith("rescale") else 1.0
    return scale, rng.uniform(-SHIFT_PX, SHIFT_PX, 2)


def warp(bgr: np.ndarray, scale: float, shift: np.ndarray) -> np.ndarray:
    """``bgr`` under p' = scale * p + shift (pixel edges), in a frame ``scale`` times its size."""
    h, w = bgr.shape[:2]
    # pixel centres: c' = s (c + 0.5) + t - 0.5
    matrix = np.float64([[scale, 0, shift[0] + 0.5 * scale - 0.5], [0, scale, shift[1] + 0.5 * scale - 0.5]])
    size = (int(round(w * scale)), int(round(h * scale)))
    return cv2.warpAffine(bgr, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def unwarp(det: Detection, scale: float, shift: np.ndarray) -> Detection:
    """``det`` found in :func:`warp`'s frame, mapped back to the original photo."""
    b = det.box
    box = BoundingBox((b.x - shift[0]) / scale, (b.y - shift[1]) / scale, b.width / scale, b.height / scale)
    points = tuple(((x - shift[0]) / scale, (y - shift[1]) / scale) for x, y in det.keypoints)
    return Detection(box=box, keypoints=points, score=det.score)


def is_gray(bgr: np.ndarray) -> bool:
    return float((bgr.max(axis=2).astype(np.int16) - bgr.min(axis=2)).mean()) < GRAY_CHROMA


def stats(values: Sequence[float]) -> Dict[str, Optional[float]]:
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return {"n": 0, "mean": None, "median": None, "p95": None, "max": None}
    return {"n": int(len(v)), "mean": float(v.mean()), "median": float(np.median(v)),
            "p95": float(np.percentile(v, 95)), "max": float(v.max())}


def paired(rgb: Sequence[float], luma: Sequence[float], seed: int) -> Dict[str, float]:
    """Paired comparison of per-photo errors (lower is better): the mean difference luma - rgb with
    a bootstrap 95% interval, and the share of photos where luma is lower / higher."""
    a, b = np.asarray(rgb, dtype=np.float64), np.asarray(luma, dtype=np.float64)
    diff = b - a
    rng = np.random.default_rng(seed)
    boots = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(2000)] if len(diff) else [np.nan]
    return {"n": int(len(diff)), "mean_diff_luma_minus_rgb": float(diff.mean()) if len(diff) else float("nan"),
            "ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
            "luma_lower_share": float((diff < 0).mean()) if len(diff) else float("nan"),
            "luma_higher_share": float((diff > 0).mean()) if len(diff) else float("nan")}


def agreement(detectors: Dict[str, FaceDetector], photos: List[Path], seed: int) -> Tuple[dict, dict, list, list]:
    """Checks 1 and 2 on ``photos``; also returns each colour photo's largest faces (for check 3)."""
    rng = np.random.default_rng(seed)
    counts = {k: [] for k in INPUTS}
    ious, eye_disp, kp_disp, score_diff = [], [], [], []
    unmatched = {k: [] for k in INPUTS}  # scores of faces found with one input only
    tiles: List[np.ndarray] = []
    only = {k: 0 for k in INPUTS}
    none = {k: 0 for k in INPUTS}
    stable = {t: {k: [] for k in INPUTS} for t in TRANSFORMS}
    lost = {t: {k: 0 for k in INPUTS} for t in TRANSFORMS}
    stable_pairs = {t: ([], []) for t in TRANSFORMS}
    gray, unreadable, both_largest = 0, 0, []
    for path in tqdm(photos, desc="lfw", file=sys.stderr, mininterval=5.0):
        bgr = cv2.imread(str(path))
        if bgr is None:
            unreadable += 1
            continue
        if is_gray(bgr):
            gray += 1
            continue
        found = {k: detectors[k].detect(bgr) for k in INPUTS}
        for k in INPUTS:
            counts[k].append(len(found[k]))
            none[k] += not found[k]
        pairs = match(found["rgb"], found["luma"])
        for i, j in pairs:
            a, b = found["rgb"][i], found["luma"][j]
            ious.append(a.box.iou(b.box))
            eye_disp.append(eye_error(a, b, a.box.width))
            kp_disp.append(float(np.linalg.norm(np.subtract(a.keypoints, b.keypoints), axis=1).mean() / a.box.width))
            score_diff.append(b.score - a.score)
        for k, side in (("rgb", 0), ("luma", 1)):
            matched = {p[side] for p in pairs}
            alone = [d for n, d in enumerate(found[k]) if n not in matched]
            unmatched[k] += [d.score for d in alone]
            tiles += [tile(bgr, d, f"{k} {d.score:.2f}") for d in alone]
        big = {k: largest(found[k]) for k in INPUTS}
        for k, other in (("rgb", "luma"), ("luma", "rgb")):
            if big[k] is not None and not any(d.box.iou(big[k].box) > MATCH_IOU for d in found[other]):
                only[k] += 1
        if big["rgb"] is not None and big["luma"] is not None and big["rgb"].box.iou(big["luma"].box) > MATCH_IOU:
            both_largest.append((path, big["rgb"], big["luma"]))
        for t in TRANSFORMS:
            scale, shift = transform(rng, t)
            moved = warp(bgr, scale, shift)
            errs = {}
            for k in INPUTS:
                if big[k] is None:
                    continue
                again = largest([unwarp(d, scale, shift) for d in detectors[k].detect(moved)])
                if again is None or again.box.iou(big[k].box) <= MATCH_IOU:
                    lost[t][k] += 1
                    continue
                errs[k] = eye_error(again, big[k], big[k].box.width)
                stable[t][k].append(errs[k])
            if len(errs) == 2 and big["rgb"].box.iou(big["luma"].box) > MATCH_IOU:
                stable_pairs[t][0].append(errs["rgb"])
                stable_pairs[t][1].append(errs["luma"])
    n = len(counts["rgb"])
    agree = {
        "photos_read": len(photos) - unreadable, "gray_photos_skipped": gray, "colour_photos": n,
        "faces": {k: int(np.sum(counts[k])) for k in INPUTS},
        "photos_without_face": none,
        "photos_with_other_face_count": int(np.sum(np.array(counts["rgb"]) != np.array(counts["luma"]))),
        "matched_faces": len(ious),
        "faces_found_with_one_input_only": {k: len(v) for k, v in unmatched.items()},
        "scores_of_faces_found_with_one_input_only": {k: stats(v) for k, v in unmatched.items()},
        "largest_face_found_with_one_input_only": only,
        "iou": stats(ious), "eye_displacement_face_widths": stats(eye_disp),
        "keypoint_displacement_face_widths": stats(kp_disp),
        "score_change_luma_minus_rgb": stats(score_diff),
        "abs_score_change": stats(np.abs(score_diff)),
    }
    stability = {t: {"eye_error_face_widths": {k: stats(v) for k, v in stable[t].items()},
                     "largest_face_lost": lost[t],
                     "paired": paired(*stable_pairs[t], seed)} for t in TRANSFORMS}
    return agree, stability, both_largest, tiles


def tile(bgr: np.ndarray, det: Detection, caption: str, side: int = 96) -> np.ndarray:
    """The face of ``det`` with a 25% margin, ``side`` px square, captioned."""
    b = det.box
    m = 0.25 * max(b.width, b.height)
    x0, y0 = int(max(0, b.x - m)), int(max(0, b.y - m))
    x1, y1 = int(min(bgr.shape[1], b.x + b.width + m)), int(min(bgr.shape[0], b.y + b.height + m))
    crop = bgr[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    out = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    cv2.putText(out, caption, (2, side - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1, cv2.LINE_AA)
    return out


def montage(tiles: List[np.ndarray], columns: int = 16) -> np.ndarray:
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    blank = np.zeros_like(tiles[0])
    return np.vstack([np.hstack(r + [blank] * (columns - len(r))) for r in rows])


def mesh_check(faces: list, count: int, seed: int) -> dict:
    """Check 3: detector eye points vs the face mesh's eye-contour centres, per input."""
    picked = [faces[i] for i in sorted(np.random.default_rng(seed).permutation(len(faces))[:count])]
    errors = {k: [] for k in INPUTS}
    offsets = {k: [] for k in INPUTS}
    low_presence = 0
    with FaceMesh() as mesh:
        for path, rgb, luma in tqdm(picked, desc="mesh", file=sys.stderr, mininterval=5.0):
            bgr = cv2.imread(str(path))
            mean = Detection(
                box=BoundingBox(*(float(np.mean([getattr(d.box, f) for d in (rgb, luma)]))
                                  for f in ("x", "y", "width", "height"))),
                keypoints=tuple(map(tuple, (np.asarray(rgb.keypoints) + np.asarray(luma.keypoints)) / 2)),
                score=(rgb.score + luma.score) / 2)
            face = mesh.landmarks(bgr, mean)
            if face.presence < 0.5:
                low_presence += 1
                continue
            centres = np.array([face.xy[list(RIGHT_EYE)].mean(axis=0), face.xy[list(LEFT_EYE)].mean(axis=0)])
            for k, det in (("rgb", rgb), ("luma", luma)):
                delta = (np.asarray(det.keypoints[:2]) - centres) / mean.box.width
                offsets[k].append(delta)
                errors[k].append(float(np.linalg.norm(delta, axis=1).mean()))
    # the detector's eye point and the contour centre differ by a constant offset too: the spread
    # around each input's own mean offset is its noise
    residual = {k: [float(np.linalg.norm(o - np.mean(offsets[k], axis=0), axis=1).mean()) for o in offsets[k]]
                for k in INPUTS} if offsets["rgb"] else {k: [] for k in INPUTS}
    return {"faces": len(errors["rgb"]), "mesh_presence_below_0.5": low_presence,
            "eye_error_face_widths": {k: stats(v) for k, v in errors.items()},
            "eye_error_after_mean_offset_face_widths": {k: stats(v) for k, v in residual.items()},
            "mean_offset_face_widths": {k: np.mean(offsets[k], axis=0).round(5).tolist() if offsets[k] else None
                                        for k in INPUTS},
            "paired": paired(errors["rgb"], errors["luma"], seed),
            "paired_after_mean_offset": paired(residual["rgb"], residual["luma"], seed)}


def fer_check(detectors: Dict[str, FaceDetector], count: int, seed: int) -> dict:
    """Check 4: gray canvases give identical detections with both inputs."""
    paths = [path for path, _ in ferplus_rows(shared_dir() / "data" / "ferplus" / "FER2013Valid")]
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.permutation(len(paths))[:count])
    identical, detected = 0, {k: 0 for k in INPUTS}
    for i in tqdm(keep, desc="fer canvases", file=sys.stderr, mininterval=5.0):
        face = cv2.imread(str(paths[i]), cv2.IMREAD_GRAYSCALE)
        if face is None:
            continue
        image = canvas(face, rng)
        found = {k: detectors[k].detect(image) for k in INPUTS}
        identical += found["rgb"] == found["luma"]
        for k in INPUTS:
            detected[k] += bool(found[k])
    return {"canvases": len(keep), "identical_detections": identical, "detected": detected}


def _pct(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v:.2%}"


def _num(v: Optional[float], digits: int = 4) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def markdown(report: dict) -> str:
    env, a = report["environment"], report["agreement"]
    lines = ["# Detector input: RGB (default) vs luma", "",
             f"Written by `{env['command']}` (git {env['git_sha']}, {env['date_utc']}). "
             "`FaceDetector()` (short range, default options) with `input_color='rgb'` and `'luma'` on the same "
             f"photos; faces are the same face when their boxes overlap with IoU > {MATCH_IOU}. Distances are in "
             "face-box widths (eye points: mean of the two eyes). See `converters/checks/luma_detection.py`.", "",
             f"## 1. Agreement on LFW colour photos ({a['colour_photos']} of {a['photos_read']} read; "
             f"{a['gray_photos_skipped']} gray photos left out)", "",
             "| | rgb | luma |", "|---|---|---|",
             f"| faces found | {a['faces']['rgb']} | {a['faces']['luma']} |",
             f"| photos without a face | {a['photos_without_face']['rgb']} | {a['photos_without_face']['luma']} |",
             f"| faces found with this input only | {a['faces_found_with_one_input_only']['rgb']} | "
             f"{a['faces_found_with_one_input_only']['luma']} |",
             f"| ... their median score | "
             f"{_num(a['scores_of_faces_found_with_one_input_only']['rgb']['median'], 3)} | "
             f"{_num(a['scores_of_faces_found_with_one_input_only']['luma']['median'], 3)} |",
             f"| largest face found with this input only | {a['largest_face_found_with_one_input_only']['rgb']} | "
             f"{a['largest_face_found_with_one_input_only']['luma']} |", "",
             f"Photos with another face count: {a['photos_with_other_face_count']}. Matched faces: "
             f"{a['matched_faces']}.", "",
             "| matched faces | median | mean | p95 | max |", "|---|---|---|---|---|"]
    for name, key in (("box IoU", "iou"), ("eye displacement (face widths)", "eye_displacement_face_widths"),
                      ("all 6 keypoints displacement (face widths)", "keypoint_displacement_face_widths"),
                      ("score change, luma - rgb", "score_change_luma_minus_rgb"),
                      ("abs score change", "abs_score_change")):
        s = a[key]
        lines.append(f"| {name} | {_num(s['median'])} | {_num(s['mean'])} | {_num(s['p95'])} | {_num(s['max'])} |")
    lines += ["", f"## 2. Keypoint stability (largest face; shift up to {SHIFT_PX:g} px, rescale {RESCALE:g}x; "
                  "lower is steadier)", "",
              "| transform | input | faces | eye error median | mean | p95 | largest face lost |",
              "|---|---|---|---|---|---|---|"]
    for t, row in report["stability"].items():
        for k in INPUTS:
            s = row["eye_error_face_widths"][k]
            lines.append(f"| {t} | {k} | {s['n']} | {_num(s['median'])} | {_num(s['mean'])} | {_num(s['p95'])} | "
                         f"{row['largest_face_lost'][k]} |")
    lines += ["", "| transform | paired faces | mean diff luma - rgb | 95% CI (bootstrap) | luma steadier "
                  "| rgb steadier |", "|---|---|---|---|---|---|"]
    for t, row in report["stability"].items():
        p = row["paired"]
        lines.append(f"| {t} | {p['n']} | {p['mean_diff_luma_minus_rgb']:+.5f} | "
                     f"[{p['ci95'][0]:+.5f}, {p['ci95'][1]:+.5f}] | {_pct(p['luma_lower_share'])} | "
                     f"{_pct(p['luma_higher_share'])} |")
    m = report.get("mesh")
    if m:
        lines += ["", f"## 3. Eye points vs face-mesh eye-contour centres ({m['faces']} photos; mesh run on the "
                      "colour photo from the mean of both detections)", "",
                  "| input | median | mean | p95 | after removing the input's mean offset: median | mean | p95 |",
                  "|---|---|---|---|---|---|---|"]
        for k in INPUTS:
            s, r = m["eye_error_face_widths"][k], m["eye_error_after_mean_offset_face_widths"][k]
            lines.append(f"| {k} | {_num(s['median'])} | {_num(s['mean'])} | {_num(s['p95'])} | {_num(r['median'])} | "
                         f"{_num(r['mean'])} | {_num(r['p95'])} |")
        for name, key in (("raw", "paired"), ("after mean offset", "paired_after_mean_offset")):
            p = m[key]
            lines.append(f"\nPaired ({name}): mean diff luma - rgb {p['mean_diff_luma_minus_rgb']:+.5f} "
                         f"(95% CI [{p['ci95'][0]:+.5f}, {p['ci95'][1]:+.5f}]), luma closer on "
                         f"{_pct(p['luma_lower_share'])} of faces, rgb on {_pct(p['luma_higher_share'])}.")
    f = report.get("fer_canvases")
    if f:
        lines += ["", "## 4. FER2013Valid faces in 4x canvases (gray images)", "",
                  f"{f['identical_detections']} of {f['canvases']} canvases give identical detections with both "
                  f"inputs; faces detected: rgb {f['detected']['rgb']}, luma {f['detected']['luma']}."]
    lines += ["", f"Host: {env['host']}; versions: {env['versions']}.", ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters.checks.luma_detection",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=int, default=0, help="LFW photos, a seeded sample (default: 0 = all)")
    parser.add_argument("--mesh", type=int, default=500, help="photos for the face-mesh check (default: %(default)s)")
    parser.add_argument("--fer", type=int, default=500, help="FER2013Valid canvases (default: %(default)s; 0 skips)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "detection")
    parser.add_argument("--montage", type=Path, help="write the faces found with one input only to this image")
    args = parser.parse_args(argv)
    paths = sorted((shared_dir() / "data" / "lfw" / "images").glob("*/*.jpg"))
    if args.lfw:
        paths = [paths[i] for i in sorted(np.random.default_rng(args.seed).permutation(len(paths))[:args.lfw])]
    detectors = {k: FaceDetector(input_color=k) for k in INPUTS}
    agree, stability, faces, tiles = agreement(detectors, paths, args.seed)
    report = {"environment": environment("python -m converters.checks.luma_detection"), "seed": args.seed,
              "options": {"match_iou": MATCH_IOU, "gray_chroma": GRAY_CHROMA, "shift_px": SHIFT_PX,
                          "rescale": RESCALE},
              "agreement": agree, "stability": stability,
              "mesh": mesh_check(faces, args.mesh, args.seed) if args.mesh else None,
              "fer_canvases": fer_check(detectors, args.fer, args.seed) if args.fer else None}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "luma_vs_rgb.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / "luma_vs_rgb.md").write_text(markdown(report), encoding="utf-8")
    if args.montage and tiles:
        args.montage.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.montage), montage(tiles))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
