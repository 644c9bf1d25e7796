"""Face-mesh geometry for expression transfer: pose/scale normalisation and expression offsets.

1. Pose and scale: a 3-D similarity fitted on landmarks that expressions barely move (forehead,
   nose bridge, eye corners, temples) maps a face's mesh into the frame of a neutral reference
   face: the mean mesh of FER+ faces that most annotators labelled neutral
   (``edgekit/assets/neutral_face_mesh.npy``, written by ``python -m converters.checks.build_neutral_mesh``).
2. Local shape: each landmark is taken relative to the anchor of its region (mouth and jaw: the
   upper-lip centre; each eye and eyebrow: that eye's corners), so where a mouth or an eye sits on
   a face (identity) does not count, only its shape around the anchor does (a mouth that opens, a
   brow that rises).
3. Expression offsets: that local shape minus the reference's. Offsets of two faces live in the
   same frame and can be swapped or scaled.

Only expressive regions take offsets (lips, eyes, eyebrows); each landmark's weight falls off
with its distance from them, so the nose, forehead and face outline keep the target's own shape.
The chin and jaw follow the lower lip (a dropped jaw), not their own offsets.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from ..assets import ASSETS_DIR
from ..errors import ModelError
from ..facemesh import FACE_OVAL, NUM_LANDMARKS, region_indices

#: Landmarks expressions barely move: forehead, nose bridge, eye corners, temples/cheekbones.
RIGID: Tuple[int, ...] = (10, 151, 9, 8, 109, 338, 67, 297, 108, 337,  # forehead
                          168, 6, 197, 195, 5, 4, 1,  # nose bridge and tip
                          33, 133, 362, 263,  # eye corners
                          127, 356, 234, 454, 162, 389)  # temples
#: Centre of the lower lip (outer contour): the chin and jaw follow it when the mouth opens.
LOWER_LIP_CENTRE = 17
CHIN = 152
#: Regions whose landmarks carry an expression, and the anchor landmarks each one's shape is
#: measured from (upper-lip centre; the eye's two corners).
REGION_ANCHORS: Dict[str, Tuple[int, ...]] = {
    "lips": (0, 13),
    "right_eye": (33, 133),
    "left_eye": (362, 263),
    "right_eyebrow": (33, 133),
    "left_eyebrow": (362, 263),
}
EXPRESSIVE_REGIONS = tuple(REGION_ANCHORS)
NEUTRAL_MESH_PATH = ASSETS_DIR / "neutral_face_mesh.npy"
#: Fall-off of the expression weights, in reference units (the reference's rigid landmarks have
#: unit RMS distance from their centroid; its outer eye corners are ~1.68 apart).
WEIGHT_SIGMA = 0.2


@dataclass(frozen=True)
class Similarity:
    """``dst = scale * rotation @ src + translation`` (3-D, no reflection)."""

    rotation: np.ndarray  # (3, 3)
    scale: float
    translation: np.ndarray  # (3,)

    def apply(self, points: np.ndarray) -> np.ndarray:
        return self.scale * points @ self.rotation.T + self.translation

    def invert_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """Displacements in the destination frame -> the source frame (no translation)."""
        return vectors @ self.rotation / self.scale


def fit_similarity(src: np.ndarray, dst: np.ndarray, index: Sequence[int] = RIGID) -> Similarity:
    """Least-squares similarity taking ``src[index]`` onto ``dst[index]`` (Umeyama, via
    ``cv2.estimateAffine3D``)."""
    idx = list(index)
    matrix, scale = cv2.estimateAffine3D(np.ascontiguousarray(src[idx], np.float64),
                                         np.ascontiguousarray(dst[idx], np.float64), force_rotation=True)
    return Similarity(np.asarray(matrix[:, :3]), float(scale), np.asarray(matrix[:, 3]))


def normalize_reference(points: np.ndarray, index: Sequence[int] = RIGID) -> np.ndarray:
    """``points`` translated and scaled so ``points[index]`` have centroid 0 and unit RMS radius."""
    rigid = points[list(index)]
    centred = points - rigid.mean(axis=0)
    return centred / np.sqrt(((rigid - rigid.mean(axis=0)) ** 2).sum(axis=1).mean())


@functools.lru_cache(maxsize=4)
def load_neutral_mesh(path: Path = NEUTRAL_MESH_PATH) -> np.ndarray:
    """The neutral reference mesh, ``(468, 3)`` float64 (read-only)."""
    try:
        mesh = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"neutral face mesh is unreadable ({exc})", subject=path,
                         hint="reinstall edgekit, or rebuild it with "
                              "`python -m converters.checks.build_neutral_mesh`") from None
    if mesh.shape != (NUM_LANDMARKS, 3) or not np.isfinite(mesh).all():
        raise ModelError(f"neutral face mesh has shape {mesh.shape}, expected ({NUM_LANDMARKS}, 3) finite values",
                         subject=path, hint="rebuild it with `python -m converters.checks.build_neutral_mesh`")
    mesh = mesh.astype(np.float64)
    mesh.flags.writeable = False
    return mesh


@functools.lru_cache(maxsize=1)
def expression_weights() -> np.ndarray:
    """Per-landmark weight in [0, 1] of its own expression offset: 1 on lips, eyes and eyebrows,
    a Gaussian fall-off (:data:`WEIGHT_SIGMA`) around them, 0 on rigid and face-outline landmarks."""
    reference = load_neutral_mesh()
    regions = region_indices()
    core = sorted({i for name in EXPRESSIVE_REGIONS for i in regions[name]})
    dist = np.linalg.norm(reference[:, None, :2] - reference[None, core, :2], axis=2).min(axis=1)
    weights = np.exp(-(dist / WEIGHT_SIGMA) ** 2)
    weights[list(RIGID)] = 0.0
    weights[list(FACE_OVAL)] = 0.0
    weights.flags.writeable = False
    return weights


@functools.lru_cache(maxsize=1)
def jaw_follow_weights() -> np.ndarray:
    """Per-landmark share in [0, 1] of the lower lip's displacement it takes instead of its own
    offset: the chin and jaw below the mouth move with the lower lip when it drops (jaw shapes
    differ between people, so their own offsets would carry the source's identity). Ramps up
    below the lower lip, fades towards the jaw angles, 0 on the lips themselves."""
    reference = load_neutral_mesh()[:, :2]
    down = reference[CHIN] - reference[6]
    down /= np.linalg.norm(down)
    side = np.array([-down[1], down[0]])
    rel = reference - reference[LOWER_LIP_CENTRE]
    below, lateral = rel @ down, np.abs(rel @ side)
    chin_depth = float(rel[CHIN] @ down)
    half_width = abs(float((reference[454] - reference[234]) @ side)) / 2.0
    follow = np.clip(below / (0.3 * chin_depth), 0.0, 1.0) * np.exp(-(lateral / (0.6 * half_width)) ** 2)
    follow[list(region_indices()["lips"])] = 0.0
    follow[list(RIGID)] = 0.0
    follow.flags.writeable = False
    return follow


@functools.lru_cache(maxsize=1)
def anchor_matrix() -> np.ndarray:
    """``(468, 468)`` matrix ``A`` such that ``A @ points`` is each landmark's anchor point: the
    anchor of the expressive region nearest to it in the reference (the jaw belongs to the mouth)."""
    reference = load_neutral_mesh()
    regions = region_indices()
    names = list(REGION_ANCHORS)
    core = [(i, name) for name in names for i in regions[name]]
    core_xy = reference[[i for i, _ in core], :2]
    nearest = np.linalg.norm(reference[:, None, :2] - core_xy[None], axis=2).argmin(axis=1)
    matrix = np.zeros((NUM_LANDMARKS, NUM_LANDMARKS))
    for landmark, k in enumerate(nearest):
        anchor = REGION_ANCHORS[core[k][1]]
        matrix[landmark, list(anchor)] = 1.0 / len(anchor)
    matrix.flags.writeable = False
    return matrix


def local_shape(aligned: np.ndarray) -> np.ndarray:
    """Landmarks (in the reference frame) relative to their region's anchor."""
    return aligned - anchor_matrix() @ aligned


@dataclass(frozen=True)
class ExpressionOffsets:
    """A face's local shape (reference frame) minus the reference's, and the pose that maps its
    image landmarks into that frame."""

    offsets: np.ndarray  # (468, 3)
    pose: Similarity


def expression_offsets(points: np.ndarray, reference: np.ndarray) -> ExpressionOffsets:
    """Offsets of ``points`` (image landmarks, ``(468, 3)``) from ``reference``."""
    pose = fit_similarity(points, reference)
    return ExpressionOffsets(local_shape(pose.apply(points)) - local_shape(reference), pose)


def retarget(points: np.ndarray, own: ExpressionOffsets, wanted: np.ndarray, weights: np.ndarray,
             follow: np.ndarray) -> np.ndarray:
    """Image landmarks of a face (``points``, with its offsets ``own``) moved so that its weighted
    offsets become ``wanted`` (reference frame); pose, anchors and unweighted landmarks are kept.

    A landmark moves by ``weight * (wanted - own)``, blended (by ``follow``) with the lower lip's
    move for the chin and jaw. Anchors sit on rigid-ish points and barely move, so the local
    shapes come out as asked to first order."""
    delta = weights[:, None] * (wanted - own.offsets)
    delta = (1.0 - follow)[:, None] * delta + follow[:, None] * delta[LOWER_LIP_CENTRE]
    return points + own.pose.invert_vectors(delta)
