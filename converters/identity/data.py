"""LFW faces for the identity model: detection + alignment with the runtime's code path, cached.

Every image goes through :class:`edgekit.FaceDetector` (BlazeFace) and :class:`edgekit.FaceAligner`
with :data:`edgekit.identity.template.IDENTITY_TEMPLATE`, exactly what ``FaceIdentifier`` does at
run time. The labelled person of an LFW image is the face nearest the image centre; when
BlazeFace finds no face, the median eye positions of the detected images are used (LFW images are
roughly centred), and the image is flagged ``detected=False``.

RGB crops (what the runtime feeds the model) and keypoints are cached under
``runs/identity/cache/`` (git-ignored); shared data is never copied into the repository.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

log = logging.getLogger(__name__)

#: Eye keypoints (image-left eye x, y, image-right eye x, y) as fractions of the image size, used
#: when no face is detected and there are no detections to take the median of.
DEFAULT_EYES = (0.40, 0.46, 0.60, 0.46)


@dataclass
class LfwIndex:
    """The images of an LFW-layout folder: ``images/<Name>/<Name>_<NNNN>.jpg``."""

    root: Path
    names: np.ndarray  # person of each image
    numbers: np.ndarray  # 1-based image number of each image

    def path(self, i: int) -> Path:
        name = str(self.names[i])
        return self.root / "images" / name / f"{name}_{int(self.numbers[i]):04d}.jpg"

    def image(self, i: int) -> np.ndarray:
        """The BGR photo of row ``i``."""
        from edgekit import load_image

        return load_image(self.path(i))

    def lookup(self) -> Dict[Tuple[str, int], int]:
        return {(str(n), int(k)): i for i, (n, k) in enumerate(zip(self.names, self.numbers))}

    def __len__(self) -> int:
        return len(self.names)


def index_lfw(root: Path, people: Optional[Sequence[str]] = None) -> LfwIndex:
    """Every ``images/<Name>/<Name>_NNNN.jpg`` under ``root`` (only ``people`` when given), sorted."""
    from edgekit.errors import InputError

    root = Path(root)
    folder = root / "images"
    if not folder.is_dir():
        raise InputError("has no images/ folder", root, "pass the LFW root (images/Name/Name_0001.jpg)")
    wanted = set(people) if people is not None else None
    names, numbers = [], []
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        if wanted is not None and person.name not in wanted:
            continue
        for image in sorted(person.glob(f"{person.name}_*.jpg")):
            names.append(person.name)
            numbers.append(int(image.stem.rsplit("_", 1)[1]))
    if not names:
        raise InputError("contains no LFW images", folder, "expected images/Name/Name_0001.jpg")
    return LfwIndex(root, np.array(names), np.array(numbers, np.int32))


def read_pairs(path: Path) -> List[Tuple[str, int, str, int, bool]]:
    """``pairsDevTrain.txt``: (name1, n1, name2, n2, same) for matched then mismatched pairs."""
    pairs = []
    for line in Path(path).read_text().splitlines()[1:]:
        f = line.split("\t")
        if len(f) == 3:
            pairs.append((f[0], int(f[1]), f[0], int(f[2]), True))
        elif len(f) == 4:
            pairs.append((f[0], int(f[1]), f[2], int(f[3]), False))
    return pairs


def centre_face(detections, width: int, height: int):
    """The detection whose box centre is nearest the image centre (LFW's labelled person); None if none."""
    centre = np.array([width / 2.0, height / 2.0])

    def distance(det) -> float:
        b = det.box
        return float(np.hypot(*(np.array([b.x + b.width / 2, b.y + b.height / 2]) - centre)))

    return min(detections, key=distance) if detections else None


def detect_eyes(index: LfwIndex, cache_dir: Path, detector_model: str = "short_range") -> Tuple[np.ndarray, np.ndarray]:
    """``(eyes [N, 4] pixels, detected [N] bool)``, cached in ``cache_dir`` per image list."""
    from tqdm import tqdm

    from edgekit import FaceDetector, load_image

    listing = [str(index.root.resolve())] + [f"{n}/{k}" for n, k in zip(index.names, index.numbers)]
    key = hashlib.sha256("\n".join(listing).encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"eyes_{detector_model}_{key}.npz"
    if cache.is_file():
        data = np.load(cache)
        return data["eyes"], data["detected"]
    eyes = np.zeros((len(index), 4), np.float64)
    detected = np.zeros(len(index), bool)
    sizes = np.zeros((len(index), 2), np.float64)
    with FaceDetector(model=detector_model, min_confidence=0.5) as detector:
        for i in tqdm(range(len(index)), desc="detect", unit="img", mininterval=10):
            bgr = load_image(index.path(i))
            sizes[i] = bgr.shape[1], bgr.shape[0]
            det = centre_face(detector.detect(bgr), bgr.shape[1], bgr.shape[0])
            if det is not None:
                eyes[i] = (*det.keypoint("right_eye"), *det.keypoint("left_eye"))
                detected[i] = True
    fallback = (np.median(eyes[detected] / np.tile(sizes[detected], 2), axis=0) if detected.sum() >= 10
                else np.array(DEFAULT_EYES))
    eyes[~detected] = fallback * np.tile(sizes[~detected], 2)
    log.info("BlazeFace found the face in %d of %d images; %d use the median eye positions %s",
             detected.sum(), len(index), (~detected).sum(), np.round(fallback, 3).tolist())
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, eyes=eyes, detected=detected)
    return eyes, detected


def align_faces(index: LfwIndex, eyes: np.ndarray, size: int) -> np.ndarray:
    """RGB ``[N, size, size, 3]`` uint8 crops by :class:`edgekit.FaceAligner` with the identity template
    (what ``FaceIdentifier`` feeds the model)."""
    from edgekit import FaceAligner, load_image
    from edgekit.identity.template import IDENTITY_TEMPLATE
    from edgekit.registry import InputSpec

    aligner = FaceAligner(InputSpec(size, size, 3, "rgb"), IDENTITY_TEMPLATE)
    crops = np.zeros((len(index), size, size, 3), np.uint8)
    for i in range(len(index)):
        e = eyes[i]
        crops[i] = aligner.align_eyes(load_image(index.path(i)), (e[0], e[1]), (e[2], e[3])).image
    return crops


@dataclass
class FaceData:
    """Aligned crops of an LFW index with their person labels."""

    index: LfwIndex
    images: np.ndarray  # [N, S, S, 3] uint8 RGB
    detected: np.ndarray  # [N] bool
    eyes: Optional[np.ndarray] = None  # [N, 4] eye keypoints the crops were aligned from

    @property
    def names(self) -> np.ndarray:
        return self.index.names

    def gray(self) -> np.ndarray:
        """``[N, S, S]`` uint8 gray (what the model's first layer computes; training input)."""
        import cv2

        return np.stack([cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) for img in self.images]) if len(self.images) else \
            np.zeros(self.images.shape[:3], np.uint8)


