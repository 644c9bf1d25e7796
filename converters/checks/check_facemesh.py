"""Check edgekit's FaceMesh against MediaPipe's own face mesh on the same pixels.

    python -m converters.checks.check_facemesh [--lfw 200] [--fer 100] [--out reports/facemesh]

Runs ``mediapipe.solutions.face_mesh`` (static image mode, no iris refinement) and
:class:`edgekit.facemesh.FaceMesh` on the astronaut photo, LFW photos and upscaled FER+ crops
and reports, for each MediaPipe face and the nearest edgekit face, the landmark error in pixels and as a fraction of
the outer eye-corner distance, and the faces edgekit missed. Writes ``validation.json`` and
``validation.md`` under ``--out``. Imports mediapipe (toolchain only).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np
from tqdm import tqdm

from converters.core.paths import ROOT, shared_dir
from converters.core.provenance import environment
from converters.checks.validate_detector import fer_images, lfw_images
from edgekit.assets import demo_photo
from edgekit.facemesh import NUM_LANDMARKS, FaceMesh



def mediapipe_mesh(solution, bgr: np.ndarray) -> List[np.ndarray]:
    """(468, 3) pixel landmarks of every face MediaPipe finds."""
    h, w = bgr.shape[:2]
    res = solution.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return [np.array([[p.x * w, p.y * h, p.z * w] for p in face.landmark])[:NUM_LANDMARKS]
            for face in res.multi_face_landmarks or []]


def compare(mesh: FaceMesh, solution, images: List[np.ndarray], desc: str) -> Dict[str, float]:
    missed, errors, rel_errors, z_errors = 0, [], [], []
    for bgr in tqdm(images, desc=desc, file=sys.stderr):
        ours, theirs = mesh.process(bgr), mediapipe_mesh(solution, bgr)
        for ref in theirs:
            if not ours:
                missed += 1
                continue
            best = min(ours, key=lambda f: np.linalg.norm(f.xy.mean(0) - ref[:, :2].mean(0)))
            err = np.linalg.norm(best.xy - ref[:, :2], axis=1)
            errors.append(float(err.max()))
            rel_errors.append(float(err.max() / best.eye_distance))
            z_errors.append(float(np.abs(best.points[:, 2] - ref[:, 2]).max()))
    return {"images": len(images), "faces_compared": len(errors), "mediapipe_faces_missed": missed,
            "max_landmark_err_px": max(errors, default=float("nan")),
            "mean_of_max_err_px": float(np.mean(errors)) if errors else float("nan"),
            "max_err_over_eye_distance": max(rel_errors, default=float("nan")),
            "max_z_err_px": max(z_errors, default=float("nan"))}


def markdown(report: dict) -> str:
    env = report["environment"]
    lines = ["# FaceMesh validation against MediaPipe", "",
             f"Written by `{env['command']}` (git {env['git_sha']}, {env['date_utc']}). Reference: "
             f"`mediapipe.solutions.face_mesh` {env['versions'].get('mediapipe')} (static image mode, "
             "`refine_landmarks=False`, one face per image: the first detection) on the same BGR->RGB pixels; "
             "edgekit runs "
             "`face_landmark.tflite` from the same wheel through LiteRT.", "",
             "| set | images | faces compared | MediaPipe faces edgekit missed | max landmark err (px) "
             "| mean per-face max err (px) "
             "| max err / eye distance | max z err (px) |", "|---|---|---|---|---|---|---|---|"]
    for name, r in report["sets"].items():
        lines.append(f"| {name} | {r['images']} | {r['faces_compared']} | {r['mediapipe_faces_missed']} | "
                     f"{r['max_landmark_err_px']:.2e} | {r['mean_of_max_err_px']:.2e} | "
                     f"{r['max_err_over_eye_distance']:.2e} | {r['max_z_err_px']:.2e} |")
    lines += ["", f"Host: {env['host']}. Versions: {env['versions']}.", ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=int, default=200, help="LFW photos to compare (default: %(default)s)")
    parser.add_argument("--fer", type=int, default=100, help="FER+ valid crops to compare (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "facemesh")
    args = parser.parse_args(argv)

    import mediapipe as mp  # toolchain only

    sets: Dict[str, List[np.ndarray]] = {"astronaut": [cv2.imread(str(demo_photo()))]}
    shared = shared_dir() / "data"
    if (shared / "lfw" / "images").is_dir() and args.lfw:
        sets["lfw"] = [cv2.imread(str(p)) for p in lfw_images(shared / "lfw", args.lfw)]
    if (shared / "ferplus" / "FER2013Valid").is_dir() and args.fer:
        sets["ferplus_x4"] = fer_images(shared / "ferplus", args.fer)
    report = {"environment": environment("python -m converters.checks.check_facemesh"), "sets": {}}
    with FaceMesh() as mesh, \
            mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                            refine_landmarks=False) as solution:
        for name, images in sets.items():
            report["sets"][name] = compare(mesh, solution, images, name)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "validation.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / "validation.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
