"""Draw pipeline results (boxes, emotion label and score, track id, keypoints) with OpenCV."""
from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .errors import ConfigError, InputError
from .paths import write_output
from .results import FaceResult

Color = Tuple[int, int, int]

#: BGR colour per emotion label; other labels get a stable colour derived from their name.
LABEL_COLORS = {
    "neutral": (200, 200, 200),
    "happiness": (0, 215, 255),
    "surprise": (0, 140, 255),
    "sadness": (220, 120, 30),
    "anger": (40, 40, 230),
    "disgust": (60, 170, 60),
    "fear": (180, 80, 160),
    "contempt": (40, 90, 140),
}
#: Image formats :func:`save_image` can write.
IMAGE_WRITE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


def label_color(label: Optional[str]) -> Color:
    """Colour used for ``label`` (white when the face has no emotion)."""
    if label is None:
        return (255, 255, 255)
    if label in LABEL_COLORS:
        return LABEL_COLORS[label]
    h = zlib.crc32(label.encode("utf-8"))
    return (64 + h % 192, 64 + (h >> 8) % 192, 64 + (h >> 16) % 192)


def caption(face: FaceResult) -> str:
    """Text drawn above a face: ``"#3 happiness 87%"`` (track id only in video mode)."""
    parts = [] if face.track_id is None else [f"#{face.track_id}"]
    if face.emotion is not None:
        parts.append(f"{face.emotion.label} {face.emotion.score:.0%}")
    else:
        parts.append(f"face {face.detection.score:.0%}")
    return " ".join(parts)


def draw_faces(image: np.ndarray, faces: Sequence[FaceResult], *, keypoints: bool = True,
               inplace: bool = False) -> np.ndarray:
    """Return ``image`` (BGR uint8) with a box, caption and keypoints drawn for each face."""
    out = image if inplace else image.copy()
    short_side = min(out.shape[:2])
    thickness = max(1, round(short_side / 320))
    font_scale = max(0.4, short_side / 900)
    for face in faces:
        color = label_color(face.emotion.label if face.emotion else None)
        x0, y0, x1, y1 = (int(round(v)) for v in face.box.as_xyxy())
        cv2.rectangle(out, (x0, y0), (x1, y1), color, thickness, cv2.LINE_AA)
        if keypoints:
            for x, y in face.detection.keypoints:
                cv2.circle(out, (int(round(x)), int(round(y))), thickness + 1, color, -1, cv2.LINE_AA)
        _draw_caption(out, caption(face), (x0, y0, y1), color, font_scale, thickness)
    return out


def _draw_caption(img: np.ndarray, text: str, anchor: Tuple[int, int, int], color: Color, scale: float,
                  thickness: int) -> None:
    """Text on a filled band above the box (below its top edge when there is no room above)."""
    x0, y0, _ = anchor
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    pad = max(2, thickness * 2)
    top = y0 - th - base - 2 * pad
    if top < 0:
        top = max(y0, 0)
    x0 = min(max(x0, 0), max(img.shape[1] - tw - 2 * pad, 0))
    cv2.rectangle(img, (x0, top), (x0 + tw + 2 * pad, top + th + base + 2 * pad), color, -1)
    ink = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
    cv2.putText(img, text, (x0 + pad, top + pad + th), font, scale, ink, thickness, cv2.LINE_AA)


def save_image(path: Union[str, "os.PathLike[str]"], image: np.ndarray,
               inputs: Sequence[Union[str, "os.PathLike[str]"]] = ()) -> Path:
    """Encode ``image`` (BGR uint8) in the format named by ``path``'s extension and write it
    atomically (:func:`edgekit.paths.write_output`), never over one of ``inputs``."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_WRITE_EXTENSIONS:
        raise ConfigError(f"unsupported image extension {path.suffix!r}", path,
                          f"use one of {', '.join(sorted(IMAGE_WRITE_EXTENSIONS))}")
    ok, buf = cv2.imencode(ext, image)
    if not ok:
        raise InputError("could not be encoded", path)
    return write_output(path, lambda tmp: tmp.write_bytes(buf.tobytes()), inputs)
