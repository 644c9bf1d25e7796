"""Augmented views of a photo, shared by the teacher and the student so that both see the same face.

A view is a deterministic function of ``(person, image number, view number)``: a small rotation,
scale and shift of the whole photo, then contrast / brightness / gamma, sometimes a lower
resolution (down- and up-sampled) and sometimes gray. The teacher embeds the view with dlib's own
5-point chip (:mod:`converters.identity.teacher`); the student aligns the *same* transformed photo
with the runtime's aligner, from the BlazeFace eyes moved by the same matrix
(:func:`converters.identity.data.view_crops`). So every view is one more (runtime crop, teacher
target) pair, which is what distillation needs and LFW dev-train is short of.

``VERSION`` is stored in the teacher cache; a student whose views differ refuses the cache.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Tuple

import numpy as np

VERSION = "views-v1"

ROTATION_DEG = 12.0
SCALE = 0.10
SHIFT = 0.04  # of the image side
CONTRAST = 0.3
BRIGHTNESS = 0.15  # of the full range
GAMMA_LOG = 0.3
LOW_RES_PROB = 0.35
LOW_RES_SCALE = (0.25, 0.6)  # 250-px LFW photo -> faces of roughly 28-66 px before up-sampling
GRAY_PROB = 0.2


@dataclass(frozen=True)
class ViewParams:
    angle: float  # degrees, counter-clockwise
    scale: float
    dx: float  # fraction of the width
    dy: float  # fraction of the height
    contrast: float
    brightness: float  # fraction of 255
    gamma: float
    low_res: float  # 0: none, else the down-sampling factor
    gray: bool

    def to_dict(self) -> dict:
        return asdict(self)


def view_params(name: str, number: int, view: int) -> ViewParams:
    """The parameters of augmented view ``view`` (1, 2, ...) of image ``name``/``number``; the same
    on every machine and in every order (seeded by a hash of the three)."""
    if int(view) < 1:
        raise ValueError(f"augmented views are numbered from 1, got {view}")
    digest = hashlib.sha256(f"{VERSION}/{name}/{int(number)}/{int(view)}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    u = rng.uniform(-1.0, 1.0, 7)
    low = rng.uniform() < LOW_RES_PROB
    factor = float(rng.uniform(*LOW_RES_SCALE))
    gray = bool(rng.uniform() < GRAY_PROB)
    return ViewParams(angle=float(ROTATION_DEG * u[0]), scale=float(1.0 + SCALE * u[1]), dx=float(SHIFT * u[2]),
                      dy=float(SHIFT * u[3]), contrast=float(1.0 + CONTRAST * u[4]),
                      brightness=float(BRIGHTNESS * u[5]), gamma=float(np.exp(GAMMA_LOG * u[6])),
                      low_res=factor if low else 0.0, gray=gray)


def view_matrix(p: ViewParams, width: int, height: int) -> np.ndarray:
    """2x3 affine matrix (OpenCV pixel-centre coordinates) of the view's geometry."""
    import cv2

    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), p.angle, p.scale)
    matrix[:, 2] += (p.dx * width, p.dy * height)
    return matrix


def apply_view(bgr: np.ndarray, p: ViewParams) -> Tuple[np.ndarray, np.ndarray]:
    """``(view of the BGR photo, its 2x3 matrix)``; same size as the photo, borders reflected."""
    import cv2

    h, w = bgr.shape[:2]
    matrix = view_matrix(p, w, h)
    out = cv2.warpAffine(bgr, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    x = out.astype(np.float32) / 255.0
    x = (x - 0.5) * p.contrast + 0.5 + p.brightness
    x = np.clip(x, 0.0, 1.0) ** p.gamma
    out = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
    if p.low_res:
        small = (max(8, int(round(w * p.low_res))), max(8, int(round(h * p.low_res))))
        out = cv2.resize(cv2.resize(out, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR)
    if p.gray:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(out), matrix


def move_points(matrix: np.ndarray, points: np.ndarray, pixel_edges: bool = False) -> np.ndarray:
    """``[K, 2]`` points moved by the view's matrix. ``pixel_edges``: the points follow the
    pixel-edge convention (BlazeFace keypoints, :meth:`edgekit.FaceAligner.align_eyes`), so they are
    shifted by half a pixel around the pixel-centre matrix."""
    pts = np.asarray(points, np.float64).reshape(-1, 2) - (0.5 if pixel_edges else 0.0)
    moved = pts @ matrix[:, :2].T + matrix[:, 2]
    return moved + (0.5 if pixel_edges else 0.0)


def move_eyes(matrix: np.ndarray, eyes: np.ndarray) -> np.ndarray:
    """``(x1, y1, x2, y2)`` eye keypoints (pixel edges) moved by the view's matrix."""
    return move_points(matrix, np.asarray(eyes, np.float64).reshape(2, 2), pixel_edges=True).reshape(4)


def move_box(matrix: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A dlib box ``(left, top, right, bottom)`` for the moved face: its centre moved by the
    matrix, its side scaled by the matrix's scale (an upright square, as dlib's detector gives)."""
    box = np.asarray(box, np.float64)
    centre = move_points(matrix, ((box[:2] + box[2:]) / 2.0)[None])[0]
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    half = (box[2:] - box[:2]) / 2.0 * scale
    return np.concatenate([centre - half, centre + half])
