"""SSD anchor generation, a port of MediaPipe's ``SsdAnchorsCalculator`` (no feature-map overrides).

Anchors are ``(x_center, y_center, width, height)`` in [0, 1] coordinates of the model input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np


@dataclass(frozen=True)
class SsdAnchorOptions:
    """The ``SsdAnchorsCalculatorOptions`` fields BlazeFace uses (names as in MediaPipe)."""

    input_size_width: int
    input_size_height: int
    min_scale: float
    max_scale: float
    strides: Tuple[int, ...]
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    aspect_ratios: Tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = True
    reduce_boxes_in_lowest_layer: bool = False

    @property
    def num_layers(self) -> int:
        return len(self.strides)


def _scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * index / (count - 1.0)


def _layer_shapes(opts: SsdAnchorOptions, first: int, last: int) -> List[Tuple[float, float]]:
    """(height, width) of each anchor per cell for layers ``first..last-1`` (which share a stride)."""
    scales: List[float] = []
    ratios: List[float] = []
    for layer in range(first, last):
        scale = _scale(opts.min_scale, opts.max_scale, layer, opts.num_layers)
        if layer == 0 and opts.reduce_boxes_in_lowest_layer:
            ratios += [1.0, 2.0, 0.5]
            scales += [0.1, scale, scale]
            continue
        ratios += list(opts.aspect_ratios)
        scales += [scale] * len(opts.aspect_ratios)
        if opts.interpolated_scale_aspect_ratio > 0.0:
            nxt = 1.0 if layer == opts.num_layers - 1 else _scale(opts.min_scale, opts.max_scale, layer + 1,
                                                                  opts.num_layers)
            scales.append(math.sqrt(scale * nxt))
            ratios.append(opts.interpolated_scale_aspect_ratio)
    return [(s / math.sqrt(r), s * math.sqrt(r)) for s, r in zip(scales, ratios)]


def generate_anchors(opts: SsdAnchorOptions) -> np.ndarray:
    """Anchors in MediaPipe's order as a float32 ``(N, 4)`` array of ``x_center, y_center, w, h``."""
    anchors: List[Tuple[float, float, float, float]] = []
    layer = 0
    while layer < opts.num_layers:
        last = layer
        while last < opts.num_layers and opts.strides[last] == opts.strides[layer]:
            last += 1
        shapes = _layer_shapes(opts, layer, last)
        stride = opts.strides[layer]
        rows = math.ceil(opts.input_size_height / stride)
        cols = math.ceil(opts.input_size_width / stride)
        for y in range(rows):
            for x in range(cols):
                cx = (x + opts.anchor_offset_x) / cols
                cy = (y + opts.anchor_offset_y) / rows
                for h, w in shapes:
                    anchors.append((cx, cy, 1.0, 1.0) if opts.fixed_anchor_size else (cx, cy, w, h))
        layer = last
    return np.asarray(anchors, dtype=np.float32)
