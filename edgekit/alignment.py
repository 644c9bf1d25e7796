"""``FaceAligner``: cut a face out of a frame, upright and framed like the FER+ training crops.

A similarity transform (rotation from the eye line, scale from the eye distance, translation)
maps BlazeFace's two eye keypoints onto the template eye positions of the output crop
(``cv2.estimateAffinePartial2D`` + ``cv2.warpAffine``). Output size, channel count and color
order come from the classifier's input spec. Pixels outside the frame replicate its border.

The default template is where BlazeFace puts the eyes in FER+ training crops, measured by
``python -m converters.checks.calibrate_alignment`` (``reports/alignment/calibration.json``,
``template``); ``tests/runtime/test_alignment.py`` checks the constants below against that report.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import cv2
import numpy as np

from .errors import ConfigError, InputError
from .imageio import ImageSource, load_image
from .registry import InputSpec
from .results import Detection

Point = Tuple[float, float]


@dataclass(frozen=True)
class AlignmentTemplate:
    """Eye centres in the output crop, as fractions of its width (x) and height (y).

    ``image_left_eye`` is the eye on the left of the picture (BlazeFace's ``right_eye``, the
    subject's right eye); coordinates use the pixel-edge convention (0 = left edge, 1 = right
    edge), like BlazeFace keypoints.
    """

    image_left_eye: Point
    image_right_eye: Point

    def __post_init__(self) -> None:
        (lx, ly), (rx, ry) = self.image_left_eye, self.image_right_eye
        if not all(math.isfinite(v) for v in (lx, ly, rx, ry)) or rx <= lx:
            raise ConfigError(f"invalid alignment template {self!r}",
                              hint="image_left_eye must lie left of image_right_eye")


#: Mean BlazeFace eye positions in FER+ 48x48 training crops, from
#: reports/alignment/calibration.json ("template"; written by converters/checks/calibrate_alignment.py).
DEFAULT_TEMPLATE = AlignmentTemplate(image_left_eye=(0.3183, 0.389), image_right_eye=(0.6832, 0.389))


@dataclass(frozen=True)
class AlignedFace:
    """An aligned crop and the 2x3 matrix that maps frame pixels onto crop pixels."""

    image: np.ndarray
    matrix: np.ndarray

    @property
    def roll_deg(self) -> float:
        """In-plane angle of the eye line in the frame that the alignment removed (degrees, image
        axes with y down: positive when the image-right eye is lower)."""
        return -math.degrees(math.atan2(self.matrix[1, 0], self.matrix[0, 0]))

    @property
    def scale(self) -> float:
        """Crop pixels per frame pixel."""
        return float(math.hypot(self.matrix[0, 0], self.matrix[1, 0]))

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map ``(N, 2)`` frame points (pixel-edge convention) into the crop."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2) - 0.5
        return pts @ self.matrix[:, :2].T + self.matrix[:, 2] + 0.5


class FaceAligner:
    """Aligns detected faces for a classifier.

    Args:
        input_spec: the classifier's :class:`edgekit.registry.InputSpec` (or any object with an
            ``input_spec`` attribute, e.g. an :class:`edgekit.EmotionClassifier`).
        template: where the eyes land in the crop (default: FER+ calibration).
    """

    def __init__(self, input_spec: Any, template: AlignmentTemplate = DEFAULT_TEMPLATE) -> None:
        spec = getattr(input_spec, "input_spec", input_spec)
        if not isinstance(spec, InputSpec):
            raise ConfigError(f"FaceAligner needs an InputSpec or a classifier, got {type(input_spec).__name__}",
                              hint="use FaceAligner.for_classifier(EmotionClassifier())")
        if spec.width < 1 or spec.height < 1 or spec.channels not in (1, 3):
            raise ConfigError(f"unsupported aligner output {spec}", hint="width/height >= 1 and 1 or 3 channels")
        self.spec = spec
        self.template = template
        w, h = spec.width, spec.height
        self._dst = np.array(
            [[template.image_left_eye[0] * w, template.image_left_eye[1] * h],
             [template.image_right_eye[0] * w, template.image_right_eye[1] * h]],
            dtype=np.float64,
        ) - 0.5  # pixel-edge -> OpenCV pixel-centre coordinates

    @classmethod
    def for_classifier(cls, classifier: Any, template: AlignmentTemplate = DEFAULT_TEMPLATE) -> "FaceAligner":
        return cls(classifier.input_spec, template)

    @property
    def output_size(self) -> Tuple[int, int]:
        """Crop ``(width, height)``."""
        return self.spec.width, self.spec.height

    def align(self, image: ImageSource, detection: Detection) -> AlignedFace:
        """Crop the face of ``detection`` out of ``image`` (BGR array or path)."""
        return self._align_checked(load_image(image), detection)

    def align_eyes(self, image: ImageSource, image_left_eye: Point, image_right_eye: Point) -> AlignedFace:
        """Crop with explicit eye centres (frame pixels, pixel-edge convention like BlazeFace)."""
        return self._align_eyes_checked(load_image(image), image_left_eye, image_right_eye)

    def _align_checked(self, bgr: np.ndarray, detection: Detection) -> AlignedFace:
        """:meth:`align` of a frame :func:`~edgekit.imageio.load_image` already returned (not checked again)."""
        return self._align_eyes_checked(bgr, detection.keypoint("right_eye"), detection.keypoint("left_eye"))

    def _align_eyes_checked(self, bgr: np.ndarray, image_left_eye: Point, image_right_eye: Point) -> AlignedFace:
        src = np.array([image_left_eye, image_right_eye], dtype=np.float64) - 0.5
        if not np.isfinite(src).all() or np.hypot(*(src[1] - src[0])) < 1e-3:
            raise InputError(f"eye points {src.tolist()} are not two distinct finite points", subject="alignment",
                             hint="pass a detection whose eye keypoints differ")
        matrix = self.similarity(src)
        crop = self.spec.convert(_warp(bgr, matrix, self.output_size))
        return AlignedFace(image=np.ascontiguousarray(crop), matrix=matrix)

    def similarity(self, src_eyes: np.ndarray) -> np.ndarray:
        """2x3 similarity matrix (pixel-centre coordinates) taking ``src_eyes`` onto the template."""
        matrix, _ = cv2.estimateAffinePartial2D(src_eyes.reshape(-1, 1, 2), self._dst.reshape(-1, 1, 2),
                                                method=cv2.LMEDS)
        if matrix is None:  # cannot happen for two distinct points; guard against OpenCV changes
            raise InputError("cannot fit a similarity transform to the eye points", subject=src_eyes.tolist())
        return matrix


def _warp(bgr: np.ndarray, matrix: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """``cv2.warpAffine`` with replicate borders; when shrinking more than 2x, the source region is
    first reduced with ``INTER_AREA`` so the bilinear warp does not alias."""
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    if scale < 0.5:
        reduced = _area_reduce(bgr, matrix, size, scale)
        if reduced is not None:
            bgr, matrix = reduced
    return cv2.warpAffine(bgr, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _area_reduce(bgr: np.ndarray, matrix: np.ndarray, size: Tuple[int, int],
                 scale: float) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """Shrink the part of ``bgr`` the crop samples by ``scale``; returns it and the adjusted matrix."""
    w, h = size
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [-0.5, h - 0.5], [w - 0.5, h - 0.5]])
    src = corners @ inverse[:, :2].T + inverse[:, 2]
    x0, y0 = (max(0, int(math.floor(v)) - 2) for v in src.min(axis=0))
    x1 = min(bgr.shape[1], int(math.ceil(src[:, 0].max())) + 3)
    y1 = min(bgr.shape[0], int(math.ceil(src[:, 1].max())) + 3)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None  # the crop lies outside the frame: replicate borders need no anti-aliasing
    roi = bgr[y0:y1, x0:x1]
    nw, nh = max(1, round(roi.shape[1] * scale)), max(1, round(roi.shape[0] * scale))
    small = cv2.resize(roi, (nw, nh), interpolation=cv2.INTER_AREA)
    fx, fy = nw / roi.shape[1], nh / roi.shape[0]
    # frame pixel-centre coords -> reduced-roi pixel-centre coords
    to_small = np.array([[fx, 0.0, (0.5 - x0) * fx - 0.5], [0.0, fy, (0.5 - y0) * fy - 0.5], [0.0, 0.0, 1.0]])
    adjusted = np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_small)
    return small, adjusted[:2]


__all__ = ["AlignedFace", "AlignmentTemplate", "DEFAULT_TEMPLATE", "FaceAligner"]
