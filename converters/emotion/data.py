"""Face-expression data sets in the three layouts users have, loaded into memory as gray crops.

* FER+ layout: ``<root>/FER2013Train|FER2013Valid|FER2013Test/ferNNNNNNN.png`` + ``label.csv``
  (no header: name, face box, 10 vote columns).
* The original ``fer2013.csv`` (``emotion,pixels,Usage``), optionally joined with FER+'s
  ``fer2013new.csv`` votes (same row order).
* A folder per class (AffectNet / RAF-DB style): ``<root>/<class>/*.png|jpg``.

Every loader returns a :class:`FaceSet`: gray uint8 crops ``[N, S, S]`` and vote counts ``[N, 10]``
in FER+ column order (8 emotions + unknown + not-a-face; one-hot for hard-labelled sources).
Bad input raises :class:`edgekit.errors.InputError` naming the file and what was expected.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from converters.core.fercrops import ferplus_rows, majority_labels
from edgekit.labels import EMOTIONS
from edgekit.errors import InputError

log = logging.getLogger(__name__)

#: FER+ emotion columns, the model's output order.
#: All ten FER+ vote columns.
VOTE_COLUMNS: Tuple[str, ...] = EMOTIONS + ("unknown", "NF")
FERPLUS_SPLITS = {"train": "FER2013Train", "valid": "FER2013Valid", "test": "FER2013Test"}
#: fer2013.csv ``emotion`` codes (Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral) -> EMOTIONS index.
FER2013_CODE_TO_INDEX = {0: 4, 1: 5, 2: 6, 3: 1, 4: 3, 5: 2, 6: 0}
FER2013_USAGE = {"train": "Training", "valid": "PublicTest", "test": "PrivateTest"}
#: Folder names accepted for each emotion in the folder-per-class layout (case-insensitive).
CLASS_ALIASES: Dict[str, int] = {
    **{name: i for i, name in enumerate(EMOTIONS)},
    "happy": 1, "surprised": 2, "surprise": 2, "sad": 3, "angry": 4, "anger": 4,
    "disgusted": 5, "fearful": 6, "scared": 6, "contemptuous": 7,
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
#: Fraction of unreadable images above which a data set is rejected instead of skipped.
MAX_CORRUPT_FRACTION = 0.05


@dataclass
class FaceSet:
    """Gray face crops with FER+-style vote counts."""

    images: np.ndarray  # [N, S, S] uint8
    votes: np.ndarray  # [N, 10] float32, FER+ VOTE_COLUMNS order
    names: List[str]
    source: str
    skipped: List[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, index: np.ndarray) -> "FaceSet":
        return FaceSet(self.images[index], self.votes[index], [self.names[i] for i in index], self.source, self.skipped)

    def majority(self) -> np.ndarray:
        """FER+ majority protocol: argmax of the 8 emotions, -1 if unknown/NF wins or the top is tied."""
        return majority_labels(self.votes)

    def soft_targets(self) -> np.ndarray:
        """Normalised 8-emotion vote distribution ([N, 8]); rows without emotion votes are all zero."""
        emo = self.votes[:, : len(EMOTIONS)].astype(np.float32)
        total = emo.sum(axis=1, keepdims=True)
        return np.divide(emo, total, out=np.zeros_like(emo), where=total > 0)

    def class_counts(self) -> np.ndarray:
        labels = self.majority()
        return np.bincount(labels[labels >= 0], minlength=len(EMOTIONS))


def soft_label_rows(votes: np.ndarray) -> np.ndarray:
    """Rows usable under the FER+ probability protocol: an emotion wins over unknown/NF and has votes."""
    return (votes.argmax(axis=1) < len(EMOTIONS)) & (votes[:, : len(EMOTIONS)].sum(axis=1) > 0)


def _read_gray(path: Path, size: int) -> Optional[np.ndarray]:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        return None
    if image.shape != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def _check_corrupt(skipped: List[str], total: int, where: Path) -> None:
    if not skipped:
        return
    first = ", ".join(skipped[:5])
    if len(skipped) > MAX_CORRUPT_FRACTION * total or len(skipped) == total:
        raise InputError(
            f"{len(skipped)} of {total} images could not be decoded (first: {first})", where,
            f"at most {MAX_CORRUPT_FRACTION:.0%} may be unreadable; re-extract the data set",
        )
    log.warning("%s: skipped %d unreadable image(s) of %d: %s", where, len(skipped), total, first)


def _require_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError("does not exist", path, f"expected {what}")
    if not path.is_dir():
        raise InputError("is not a directory", path, f"expected {what}")
    return path


def load_ferplus_split(folder: Path, image_size: int = 48, progress: bool = True) -> FaceSet:
    """Load one FER+ split folder (``FER2013Train`` etc.: PNGs + ``label.csv``)."""
    folder = _require_dir(folder, "a FER+ split folder holding ferNNNNNNN.png files and label.csv")
    rows = ferplus_rows(folder)
    missing = [path.name for path, _ in rows if not path.is_file()]
    if missing:
        raise InputError(
            f"{len(missing)} of {len(rows)} rows name images that are not in the folder "
            f"(first: {', '.join(missing[:5])})",
            folder / "label.csv", "label.csv rows must match the PNG files beside it",
        )
    images, votes, names, skipped = [], [], [], []
    for path, vote in tqdm(rows, desc=f"read {folder.name}", disable=not progress, leave=False):
        image = _read_gray(path, image_size)
        if image is None:
            skipped.append(path.name)
            continue
        images.append(image)
        votes.append(vote)
        names.append(path.name)
    _check_corrupt(skipped, len(rows), folder)
    return FaceSet(np.stack(images), np.asarray(votes, np.float32), names, str(folder), skipped)


def load_fer2013_csv(csv_path: Path, split: str = "train", votes_csv: Optional[Path] = None) -> FaceSet:
    """Load one split (train/valid/test) of ``fer2013.csv``, with FER+ votes from ``fer2013new.csv`` if given."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise InputError("does not exist", csv_path, "expected fer2013.csv with columns emotion,pixels,Usage")
    if split not in FER2013_USAGE:
        raise InputError(f"unknown split {split!r}", csv_path, f"use one of {sorted(FER2013_USAGE)}")
    usage = FER2013_USAGE[split]
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        need = {"emotion", "pixels", "Usage"}
        if not reader.fieldnames or not need <= set(reader.fieldnames):
            raise InputError(f"header is {reader.fieldnames}", csv_path, f"expected columns {sorted(need)}")
        table = list(reader)
    fer_votes = _read_fer2013new(Path(votes_csv), len(table)) if votes_csv else None
    images, votes, names, skipped = [], [], [], []
    for i, row in enumerate(table):
        if row["Usage"] != usage:
            continue
        name = f"row{i:07d}"
        try:
            pixels = np.asarray(row["pixels"].split(), dtype=np.float32)
            side = int(round(np.sqrt(pixels.size)))
            if side * side != pixels.size or side == 0:
                raise ValueError
        except ValueError:
            skipped.append(name)
            continue
        if fer_votes is not None:
            vote = fer_votes[i]
            if vote is None:  # FER+ removed this image (no face)
                continue
        else:
            try:
                code = int(row["emotion"])
                vote = np.eye(len(VOTE_COLUMNS), dtype=np.float32)[FER2013_CODE_TO_INDEX[code]]
            except (ValueError, KeyError):
                raise InputError(f"row {i + 2} has emotion {row['emotion']!r}", csv_path,
                                 "fer2013 emotion codes are 0..6") from None
        images.append(np.clip(pixels, 0, 255).astype(np.uint8).reshape(side, side))
        votes.append(vote)
        names.append(name)
    _check_corrupt(skipped, len(images) + len(skipped), csv_path)
    if not images:
        raise InputError(f"no rows with Usage={usage!r}", csv_path, "check the Usage column")
    sizes = {im.shape for im in images}
    if len(sizes) != 1:
        raise InputError(f"rows have different image sizes {sorted(sizes)}", csv_path,
                         "all pixel strings must have the same length")
    return FaceSet(np.stack(images), np.asarray(votes, np.float32), names, f"{csv_path}:{usage}", skipped)


