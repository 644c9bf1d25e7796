"""Training faces as the runtime sees them: every FER+ crop through edgekit's own detector + aligner.

The runtime never classifies a raw FER+ crop: it detects the face in a photo, aligns it on the
eye keypoints (:class:`edgekit.FaceAligner`) and classifies that crop. Measured on FER2013Valid,
the alignment alone changes the label of 12.6% of faces against the raw crop
(``reports/emotion_robustness``), so a model trained on raw crops meets a shifted distribution at
run time. Here each 48 px face is prepared as a photo the way the alignment calibration does
(upscaled 4x, 25% gray padding: BlazeFace finds 99.6% of them, ``reports/alignment``), the
largest face is detected and aligned at the model's input size, exactly as
``edgekit.analyze`` would crop it; faces the detector misses keep their plainly resized crop
(counted). Crops are cached under ``runs/emotion_aligned/`` keyed by the faces, the size and the
detector/aligner settings. :func:`photo_crops` crops real photos (LFW) the same way, without the
FER preparation, for the PyTorch teacher to label (``python -m converters.emotion.teacher crops``).
"""
from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from converters.core.paths import ROOT
from converters.core.fercrops import PHOTO as PREPARE, as_photo
from converters.emotion.data import FaceSet
from edgekit import FaceAligner, FaceDetector
from edgekit.alignment import DEFAULT_TEMPLATE
from edgekit.emotion import fit_to_input
from edgekit.registry import InputSpec

log = logging.getLogger(__name__)

CACHE_DIR = ROOT / "runs" / "emotion_aligned"


class RuntimeCropper:
    """The runtime's detector + aligner, producing gray crops of ``size`` (channel 0 of what
    :class:`edgekit.EmotionClassifier` is fed for a gray-input model)."""

    def __init__(self, size: int) -> None:
        self.detector = FaceDetector()
        self.aligner = FaceAligner(InputSpec(size, size, 1, "gray"), DEFAULT_TEMPLATE)
        self.size = size

    def crop(self, gray48: np.ndarray) -> Tuple[np.ndarray, bool]:
        crop = self.photo_crop(as_photo(gray48))
        if crop is None:
            return fit_to_input(gray48, self.size, self.size), False
        return crop, True

    def photo_crop(self, bgr: np.ndarray) -> Optional[np.ndarray]:
        """The aligned gray crop of the largest face in a BGR photo, None without a face."""
        found = self.detector.detect(bgr)
        if not found:
            return None
        return self.aligner.align(bgr, max(found, key=lambda d: d.box.width * d.box.height)).image


def runtime_crops(images: np.ndarray, size: int, progress: bool = True,
                  cache: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """``[N, 48, 48]`` gray faces -> (``[N, size, size]`` aligned gray crops, detected mask)."""
    images = np.ascontiguousarray(images, np.uint8)
    key = hashlib.sha256(images.tobytes()
                         + repr((size, PREPARE, DEFAULT_TEMPLATE, _detector_sha())).encode()).hexdigest()[:16]
    path = CACHE_DIR / f"aligned_{size}_{key}.npz"
    if cache and path.is_file():
        with np.load(path) as cached:
            return cached["crops"], cached["detected"]
    cropper = RuntimeCropper(size)
    crops = np.empty((len(images), size, size), np.uint8)
    detected = np.zeros(len(images), bool)
    for i, face in enumerate(tqdm(images, desc=f"aligning faces at {size} px", unit="face", file=sys.stderr,
                                  disable=not progress, mininterval=2.0)):
        crops[i], detected[i] = cropper.crop(face)
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, crops=crops, detected=detected)
        tmp.replace(path)
    return crops, detected


def photo_crops(paths: Sequence[Path], size: int, progress: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Photos (e.g. LFW's) -> (``[M, size, size]`` aligned gray crops of each one's largest face,
    the indices into ``paths`` of the ``M`` photos that had a readable image and a face)."""
    cropper = RuntimeCropper(size)
    crops, kept = [], []
    for i, path in enumerate(tqdm(paths, desc=f"aligning photos at {size} px", unit="photo", file=sys.stderr,
                                  disable=not progress, mininterval=2.0)):
        bgr = cv2.imread(str(path))
        crop = None if bgr is None else cropper.photo_crop(bgr)
        if crop is not None:
            crops.append(crop)
            kept.append(i)
    return (np.stack(crops) if crops else np.zeros((0, size, size), np.uint8)), np.array(kept, np.int64)


def aligned_set(faces: FaceSet, size: int, progress: bool = True) -> FaceSet:
    """``faces`` with every image replaced by its runtime crop at ``size`` px."""
    crops, detected = runtime_crops(faces.images, size, progress)
    log.info("%s: %d of %d faces detected and aligned (%.2f%%); the rest keep their resized crop",
             faces.source, int(detected.sum()), len(detected), 100 * detected.mean())
    return replace(faces, images=crops)


def runtime_predict(model_path: Path, image_paths: Sequence[Path]) -> Tuple[np.ndarray, np.ndarray]:
    """Probabilities through the runtime path for FER crops saved as images: each made into a photo
    (:func:`as_photo`), its largest face detected, aligned for the classifier and classified, as
    ``edgekit.analyze`` does; undetected faces are classified on their plain crop. Returns the
    probabilities (FER+ label order) and the RGB crops the classifier was fed."""
    from edgekit import EmotionClassifier

    from converters.emotion.data import EMOTIONS

    clf = EmotionClassifier(str(model_path))
    if list(clf.labels) != list(EMOTIONS):
        raise ValueError(f"runtime labels {list(clf.labels)} differ from FER+ order {list(EMOTIONS)}")
    detector, aligner = FaceDetector(), FaceAligner.for_classifier(clf)
    probs, crops = [], []
    for path in image_paths:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        photo = as_photo(gray)
        found = detector.detect(photo)
        if found:
            crop = aligner.align(photo, max(found, key=lambda d: d.box.width * d.box.height)).image
        else:
            crop = fit_to_input(clf.input_spec.convert(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)), *clf.input_size)
        crops.append(crop)
        probs.append(clf.predict_probs(crop))
    return np.stack(probs), np.stack(crops)


def _detector_sha() -> str:
    from edgekit.registry import load_manifest

    return str(load_manifest()["external"]["face_short_range"]["sha256"])


__all__ = ["PREPARE", "RuntimeCropper", "aligned_set", "as_photo", "photo_crops", "runtime_crops",
           "runtime_predict"]
