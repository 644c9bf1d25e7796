"""The two BlazeFace models and their MediaPipe graph options.

Values are those of the ``FaceDetectionShortRangeCpu`` / ``FaceDetectionFullRangeCpu`` graphs in
mediapipe 0.10.21 (``mediapipe/modules/face_detection/face_detection_*_cpu.binarypb`` expanded
by MediaPipe's ``CalculatorGraph``); ``tests/runtime/test_detection.py`` re-reads those graphs and fails
if any value here differs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

from .anchors import SsdAnchorOptions
from .decoding import DecodeOptions


@dataclass(frozen=True)
class BlazeFaceConfig:
    """Everything needed to run one BlazeFace variant."""

    model_key: str  # key of the manifest's "external" section
    input_width: int
    input_height: int
    anchors: SsdAnchorOptions
    decode: DecodeOptions
    default_min_score: float
    nms_iou: float
    #: ImageToTensorCalculator: keep_aspect_ratio (letterbox), BORDER_ZERO, float range [-1, 1].
    float_range: tuple = (-1.0, 1.0)


def _decode(size: int, num_boxes: int) -> DecodeOptions:
    return DecodeOptions(num_boxes=num_boxes, num_coords=16, x_scale=size, y_scale=size, w_scale=size, h_scale=size)


CONFIGS: Dict[str, BlazeFaceConfig] = {
    "short_range": BlazeFaceConfig(
        model_key="face_short_range",
        input_width=128,
        input_height=128,
        anchors=SsdAnchorOptions(128, 128, min_scale=0.1484375, max_scale=0.75, strides=(8, 16, 16, 16),
                                 interpolated_scale_aspect_ratio=1.0),
        decode=_decode(128, 896),
        default_min_score=0.5,
        nms_iou=0.3,
    ),
    "full_range": BlazeFaceConfig(
        model_key="face_full_range",
        input_width=192,
        input_height=192,
        anchors=SsdAnchorOptions(192, 192, min_scale=0.1484375, max_scale=0.75, strides=(4,),
                                 interpolated_scale_aspect_ratio=0.0),
        decode=_decode(192, 2304),
        default_min_score=0.6,
        nms_iou=0.3,
    ),
}
