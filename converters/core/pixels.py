"""The pixels a shipped model is fed: the toolchain scores and calibrates on the runtime's own resize."""
from __future__ import annotations

import cv2
import numpy as np


def runtime_inputs(images: np.ndarray, size: int) -> np.ndarray:
    """``[N, h, w]`` gray uint8 crops -> ``[N, size, size, 3]`` uint8 RGB, pixel for pixel what
    ``edgekit.EmotionClassifier.predict`` feeds the model for the same crops saved as gray PNGs
    (its own resize, then gray copied to three channels). Every model is evaluated on these
    pixels, so the toolchain's numbers are the runtime's numbers."""
    from edgekit.emotion import fit_to_input

    return np.stack([cv2.cvtColor(fit_to_input(image, size, size), cv2.COLOR_GRAY2RGB)
                     for image in np.asarray(images, np.uint8)])
