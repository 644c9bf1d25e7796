"""Tiny synthetic data sets in the three supported layouts, for smoke tests of the toolchain.

Each class gets a learnable pattern (a cartoon face whose mouth/brow shape depends on the class)
plus noise; nothing here is meant to train a real model.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from converters.emotion.data import EMOTIONS, FER2013_CODE_TO_INDEX


def synthetic_face(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A 48x48 uint8 gray cartoon face whose features encode ``label``."""
    img = rng.normal(90, 12, (size, size)).clip(0, 255).astype(np.uint8)
    c = size // 2 + int(rng.integers(-2, 3))
    cv2.ellipse(img, (c, c), (17, 21), 0, 0, 360, int(rng.integers(150, 190)), -1)
    for dx in (-7, 7):
        cv2.circle(img, (c + dx, c - 6), 2, 30, -1)
    curve = (label % 4) - 1.5  # mouth curvature
    brow = (label // 4) * 2 - 1  # brow tilt
    for dx in (-7, 7):
        cv2.line(img, (c + dx - 4, c - 11 + brow * np.sign(dx)), (c + dx + 4, c - 11 - brow * np.sign(dx)), 40, 1)
    xs = np.arange(-8, 9)
    ys = (c + 9 - curve * (1 - (xs / 8.0) ** 2) * 2.5).astype(int)
    for x, y in zip(xs, ys):
        cv2.circle(img, (c + int(x), int(y)), 1, 40, -1)
    return img


def _votes(label: int, rng: np.random.Generator) -> list:
    votes = np.zeros(10, int)
    votes[label] = 7
    votes[rng.integers(0, 8)] += 2
    votes[8] += 1
    return votes.tolist()


def write_ferplus(root: Path, per_class: int = 6, splits: Sequence[str] = ("FER2013Train", "FER2013Valid"),
                  seed: int = 0) -> Path:
    """FER+ layout: ``root/<split>/ferNNNNNNN.png`` + ``label.csv``."""
    rng = np.random.default_rng(seed)
    index = 0
    for split in splits:
        folder = Path(root) / split
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "label.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            for label in range(len(EMOTIONS)):
                for _ in range(per_class):
                    name = f"fer{index:07d}.png"
                    cv2.imwrite(str(folder / name), synthetic_face(label, rng))
                    writer.writerow([name, "(0, 0, 48, 48)", *_votes(label, rng)])
                    index += 1
    return Path(root)


def write_fer2013_csv(path: Path, per_class: int = 6, seed: int = 0) -> Path:
    """Original ``fer2013.csv`` layout (7 classes, no contempt) with Training and PublicTest rows."""
    rng = np.random.default_rng(seed)
    code_of = {v: k for k, v in FER2013_CODE_TO_INDEX.items()}
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage in ("Training", "PublicTest"):
            for label, code in sorted(code_of.items()):
                for _ in range(per_class):
                    writer.writerow([code, " ".join(map(str, synthetic_face(label, rng).ravel())), usage])
    return Path(path)


def write_class_folders(root: Path, per_class: int = 6, seed: int = 0, names: Sequence[str] = EMOTIONS) -> Path:
    """Folder-per-class layout ``root/<class>/*.png`` (colour 64x64 images, as AffectNet-style sets are)."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(names):
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            gray = cv2.resize(synthetic_face(label, rng), (64, 64))
            cv2.imwrite(str(folder / f"{i:04d}.jpg"), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    return Path(root)
