"""The files the README's and the docs' examples run on (tests/support/test_readme.py,
test_docs_examples.py): the bundled astronaut photo under each name the documents use, a folder
``photos/`` of two photos and a 20-frame clip ``clip.mp4``."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

PHOTO = Path(__file__).resolve().parents[1] / "edgekit" / "assets" / "astronaut.png"


def write_example_files(work: Path, names: Sequence[str]) -> np.ndarray:
    """Writes the files into ``work``; returns the photo (BGR), for files of a document's own."""
    import cv2

    from edgekit.imageio import load_image

    bgr = load_image(PHOTO)
    for name in names:
        cv2.imwrite(str(work / name), bgr)
    (work / "photos").mkdir()
    for name in ("one.jpg", "two.jpg"):
        cv2.imwrite(str(work / "photos" / name), bgr)
    small = cv2.resize(bgr, (256, 256))
    writer = cv2.VideoWriter(str(work / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (256, 256))
    for k in range(20):
        writer.write(np.roll(small, k, axis=1))
    writer.release()
    return bgr
