"""Image and box helpers for meme rendering: input conversion, the size policy, box geometry.

Size policy: memes are drawn on an image whose long side is at most :data:`MAX_SIDE` and whose
short side is at least :data:`MIN_SIDE` (when the long side allows it): huge photos are
downscaled, thumbnails upscaled, so captions stay readable and outputs stay small.
"""
from __future__ import annotations

from typing import Any, Iterable, List, Optional, Tuple

import numpy as np
from PIL import Image

from ..errors import ConfigError, ImageReadError

#: Longest side of a meme, in pixels.
MAX_SIDE = 1280
#: Shortest side a meme is upscaled to (when the long side stays within MAX_SIDE).
MIN_SIDE = 360

#: (x0, y0, x1, y1) in pixels.
Box = Tuple[float, float, float, float]


def to_rgb_image(image: Any) -> Image.Image:
    """An RGB Pillow image from a Pillow image (alpha composited on white), a BGR array or a path."""
    if isinstance(image, Image.Image):
        if image.width < 1 or image.height < 1:
            raise ImageReadError("image has no pixels", f"Image(size={image.size})", "pass a non-empty image")
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
        return image.convert("RGB") if image.mode != "RGB" else image
    from ..imageio import load_image

    bgr = load_image(image)
    return Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))


def fit_scale(width: int, height: int, max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> float:
    """Resize factor applying the size policy to a ``width`` x ``height`` image."""
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, max_side / long_side)
    if short_side * scale < min_side:
        scale = min(min_side / short_side, max_side / long_side)
    return scale


def resized(image: Image.Image, scale: float) -> Image.Image:
    """``image`` scaled by ``scale`` (Lanczos; reduced first when shrinking a lot)."""
    if abs(scale - 1.0) < 1e-6:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0 if scale < 0.5 else None)


def normalized(image: Any, max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> Tuple[Image.Image, float]:
    """``(rgb_image, scale)``: the input converted and resized by the size policy. Arrays and
    paths are shrunk with OpenCV before the RGB copy is made (a 100 MP photo costs one copy)."""
    if isinstance(image, Image.Image):
        rgb = to_rgb_image(image)
        scale = fit_scale(rgb.width, rgb.height, max_side, min_side)
        return resized(rgb, scale), scale
    import cv2

    from ..imageio import load_image

    bgr = load_image(image)
    scale = fit_scale(bgr.shape[1], bgr.shape[0], max_side, min_side)
    if scale < 1.0:
        size = (max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale)))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    return resized(Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])), max(scale, 1.0)), scale


# ------------------------------------------------------------------------------ boxes


def as_box(value: Any) -> Box:
    """A box from a :class:`~edgekit.BoundingBox`, a :class:`~edgekit.FaceResult` or ``(x0, y0, x1, y1)``."""
    box = getattr(value, "box", value)
    if hasattr(box, "as_xyxy"):
        return tuple(float(v) for v in box.as_xyxy())  # type: ignore[return-value]
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ConfigError("is not a box", repr(value)[:80],
                          "pass (x0, y0, x1, y1), a BoundingBox, a FaceResult, or a list of them") from None
    if not all(np.isfinite((x0, y0, x1, y1))) or x1 < x0 or y1 < y0:
        raise ConfigError("is not a valid box (need finite x0 <= x1, y0 <= y1)", repr(value)[:80])
    return (x0, y0, x1, y1)


def as_boxes(avoid: Any) -> List[Box]:
    """A list of boxes from None, one box-like value, or a sequence of them."""
    if avoid is None:
        return []
    numbers = (int, float, np.number)
    if isinstance(avoid, (list, tuple)) and not (len(avoid) == 4 and all(isinstance(v, numbers) for v in avoid)):
        return [as_box(v) for v in avoid]
    return [as_box(avoid)]


def scale_box(box: Box, scale: float, dx: float = 0.0, dy: float = 0.0) -> Box:
    return (box[0] * scale + dx, box[1] * scale + dy, box[2] * scale + dx, box[3] * scale + dy)


def union(boxes: Iterable[Box]) -> Optional[Box]:
    boxes = list(boxes)
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def expand(box: Box, size: Tuple[int, int], left: float, top: float, right: float, bottom: float) -> Box:
    """``box`` grown by fractions of its width/height on each side, clipped to the image ``size``."""
    w, h = box[2] - box[0], box[3] - box[1]
    return (max(0.0, box[0] - left * w), max(0.0, box[1] - top * h),
            min(float(size[0]), box[2] + right * w), min(float(size[1]), box[3] + bottom * h))


def intersects(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


__all__ = ["MAX_SIDE", "MIN_SIDE", "Box", "to_rgb_image", "fit_scale", "resized", "normalized", "as_box", "as_boxes",
           "scale_box", "union", "expand", "intersects"]
