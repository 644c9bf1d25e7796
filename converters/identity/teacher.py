"""Teacher embeddings for identity distillation: dlib's public-domain ResNet on every LFW face.

The teacher is dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (128-d, 99.38% on LFW) with
its 5-point landmark model ``shape_predictor_5_face_landmarks.dat``, from the pinned PyPI package
``face_recognition_models==0.3.0`` (its licence file is CC0 1.0 Universal; checked before every
run, its sha256 recorded) and run by ``dlib-bin`` (the ``[teacher]`` extra). That package also
holds dlib's 68-point model, which is trained on iBUG 300-W and not licensed for commercial use:
only the two files of :data:`TEACHER_FILES` are ever opened. The runtime never imports this module
(nor dlib).

Which face: the one the student learns from, i.e. the BlazeFace detection nearest the image
centre (:func:`converters.identity.data.detect_eyes`, the runtime's detector). dlib's own HOG
detector supplies the box its landmark model was trained on; the HOG face whose eyes lie nearest
BlazeFace's is used, and when HOG finds none there the box is derived from BlazeFace's eyes with
the median eye-to-box relation measured on the images where both agree. The embedding is dlib's
``compute_face_descriptor`` on its own 150-px chip aligned by the 5 landmarks.

Views: the photo, its mirror image, and ``--augment N`` augmented views
(:mod:`converters.identity.views`: rotation/scale/shift, contrast, gamma, low resolution, gray),
which the student reproduces on its own aligned crops.

Output (outside git, under ``--out``): ``teacher_<key>.npz`` with ``embeddings [V, N, 128]``
(NaN rows: a view not computed), the image list, each image's sha256, the boxes and how each was
found, plus a small JSON descriptor (cache, image list, images, model and licence files' sha256,
dlib version, CPU time per face) committed under ``reports/identity_teacher/``. The work is
single-core, checkpoints every few hundred faces into ``teacher_<key>.partial.npz`` and resumes
there after a kill; a later run with more views extends a finished cache.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgekit.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

PACKAGE = "face_recognition_models==0.3.0"
#: The two CC0 files the teacher uses and their sha256 (checked before every run). Nothing else
#: of the package is opened: its ``shape_predictor_68_face_landmarks.dat`` is not licensed for
#: commercial use.
TEACHER_FILES: Dict[str, str] = {
    "dlib_face_recognition_resnet_model_v1.dat": "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    "shape_predictor_5_face_landmarks.dat": "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
}
LICENCE = "CC0-1.0"
LICENCE_FIRST_LINE = "CC0 1.0 Universal"
BASE_VIEWS = ("photo", "mirror")
VIEWS = BASE_VIEWS  # the views ``--views`` may name; augmented views are added with ``--augment N``
DLIB_THRESHOLD = 0.6  # dlib's documented same-person Euclidean distance for this model
CHECKPOINT_EVERY = 250
INSTALL_HINT = f"pip install -e '.[teacher]' (dlib-bin and {PACKAGE})"
RERUN_HINT = "make the cache from the same data folder: python -m converters.identity teacher --data …"
SINGLE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def single_core() -> None:
    """One BLAS / OpenMP thread for dlib (set before dlib is imported; the machine is shared)."""
    for name in SINGLE_THREAD_ENV:
        os.environ.setdefault(name, "1")


def _package_folder() -> Path:
    """The installed package's folder, found without importing it (its ``__init__`` needs ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the identity teacher's models are not installed", hint=INSTALL_HINT)
    return Path(list(spec.submodule_search_locations)[0])


def teacher_files() -> Dict[str, Path]:
    """Paths of the teacher's two model files after a sha256 check."""
    folder = _package_folder() / "models"
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