def load_faces(root: Path, size: int, cache_dir: Path, people: Optional[Sequence[str]] = None,
               detector_model: str = "short_range") -> FaceData:
    """Index, detect and align (cached) the LFW images of ``root``."""
    index = index_lfw(root, people)
    eyes, detected = detect_eyes(index, cache_dir, detector_model)
    key = hashlib.sha256(eyes.tobytes()).hexdigest()[:16]
    cache = Path(cache_dir) / f"crops_rgb{size}_{key}.npy"
    if cache.is_file():
        images = np.load(cache)
    else:
        images = align_faces(index, eyes, size)
        np.save(cache, images)
    return FaceData(index, images, detected, eyes)


def view_crops(index: LfwIndex, eyes: np.ndarray, size: int, view: int, rows: np.ndarray,
               cache_dir: Path) -> np.ndarray:
    """Gray ``[len(rows), size, size]`` crops of augmented view ``view`` (1, 2, ...) of the images
    ``rows``: the photo transformed by :func:`converters.identity.views.apply_view` (what the
    teacher embedded for that view), aligned by :class:`edgekit.FaceAligner` with the
    identity template from the BlazeFace eyes moved by the same matrix. Cached per view."""
    import cv2
    from tqdm import tqdm

    from converters.identity import views as views_mod
    from edgekit import FaceAligner, load_image
    from edgekit.identity.template import IDENTITY_TEMPLATE
    from edgekit.registry import InputSpec

    rows = np.asarray(rows, np.int64)
    listing = "\n".join(f"{index.names[i]}/{int(index.numbers[i])}" for i in rows)
    key = hashlib.sha256((listing + eyes[rows].tobytes().hex() + views_mod.VERSION).encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"view{int(view)}_gray{size}_{key}.npy"
    if cache.is_file():
        return np.load(cache)
    aligner = FaceAligner(InputSpec(size, size, 3, "rgb"), IDENTITY_TEMPLATE)
    crops = np.zeros((len(rows), size, size), np.uint8)
    for k, i in enumerate(tqdm(rows, desc=f"view {view} crops", unit="img", mininterval=10)):
        params = views_mod.view_params(str(index.names[i]), int(index.numbers[i]), int(view))
        moved, matrix = views_mod.apply_view(load_image(index.path(int(i))), params)
        e = views_mod.move_eyes(matrix, eyes[i])
        rgb = aligner.align_eyes(moved, (e[0], e[1]), (e[2], e[3])).image
        crops[k] = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    np.save(cache, crops)
    return crops


def image_hashes(index: LfwIndex) -> np.ndarray:
    """sha256 (hex) of every image file of ``index`` (checked against the teacher cache)."""
    from converters.identity.teacher import image_sha256

    return image_sha256([index.path(i) for i in range(len(index))])


# ---------------------------------------------------------------------------------- identity split


@dataclass
class Split:
    """People used for training and people held out (never seen in training)."""

    train_people: List[str]
    heldout_people: List[str]

    def to_dict(self) -> dict:
        return {"train_people": len(self.train_people), "heldout_people": len(self.heldout_people)}


def split_people(names: np.ndarray, heldout_fraction: float, seed: int) -> Split:
    """Random person-disjoint split (seeded): ``heldout_fraction`` of the identities are held out."""
    people = sorted(set(str(n) for n in names))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(people))
    n_held = int(round(len(people) * heldout_fraction))
    held = sorted(people[i] for i in order[:n_held])
    return Split(sorted(set(people) - set(held)), held)


