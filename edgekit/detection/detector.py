"""``FaceDetector``: MediaPipe BlazeFace run through LiteRT, without MediaPipe or TensorFlow.

Preprocessing follows MediaPipe's ``ImageToTensorCalculator`` (keep aspect ratio: the image is
letterboxed, centred, into the square model input with zero borders, bilinear resampling,
values mapped to [-1, 1]); decoding and weighted NMS follow ``TensorsToDetectionsCalculator`` and
``NonMaxSuppressionCalculator``; results are projected back to input-image pixels.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

import cv2
import numpy as np

from .. import litert
from ..errors import ModelError
from ..imageio import ImageSource, load_image
from ..options import CreateFromOptions, options_from
from ..registry import load_third_party
from ..results import BoundingBox, Detection
from ..task_options import NMS_METHODS, FaceDetectorOptions  # noqa: F401  (NMS_METHODS: re-exported)
from .anchors import generate_anchors
from .blazeface import CONFIGS, BlazeFaceConfig
from .decoding import RawDetections, decode, hard_nms, weighted_nms

#: Close-up pass (``FaceDetectorOptions.close_up``): the crop's side over the face box's longer
#: side, and the largest face (box side over the frame's longer side) that gets one.
CLOSE_UP_CROP = 2.0
CLOSE_UP_MAX_FACE = 0.4


@dataclass(frozen=True)
class Letterbox:
    """Square-padded region of the image that maps onto the model input (``x0, y0, width, height``
    in image pixels; ``x0``/``y0`` are negative on the padded side)."""

    x0: float
    y0: float
    width: float
    height: float

    @classmethod
    def fit(cls, image_w: int, image_h: int, tensor_w: int, tensor_h: int) -> "Letterbox":
        """MediaPipe's ``PadRoi``: grow the full-image ROI to the tensor's aspect ratio, centred."""
        tensor_ratio = tensor_h / tensor_w
        if tensor_ratio > image_h / image_w:
            width, height = float(image_w), image_w * tensor_ratio
        else:
            width, height = image_h / tensor_ratio, float(image_h)
        return cls((image_w - width) / 2.0, (image_h - height) / 2.0, width, height)

    def matrix(self, tensor_w: int, tensor_h: int) -> np.ndarray:
        """3x3 matrix mapping image pixels to tensor pixels (ROI corners onto tensor corners).

        Built like MediaPipe's OpenCV converter (``getPerspectiveTransform`` on float32 corners,
        then ``warpPerspective``): ``warpAffine`` with the equivalent affine matrix rounds the
        sampling positions differently and moves scores by up to ~5e-3 on LFW photos.
        """
        x0, y0, x1, y1 = self.x0, self.y0, self.x0 + self.width, self.y0 + self.height
        src = np.float32([[x0, y1], [x0, y0], [x1, y0], [x1, y1]])
        dst = np.float32([[0, tensor_h], [0, 0], [tensor_w, 0], [tensor_w, tensor_h]])
        return cv2.getPerspectiveTransform(src, dst)


class FaceDetector(CreateFromOptions, litert.LiteRTModel):
    """Detects faces with MediaPipe's BlazeFace model (packaged from the mediapipe==0.10.21 wheel archive).

    ``detect`` returns :class:`edgekit.results.Detection` objects, highest score first, with
    boxes and the 6 keypoints in pixels of the input image. Boxes are not clipped to the image.
    ``FaceDetector(options)``, ``FaceDetector(**fields)``, ``FaceDetector(options, **overrides)``
    or ``FaceDetector("full_range")`` (see :class:`FaceDetectorOptions`). Not thread-safe: use one
    detector per thread.
    """

    OPTIONS = FaceDetectorOptions

    def __init__(self, options: Optional[FaceDetectorOptions] = None, **kwargs: Any) -> None:
        self.options = options_from(FaceDetectorOptions, options, kwargs)
        self.config: BlazeFaceConfig = CONFIGS[self.options.model]
        start = time.perf_counter()
        loaded = load_third_party(self.config.model_key)
        self.model_path: Path = loaded.path
        self._load(loaded, self.options.num_threads)
        self._input = litert.input_specs(self._interpreter)[0]
        self._boxes_out, self._scores_out = self._find_outputs()
        self._anchors = generate_anchors(self.config.anchors)
        #: Seconds spent loading the model and generating anchors.
        self.load_seconds = time.perf_counter() - start

    def _find_outputs(self) -> Tuple[litert.TensorSpec, litert.TensorSpec]:
        cfg = self.config
        expected = (1, cfg.input_height, cfg.input_width, 3)
        outputs = {spec.shape[-1]: spec for spec in litert.output_specs(self._interpreter)}
        boxes, scores = outputs.get(cfg.decode.num_coords), outputs.get(1)
        if self._input.shape != expected or boxes is None or scores is None or boxes.shape[1] != cfg.decode.num_boxes:
            raise ModelError(
                f"unexpected tensors: input {list(self._input.shape)}, "
                f"outputs {[list(s.shape) for s in outputs.values()]}",
                subject=self.model_path,
                hint=f"expected the {self.options.model} BlazeFace model shipped with mediapipe==0.10.21",
            )
        return boxes, scores

    @property
    def input_size(self) -> Tuple[int, int]:
        """Model input (width, height)."""
        return self.config.input_width, self.config.input_height

    def preprocess(self, image_bgr: np.ndarray) -> Tuple[np.ndarray, Letterbox]:
        """Letterboxed ``[1, H, W, 3]`` float32 RGB tensor in [-1, 1] and the letterbox used. With
        ``options.input_color == "luma"`` the frame is made gray before resampling, so a colour
        frame and its gray version (3 equal channels) give the same tensor, bit for bit."""
        w, h = self.input_size
        box = Letterbox.fit(image_bgr.shape[1], image_bgr.shape[0], w, h)
        luma = self.options.input_color == "luma"
        source = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if luma else image_bgr
        # cv2.warpPerspective, as MediaPipe's OpenCV ImageToTensor converter: identical input pixels.
        warped = cv2.warpPerspective(source, box.matrix(w, h), (w, h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        rgb = cv2.cvtColor(warped, cv2.COLOR_GRAY2RGB if luma else cv2.COLOR_BGR2RGB)
        lo, hi = self.config.float_range
        tensor = rgb.astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)
        return tensor[None], box

    def detect_raw(self, image_bgr: np.ndarray) -> Tuple[RawDetections, Letterbox]:
        """Detections after NMS in model-input [0, 1] coordinates (before projection)."""
        tensor, box = self.preprocess(image_bgr)
        with self._use:
            self._interpreter.set_tensor(self._input.index, litert.quantize(tensor, self._input))
            self._interpreter.invoke()
            raw_boxes = litert.dequantize(self._interpreter.get_tensor(self._boxes_out.index), self._boxes_out)
            raw_scores = litert.dequantize(self._interpreter.get_tensor(self._scores_out.index), self._scores_out)
        dets = decode(raw_boxes, raw_scores, self._anchors, self.config.decode, self.options.min_confidence)
        nms = weighted_nms if self.options.nms == "weighted" else hard_nms
        return nms(dets, self.options.nms_iou), box

    def detect(self, image: ImageSource) -> List[Detection]:
        """Faces in ``image`` (BGR array or path, see :func:`edgekit.imageio.load_image`),
        highest score first, at most ``options.max_faces``; with ``options.small_faces`` a frame
        without a face is searched again in overlapping windows."""
        return self._detect_checked(load_image(image))

    def _detect_checked(self, image_bgr: np.ndarray) -> List[Detection]:
        """:meth:`detect` on a frame :func:`~edgekit.imageio.load_image` already returned (not checked again)."""
        return [refined for _, refined in self._detect_pairs(image_bgr)]

    def _detect_pairs(self, image_bgr: np.ndarray) -> List[Tuple[Detection, Detection]]:
        """Each face twice: as the first pass found it (whole frame, or windows) and with the keypoints
        of ``close_up`` / ``luma_keypoints`` (the same detection when both are off). The Pipeline
        classifies emotion on the second and embeds identity and reads action units on the first,
        whose keypoints their thresholds and calibrations were measured with."""
        search = self._detect_whole
        found = search(image_bgr)
        if not found and self.options.small_faces and min(image_bgr.shape[:2]) >= 2 * min(self.input_size):
            search = self._detect_windows
            found = search(image_bgr)
        found = found if self.options.max_faces is None else found[: self.options.max_faces]
        if not found or not (self.options.close_up or self.options.luma_keypoints):
            return [(det, det) for det in found]
        source, refs = image_bgr, found
        if self.options.luma_keypoints and self.options.input_color == "rgb" and not _is_gray(image_bgr):
            # the gray frame is searched the way the faces were found (whole, or in windows), so a colour
            # photo and its gray copy get the same keypoints
            source = cv2.cvtColor(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
            refs = _match_faces(found, search(source))
        if self.options.close_up:
            refs = [self._close_up(source, ref) for ref in refs]
        return [(det, Detection(box=det.box, keypoints=ref.keypoints, score=det.score))
                for det, ref in zip(found, refs)]

    def _close_up(self, image_bgr: np.ndarray, det: Detection) -> Detection:
        """``det`` with the keypoints of the same face detected again in a square crop
        :data:`CLOSE_UP_CROP` times its box (zero-padded past the frame), if the face is small
        (box under :data:`CLOSE_UP_MAX_FACE` of the frame's longer side) and found again there
        (IoU > 0.3 with ``det``); otherwise ``det`` unchanged."""
        side = max(det.box.width, det.box.height)
        if side >= CLOSE_UP_MAX_FACE * max(image_bgr.shape[:2]) or side < 1:
            return det
        size = int(round(CLOSE_UP_CROP * side))
        cx, cy = det.box.x + det.box.width / 2.0, det.box.y + det.box.height / 2.0
        x0, y0 = int(round(cx - size / 2.0)), int(round(cy - size / 2.0))
        h, w = image_bgr.shape[:2]
        pad = max(0, -x0, -y0, x0 + size - w, y0 + size - h)
        source = cv2.copyMakeBorder(image_bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0) if pad else image_bgr
        crop = np.ascontiguousarray(source[y0 + pad:y0 + pad + size, x0 + pad:x0 + pad + size])
        again = _same_face(det, self._detect_whole(crop, (x0, y0)))
        return det if again is None else Detection(box=det.box, keypoints=again.keypoints, score=det.score)

    def _detect_whole(self, image_bgr: np.ndarray, offset: Tuple[float, float] = (0.0, 0.0)) -> List[Detection]:
        """Detections in the whole of ``image_bgr`` (frame pixels, shifted by ``offset``), best first."""
        dets, box = self.detect_raw(image_bgr)
        scale = np.array([box.width, box.height], dtype=np.float64)
        origin = np.array([box.x0, box.y0], dtype=np.float64) + np.asarray(offset, dtype=np.float64)
        results = []
        for xyxy, kps, score in zip(dets.boxes.astype(np.float64), dets.keypoints.astype(np.float64), dets.scores):
            x0, y0 = origin + xyxy[:2] * scale
            x1, y1 = origin + xyxy[2:] * scale
            points = origin + kps * scale
            results.append(
                Detection(
                    box=BoundingBox(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
                    keypoints=tuple((float(x), float(y)) for x, y in points),
                    score=float(score),
                )
            )
        return results

    def _detect_windows(self, image_bgr: np.ndarray) -> List[Detection]:
        """Detections in 9 half-size windows at quarter strides, overlapping duplicates removed
        (greedy, highest score first, IoU above ``options.nms_iou``)."""
        h, w = image_bgr.shape[:2]
        found: List[Detection] = []
        for fy in (0.0, 0.25, 0.5):
            for fx in (0.0, 0.25, 0.5):
                x0, y0 = int(fx * w), int(fy * h)
                window = np.ascontiguousarray(image_bgr[y0:y0 + h // 2, x0:x0 + w // 2])
                found.extend(self._detect_whole(window, (x0, y0)))
        kept: List[Detection] = []
        for det in sorted(found, key=lambda d: -d.score):
            if all(det.box.iou(k.box) <= self.options.nms_iou for k in kept):
                kept.append(det)
        return kept


def _same_face(det: Detection, candidates: List[Detection]) -> Optional[Detection]:
    """The candidate that overlaps ``det`` most, if their IoU is above 0.3 (the same face found again)."""
    best = max(candidates, key=lambda d: d.box.iou(det.box), default=None)
    return best if best is not None and best.box.iou(det.box) > 0.3 else None


def _match_faces(found: List[Detection], again: List[Detection]) -> List[Detection]:
    """For each face of ``found`` (best first), the face of ``again`` it overlaps most (IoU above 0.3)
    that no better face took; the face itself when none is left."""
    left, out = list(again), []
    for det in found:
        match = _same_face(det, left)
        if match is not None:
            left.remove(match)
        out.append(match or det)
    return out


def _is_gray(image_bgr: np.ndarray) -> bool:
    """True when the frame's three channels are equal (a gray photo): its luma is itself. A sparse
    sample answers most colour frames before the whole frame is compared."""
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        return False
    sample = image_bgr[::16, ::16]
    if not (np.array_equal(sample[..., 0], sample[..., 1]) and np.array_equal(sample[..., 1], sample[..., 2])):
        return False
    return bool(np.array_equal(image_bgr[..., 0], image_bgr[..., 1])
                and np.array_equal(image_bgr[..., 1], image_bgr[..., 2]))
