"""Seed inputs for the fuzz targets: small image files of every format/mode edgekit decodes, built
from a real face (so mutated files that still decode exercise detection, alignment and the
classifier), and a helper that rewrites the dimensions in an image header (decompression bombs)."""
from __future__ import annotations

import functools
import io
import struct
import zlib
from typing import Dict, Tuple

import cv2
import numpy as np
from PIL import Image

#: (format, Pillow mode, save options) of every seed file.
SEED_SPECS: Tuple[Tuple[str, str, dict], ...] = (
    ("PNG", "RGB", {}),
    ("PNG", "RGBA", {}),
    ("PNG", "P", {}),
    ("PNG", "LA", {}),
    ("PNG", "I;16", {}),
    ("JPEG", "RGB", {"quality": 80}),
    ("JPEG", "L", {"progressive": True}),
    ("JPEG", "CMYK", {}),
    ("GIF", "P", {}),
    ("BMP", "RGB", {}),
    ("TIFF", "RGB", {"compression": "tiff_lzw"}),
    ("TIFF", "CMYK", {}),
    ("TIFF", "I;16", {}),
    ("WEBP", "RGBA", {"quality": 80}),
)


@functools.lru_cache(maxsize=None)
def face_rgb(size: int = 96) -> np.ndarray:
    """RGB uint8 ``size`` x ``size`` crop around the astronaut's face (edgekit's bundled demo photo)."""
    from edgekit.assets import demo_photo

    rgb = np.asarray(Image.open(demo_photo()).convert("RGB"))
    crop = rgb[40:230, 130:320]  # face at about (177, 82, 95x95) in the 512x512 photo
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))


def encode(rgb: np.ndarray, fmt: str, mode: str, **options) -> bytes:
    """``rgb`` saved as ``fmt`` in Pillow ``mode`` (16-bit gray scaled from the green channel)."""
    if mode == "I;16":
        img = Image.fromarray(rgb[..., 1].astype(np.uint16) * 257)
    else:
        img = Image.fromarray(rgb).convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


@functools.lru_cache(maxsize=None)
def seed_files() -> Dict[str, bytes]:
    """``"<FORMAT>-<mode>"`` -> file bytes, one per :data:`SEED_SPECS` entry."""
    rgb = face_rgb()
    return {f"{fmt}-{mode}": encode(rgb, fmt, mode, **opts) for fmt, mode, opts in SEED_SPECS}


def set_dims(data: bytes, width: int, height: int) -> bytes:
    """``data`` (PNG, GIF, BMP or JPEG) with the header claiming ``width`` x ``height`` pixels;
    other formats (and JPEGs without a baseline/progressive SOF marker) come back unchanged."""
    out = bytearray(data)
    if out[:8] == b"\x89PNG\r\n\x1a\n":  # IHDR: width, height big-endian at 16/20, CRC at 29
        out[16:24] = struct.pack(">II", width & 0x7FFFFFFF, height & 0x7FFFFFFF)
        out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])) & 0xFFFFFFFF)
    elif out[:3] == b"GIF":  # logical screen size, little-endian uint16
        out[6:10] = struct.pack("<HH", width & 0xFFFF, height & 0xFFFF)
    elif out[:2] == b"BM":  # BITMAPINFOHEADER: int32 width/height
        out[18:26] = struct.pack("<ii", width & 0x7FFFFFFF, height & 0x7FFFFFFF)
    elif out[:2] == b"\xff\xd8":
        for marker in (b"\xff\xc0", b"\xff\xc2"):
            at = out.find(marker)
            if at > 0:  # SOF: length(2) precision(1) height(2) width(2)
                out[at + 5:at + 9] = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
                break
    return bytes(out)
