"""Raw SSD tensors -> scored boxes + keypoints, and non-maximum suppression.

:func:`decode` ports MediaPipe's ``TensorsToDetectionsCalculator`` (CPU path, one class) and
:func:`weighted_nms` its ``NonMaxSuppressionCalculator`` with ``algorithm: WEIGHTED``.
:func:`hard_nms` is the classic variant, delegated to ``cv2.dnn.NMSBoxes``.

Boxes are ``(xmin, ymin, xmax, ymax)`` and keypoints ``(x, y)``, in [0, 1] coordinates of the
model input tensor.
"""
from __future__ import annotations

from dataclasses import dataclass
import cv2
import numpy as np


@dataclass(frozen=True)
class DecodeOptions:
    """The ``TensorsToDetectionsCalculatorOptions`` fields BlazeFace uses (names as in MediaPipe)."""

    num_boxes: int
    num_coords: int
    x_scale: float
    y_scale: float
    w_scale: float
    h_scale: float
    box_coord_offset: int = 0
    keypoint_coord_offset: int = 4
    num_keypoints: int = 6
    num_values_per_keypoint: int = 2
    reverse_output_order: bool = True
    sigmoid_score: bool = True
    score_clipping_thresh: float = 100.0
    apply_exponential_on_box_size: bool = False


@dataclass
class RawDetections:
    """Detections of one frame as parallel arrays (N boxes)."""

    boxes: np.ndarray  # (N, 4) xmin, ymin, xmax, ymax
    keypoints: np.ndarray  # (N, K, 2)
    scores: np.ndarray  # (N,)

    def take(self, index: np.ndarray) -> "RawDetections":
        return RawDetections(self.boxes[index], self.keypoints[index], self.scores[index])

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, opts: DecodeOptions, min_score: float) -> RawDetections:
    """Decode ``raw_boxes (N, num_coords)`` / ``raw_scores (N,)`` against ``anchors (N, 4)``.

    Keeps detections with ``score >= min_score`` and a non-negative width and height, like
    MediaPipe.
    """
    raw = raw_boxes.reshape(opts.num_boxes, opts.num_coords).astype(np.float32, copy=False)
    scores = raw_scores.reshape(opts.num_boxes).astype(np.float32, copy=False)
    if opts.sigmoid_score:
        scores = np.clip(scores, -opts.score_clipping_thresh, opts.score_clipping_thresh)
        with np.errstate(over="ignore"):  # exp(100) overflows float32 to inf: sigmoid -> 0, as wanted
            scores = 1.0 / (1.0 + np.exp(-scores))
    keep = np.flatnonzero(scores >= min_score)
    raw, scores, anchors = raw[keep], scores[keep], anchors[keep]
    ax, ay, aw, ah = (anchors[:, i] for i in range(4))

    o = opts.box_coord_offset
    if opts.reverse_output_order:
        x, y, w, h = raw[:, o], raw[:, o + 1], raw[:, o + 2], raw[:, o + 3]
    else:
        y, x, h, w = raw[:, o], raw[:, o + 1], raw[:, o + 2], raw[:, o + 3]
    cx = x / opts.x_scale * aw + ax
    cy = y / opts.y_scale * ah + ay
    if opts.apply_exponential_on_box_size:
        w, h = np.exp(w / opts.w_scale) * aw, np.exp(h / opts.h_scale) * ah
    else:
        w, h = w / opts.w_scale * aw, h / opts.h_scale * ah
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)

    k0, step = opts.keypoint_coord_offset, opts.num_values_per_keypoint
    kx = raw[:, k0 : k0 + opts.num_keypoints * step : step]
    ky = raw[:, k0 + 1 : k0 + 1 + opts.num_keypoints * step : step]
    if not opts.reverse_output_order:
        kx, ky = ky, kx
    keypoints = np.stack([kx / opts.x_scale * aw[:, None] + ax[:, None], ky / opts.y_scale * ah[:, None] + ay[:, None]], axis=2)

    valid = (w >= 0) & (h >= 0)
    return RawDetections(boxes[valid], keypoints[valid], scores[valid])


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of ``box (4,)`` with each of ``boxes (N, 4)`` (xyxy)."""
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = iw * ih
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(dets: RawDetections, iou_threshold: float) -> RawDetections:
    """MediaPipe's weighted NMS: each kept box/keypoint set is the score-weighted mean of the
    boxes overlapping the top-scoring one by more than ``iou_threshold``; its score stays the
    top score. Output is sorted by score, descending."""
    order = np.argsort(-dets.scores, kind="stable")
    boxes, kps, scores = dets.boxes[order], dets.keypoints[order], dets.scores[order]
    out_boxes, out_kps, out_scores = [], [], []
    remaining = np.arange(len(scores))
    while remaining.size:
        top = remaining[0]
        overlap = iou_one_to_many(boxes[top], boxes[remaining]) > iou_threshold
        group = remaining[overlap]
        if group.size == 0:  # a degenerate (zero-area) top box overlaps nothing, not even itself
            group = remaining[:1]
        weights = scores[group][:, None]
        total = float(weights.sum())
        out_boxes.append((boxes[group] * weights).sum(axis=0) / total)
        out_kps.append((kps[group] * weights[:, :, None]).sum(axis=0) / total)
        out_scores.append(scores[top])
        remaining = remaining[~np.isin(remaining, group)]
    if not out_scores:
        return dets.take(np.zeros(0, dtype=np.int64))
    return RawDetections(np.asarray(out_boxes, np.float32), np.asarray(out_kps, np.float32), np.asarray(out_scores, np.float32))


def hard_nms(dets: RawDetections, iou_threshold: float) -> RawDetections:
    """Classic NMS (``cv2.dnn.NMSBoxes``): keep the top box, drop boxes overlapping it."""
    if len(dets) == 0:
        return dets
    xywh = np.column_stack([dets.boxes[:, :2], dets.boxes[:, 2:] - dets.boxes[:, :2]])
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), dets.scores.tolist(), score_threshold=0.0, nms_threshold=float(iou_threshold))
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    keep = keep[np.argsort(-dets.scores[keep], kind="stable")]
    return dets.take(keep)

