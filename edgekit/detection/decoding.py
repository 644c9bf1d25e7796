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


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, opts: DecodeOptions,
           min_score: float) -> RawDetections:
    """Decode ``raw_boxes (N, num_coords)`` / ``raw_scores (N,)`` against ``anchors (N, 4)``.

    Keeps detections with ``score >= min_score`` and a non-negative width and height, like
    MediaPipe. The score threshold is applied first (on the logits when scores go through a
    sigmoid: the sigmoid is monotonic), so only the few candidate rows are decoded.
    """
    raw = raw_boxes.reshape(opts.num_boxes, opts.num_coords)
    logits = raw_scores.reshape(opts.num_boxes)
    if opts.sigmoid_score:
        keep = np.flatnonzero(logits >= _logit(min_score) - 1e-3)  # margin: the exact test follows
        clipped = np.clip(logits[keep].astype(np.float32), -opts.score_clipping_thresh, opts.score_clipping_thresh)
        with np.errstate(over="ignore"):  # exp(100) overflows float32 to inf: sigmoid -> 0, as wanted
            scores = 1.0 / (1.0 + np.exp(-clipped))
        inside = scores >= min_score  # float32 rounding at the threshold, as MediaPipe compares
        keep, scores = keep[inside], scores[inside]
    else:
        keep = np.flatnonzero(logits >= min_score)
        scores = logits[keep].astype(np.float32)
    anchors = anchors[keep]
    o, k0, step = opts.box_coord_offset, opts.keypoint_coord_offset, opts.num_values_per_keypoint
    # Every value is an (x, y) pair (box centre, box size, keypoints); flip pairs stored as (y, x).
    pairs = np.concatenate([raw[keep, o : o + 4], raw[keep, k0 : k0 + opts.num_keypoints * step]], axis=1)
    pairs = pairs.astype(np.float32).reshape(len(keep), 2 + opts.num_keypoints, 2)
    if not opts.reverse_output_order:
        pairs = pairs[:, :, ::-1]
    anchor_xy, anchor_wh = anchors[:, None, 0:2], anchors[:, None, 2:4]
    points = pairs / np.float32([opts.x_scale, opts.y_scale]) * anchor_wh + anchor_xy
    size = pairs[:, 1] / np.float32([opts.w_scale, opts.h_scale])
    size = (np.exp(size) if opts.apply_exponential_on_box_size else size) * anchor_wh[:, 0]
    centre = points[:, 0]
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    valid = (size >= 0).all(axis=1)
    return RawDetections(boxes[valid], points[valid, 2:], scores[valid])


def _logit(p: float) -> float:
    """Inverse sigmoid, with the ends of [0, 1] mapped to -/+inf."""
    if p <= 0.0:
        return -np.inf
    if p >= 1.0:
        return np.inf
    return float(np.log(p / (1.0 - p)))


def weighted_nms(dets: RawDetections, iou_threshold: float) -> RawDetections:
    """MediaPipe's weighted NMS: each kept box/keypoint set is the score-weighted mean of the
    boxes overlapping the top-scoring one by more than ``iou_threshold``; its score stays the
    top score. Output is sorted by score, descending."""
    if len(dets) == 0:
        return dets
    order = np.argsort(-dets.scores, kind="stable")
    boxes, kps, scores = dets.boxes[order], dets.keypoints[order], dets.scores[order]
    overlaps = iou_matrix(boxes) > iou_threshold
    out_boxes, out_kps, out_scores = [], [], []
    remaining = np.ones(len(scores), dtype=bool)
    while remaining.any():
        top = int(np.argmax(remaining))
        group = overlaps[top] & remaining
        if not group.any():  # a degenerate (zero-area) top box overlaps nothing, not even itself
            group[top] = True
        weights = scores[group]
        total = float(weights.sum())
        out_boxes.append(weights @ boxes[group] / total)
        out_kps.append(np.tensordot(weights, kps[group], axes=1) / total)
        out_scores.append(scores[top])
        remaining &= ~group
    return RawDetections(np.asarray(out_boxes, np.float32), np.asarray(out_kps, np.float32),
                         np.asarray(out_scores, np.float32))


def iou_matrix(boxes: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union of ``boxes (N, 4)`` (xyxy); 0 where the union is empty."""
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    union = areas[:, None] + areas[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def hard_nms(dets: RawDetections, iou_threshold: float) -> RawDetections:
    """Classic NMS (``cv2.dnn.NMSBoxes``): keep the top box, drop boxes overlapping it."""
    if len(dets) == 0:
        return dets
    xywh = np.column_stack([dets.boxes[:, :2], dets.boxes[:, 2:] - dets.boxes[:, :2]])
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), dets.scores.tolist(), score_threshold=0.0,
                            nms_threshold=float(iou_threshold))
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    keep = keep[np.argsort(-dets.scores[keep], kind="stable")]
    return dets.take(keep)