def licence() -> Dict[str, str]:
    """The package's licence file, checked to be CC0 1.0 Universal: ``{"licence", "file", "sha256"}``.
    (Its metadata says "MIT license"; the licence file it ships, and dlib-models' own notes for
    these two files, say CC0 / public domain.)"""
    import importlib.metadata as metadata

    try:
        dist = metadata.distribution("face_recognition_models")
    except metadata.PackageNotFoundError as exc:
        raise ModelError("the identity teacher's models are not installed", hint=INSTALL_HINT) from exc
    files = [f for f in (dist.files or []) if Path(str(f)).name.upper().startswith(("LICENSE", "LICENCE"))]
    if not files:
        raise ModelError("face_recognition_models ships no licence file", hint=f"install {PACKAGE}")
    path = Path(str(dist.locate_file(files[0])))
    data = path.read_bytes()
    first = data.decode("utf-8", "replace").strip().splitlines()[0].strip() if data.strip() else ""
    if first != LICENCE_FIRST_LINE:
        raise ModelError(f"licence file starts with {first!r}, not {LICENCE_FIRST_LINE!r}", path,
                         f"use {PACKAGE}, whose two files of TEACHER_FILES are CC0")
    return {"licence": LICENCE, "file": str(files[0]), "sha256": hashlib.sha256(data).hexdigest()}


@dataclass
class Teacher:
    """dlib's HOG detector, 5-point landmark model and ResNet embedder, loaded once."""

    detector: object
    shape_predictor: object
    embedder: object
    version: str
    files: Dict[str, str] = field(default_factory=dict)  # name -> sha256 of what was loaded

    @classmethod
    def load(cls) -> "Teacher":
        single_core()
        try:
            import dlib
        except ImportError as exc:
            raise ModelError("dlib is not installed", hint=INSTALL_HINT) from exc
        paths = teacher_files()
        return cls(dlib.get_frontal_face_detector(),
                   dlib.shape_predictor(str(paths["shape_predictor_5_face_landmarks.dat"])),
                   dlib.face_recognition_model_v1(str(paths["dlib_face_recognition_resnet_model_v1.dat"])),
                   str(dlib.__version__), dict(TEACHER_FILES))

    def hog_boxes(self, rgb: np.ndarray) -> List[Tuple[float, float, float, float]]:
        """dlib HOG face boxes ``(left, top, right, bottom)`` at one upsampling."""
        return [(r.left(), r.top(), r.right(), r.bottom()) for r in self.detector(rgb, 1)]

    def embed(self, rgb: np.ndarray, box: Sequence[float]) -> np.ndarray:
        """128-d teacher embedding of the face in ``box``: dlib's 5 landmarks, its 150-px aligned
        chip, its ResNet (no jitter)."""
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


def image_sha256(paths: Sequence[Path]) -> np.ndarray:
    """sha256 (hex) of each image file's bytes: a cache made from other photos under the same names
    (another LFW alignment, re-encoded files) is refused by :func:`load_targets`."""
    return np.array([hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths])


def images_digest(hashes: np.ndarray) -> str:
    """One sha256 over the ordered per-image sha256s (the descriptor's ``images_sha256``)."""
    return hashlib.sha256("\n".join(str(h) for h in hashes).encode()).hexdigest()


def view_names(augment: int) -> List[str]:
    """Every view a cache with ``augment`` augmented views holds, in row order."""
    return list(BASE_VIEWS) + [f"aug{k}" for k in range(1, int(augment) + 1)]


def check_matches(cache: Dict[str, np.ndarray], names: np.ndarray, numbers: np.ndarray) -> None:
    """Refuse a teacher cache whose rows are not these faces (count, order and listing sha256)."""
    want = listing_sha256(names, numbers)
    got = str(cache["listing_sha256"])
    if len(cache["names"]) != len(names) or got != want:
        raise ConfigError(f"teacher cache covers {len(cache['names'])} faces (listing {got[:12]}…), "
                          f"the data has {len(names)} (listing {want[:12]}…)", "teacher cache",
                          "re-run `python -m converters.identity teacher` for this data folder")


def _parse_views(views: Sequence[str], augment: int) -> List[str]:
    """The views to compute: ``photo`` [``mirror``] then ``aug1..augN``."""
    if not views or any(v not in BASE_VIEWS for v in views) or list(views) != list(BASE_VIEWS[:len(views)]):
        raise ConfigError(f"views must be {BASE_VIEWS[0]!r} or {BASE_VIEWS[0]!r} and {BASE_VIEWS[1]!r}, "
                          f"got {list(views)}", "--views")
    if isinstance(augment, bool) or not isinstance(augment, (int, np.integer)) or not 0 <= augment <= 32:
        raise ConfigError(f"must be a number of augmented views from 0 to 32, got {augment!r}", "--augment")
    return list(views) + view_names(augment)[len(BASE_VIEWS):]


