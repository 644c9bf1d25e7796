"""MediaPipe face mesh (468 3-D landmarks) on LiteRT, without MediaPipe or TensorFlow.

``face_landmark.tflite`` (packaged from the mediapipe==0.10.21 wheel archive), run the way MediaPipe's
``FaceLandmarkFrontCpu`` graph (mediapipe 0.10.21, image mode) runs it:

1. ROI from a BlazeFace detection (``DetectionsToRectsCalculator``): the box centre, rotated so
   the line from keypoint 0 (right eye) to keypoint 1 (left eye) is level; then
   ``RectTransformationCalculator``: a square on the box's long side, scaled by 1.5.
2. ``ImageToTensorCalculator``: the rotated square -> 192x192 RGB, float [0, 1], border pixels
   replicated (``cv2.boxPoints`` + ``getPerspectiveTransform`` + ``warpPerspective``, as
   MediaPipe's OpenCV converter does).
3. ``TensorsToLandmarksCalculator`` (coordinates / 192) and the face-presence flag (sigmoid,
   kept when >= 0.5), then ``LandmarkProjectionCalculator`` back to image pixels.

``python -m converters.checks.check_facemesh`` compares these landmarks with ``mediapipe.solutions``'
(``reports/facemesh/``). Landmark indices of the named regions (lips, eyes, brows, face oval)
are MediaPipe's ``face_mesh_connections`` contours, as closed polylines.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from . import litert
from .detection import FaceDetector
from .errors import ModelError
from .imageio import ImageSource, load_image
from .options import CreateFromOptions, options_from
from .registry import load_third_party
from .results import BoundingBox, Detection
from .task_options import MIN_PRESENCE, FaceMeshOptions  # noqa: F401  (MIN_PRESENCE: re-exported)

NUM_LANDMARKS = 468
INPUT_SIZE = 192
#: ``RectTransformationCalculator`` scale of the detection box (``scale_x``/``scale_y``).
ROI_SCALE = 1.5
MODEL_KEY = "face_landmark"

#: Closed contours of MediaPipe's ``face_mesh_connections`` (subject's left/right, as MediaPipe
#: names them: the subject's right eye is on the image's left).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
#: Eyebrows as MediaPipe draws them: two open polylines each (lower edge, upper edge).
RIGHT_EYEBROW = ((46, 53, 52, 65, 55), (70, 63, 105, 66, 107))
LEFT_EYEBROW = ((276, 283, 282, 295, 285), (300, 293, 334, 296, 336))
#: Outer eye corners (subject's right, left): the eye line used for roll and scale.
EYE_CORNERS = (33, 263)


def _normalize_radians(angle: float) -> float:
    """MediaPipe's ``NormalizeRadians``: the angle in [-pi, pi)."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


@dataclass(frozen=True)
class FaceRoi:
    """Square, rotated region of the image fed to the landmark model (pixels; ``rotation`` in
    radians, clockwise on screen, as MediaPipe's ``NormalizedRect.rotation``)."""

    x_center: float
    y_center: float
    size: float
    rotation: float

    @classmethod
    def from_detection(cls, detection: Detection, scale: float = ROI_SCALE) -> "FaceRoi":
        """MediaPipe's ``face_detection_front_detection_to_roi``: eye-levelled, square-long, x1.5."""
        (x0, y0), (x1, y1) = detection.keypoints[0], detection.keypoints[1]
        rotation = _normalize_radians(-math.atan2(-(y1 - y0), x1 - x0))
        box = detection.box
        side = max(box.width, box.height) * scale
        return cls(box.x + box.width / 2.0, box.y + box.height / 2.0, side, rotation)

    def corners(self) -> np.ndarray:
        """``cv2.boxPoints`` of the ROI: bottom-left, top-left, top-right, bottom-right (unrotated)."""
        rect = ((self.x_center, self.y_center), (self.size, self.size), math.degrees(self.rotation))
        return cv2.boxPoints(rect).astype(np.float32)

    def to_tensor_matrix(self, tensor_size: int = INPUT_SIZE) -> np.ndarray:
        """3x3 perspective matrix mapping image pixels onto tensor pixels."""
        t = float(tensor_size)
        dst = np.float32([[0, t], [0, 0], [t, 0], [t, t]])
        return cv2.getPerspectiveTransform(self.corners(), dst)

    def project(self, normalized: np.ndarray) -> np.ndarray:
        """``LandmarkProjectionCalculator``: ``(N, 3)`` ROI-normalised landmarks -> image pixels
        (``z`` scaled like ``x``)."""
        x, y = normalized[:, 0] - 0.5, normalized[:, 1] - 0.5
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        out = np.empty_like(normalized, dtype=np.float64)
        out[:, 0] = (c * x - s * y) * self.size + self.x_center
        out[:, 1] = (s * x + c * y) * self.size + self.y_center
        out[:, 2] = normalized[:, 2] * self.size
        return out


