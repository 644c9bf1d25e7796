"""Build the neutral reference face mesh used by expression transfer.

    python -m converters.checks.build_neutral_mesh [--data ../shared/data/ferplus] [--min-votes 9] [--max-faces 3000]

Takes FER+ training faces that at least ``--min-votes`` of 10 annotators labelled neutral,
meshes each (48x48 crop upscaled x4 on a gray border, :class:`edgekit.facemesh.FaceMesh`),
removes pose and scale with generalised Procrustes on the rigid landmarks
(:data:`edgekit.transfer.geometry.RIGID`) and writes the mean mesh, normalised (rigid centroid 0,
unit RMS radius), to ``edgekit/assets/neutral_face_mesh.npy``, plus
``reports/transfer/neutral_mesh.json`` (faces used, residual spread, sha256, command).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
from tqdm import tqdm

from converters.core.fercrops import ferplus_rows, upscaled_crop
from converters.core.paths import ROOT, shared_dir
from converters.core.provenance import environment
from edgekit.facemesh import FaceMesh
from edgekit.transfer.geometry import NEUTRAL_MESH_PATH, RIGID, fit_similarity, normalize_reference

def neutral_faces(split_dir: Path, min_votes: int, limit: int) -> List[Path]:
    """FER+ images with at least ``min_votes`` neutral votes and no unknown / not-a-face vote."""
    out = [path for path, votes in ferplus_rows(split_dir) if votes[0] >= min_votes and votes[8] == 0 and votes[9] == 0]
    return sorted(out)[:limit]


def generalized_procrustes(meshes: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Mean of ``meshes (N, 468, 3)`` after aligning each one to the running mean (rigid landmarks)."""
    mean = normalize_reference(meshes[0])
    for _ in range(iterations):
        aligned = np.stack([fit_similarity(m, mean).apply(m) for m in meshes])
        mean = normalize_reference(aligned.mean(axis=0))
    return mean


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=shared_dir() / "data" / "ferplus", help="FER+ root")
    parser.add_argument("--min-votes", type=int, default=9,
                        help="neutral votes (of 10) a face needs (default: %(default)s)")
    parser.add_argument("--max-faces", type=int, default=3000,
                        help="use at most this many faces (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=NEUTRAL_MESH_PATH)
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "transfer" / "neutral_mesh.json")
    args = parser.parse_args(argv)

    paths = neutral_faces(args.data / "FER2013Train", args.min_votes, args.max_faces)
    meshes, missed = [], 0
    with FaceMesh(max_faces=1) as mesh:
        for path in tqdm(paths, desc="meshing neutral faces", file=sys.stderr):
            faces = mesh.process(upscaled_crop(path))
            if faces:
                meshes.append(faces[0].points)
            else:
                missed += 1
    stacked = np.stack(meshes)
    mean = generalized_procrustes(stacked)
    aligned = np.stack([fit_similarity(m, mean).apply(m) for m in stacked])
    spread = np.linalg.norm(aligned - mean, axis=2)  # (N, 468) distance of each landmark from the mean
    buffer = io.BytesIO()
    np.save(buffer, mean.astype(np.float32), allow_pickle=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(buffer.getvalue())
    report = {
        "environment": environment("python -m converters.checks.build_neutral_mesh"),
        "file": str(args.out.relative_to(ROOT)) if args.out.is_relative_to(ROOT) else str(args.out),
        "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
        "source": f"FER+ FER2013Train, >= {args.min_votes}/10 neutral votes, no unknown/not-a-face votes",
        "candidates": len(paths), "faces_meshed": len(meshes), "faces_missed": missed,
        "rigid_landmarks": list(RIGID),
        "landmark_spread_rms": {"rigid": float(np.sqrt((spread[:, list(RIGID)] ** 2).mean())),
                                "all": float(np.sqrt((spread ** 2).mean()))},
        "units": "reference units: rigid landmarks have centroid 0 and unit RMS radius",
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("file", "sha256", "faces_meshed", "faces_missed", "landmark_spread_rms")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