def _fresh_state(n: int, names: List[str]) -> Dict[str, np.ndarray]:
    return {"embeddings": np.full((len(names), n, 128), np.nan, np.float32), "view_names": np.array(names),
            "boxes": np.full((n, 4), np.nan), "box_source": np.zeros(n, np.int8), "seconds": np.zeros(1),
            "cpu_seconds": np.zeros(len(names) + 1)}  # per view, then the box pass


def _resume_state(path: Path, key: str, names: List[str]) -> Dict[str, np.ndarray]:
    """A saved state widened to ``names`` (a later run may ask for more augmented views)."""
    from converters.identity import views as views_mod

    state = dict(np.load(path))
    if str(state["listing_sha256"]) != key:
        raise ConfigError("was made for another image list", path, "move it away or pass another --out")
    if str(state.get("augment_version", views_mod.VERSION)) != views_mod.VERSION:
        raise ConfigError(f"holds views of {state['augment_version']}, this code makes {views_mod.VERSION}", path,
                          "move it away: its augmented views cannot be reproduced by the student")
    saved = [str(v) for v in state.get("view_names", BASE_VIEWS[:state["embeddings"].shape[0]])]
    width = max(len(saved), len(names))
    all_names = view_names(width - len(BASE_VIEWS))
    emb = np.full((width, state["embeddings"].shape[1], 128), np.nan, np.float32)
    for v, name in enumerate(saved):
        emb[all_names.index(name)] = state["embeddings"][v]
    cpu = np.zeros(width + 1)
    old_cpu = state.get("cpu_seconds", np.zeros(len(saved) + 1))
    for v, name in enumerate(saved):
        cpu[all_names.index(name)] = old_cpu[v]
    cpu[-1] = old_cpu[-1]
    state.update(embeddings=emb, view_names=np.array(all_names), cpu_seconds=cpu)
    state.setdefault("seconds", np.zeros(1))
    log.info("resuming from %s (views done: %s)", path,
             [n for n in all_names if np.isfinite(emb[all_names.index(n)]).all()])
    return state


def extract(root: Path, out: Path, cache_dir: Path, limit: Optional[int] = None,
            views: Sequence[str] = BASE_VIEWS, augment: int = 0,
            teacher: Optional[Teacher] = None) -> Dict[str, object]:
    """Teacher embeddings of every LFW image under ``root`` (resumable); returns the descriptor.
    ``views``: the photo, or the photo and its mirror image; ``augment``: how many augmented views
    (:mod:`converters.identity.views`) on top. ``teacher``: a loaded teacher (tests pass a stand-in)."""
    from converters.identity.data import detect_eyes, index_lfw

    index = index_lfw(root)
    if limit:
        index.names, index.numbers = index.names[:limit], index.numbers[:limit]
    eyes, detected = detect_eyes(index, cache_dir)
    return extract_source(index, eyes, detected, out, views, augment, teacher, str(root))