@dataclass(frozen=True)
class FaceLandmarks:
    """The 468 landmarks of one face.

    Attributes:
        points: ``(468, 3)`` float64: ``x, y`` in image pixels (pixel-edge convention, like the
            detector's keypoints), ``z`` relative depth in the same unit (smaller = nearer).
        presence: the model's face-presence score in [0, 1].
        roi: the region the model saw.
        detection: the BlazeFace detection the ROI came from.
    """

    points: np.ndarray
    presence: float
    roi: FaceRoi
    detection: Detection

    @property
    def xy(self) -> np.ndarray:
        """``(468, 2)`` image coordinates."""
        return self.points[:, :2]

    @property
    def box(self) -> BoundingBox:
        """Axis-aligned bounding box of the landmarks."""
        (x0, y0), (x1, y1) = self.xy.min(axis=0), self.xy.max(axis=0)
        return BoundingBox(float(x0), float(y0), float(x1 - x0), float(y1 - y0))

    @property
    def eye_distance(self) -> float:
        """Distance between the outer eye corners, in pixels (the face's scale)."""
        a, b = EYE_CORNERS
        return float(np.linalg.norm(self.xy[a] - self.xy[b]))

    def to_dict(self) -> Dict[str, Any]:
        return {"presence": self.presence, "roi": asdict(self.roi), "detection": self.detection.to_dict(),
                "points": np.round(self.points, 2).tolist()}


class FaceMesh(CreateFromOptions, litert.LiteRTModel):
    """BlazeFace + MediaPipe's face landmark model: ``FaceMesh(options)``, ``FaceMesh(**fields)``
    or ``FaceMesh(options, **overrides)`` (see :class:`FaceMeshOptions`). Not thread-safe: one
    instance per thread."""

    OPTIONS = FaceMeshOptions

    def __init__(self, options: Optional[FaceMeshOptions] = None, **kwargs: Any) -> None:
        self.options = opts = options_from(FaceMeshOptions, options, kwargs)
        self.detector = FaceDetector(opts.detector_options)
        loaded = load_third_party(MODEL_KEY)
        self.model_path = loaded.path
        self._load(loaded, opts.num_threads)
        self._input = litert.input_specs(self._interpreter)[0]
        outputs = {spec.shape[-1]: spec for spec in litert.output_specs(self._interpreter)}
        self._points_out, self._flag_out = outputs.get(NUM_LANDMARKS * 3), outputs.get(1)
        if self._input.shape != (1, INPUT_SIZE, INPUT_SIZE, 3) or self._points_out is None or self._flag_out is None:
            raise ModelError(f"unexpected tensors: input {list(self._input.shape)}, outputs {sorted(outputs)}",
                             subject=self.model_path,
                             hint="expected the face mesh model shipped with mediapipe==0.10.21")

    def process(self, image: ImageSource) -> List[FaceLandmarks]:
        """Landmarks of the faces in ``image`` (path or BGR array), largest face first."""
        return self._process_checked(load_image(image))

    def _process_checked(self, bgr: np.ndarray) -> List[FaceLandmarks]:
        """:meth:`process` on a frame :func:`~edgekit.imageio.load_image` already returned (not checked again)."""
        detections = sorted(self.detector._detect_checked(bgr), key=lambda d: -d.box.area)
        faces = []
        for det in detections:
            face = self.landmarks(bgr, det)
            if face.presence >= self.options.min_presence:
                faces.append(face)
            if self.options.max_faces is not None and len(faces) >= self.options.max_faces:
                break
        return faces

    def landmarks(self, image_bgr: np.ndarray, detection: Detection) -> FaceLandmarks:
        """Landmarks of the face found by ``detection`` (no presence filtering)."""
        roi = FaceRoi.from_detection(detection)
        crop = cv2.warpPerspective(image_bgr, roi.to_tensor_matrix(), (INPUT_SIZE, INPUT_SIZE),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        tensor = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * np.float32(1.0 / 255.0)
        with self._use:
            self._interpreter.set_tensor(self._input.index, tensor[None])
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._points_out.index).reshape(NUM_LANDMARKS, 3).astype(np.float64)
            flag = float(self._interpreter.get_tensor(self._flag_out.index).reshape(-1)[0])
        presence = 1.0 / (1.0 + math.exp(-max(min(flag, 60.0), -60.0)))
        return FaceLandmarks(roi.project(raw / INPUT_SIZE), presence, roi, detection)

    def close(self) -> None:
        """Release both models; later calls raise ConfigError."""
        super().close()
        self.detector.close()


def region_indices() -> Dict[str, Tuple[int, ...]]:
    """Landmark indices of each named region (for masks and weights)."""
    return {
        "face_oval": FACE_OVAL,
        "lips": LIPS_OUTER + LIPS_INNER,
        "lips_inner": LIPS_INNER,
        "right_eye": RIGHT_EYE,
        "left_eye": LEFT_EYE,
        "right_eyebrow": RIGHT_EYEBROW[0] + RIGHT_EYEBROW[1],
        "left_eyebrow": LEFT_EYEBROW[0] + LEFT_EYEBROW[1],
    }


__all__ = ["FaceMesh", "FaceMeshOptions", "FaceLandmarks", "FaceRoi", "NUM_LANDMARKS", "region_indices"]
