"""Piecewise-affine (Delaunay) image warping and Poisson blending with OpenCV.

Points use OpenCV's pixel-centre convention here (pixel ``i`` covers ``[i - 0.5, i + 0.5]``);
callers convert landmarks first (:func:`to_pixel_centres`).
"""
from __future__ import annotations

from typing import Dict, Tuple

import cv2
import numpy as np

#: Sub-pixel bits used when rasterising triangles (``cv2.fillConvexPoly`` ``shift``).
_SHIFT = 4


def to_pixel_centres(points: np.ndarray) -> np.ndarray:
    """Pixel-edge coordinates (landmarks, detector keypoints) -> OpenCV pixel-centre coordinates."""
    return np.asarray(points, dtype=np.float64)[:, :2] - 0.5


def delaunay(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles of ``points (N, 2)`` as ``(T, 3)`` indices (``cv2.Subdiv2D``).

    Coincident points collapse onto one index; triangles are those inside the points' bounds.
    """
    lo = np.floor(points.min(axis=0)) - 2
    hi = np.ceil(points.max(axis=0)) + 2
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1))
    lookup: Dict[Tuple[float, float], int] = {}
    for i, (x, y) in enumerate(points.astype(np.float32)):
        key = (float(x), float(y))
        if key not in lookup:
            lookup[key] = i
            subdiv.insert(key)
    triangles = []
    for t in subdiv.getTriangleList().astype(np.float32):
        corners = [lookup.get((float(t[j]), float(t[j + 1]))) for j in (0, 2, 4)]
        if None not in corners:
            triangles.append(corners)
    return np.asarray(triangles, dtype=np.int64).reshape(-1, 3)


def _area2(tri: np.ndarray) -> float:
    (x0, y0), (x1, y1), (x2, y2) = tri
    return float((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0))


def piecewise_affine(src_image: np.ndarray, src_points: np.ndarray, dst_points: np.ndarray, triangles: np.ndarray,
                     out_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Warp ``src_image`` so each triangle of ``src_points`` lands on the same triangle of
    ``dst_points`` (an image of ``out_size = (width, height)``).

    Each output pixel is sampled from the source through the inverse affine map of the triangle
    covering it (``cv2.getAffineTransform`` per triangle, one ``cv2.remap``). Returns the warped
    image and the boolean mask of the pixels some triangle covers (elsewhere the image is 0).
    """
    width, height = out_size
    index = np.zeros((height, width), np.int32)
    affines = np.zeros((len(triangles) + 1, 2, 3), np.float64)
    bounds = np.zeros((len(triangles) + 1, 2, 2), np.float64)  # per triangle: (min xy, max xy) in the source
    for k, tri in enumerate(triangles, start=1):
        dst, src = dst_points[tri].astype(np.float32), src_points[tri].astype(np.float32)
        if abs(_area2(dst)) < 1e-6:
            continue
        affines[k] = cv2.getAffineTransform(dst, src)
        bounds[k] = src.min(axis=0) - 1.0, src.max(axis=0) + 1.0
        cv2.fillConvexPoly(index, np.rint(dst * (1 << _SHIFT)).astype(np.int32), k, cv2.LINE_8, _SHIFT)
    covered = index > 0
    ys, xs = np.nonzero(covered)
    tri_of_pixel = index[ys, xs]
    a, lo, hi = affines[tri_of_pixel], bounds[tri_of_pixel, 0], bounds[tri_of_pixel, 1]
    map_x = np.full((height, width), -1.0, np.float32)
    map_y = np.full((height, width), -1.0, np.float32)
    map_x[ys, xs] = np.clip(a[:, 0, 0] * xs + a[:, 0, 1] * ys + a[:, 0, 2], lo[:, 0], hi[:, 0])
    map_y[ys, xs] = np.clip(a[:, 1, 0] * xs + a[:, 1, 1] * ys + a[:, 1, 2], lo[:, 1], hi[:, 1])
    warped = cv2.remap(src_image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    warped[~covered] = 0
    return warped, covered


def polygon_mask(points: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Boolean mask of the filled polygon ``points (N, 2)`` in an image of ``size = (w, h)``."""
    mask = np.zeros((size[1], size[0]), np.uint8)
    cv2.fillPoly(mask, [np.rint(points * (1 << _SHIFT)).astype(np.int32)], 255, cv2.LINE_8, _SHIFT)
    return mask > 0


def poisson_blend(patch: np.ndarray, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``cv2.seamlessClone`` (normal clone) of ``patch`` into ``background`` (same size) where
    ``mask`` is set; the mask is kept 2 pixels away from the image border, as OpenCV needs."""
    m = mask.astype(np.uint8) * 255
    m[:2, :], m[-2:, :], m[:, :2], m[:, -2:] = 0, 0, 0, 0
    if not m.any():
        return background.copy()
    x, y, w, h = cv2.boundingRect(m)
    # seamlessClone centres the mask's bounding box on ``center``; place it where it already is.
    center = (x + w // 2, y + h // 2)
    return cv2.seamlessClone(patch, background, m, center, cv2.NORMAL_CLONE)