def extract_source(index, eyes: np.ndarray, detected: np.ndarray, out: Path, views: Sequence[str] = BASE_VIEWS,
                   augment: int = 0, teacher: Optional[Teacher] = None, data: str = "",
                   produced_by: str = "") -> Dict[str, object]:
    """Teacher embeddings of the faces of any image source (resumable); returns the descriptor.

    ``index`` has ``names``, ``numbers`` (the row ids), ``path(i)`` (the file whose bytes are
    hashed) and ``image(i)`` (the BGR photo both teacher and student start from):
    :class:`converters.identity.data.LfwIndex` or :class:`converters.identity.ferplus.FerIndex`.
    ``eyes`` [N, 4] are BlazeFace's eye keypoints of the face the student learns from."""
    from tqdm import tqdm

    from converters.identity import views as views_mod

    wanted = _parse_views(views, augment)
    n = len(index)
    hashes = image_sha256([index.path(i) for i in range(n)])
    key = listing_sha256(index.names, index.numbers)
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"teacher_{key[:16]}.npz"
    partial = out / f"teacher_{key[:16]}.partial.npz"
    teacher = teacher or Teacher.load()
    all_names = view_names(max(0, max((int(v[3:]) for v in wanted if v.startswith("aug")), default=0)))
    source_file = partial if partial.is_file() else final if final.is_file() else None
    state = _resume_state(source_file, key, all_names) if source_file else _fresh_state(n, all_names)
    if "image_sha256" in state and not np.array_equal(state["image_sha256"], hashes):
        changed = int(np.sum(state["image_sha256"] != hashes))
        raise ConfigError(f"{changed} of {n} images changed since this cache was started", source_file,
                          "move the cache away and start again")
    names_now = [str(v) for v in state["view_names"]]
    emb, boxes, source, cpu = state["embeddings"], state["boxes"], state["box_source"], state["cpu_seconds"]

    def save(path: Path, keep: Optional[Sequence[str]] = None) -> None:
        rows = [names_now.index(v) for v in keep] if keep is not None else list(range(len(names_now)))
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, embeddings=emb[rows], view_names=np.array([names_now[r] for r in rows]), boxes=boxes,
                 box_source=source, seconds=state["seconds"], cpu_seconds=np.append(cpu[rows], cpu[-1]),
                 names=index.names, numbers=index.numbers, listing_sha256=np.array(key), image_sha256=hashes,
                 augment_version=np.array(views_mod.VERSION))
        tmp.replace(path)

    started = time.monotonic() - float(state["seconds"][0])

    def checkpoint() -> None:
        state["seconds"][0] = time.monotonic() - started
        save(partial)

    # 1. Boxes: HOG (source 1) where it agrees with BlazeFace, else derived from the eyes (source 2).
    todo = [i for i in range(n) if source[i] == 0]
    clock = time.process_time()
    for k, i in enumerate(tqdm(todo, desc="teacher boxes", unit="img", mininterval=5)):
        box = pick_hog_box(teacher.hog_boxes(index.image(i)[:, :, ::-1].copy()), eyes[i])
        if box is not None:
            boxes[i], source[i] = box, 1
        else:
            source[i] = -1  # decided after the pass
        if (k + 1) % (CHECKPOINT_EVERY * 4) == 0:
            cpu[-1] += time.process_time() - clock
            clock = time.process_time()
            checkpoint()
    cpu[-1] += time.process_time() - clock
    missing = source != 1
    if missing.any():
        found = ~missing
        if not found.any():
            raise ModelError(f"dlib's HOG detector found none of the {n} faces, so no box can be derived from the eyes",
                             data, "check the data folder: LFW photos, one centred face each")
        relation = eye_box_relation(eyes[found], boxes[found])
        for i in np.flatnonzero(missing):
            boxes[i], source[i] = box_from_eyes(eyes[i], relation), 2
    # 2. Embeddings, view-major so the plain photos finish first.
    for view in wanted:
        v = names_now.index(view)
        todo = [i for i in range(n) if not np.isfinite(emb[v, i]).all()]
        clock = time.process_time()
        for k, i in enumerate(tqdm(todo, desc=f"teacher {view}", unit="face", mininterval=5)):
            rgb, box = view_input(index.image(i), boxes[i], view, str(index.names[i]), int(index.numbers[i]))
            emb[v, i] = teacher.embed(rgb, box)
            if (k + 1) % CHECKPOINT_EVERY == 0:
                cpu[v] += time.process_time() - clock
                clock = time.process_time()
                checkpoint()
        cpu[v] += time.process_time() - clock
    state["seconds"][0] = time.monotonic() - started
    done = [name for v, name in enumerate(names_now) if np.isfinite(emb[v]).all()]
    save(final, done)
    if len(done) == len(names_now):
        partial.unlink(missing_ok=True)
    else:
        save(partial)  # the other views can still be computed later
    return describe(final, data, detected, source, teacher.version, teacher.files, produced_by)


