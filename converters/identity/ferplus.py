"""FER+ faces as extra, unlabelled distillation samples for the identity student.

FER+ train (``FER2013Train/fer0000000.png``, 48 px gray, no identity labels) holds tens of
thousands of faces of people not in LFW. Neither model sees a raw 48 px crop: each face is made into
the photo the emotion toolchain already uses (:func:`converters.core.fercrops.as_photo`: upscaled
4x, gray border), BlazeFace finds its largest face there, and

- the student gets the runtime's crop of that photo: :class:`edgekit.FaceAligner` on the eye
  keypoints with :data:`edgekit.identity.template.IDENTITY_TEMPLATE` (:func:`aligned_gray`);
- the teacher (:func:`converters.identity.teacher.extract_source`) embeds the same photo with its
  own dlib 5-point chip, from a HOG box or, where HOG finds none, a box derived from the eyes.

Faces BlazeFace misses have no runtime crop and are left out of the list (counted). The list may
be a seeded subset (``subset``/``seed``); its row ids are ``(folder name, NNNNNNN)``.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import numpy as np

log = logging.getLogger(__name__)

PATTERN = "fer*.png"


@dataclass
class FerIndex:
    """FER+ images of one folder: row ``i`` is ``<root>/fer<numbers[i]:07d>.png``."""

    root: Path
    names: np.ndarray  # the folder name on every row (the teacher cache's row ids are (name, number))
    numbers: np.ndarray

    def path(self, i: int) -> Path:
        return self.root / f"fer{int(self.numbers[i]):07d}.png"

    def image(self, i: int) -> np.ndarray:
        """The BGR photo both models start from (:func:`converters.core.fercrops.as_photo`)."""
        import cv2

        from converters.core.fercrops import as_photo
        from edgekit.errors import ImageReadError

        gray = cv2.imread(str(self.path(i)), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise ImageReadError("unreadable FER+ image", self.path(i), "check the FER+ folder")
        return as_photo(gray)

    def take(self, rows: np.ndarray) -> "FerIndex":
        rows = np.asarray(rows, np.int64)
        return FerIndex(self.root, self.names[rows], self.numbers[rows])

    def __len__(self) -> int:
        return len(self.numbers)


def index_fer(root: Path, subset: int = 0, seed: int = 0) -> FerIndex:
    """Every ``fer*.png`` of ``root`` in number order, or a seeded subset of ``subset`` of them
    (still in number order)."""
    from edgekit.errors import ConfigError, InputError

    root = Path(root)
    if not root.is_dir():
        raise InputError("FER+ folder not found", root, "pass e.g. ../shared/data/ferplus/FER2013Train")
    numbers = np.array(sorted(int(p.stem[3:]) for p in root.glob(PATTERN) if p.stem[3:].isdigit()), np.int64)
    if not len(numbers):
        raise InputError("contains no FER+ images", root, "expected fer0000000.png, fer0000001.png, ...")
    if isinstance(subset, bool) or not isinstance(subset, (int, np.integer)) or subset < 0:
        raise ConfigError(f"must be a number of faces >= 0 (0: all), got {subset!r}", "subset")
    if 0 < subset < len(numbers):
        numbers = np.sort(numbers[np.random.default_rng(seed).permutation(len(numbers))[:subset]])
    return FerIndex(root, np.full(len(numbers), root.name), numbers)


def detect_eyes(index: FerIndex, cache_dir: Path) -> Tuple[np.ndarray, np.ndarray]:
    """``(eyes [N, 4], detected [N])``: BlazeFace's right/left eye keypoints of the largest face in
    each face's photo (zeros where none), cached in ``cache_dir`` per list of files and their bytes."""
    from tqdm import tqdm

    from converters.identity.teacher import image_sha256, images_digest
    from edgekit import FaceDetector

    digest = images_digest(image_sha256([index.path(i) for i in range(len(index))]))
    key = hashlib.sha256((digest + "\n".join(f"{n}/{k}" for n, k in zip(index.names, index.numbers))
                          ).encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"fer_eyes_{key}.npz"
    if cache.is_file():
        with np.load(cache) as data:
            return data["eyes"], data["detected"]
    eyes = np.zeros((len(index), 4), np.float64)
    detected = np.zeros(len(index), bool)
    with FaceDetector(min_confidence=0.5) as detector:
        for i in tqdm(range(len(index)), desc="detect FER+", unit="face", mininterval=10):
            found = detector.detect(index.image(i))
            if found:
                det = max(found, key=lambda d: d.box.width * d.box.height)
                eyes[i] = (*det.keypoint("right_eye"), *det.keypoint("left_eye"))
                detected[i] = True
    log.info("BlazeFace found a face in %d of %d FER+ photos", int(detected.sum()), len(index))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, eyes=eyes, detected=detected)
    return eyes, detected


def detected_faces(root: Path, subset: int, seed: int, cache_dir: Path) -> Tuple[FerIndex, np.ndarray, int]:
    """``(index of the faces BlazeFace found, their eyes, how many of the listed faces it missed)``:
    the list the teacher embeds and the student trains on."""
    index = index_fer(root, subset, seed)
    eyes, detected = detect_eyes(index, cache_dir)
    return index.take(np.flatnonzero(detected)), eyes[detected], int((~detected).sum())


def aligned_gray(index: FerIndex, eyes: np.ndarray, size: int) -> np.ndarray:
    """Gray ``[N, size, size]`` runtime crops (FaceAligner + IDENTITY_TEMPLATE) of the faces' photos."""
    import cv2
    from tqdm import tqdm

    from edgekit import FaceAligner
    from edgekit.identity.template import IDENTITY_TEMPLATE
    from edgekit.registry import InputSpec

    aligner = FaceAligner(InputSpec(size, size, 3, "rgb"), IDENTITY_TEMPLATE)
    crops = np.zeros((len(index), size, size), np.uint8)
    for i in tqdm(range(len(index)), desc="align FER+", unit="face", mininterval=10):
        e = eyes[i]
        rgb = aligner.align_eyes(index.image(i), (e[0], e[1]), (e[2], e[3])).image
        crops[i] = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return crops
