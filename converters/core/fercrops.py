"""FER+ crops (48x48 gray, tightly framed) made into images the face detector and mesh find faces in.

BlazeFace is trained on faces with context, so a crop is upscaled and given a border first: the
alignment calibration sweeps :class:`Setting`, the aligned emotion training uses the one it picked,
and the mesh checks and the action-unit calibration use :func:`upscaled_crop`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FER_SIZE = 48
BORDERS = {"gray": (cv2.BORDER_CONSTANT, 128), "replicate": (cv2.BORDER_REPLICATE, 0)}
UPSCALE, BORDER = 4, 48
CANVAS_FACTOR = 4  # canvas side over the pasted face's side (:func:`canvas`)
FACE_SIDES = (96, 192)  # pasted face side in pixels (FER's 48 px upscaled 2-4x)


@dataclass(frozen=True)
class Setting:
    """How a 48x48 crop is prepared for the detector."""

    scale: int
    pad: float  # padding on each side, as a fraction of the crop size
    border: str

    @property
    def pad_px(self) -> int:
        return int(round(self.pad * FER_SIZE * self.scale))

    def prepare(self, gray48: np.ndarray) -> np.ndarray:
        big = cv2.resize(gray48, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_LINEAR)
        mode, value = BORDERS[self.border]
        p = self.pad_px
        big = cv2.copyMakeBorder(big, p, p, p, p, mode, value=value)
        return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Detector pixels -> fractions of the original crop (pixel-edge convention)."""
        return (points - self.pad_px) / (self.scale * FER_SIZE)


#: How a 48 px crop is made into a photo for the detector: the alignment calibration's setting, which
#: the aligned emotion training, the emotion report and the identity toolchain's FER+ faces share.
PHOTO = Setting(scale=4, pad=0.25, border="gray")


def as_photo(gray48: np.ndarray) -> np.ndarray:
    """The BGR "photo" the detector sees for one FER crop (:data:`PHOTO`)."""
    return PHOTO.prepare(gray48)


def upscaled_crop(path: Path) -> np.ndarray:
    """A 48x48 FER+ gray crop as a BGR image the detector finds faces in (x4, gray border)."""
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise OSError(f"{path}: unreadable image")
    big = cv2.resize(gray, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_CONSTANT, value=128)
    return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)


def canvas(face48: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A FER face upscaled, JPEG re-encoded and pasted at a random place in a 4x canvas (BGR) of
    plain gray, smooth noise or random shapes (backgrounds without faces: a photo background could
    hold a larger face than the pasted one)."""
    side = int(rng.integers(FACE_SIDES[0], FACE_SIDES[1] + 1))
    face = cv2.resize(face48, (side, side), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 96))])
    face = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else face
    size = side * CANVAS_FACTOR
    kind = int(rng.integers(0, 3))
    if kind == 0:
        board = np.full((size, size), int(rng.integers(40, 216)), np.uint8)
    elif kind == 1:
        noise = rng.integers(0, 256, (8, 8)).astype(np.uint8)
        board = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    else:
        board = np.full((size, size), int(rng.integers(0, 256)), np.uint8)
        for _ in range(12):
            x0, y0, w, h = (int(v) for v in rng.integers(0, size, 4))
            cv2.rectangle(board, (x0, y0), (x0 + w // 3, y0 + h // 3), int(rng.integers(0, 256)), -1)
    x, y = (int(v) for v in rng.integers(0, size - side + 1, 2))
    board[y:y + side, x:x + side] = face
    return cv2.cvtColor(board, cv2.COLOR_GRAY2BGR)