def _read_fer2013new(path: Path, expected_rows: int) -> List[Optional[np.ndarray]]:
    """FER+ ``fer2013new.csv`` votes aligned with fer2013.csv rows (None where FER+ dropped the image)."""
    if not path.is_file():
        raise InputError("does not exist", path, "expected FER+ fer2013new.csv (Usage, Image name, 10 vote columns)")
    with open(path, newline="") as handle:
        rows = [r for r in csv.reader(handle) if r]
    header, body = rows[0], rows[1:]
    if len(header) != 12:
        raise InputError(f"header has {len(header)} columns", path, "expected Usage, Image name and 10 vote columns")
    if len(body) != expected_rows:
        raise InputError(f"has {len(body)} rows but fer2013.csv has {expected_rows}", path,
                         "fer2013new.csv must list the rows of the same fer2013.csv in the same order")
    out: List[Optional[np.ndarray]] = []
    for row in body:
        out.append(np.asarray([float(v) for v in row[2:]], np.float32) if row[1].strip() else None)
    return out


def load_class_folders(root: Path, image_size: int = 48, progress: bool = True) -> FaceSet:
    """Load ``<root>/<class>/*.png|jpg``; class folder names must be emotions (aliases accepted)."""
    root = _require_dir(root, "a folder with one sub-folder per emotion")
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    if not classes:
        raise InputError("has no class sub-folders", root, f"expected sub-folders named like {', '.join(EMOTIONS)}")
    unknown = [p.name for p in classes if p.name.lower() not in CLASS_ALIASES]
    if unknown:
        raise InputError(f"unknown class folder(s) {unknown}", root, f"name class folders after {', '.join(EMOTIONS)}")
    files: List[Tuple[Path, int]] = []
    for folder in classes:
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise InputError("class folder has no images", folder,
                             f"put {'/'.join(IMAGE_SUFFIXES)} files in it or remove it")
        files += [(p, CLASS_ALIASES[folder.name.lower()]) for p in found]
    images, votes, names, skipped = [], [], [], []
    eye = np.eye(len(VOTE_COLUMNS), dtype=np.float32)
    for path, label in tqdm(files, desc=f"read {root.name}", disable=not progress, leave=False):
        image = _read_gray(path, image_size)
        rel = str(path.relative_to(root))
        if image is None:
            skipped.append(rel)
            continue
        images.append(image)
        votes.append(eye[label])
        names.append(rel)
    _check_corrupt(skipped, len(files), root)
    return FaceSet(np.stack(images), np.asarray(votes), names, str(root), skipped)


