"""Colour matching between two photos (Lab statistics of a region), for pasted patches."""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

#: Bounds of the lightness contrast ratio applied to a patch.
_CONTRAST_LIMITS = (0.8, 1.25)


def lab_stats(image: np.ndarray, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the L, a, b channels of ``image`` (BGR uint8) inside ``mask``."""
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
    values = lab[mask] if mask.any() else lab.reshape(-1, 3)
    return values.mean(axis=0), values.std(axis=0)


def match_colors(patch: np.ndarray, source: Tuple[np.ndarray, np.ndarray], target: Tuple[np.ndarray, np.ndarray]
                 ) -> np.ndarray:
    """``patch`` (BGR uint8, cut from the photo whose region statistics are ``source``) recoloured
    to sit in the photo with statistics ``target``: the colour channels' mean moves from the
    source's to the target's (a gray source takes the target's skin tint instead of looking blue
    next to it); lightness moves half-way (skin tone differs between people, not only lighting:
    teeth from a dark-skinned face would otherwise turn white-hot on a light one) and its
    contrast follows the target's within bounds."""
    (src_mean, src_std), (dst_mean, dst_std) = source, target
    lab = cv2.cvtColor(patch, cv2.COLOR_BGR2LAB).astype(np.float32)
    gain = float(np.clip(dst_std[0] / max(float(src_std[0]), 1e-3), *_CONTRAST_LIMITS))
    lab[..., 0] = (lab[..., 0] - src_mean[0]) * gain + (src_mean[0] + dst_mean[0]) / 2.0
    lab[..., 1:] += dst_mean[1:] - src_mean[1:]
    return cv2.cvtColor(np.clip(np.rint(lab), 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)
