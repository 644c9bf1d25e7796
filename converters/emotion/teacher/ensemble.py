"""The kept fold teachers as one ensemble: their descriptor, its sha256 check, and labels for new faces.

``train`` keeps each fold's final weights (``fold_<k>.pt``) in its run folder (under ``runs/``,
git-ignored) and describes them in ``teacher_weights.json`` (file, bytes and sha256 of each,
the network and its arguments, the input the folds were trained on, the label order, the
command and the commit); ``report`` copies that JSON into ``reports/emotion_teacher/``.
:func:`load` refuses any weight file whose sha256 is not the descriptor's, and :func:`label`
runs every fold over new faces exactly as the folds scored the validation faces
(:func:`~converters.emotion.teacher.train_torch.predict`: gray, resized to the packed face
size, pixels / 255, bilinear to the network input, ``(x - 0.5) / 0.25``, mean with the
mirror) and averages the folds' probabilities.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from converters.emotion.data import EMOTIONS, IMAGE_SUFFIXES
from converters.emotion.teacher.pack import decode
from edgekit.errors import InputError

DESCRIPTOR = "teacher_weights.json"
#: How :func:`label` prepares a face; recorded in the descriptor and checked when loading.
PREPROCESS = ("gray uint8 resized (INTER_AREA) to image_size, / 255, bilinear to input_size, (x - 0.5) / 0.25, "
              "softmax averaged with the horizontal mirror")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(cfg, folder: Path, image_size: int, command: str, commit: str) -> Dict:
    """The descriptor of the ``cfg.folds`` weight files under ``folder`` (see the module docstring)."""
    files = []
    for k in range(cfg.folds):
        path = folder / f"fold_{k}.pt"
        files.append({"fold": k, "file": path.name, "bytes": path.stat().st_size, "sha256": sha256(path)})
    return {"architecture": {"builder": "converters.emotion.teacher.train_torch.build_net",
                             "arguments": {"arch": cfg.arch, "num_classes": len(EMOTIONS)}},
            "input": {"image_size": int(image_size), "input_size": int(cfg.input_size), "colour": "gray",
                      "preprocess": PREPROCESS},
            "labels": list(EMOTIONS), "ensemble": "mean of the folds' probabilities", "seed": cfg.seed,
            "files": files, "produced_by": command, "source_commit": commit}


def write_descriptor(descriptor: Dict, folder: Path) -> Path:
    path = Path(folder) / DESCRIPTOR
    path.write_text(json.dumps(descriptor, indent=1) + "\n")
    return path


def _retrain_hint(descriptor: Optional[Dict] = None) -> str:
    command = (descriptor or {}).get("produced_by") or "python -m converters.emotion.teacher train --pack ... --out ..."
    return (f"weights are kept only where `train` ran (runs/, git-ignored); retrain with `{command}` and pass "
            f"its folds folder (runs/emotion_teacher/folds by default)")


def read_descriptor(path: Path) -> Dict:
    """The descriptor at ``path``; InputError when it is missing, unreadable or for other labels."""
    path = Path(path)
    if not path.is_file():
        raise InputError("does not exist", path, "the shipped teacher kept no weights (reports/emotion_teacher/"
                         "report.md); " + _retrain_hint())
    try:
        descriptor = json.loads(path.read_text())
        files, labels = descriptor["files"], descriptor["labels"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"is not a {DESCRIPTOR} ({exc})", path, "pass the file `train` wrote") from None
    if labels != list(EMOTIONS) or descriptor["input"]["preprocess"] != PREPROCESS or not files:
        raise InputError("describes another label order, preprocessing or no weights", path,
                         "label with the code of the commit it names: "
                         f"{descriptor.get('source_commit') or 'unknown'}")
    return descriptor


def load(weights: Path, descriptor_path: Optional[Path] = None, device: str = "cpu") -> Tuple[List, Dict, str]:
    """Every fold network listed by the descriptor (``weights/teacher_weights.json`` unless given),
    read from ``weights``, in eval mode on ``device``; with the descriptor and its sha256.

    InputError naming the file when a weight file is missing or its sha256 is not the descriptor's.
    """
    import torch

    from converters.emotion.teacher.train_torch import build_net

    weights = Path(weights)
    descriptor_path = Path(descriptor_path) if descriptor_path else weights / DESCRIPTOR
    descriptor = read_descriptor(descriptor_path)
    nets = []
    for entry in descriptor["files"]:
        path = weights / entry["file"]
        if not path.is_file():
            raise InputError("does not exist", path, _retrain_hint(descriptor))
        actual = sha256(path)
        if actual != entry["sha256"]:
            raise InputError(f"sha256 {actual} differs from {entry['sha256']} in {descriptor_path}", path,
                             "this is not the fold those labels were made with (retrained, copied from another "
                             f"run or damaged): pass the folder of the run that wrote {descriptor_path.name}, or "
                             + _retrain_hint(descriptor))
        net = build_net(**descriptor["architecture"]["arguments"])
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        nets.append(net.to(device).eval())
    return nets, descriptor, sha256(descriptor_path)


def label(nets: Sequence, descriptor: Dict, images: np.ndarray, device: str = "cpu",
          batch: int = 1024) -> Tuple[np.ndarray, np.ndarray]:
    """``[N, S, S]`` gray uint8 faces -> (the ensemble's ``[N, 8]`` probabilities, each fold's ``[F, N, 8]``)."""
    import torch

    from converters.emotion.teacher.train_torch import predict

    size, input_size = descriptor["input"]["image_size"], descriptor["input"]["input_size"]
    images = np.asarray(images, np.uint8)
    if images.ndim != 3:
        raise InputError(f"faces of shape {images.shape} are not [N, H, W] gray", "images",
                         "pass gray uint8 crops")
    if images.shape[1:] != (size, size):
        images = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in images]
                          ) if len(images) else np.zeros((0, size, size), np.uint8)
    x = torch.from_numpy(images).to(device).float().div_(255).unsqueeze(1)
    folds = np.stack([predict(net, x, input_size, batch) for net in nets]).astype(np.float32)
    return folds.mean(axis=0), folds


def read_faces(path: Path) -> Tuple[np.ndarray, List[str]]:
    """Gray uint8 faces and their names from a folder of image files (searched recursively; names
    are paths relative to it) or an ``.npz`` with ``names`` and either ``images`` ``[N, H, W]`` uint8
    or ``webp`` + ``offsets`` (lossless WebP, as ``crops`` writes them)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError("holds no image files", path, f"expected {', '.join(IMAGE_SUFFIXES)} face crops")
        faces = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in files]
        bad = [str(p) for p, f in zip(files, faces) if f is None]
        if bad:
            raise InputError(f"{len(bad)} image(s) could not be read (first: {bad[0]})", path,
                             "remove or re-write them")
        shapes = {f.shape for f in faces}
        if len(shapes) > 1:
            raise InputError(f"holds crops of several sizes {sorted(shapes)[:3]}", path,
                             "write every crop at one size (the aligner's output size)")
        return np.stack(faces), [p.relative_to(path).as_posix() for p in files]
    if path.suffix == ".npz" and path.is_file():
        try:
            with np.load(path) as z:
                images = decode(z["webp"], z["offsets"]) if "webp" in z.files else z["images"]
                names = [str(n) for n in z["names"]] if "names" in z.files else [str(i) for i in range(len(images))]
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"is not an .npz of 'images' or 'webp' + 'offsets' ({exc})", path,
                             "write images [N, H, W] uint8 and names")
        if images.dtype != np.uint8 or images.ndim != 3 or len(names) != len(images):
            raise InputError(f"holds images {images.dtype} {images.shape} and {len(names)} names", path,
                             "write gray uint8 images [N, H, W] and one name per image")
        return images, names
    raise InputError("is neither a folder of images nor an .npz", path, "pass a folder of face crops or an .npz")


def write_labels(path: Path, names: Sequence[str], probs: np.ndarray, descriptor: Dict,
                 descriptor_sha256: str) -> Path:
    """``names`` + ``probs`` (readable by :func:`converters.emotion.teacher.labels.teacher_probabilities`),
    the label order and the sha256s of the descriptor and of each fold it lists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, names=np.array(list(names)), probs=np.asarray(probs, np.float32),
                        labels=np.array(descriptor["labels"]), descriptor_sha256=np.array(descriptor_sha256),
                        fold_sha256=np.array([f["sha256"] for f in descriptor["files"]]))
    return path