def sample_pairs(names: np.ndarray, people: Sequence[str], count: int, seed: int,
                 max_per_person: int = 10) -> np.ndarray:
    """``[M, 3]`` (i, j, same) image-index pairs among ``people``: up to ``count`` matched pairs (at
    most ``max_per_person`` per person, so a few prolific people do not dominate) and as many
    mismatched pairs of random images of two different people."""
    rng = np.random.default_rng(seed)
    wanted = set(people)
    by_person: Dict[str, List[int]] = {}
    for i, n in enumerate(names):
        if str(n) in wanted:
            by_person.setdefault(str(n), []).append(i)
    positives = []
    for person in sorted(by_person):
        idx = by_person[person]
        all_pairs = [(a, b) for k, a in enumerate(idx) for b in idx[k + 1:]]
        take = rng.permutation(len(all_pairs))[:max_per_person]
        positives.extend(all_pairs[t] for t in take)
    positives = [positives[t] for t in rng.permutation(len(positives))[:count]]
    persons = sorted(by_person)
    negatives = set()
    while len(negatives) < len(positives) and len(persons) >= 2:
        p, q = rng.choice(len(persons), 2, replace=False)
        a, b = rng.choice(by_person[persons[p]]), rng.choice(by_person[persons[q]])
        negatives.add((min(a, b), max(a, b)))
    rows = [(a, b, 1) for a, b in positives] + [(a, b, 0) for a, b in sorted(negatives)]
    return np.array(rows, np.int64).reshape(-1, 3)


def lfw_pairs(index: LfwIndex, pairs_file: Path) -> Tuple[np.ndarray, int]:
    """``pairsDevTrain.txt`` as ``[M, 3]`` (i, j, same) index pairs; also how many were skipped
    because an image is missing from ``index``."""
    lookup = index.lookup()
    rows, missing = [], 0
    for n1, k1, n2, k2, same in read_pairs(pairs_file):
        a, b = lookup.get((n1, k1)), lookup.get((n2, k2))
        if a is None or b is None:
            missing += 1
            continue
        rows.append((a, b, int(same)))
    return np.array(rows, np.int64).reshape(-1, 3), missing


def save_split(path: Path, split: Split) -> None:
    Path(path).write_text(json.dumps({"train_people": split.train_people, "heldout_people": split.heldout_people}))
