"""FER+ crops (48x48 gray, tightly framed): their ``label.csv`` votes, and the crops made into images
the face detector and mesh find faces in.

:func:`ferplus_rows` is the one reader of a split's ``label.csv`` and :func:`majority_labels` the one
votes -> label rule (the emotion data loader, the action-unit toolchain and the checks use them).
BlazeFace is trained on faces with context, so a crop is upscaled and given a border first: the
alignment calibration sweeps :class:`Setting`, the aligned emotion training uses the one it picked,
and the mesh checks and the action-unit calibration use :func:`upscaled_crop`.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np

from edgekit.errors import InputError
from edgekit.labels import EMOTIONS

FER_SIZE = 48
BORDERS = {"gray": (cv2.BORDER_CONSTANT, 128), "replicate": (cv2.BORDER_REPLICATE, 0)}
UPSCALE, BORDER = 4, 48
CANVAS_FACTOR = 4  # canvas side over the pasted face's side (:func:`canvas`)
FACE_SIDES = (96, 192)  # pasted face side in pixels (FER's 48 px upscaled 2-4x)

#: Columns of a ``label.csv`` row: image name, face box, then the 10 vote counts.
LABEL_COLUMNS = 12


def ferplus_rows(split_dir: Path) -> List[Tuple[Path, np.ndarray]]:
    """``(image path, votes)`` per row of a FER+ split folder's ``label.csv``, in file order.

    ``votes`` is float32 ``[10]`` in FER+ column order (the 8 :data:`~edgekit.labels.EMOTIONS`,
    unknown, not-a-face). Blank lines are skipped.

    Raises:
        InputError: no ``label.csv``, a row without 12 columns or with a non-numeric vote, or no rows.
    """
    label_file = Path(split_dir) / "label.csv"
    if not label_file.is_file():
        raise InputError("no label.csv", split_dir, "a FER+ split folder holds label.csv (name, box, 10 vote columns)")
    rows: List[Tuple[Path, np.ndarray]] = []
    with open(label_file, newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != LABEL_COLUMNS:
                raise InputError(
                    f"line {line_no} has {len(row)} columns", label_file,
                    "expected 12: name, \"(x, y, w, h)\", then 10 vote counts (8 emotions, unknown, NF)",
                )
            try:
                votes = np.array([float(v) for v in row[2:]], np.float32)
            except ValueError:
                raise InputError(f"line {line_no} has a non-numeric vote count: {row[2:]}", label_file,
                                 "the last 10 columns must be vote counts") from None
            rows.append((Path(split_dir) / row[0].strip(), votes))
    if not rows:
        raise InputError("has no rows", label_file, "expected one row per image")
    return rows


def majority_labels(votes: np.ndarray, emotion_wins_ties: bool = True) -> np.ndarray:
    """FER+ majority label per row of ``[N, 10]`` votes (index into EMOTIONS), -1 where the row has
    none: the top emotion is tied with another emotion, unknown / not-a-face has more votes, or no
    emotion has a vote.

    ``emotion_wins_ties``: an emotion tied with unknown / not-a-face counts as that emotion (the
    emotion toolchain's protocol; NumPy's argmax over the 10 columns picks the first maximum);
    False makes such a row -1 too (the rule the action-unit calibration sampled its faces by).
    """
    votes = np.asarray(votes, dtype=np.float32)
    emo = votes[:, : len(EMOTIONS)]
    top = emo.max(axis=1)
    other = votes[:, len(EMOTIONS):].max(axis=1)
    tied = (emo == top[:, None]).sum(axis=1) > 1
    not_emotion = other > top if emotion_wins_ties else other >= top
    bad = tied | not_emotion | (top <= 0)
    return np.where(bad, -1, emo.argmax(axis=1)).astype(np.int64)


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