def view_input(bgr: np.ndarray, box: np.ndarray, view: str, name: str, number: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(RGB image, dlib box)`` the teacher embeds for ``view`` of one photo."""
    from converters.identity import views as views_mod

    if view == "photo":
        return np.ascontiguousarray(bgr[:, :, ::-1]), box
    if view == "mirror":
        w = bgr.shape[1]
        return np.ascontiguousarray(bgr[:, ::-1, ::-1]), np.array([w - 1 - box[2], box[1], w - 1 - box[0], box[3]])
    if view.startswith("aug"):
        moved, matrix = views_mod.apply_view(bgr, views_mod.view_params(name, number, int(view[3:])))
        return np.ascontiguousarray(moved[:, :, ::-1]), views_mod.move_box(matrix, box)
    raise ValueError(f"unknown view {view!r}")


def describe(path: Path, root: Path, detected: np.ndarray, source: np.ndarray, dlib_version: str,
             files: Optional[Dict[str, str]] = None, produced_by: str = "") -> Dict[str, object]:
    """The committed descriptor of a teacher cache: what it holds and how to make it again."""
    data = np.load(path)
    emb = data["embeddings"]
    names = [str(v) for v in data["view_names"]]
    cpu = data["cpu_seconds"]
    faces = int(emb.shape[1])
    augment = sum(v.startswith("aug") for v in names)
    base = [v for v in names if v in BASE_VIEWS]
    try:
        licence_file = licence()
    except ModelError:  # descriptors of stand-in teachers (tests) have no installed package
        licence_file = None
    return {
        "cache_file": path.name,
        "cache_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "embeddings_sha256": hashlib.sha256(np.ascontiguousarray(emb).tobytes()).hexdigest(),
        "listing_sha256": str(data["listing_sha256"]),
        "images_sha256": images_digest(data["image_sha256"]),
        "faces": faces,
        "views": names,
        "augment_version": str(data["augment_version"]),
        "dim": int(emb.shape[2]),
        "blazeface_found": int(detected.sum()),
        "box_from_hog": int((source == 1).sum()),
        "box_from_eyes": int((source == 2).sum()),
        "seconds": round(float(data["seconds"][0]), 1),
        "cpu_ms_per_face": {**{v: round(1000 * float(cpu[k]) / max(faces, 1), 1) for k, v in enumerate(names)},
                            "boxes": round(1000 * float(cpu[-1]) / max(faces, 1), 1)},
        "teacher": {"package": PACKAGE, "files": TEACHER_FILES if files is None else files, "licence": LICENCE,
                    "licence_file": licence_file,
                    "dlib": dlib_version, "runner": "dlib-bin", "chip": "dlib 5-point aligned 150 px, no jitter",
                    "never_used": "shape_predictor_68_face_landmarks.dat "
                                  "(iBUG 300-W, not licensed for commercial use)"},
        "data": str(root),
        "produced_by": produced_by or ("python -m converters.identity teacher --data " + str(root) + " --views "
                                       + " ".join(base) + (f" --augment {augment}" if augment else "")),
    }


def verify_pairs(emb: np.ndarray, pairs: np.ndarray) -> Dict[str, float]:
    """The teacher's own verification accuracy on ``[M, 3]`` (i, j, same) pairs at dlib's 0.6."""
    d = np.linalg.norm(emb[pairs[:, 0]] - emb[pairs[:, 1]], axis=1)
    same = pairs[:, 2] == 1
    return {"pairs": int(len(pairs)), "accuracy_at_0.6": float(np.mean((d < DLIB_THRESHOLD) == same))}


def resolve_cache(path: Path, names: Optional[np.ndarray] = None, numbers: Optional[np.ndarray] = None) -> Path:
    """The cache file for ``path``: the file itself, or in a folder (``runs/identity_teacher``) the
    finished ``teacher_<key>.npz``: the one made for this image list when ``names``/``numbers`` are
    given and it exists, else the only one there."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise ConfigError("teacher cache not found", path,
                          "run `python -m converters.identity teacher --data …` first")
    found = sorted(p for p in path.glob("teacher_*.npz") if p.name.count(".") == 1)
    if names is not None and numbers is not None:
        exact = path / f"teacher_{listing_sha256(names, numbers)[:16]}.npz"
        if exact.is_file():
            return exact
    if len(found) == 1:
        return found[0]
    if not found:
        partial = sorted(path.glob("teacher_*.partial.npz"))
        raise ConfigError("holds no finished teacher cache" + (f" (unfinished: {partial[0].name})" if partial else ""),
                          path, "run (or let finish) `python -m converters.identity teacher --data …`")
    raise ConfigError(f"holds {len(found)} teacher caches ({', '.join(p.name for p in found)})", path,
                      "pass the .npz file itself")


@dataclass
class TeacherTargets:
    """Raw teacher embeddings of a list of faces: ``base`` (the photo's, averaged with the mirror
    image's when computed) and one array per augmented view."""

    base: np.ndarray  # [N, D]
    augmented: Dict[str, np.ndarray]  # "aug1" -> [N, D]
    views: List[str]  # views the cache holds, all finished
    path: Path


