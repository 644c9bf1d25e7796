"""Pack face sets into one ``.npz`` (lossless WebP per face) that travels to a GPU machine.

48x48 gray faces compress to ~1.6 kB each as lossless WebP against ~2.2 kB with zlib, which
keeps FER+ train + validation under the 64 MiB that a device call carries. The file is a
plain ``np.load``-able archive (no pickle): per split ``<split>_webp`` (concatenated bytes),
``<split>_offsets``, ``<split>_votes`` and ``<split>_names``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple

import cv2
import numpy as np

SPLITS = ("train", "val")


def encode(images: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Lossless WebP bytes of each ``[N, S, S]`` uint8 image, concatenated, and their offsets."""
    blobs = []
    for img in images:
        ok, buf = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, 101])  # > 100: lossless
        if not ok:
            raise RuntimeError("OpenCV could not encode WebP")
        blobs.append(buf.ravel())
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    return (np.concatenate(blobs) if blobs else np.zeros(0, np.uint8)), offsets


def decode(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode`: ``[N, S, S]`` uint8."""
    images = [cv2.imdecode(blob[a:b], cv2.IMREAD_GRAYSCALE) for a, b in zip(offsets[:-1], offsets[1:])]
    return np.stack(images) if images else np.zeros((0, 48, 48), np.uint8)


def pack(sets: Dict[str, "object"], path: Path) -> Path:
    """Write ``{"train": FaceSet, "val": FaceSet}`` to ``path``; checks that the faces decode exactly."""
    arrays = {}
    for split in SPLITS:
        faces = sets[split]
        blob, offsets = encode(faces.images)
        if not np.array_equal(decode(blob, offsets), faces.images):
            raise RuntimeError(f"{split}: WebP round trip is not lossless in this OpenCV build")
        arrays.update({f"{split}_webp": blob, f"{split}_offsets": offsets,
                       f"{split}_votes": faces.votes.astype(np.float32),
                       f"{split}_names": np.array(faces.names)})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def unpack(path: Path, images: bool = True) -> Dict[str, Dict[str, np.ndarray]]:
    """``{split: {"images", "votes", "names"}}`` from a file written by :func:`pack`
    (without ``"images"`` when ``images`` is false: nothing is decoded)."""
    with np.load(path) as z:
        return {split: {"votes": z[f"{split}_votes"], "names": z[f"{split}_names"],
                        **({"images": decode(z[f"{split}_webp"], z[f"{split}_offsets"])} if images else {})}
                for split in SPLITS}
