"""Does the photo default's keypoint refinement move identity? LFW pairsDevTrain through the runtime's
identity embedder, with whole-frame keypoints (``FaceDetector()``) and with the refined ones
(``close_up`` + ``luma_keypoints``, the Pipeline's image mode): AUC, and TAR/FAR at the shipped
threshold. The people of these pairs overlap the identity model's training, so it is a relative check::

    python -m converters.checks.keypoints_identity --lfw ../shared/data/lfw
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from edgekit import FaceDetector
from edgekit.errors import ConfigError
from edgekit.identity import FaceIdentifier

Photo = Tuple[str, int]


def read_pairs(lfw: Path) -> List[Tuple[Photo, Photo, int]]:
    """``pairsDevTrain.txt``: (photo, photo, 1 same person / 0 different people)."""
    path = lfw / "pairsDevTrain.txt"
    if not path.is_file():
        raise ConfigError("holds no pairsDevTrain.txt", lfw, "pass the LFW folder with --lfw")
    pairs = []
    for line in path.read_text().split("\n")[1:]:
        t = line.split()
        if len(t) == 3:
            pairs.append(((t[0], int(t[1])), (t[0], int(t[2])), 1))
        elif len(t) == 4:
            pairs.append(((t[0], int(t[1])), (t[2], int(t[3])), 0))
    return pairs


def scores(lfw: Path, pairs, detector: FaceDetector, identifier: FaceIdentifier) -> Tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of each pair's embeddings (the face nearest each photo's centre), and its label."""
    cache: Dict[Photo, Optional[np.ndarray]] = {}

    def embed(photo: Photo) -> Optional[np.ndarray]:
        if photo not in cache:
            bgr = cv2.imread(str(lfw / "images" / photo[0] / f"{photo[0]}_{photo[1]:04d}.jpg"))
            found = detector.detect(bgr) if bgr is not None else []
            if not found:
                cache[photo] = None
            else:
                h, w = bgr.shape[:2]
                face = min(found, key=lambda d: np.hypot(d.box.x + d.box.width / 2 - w / 2,
                                                         d.box.y + d.box.height / 2 - h / 2))
                e = identifier._embed_checked(bgr, face)
                cache[photo] = e / np.linalg.norm(e)
        return cache[photo]

    s, y = [], []
    for a, b, same in tqdm(pairs, desc="pairs", file=sys.stderr, mininterval=2.0):
        ea, eb = embed(a), embed(b)
        if ea is not None and eb is not None:
            s.append(float(ea @ eb))
            y.append(same)
    return np.array(s), np.array(y)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters.checks.keypoints_identity",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, required=True, help="LFW folder (images/, pairsDevTrain.txt)")
    args = parser.parse_args(argv)
    pairs = read_pairs(args.lfw)
    with FaceIdentifier() as identifier:
        threshold = identifier.threshold
        for name, detector in (("whole-frame keypoints", FaceDetector()),
                               ("refined keypoints", FaceDetector(close_up=True, luma_keypoints=True))):
            s, y = scores(args.lfw, pairs, detector, identifier)
            auc = float((s[y == 1][:, None] > s[y == 0][None, :]).mean())
            print(f"{name}: {len(s)} pairs, AUC {auc:.4f}, at the shipped threshold {threshold:.4f}: "
                  f"TAR {(s[y == 1] >= threshold).mean():.3f}, FAR {(s[y == 0] >= threshold).mean():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
