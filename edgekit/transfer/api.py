"""Expression transfer: put one face's expression on another face, or amplify a face's own.

1. Both faces are meshed (:class:`edgekit.facemesh.FaceMesh`, 468 3-D landmarks).
2. Each mesh's pose and scale are removed (3-D similarity on rigid landmarks) and its expression
   offsets taken against the neutral reference face (:mod:`edgekit.transfer.geometry`).
3. The target's landmarks in expressive regions (lips, eyes, eyebrows, with a smooth fall-off)
   move so that their offsets become ``strength`` x the source's offsets, the chin and jaw follow
   the lower lip; pose and identity landmarks stay where they are.
4. The target face is warped piecewise-affinely over the Delaunay triangulation of its
   landmarks plus a fixed ring around the face; when the source's mouth is open, the inside of
   the new mouth is filled from the source's mouth (teeth, shadow).
5. The warped face is Poisson-blended (``cv2.seamlessClone``) back into the target photo.

``exaggerate`` is the same with the face as its own source: offsets x ``factor``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np

from ..errors import NoFaceError
from ..faces import left_to_right, pick_face
from ..facemesh import FACE_OVAL, LIPS_INNER, FaceLandmarks, FaceMesh, FaceMeshOptions
from ..imageio import ImageSource, load_image
from ..options import CreateFromOptions
from ..results import BoundingBox
from ..validate import check, number
from .color import lab_stats, match_colors
from .geometry import expression_offsets, expression_weights, jaw_follow_weights, load_neutral_mesh, retarget
from .warp import delaunay, piecewise_affine, poisson_blend, polygon_mask, to_pixel_centres

#: Accepted range of ``strength`` / ``factor``: beyond it the warp folds triangles over.
STRENGTH_RANGE = (0.0, 3.0)
#: The fixed ring around the face (face-oval landmarks scaled about their centroid).
RING_SCALE = 1.6
#: A mouth counts as open when its inner-lip area exceeds this fraction of eye distance squared.
MOUTH_OPEN_AREA = 0.01
_MARGIN = 4


@dataclass(frozen=True)
class TransferResult:
    """Output of :class:`ExpressionTransfer`.

    Attributes:
        image: the edited target photo (BGR uint8, same size as the target).
        target: the target face's landmarks before the edit.
        landmarks: ``(468, 3)`` target landmarks after the edit (image pixels).
        source: the source face's landmarks (the target itself for ``exaggerate``).
        strength: multiplier applied to the source's expression offsets.
        mouth_from_source: True when the inside of the mouth was filled from the source.
    """

    image: np.ndarray
    target: FaceLandmarks
    landmarks: np.ndarray
    source: FaceLandmarks
    strength: float
    mouth_from_source: bool


STRENGTH = number(*STRENGTH_RANGE,
                  hint="1 keeps the expression as it is, 2 doubles it, 0 flattens it to the neutral face")


def _describe_source(image: ImageSource, role: str) -> str:
    return os.fspath(image) if isinstance(image, (str, os.PathLike)) else f"{role} image"


def inner_mouth_area(face: FaceLandmarks) -> float:
    """Area of the inner-lip polygon divided by the squared eye distance (0 when closed)."""
    x, y = face.xy[list(LIPS_INNER)].T
    area = 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))
    return area / max(face.eye_distance, 1e-6) ** 2


class ExpressionTransfer(CreateFromOptions):
    """Expression transfer and exaggeration on photos (see the module docstring).

    Built from the face mesh's options: ``ExpressionTransfer(options)``, ``ExpressionTransfer(**fields)``
    or ``ExpressionTransfer.create_from_options(FaceMeshOptions(...))``. Faces are numbered left to
    right from 0; ``None`` (the default) is the largest face (:mod:`edgekit.faces`). Not thread-safe.
    """

    OPTIONS = FaceMeshOptions

    def __init__(self, options: Optional[FaceMeshOptions] = None, **mesh_options: Any) -> None:
        self.mesh = FaceMesh(options, **mesh_options)
        self.options: FaceMeshOptions = self.mesh.options
        self.reference = load_neutral_mesh()
        self.weights = expression_weights()
        self.follow = jaw_follow_weights()

    def find_face(self, image: ImageSource, index: Optional[int] = None,
                  role: str = "target") -> Tuple[np.ndarray, FaceLandmarks]:
        """The BGR image and the landmarks of its face number ``index`` (left to right from 0;
        None = the largest face).

        Raises:
            NoFaceError: no face in the image.
            ConfigError / InputError: ``index`` is not a face number / not a face of this image.
        """
        bgr = load_image(image)
        subject = _describe_source(image, role)
        faces = left_to_right(self.mesh._process_checked(bgr), _mesh_box)
        if not faces:
            raise NoFaceError(f"no face found in the {role} image", subject,
                              "use a photo with a clearly visible face "
                              "(frontal, at least ~60 px between the eyes works best)")
        return bgr, faces[pick_face(faces, index, _mesh_box, subject)]

    def transfer(self, source: ImageSource, target: ImageSource, *, strength: float = 1.0,
                 source_face: Optional[int] = None,
                 target_face: Optional[int] = None, mouth_fill: bool = True) -> TransferResult:
        """The target photo with the source face's expression (times ``strength``) on its face.

        ``mouth_fill=False`` never copies pixels from the source (the open mouth is then
        stretched from the target's own lips)."""
        strength = float(check("strength", strength, STRENGTH))
        src_bgr, src = self.find_face(source, source_face, "source")
        dst_bgr, dst = self.find_face(target, target_face, "target")
        return self._apply(src_bgr, src, dst_bgr, dst, strength, mouth_fill)

    def exaggerate(self, image: ImageSource, factor: float = 2.0, *, face: Optional[int] = None) -> TransferResult:
        """The photo with its face's own expression amplified ``factor`` times (0 < factor < 1
        tones it down, 0 flattens it to the neutral reference)."""
        factor = float(check("factor", factor, STRENGTH))
        bgr, found = self.find_face(image, face, "target")
        return self._apply(bgr, found, bgr, found, factor, True)

    def _apply(self, src_bgr: np.ndarray, src: FaceLandmarks, dst_bgr: np.ndarray, dst: FaceLandmarks,
               strength: float, mouth_fill: bool) -> TransferResult:
        wanted = strength * expression_offsets(src.points, self.reference).offsets
        own = expression_offsets(dst.points, self.reference)
        moved = retarget(dst.points, own, wanted, self.weights, self.follow)
        open_mouth = inner_mouth_area(src) > MOUTH_OPEN_AREA and strength > 0
        mouth = MouthSource(src_bgr, to_pixel_centres(src.xy)) if mouth_fill and open_mouth else None
        image = render(dst_bgr, to_pixel_centres(dst.xy), to_pixel_centres(moved), mouth)
        return TransferResult(image, dst, moved, src, strength, mouth is not None)

    def close(self) -> None:
        self.mesh.close()

    def __enter__(self) -> "ExpressionTransfer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@dataclass(frozen=True)
class MouthSource:
    """Where the inside of an open mouth is taken from: a photo and its face's landmarks
    (``(468, 2)``, pixel centres)."""

    image: np.ndarray
    points: np.ndarray

    def skin_stats(self) -> Tuple[np.ndarray, np.ndarray]:
        size = (self.image.shape[1], self.image.shape[0])
        return lab_stats(self.image, polygon_mask(self.points[list(FACE_OVAL)], size))


def render(image: np.ndarray, old: np.ndarray, new: np.ndarray, mouth: Optional[MouthSource] = None) -> np.ndarray:
    """``image`` with the face whose landmarks are ``old`` warped onto ``new`` (``(468, 2)``,
    pixel centres); the inside of the new mouth is filled from ``mouth`` when given, recoloured
    to the target's skin statistics."""
    oval = old[list(FACE_OVAL)]
    centre = oval.mean(axis=0)
    ring = centre + RING_SCALE * (oval - centre)
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(ring.min(axis=0)).astype(int) - _MARGIN, 0)
    x1, y1 = np.minimum(np.ceil(ring.max(axis=0)).astype(int) + _MARGIN, [w, h])
    origin = np.array([x0, y0], np.float64)
    size = (int(x1 - x0), int(y1 - y0))
    roi = image[y0:y1, x0:x1]
    before = np.vstack([old, ring]) - origin
    after = np.vstack([new, ring]) - origin
    warped, covered = piecewise_affine(roi, before, after, delaunay(before), size)
    if mouth is not None:
        dst_inner = new[list(LIPS_INNER)] - origin
        patch, patch_covered = piecewise_affine(mouth.image, mouth.points[list(LIPS_INNER)], dst_inner,
                                                delaunay(dst_inner), size)
        inside = patch_covered & polygon_mask(dst_inner, size)
        skin = lab_stats(roi, polygon_mask(old[list(FACE_OVAL)] - origin, size))
        warped[inside] = match_colors(patch, mouth.skin_stats(), skin)[inside]
    composite = np.where(covered[..., None], warped, roi)
    blended = poisson_blend(composite, roi, covered & polygon_mask(ring - origin, size))
    out = image.copy()
    out[y0:y1, x0:x1] = blended
    return out


def transfer_expression(source: ImageSource, target: ImageSource, *, strength: float = 1.0,
                        source_face: Optional[int] = None,
                        target_face: Optional[int] = None, mouth_fill: bool = True,
                        **mesh_options: Any) -> TransferResult:
    """One-call :meth:`ExpressionTransfer.transfer` (loads the models each call)."""
    with ExpressionTransfer(**mesh_options) as engine:
        return engine.transfer(source, target, strength=strength, source_face=source_face, target_face=target_face,
                               mouth_fill=mouth_fill)


def exaggerate_expression(image: ImageSource, factor: float = 2.0, *, face: Optional[int] = None,
                          **mesh_options: Any) -> TransferResult:
    """One-call :meth:`ExpressionTransfer.exaggerate` (loads the models each call)."""
    with ExpressionTransfer(**mesh_options) as engine:
        return engine.exaggerate(image, factor, face=face)


def _mesh_box(face: FaceLandmarks) -> BoundingBox:
    return face.detection.box