def split_stratified(data: FaceSet, fraction: float, seed: int) -> Tuple[FaceSet, FaceSet]:
    """Seeded stratified split into (rest, held-out ``fraction``)."""
    rng = np.random.default_rng(seed)
    labels = data.votes.argmax(axis=1)
    held: List[int] = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        held += idx[: max(1, int(round(fraction * idx.size)))].tolist() if idx.size > 1 else []
    mask = np.zeros(len(data), bool)
    mask[held] = True
    return data.subset(np.flatnonzero(~mask)), data.subset(np.flatnonzero(mask))


def detect_format(path: Path) -> str:
    """'ferplus', 'csv' or 'folder' for a data path; raises InputError for anything else."""
    path = Path(path)
    if not path.exists():
        raise InputError("does not exist", path,
                         "pass a FER+ root (with FER2013Train/), fer2013.csv, or a class-folder tree")
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "csv"
        raise InputError("is a file but not a .csv", path, "pass fer2013.csv or a folder")
    if (path / "label.csv").is_file() or any((path / d).is_dir() for d in FERPLUS_SPLITS.values()):
        return "ferplus"
    return "folder"


def load_splits(path: Path, image_size: int = 48, val_path: Optional[Path] = None, votes_csv: Optional[Path] = None,
                val_fraction: float = 0.1, seed: int = 0, progress: bool = True) -> Tuple[FaceSet, FaceSet]:
    """(train, validation) sets from any supported layout.

    FER+ root: FER2013Train / FER2013Valid. fer2013.csv: Training / PublicTest rows. Class folders:
    ``val_path`` if given, else a seeded stratified ``val_fraction`` split.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "ferplus":
        train_dir = path / FERPLUS_SPLITS["train"] if (path / FERPLUS_SPLITS["train"]).is_dir() else path
        if train_dir == path and val_path is None:
            raise InputError("is a single FER+ split folder", path,
                             "pass the FER+ root holding FER2013Train/ and FER2013Valid/, or --val")
        train = load_ferplus_split(train_dir, image_size, progress)
        val = load_ferplus_split(Path(val_path) if val_path else path / FERPLUS_SPLITS["valid"], image_size, progress)
    elif fmt == "csv":
        train = load_fer2013_csv(path, "train", votes_csv)
        val = load_fer2013_csv(path, "valid", votes_csv)
    else:
        train = load_class_folders(path, image_size, progress)
        if val_path:
            val = load_class_folders(Path(val_path), image_size, progress)
        else:
            train, val = split_stratified(train, val_fraction, seed)
    for name, data in (("training", train), ("validation", val)):
        if len(data) == 0:
            raise InputError(f"{name} split is empty", data.source, "check the data layout")
    if train.images.shape[1:] != val.images.shape[1:]:
        raise InputError(f"training crops are {train.images.shape[1:]} but validation crops {val.images.shape[1:]}",
                         val.source, "use one crop size")
    return train, val


def class_weights(counts: Sequence[float], power: float = 0.5, cap: float = 5.0) -> np.ndarray:
    """Per-class loss weights ``(mean_count / count) ** power`` capped at ``cap``, normalised to mean 1 over samples."""
    counts = np.maximum(np.asarray(counts, np.float64), 1.0)
    weights = np.minimum((counts.mean() / counts) ** power, cap)
    weights /= (weights * counts).sum() / counts.sum()
    return weights.astype(np.float32)