def load_teacher(path: Path, names: np.ndarray, numbers: np.ndarray,
                 hashes: Optional[np.ndarray] = None, base_views: Sequence[str] = BASE_VIEWS) -> TeacherTargets:
    """Teacher embeddings of the faces ``(names, numbers)``, looked up by name and number in the
    cache at ``path``. Refused (ConfigError, with what to do) when the cache lacks any of them,
    holds unfinished rows, or, given ``hashes`` (each image file's sha256), was made from other image
    files; the faces' count, order and bytes must match. ``base_views``: which of the photo and
    its mirror image the base target averages (those the cache holds)."""
    from converters.identity import views as views_mod

    path = Path(path)
    if not path.is_file():
        raise ConfigError("teacher cache not found", path,
                          "run `python -m converters.identity teacher --data …` first")
    cache = np.load(path)
    emb = cache["embeddings"].astype(np.float64)
    lookup = {(str(n), int(k)): i for i, (n, k) in enumerate(zip(cache["names"], cache["numbers"]))}
    rows = [lookup.get((str(n), int(k))) for n, k in zip(names, numbers)]
    missing = [f"{n}_{int(k):04d}" for (n, k), r in zip(zip(names, numbers), rows) if r is None]
    if missing:
        raise ConfigError(f"teacher cache has no embedding for {len(missing)} of {len(rows)} faces "
                          f"(e.g. {', '.join(missing[:3])})", path, RERUN_HINT)
    if hashes is not None:
        if "image_sha256" not in cache:
            raise ConfigError("teacher cache records no image sha256, so its faces cannot be checked", path, RERUN_HINT)
        stored = cache["image_sha256"][rows]
        differ = [f"{n}_{int(k):04d}" for n, k, a, b in zip(names, numbers, stored, hashes) if str(a) != str(b)]
        if differ:
            raise ConfigError(f"teacher cache was made from other image files: {len(differ)} of {len(rows)} faces "
                              f"differ in sha256 (e.g. {', '.join(differ[:3])})", path, RERUN_HINT)
    view_list = [str(v) for v in cache["view_names"]] if "view_names" in cache else list(BASE_VIEWS[:emb.shape[0]])
    if any(v.startswith("aug") for v in view_list) and str(cache.get("augment_version", "")) != views_mod.VERSION:
        raise ConfigError(f"teacher cache's augmented views are {cache['augment_version']}, the student makes "
                          f"{views_mod.VERSION}", path, RERUN_HINT)
    picked = emb[:, rows]
    if not np.isfinite(picked).all():
        raise ConfigError("teacher cache holds unfinished rows", path,
                          "let `python -m converters.identity teacher` finish")
    if not set(base_views) <= set(BASE_VIEWS) or not any(v in view_list for v in base_views):
        raise ConfigError(f"base views {list(base_views)} are not among the cache's {view_list} "
                          f"(choose from {list(BASE_VIEWS)})", path, "set teacher_base_views to views the cache holds")
    base = np.mean([picked[view_list.index(v)] for v in base_views if v in view_list], axis=0)
    augmented = {v: picked[k].astype(np.float32) for k, v in enumerate(view_list) if v.startswith("aug")}
    return TeacherTargets(base.astype(np.float32), augmented, view_list, path)


def load_targets(path: Path, names: np.ndarray, numbers: np.ndarray, hashes: Optional[np.ndarray] = None) -> np.ndarray:
    """``[N, 128]`` base teacher embeddings (the photo's, averaged with the mirror image's when
    computed) of the faces ``(names, numbers)``; see :func:`load_teacher`. Training uses
    :func:`centred_targets` of these."""
    return load_teacher(path, names, numbers, hashes).base


def centred_targets(raw: np.ndarray, rows: np.ndarray, mean: Optional[np.ndarray] = None) -> np.ndarray:
    """Unit teacher targets after subtracting the mean over ``rows`` (the training faces), or
    ``mean`` when given (augmented views are centred on the photos' mean).

    dlib's embeddings share a large common direction: two different people's vectors have a
    cosine of about 0.83 (same person 0.95), so a student that outputs the mean direction already
    scores 1 - cos = 0.12 without telling anyone apart. Centred, different people are at about
    0 +- 0.17 and the same person at about 0.72, so matching the teacher means learning identity."""
    centred = raw - (raw[rows].mean(axis=0) if mean is None else mean)
    return (centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)).astype(np.float32)
