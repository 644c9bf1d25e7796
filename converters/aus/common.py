"""Shared by the AU converters: FER+ rows, meshing upscaled crops, raw AU features."""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from converters.core.fercrops import upscaled_crop
from edgekit.aus import AU_NAMES, FEATURE_NAMES, MAX_PITCH_DEG, MAX_RIGID_RESIDUAL, MAX_YAW_DEG, measure
from edgekit.facemesh import FaceMesh

EMOTIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


def ferplus_rows(split_dir: Path) -> List[Tuple[Path, np.ndarray]]:
    """``(image path, votes[10])`` of a FER+ split folder."""
    with (split_dir / "label.csv").open(newline="") as fh:
        return [(split_dir / row[0], np.array([int(v) for v in row[2:12]])) for row in csv.reader(fh)]


def majority(votes: np.ndarray) -> int:
    """FER+ majority label (index into EMOTIONS), -1 when unknown/not-a-face wins or the top ties."""
    top = votes.max()
    if top == 0 or votes[8] >= top or votes[9] >= top or (votes[:8] == top).sum() > 1:
        return -1
    return int(votes[:8].argmax())


def mesh_raw(paths: Sequence[Path], desc: str, mesh: Optional[FaceMesh] = None) -> Dict[str, np.ndarray]:
    """Raw AU features of each image's largest face (x4 upscaled 48-px crop on a gray border).

    Returns ``raw`` (N, features; NaN where no usable mesh), ``ok`` (N,) bool, ``found`` (a face
    was meshed), ``yaw``, ``residual``, ``probs`` placeholder absent."""
    own = mesh is None
    mesh = mesh or FaceMesh(max_faces=1)
    n = len(paths)
    raw = np.full((n, len(FEATURE_NAMES)), np.nan)
    found = np.zeros(n, bool)
    ok = np.zeros(n, bool)
    yaw = np.full(n, np.nan)
    residual = np.full(n, np.nan)
    try:
        for i, path in enumerate(tqdm(paths, desc=desc, file=sys.stderr, mininterval=5)):
            faces = mesh.process(upscaled_crop(path))
            if not faces:
                continue
            found[i] = True
            r, pose, res = measure(faces[0].points)
            yaw[i], residual[i] = pose.yaw, res
            if res <= MAX_RIGID_RESIDUAL and abs(pose.yaw) <= MAX_YAW_DEG and abs(pose.pitch) <= MAX_PITCH_DEG:
                ok[i], raw[i] = True, r
    finally:
        if own:
            mesh.close()
    return {"raw": raw, "ok": ok, "found": found, "yaw": yaw, "residual": residual}


def raw_change(before: np.ndarray, after: np.ndarray, au: str) -> float:
    """Change of an AU's raw measure (mean of the two sides, reference units): "rises" is > 0,
    free of the activation's noise floor and clipping."""
    k = AU_NAMES.index(au)
    return float(np.mean(after[2 * k:2 * k + 2] - before[2 * k:2 * k + 2]))
