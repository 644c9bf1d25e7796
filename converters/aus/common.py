"""Shared by the AU converters: the FER+ majority rule they sample by, meshing upscaled crops, raw AU features."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
from tqdm import tqdm

from converters.core.fercrops import majority_labels, upscaled_crop
from edgekit.aus import AU_NAMES, FEATURE_NAMES, MAX_PITCH_DEG, MAX_RIGID_RESIDUAL, MAX_YAW_DEG, measure
from edgekit.facemesh import FaceMesh
from edgekit.labels import EMOTIONS  # noqa: F401  (FER+ order; the AU converters import it from here)


def majority(votes: np.ndarray) -> int:
    """FER+ majority label of one row of votes (index into EMOTIONS), -1 when unknown/not-a-face
    reaches the top or the top ties (:func:`~converters.core.fercrops.majority_labels`)."""
    return int(majority_labels(np.asarray(votes)[None], emotion_wins_ties=False)[0])


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
