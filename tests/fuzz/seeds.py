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
    ("TIFF", "I", {"compression": "tiff_adobe_deflate"}),
    ("TIFF", "F", {}),
    ("WEBP", "RGBA", {"quality": 80}),
)


@functools.lru_cache(maxsize=None)
def face_rgb(size: int = 96) -> np.ndarray:
    """RGB uint8 ``size`` x ``size`` crop around the astronaut's face (edgekit's bundled demo photo)."""
    from edgekit.assets import demo_photo

    rgb = np.asarray(Image.open(demo_photo()).convert("RGB"))
    crop = rgb[40:230, 130:320]  # face at about (177, 82, 95x95) in the 512x512 photo
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))


#: Gray modes wider than 8 bits, made from the green channel: 16-bit, 32-bit integer (both 0..65535)
#: and float (0..1, as edgekit's contract for float pixels says).
_WIDE_GRAY = {"I;16": lambda g: g.astype(np.uint16) * 257, "I": lambda g: g.astype(np.int32) * 257,
              "F": lambda g: g.astype(np.float32) / 255}


def encode(rgb: np.ndarray, fmt: str, mode: str, **options) -> bytes:
    """``rgb`` saved as ``fmt`` in Pillow ``mode`` (wide gray modes from the green channel)."""
    if mode in _WIDE_GRAY:
        img = Image.fromarray(_WIDE_GRAY[mode](rgb[..., 1]))
    else:
        img = Image.fromarray(rgb).convert(mode)
    return _saved(img, fmt, **options)


@functools.lru_cache(maxsize=None)
def seed_files() -> Dict[str, bytes]:
    """``"<FORMAT>-<mode>"`` -> file bytes, one per :data:`SEED_SPECS` entry, and the
    :func:`metadata_files` (valid images with odd or damaged metadata)."""
    rgb = face_rgb()
    files = {f"{fmt}-{mode}": encode(rgb, fmt, mode, **opts) for fmt, mode, opts in SEED_SPECS}
    return {**files, **metadata_files(rgb)}


#: EXIF payloads Pillow warns about ("Corrupt EXIF data", "Tag data larger than file"): a TIFF
#: header whose first directory is cut short, and an orientation tag pointing past the block.
DAMAGED_EXIF = {
    "cut-directory": b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + bytes(20),
    "tag-past-the-end": (b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00"
                         + struct.pack("<HHII", 0x0112, 3, 1000, 50) + bytes(8)),
}


def with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """``jpeg`` with an APP1 segment (where EXIF lives) holding ``payload``, right after SOI."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def metadata_files(rgb: np.ndarray) -> Dict[str, bytes]:
    """Valid images whose metadata is odd or damaged (decoded, the metadata skipped): a JPEG with a
    damaged EXIF block, a two-picture MPO as phone cameras write, and an MPO whose MP header is
    malformed (Pillow decodes it as a plain JPEG, with a warning)."""
    img = Image.fromarray(rgb)
    mpo = _saved(img, "MPO", save_all=True, append_images=[img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    malformed = bytearray(mpo)
    malformed[mpo.index(b"MPF\x00") + 4] ^= 0xFF  # the MP header's byte order mark
    return {"JPEG-damaged-EXIF": with_app1(encode(rgb, "JPEG", "RGB", quality=80), DAMAGED_EXIF["cut-directory"]),
            "MPO-RGB": mpo, "MPO-malformed": bytes(malformed)}


def _eps(width: int, height: int) -> bytes:
    return (f"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 {width} {height}\n"
            "/Helvetica findfont 12 scalefont setfont 10 10 moveto (edgekit) show showpage\n%%EOF\n").encode()


def _dos_eps(postscript: bytes, tiff_preview: bytes) -> bytes:
    """A binary ("DOS") EPS: 30-byte header, the PostScript, then a TIFF preview."""
    header = struct.pack("<IIIIIIIH", 0xC6D3D0C5, 30, len(postscript), 0, 0, 30 + len(postscript), len(tiff_preview),
                         0xFFFF)
    return header + postscript + tiff_preview


@functools.lru_cache(maxsize=None)
def refused_files() -> Dict[str, bytes]:
    """Files edgekit must refuse, by name (an image extension; the content decides): PostScript that
    Pillow would render by running Ghostscript, other formats outside ``edgekit.imageio.FORMATS``,
    and float TIFFs outside the [0, 1] contract (0..255, NaN)."""
    face = face_rgb()
    gray = face[..., 1].astype(np.float32)
    nan = gray / 255
    nan[40:50, 40:50] = np.nan
    return {
        "EPS.jpg": _eps(96, 96),
        "PS-no-bounding-box.png": b"%!PS-Adobe-3.0\n(%pipe%id) (w) file\nshowpage\n",
        "EPS-with-TIFF-preview.tif": _dos_eps(_eps(96, 96), encode(face, "TIFF", "RGB")),
        "PDF.jpg": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
        "PPM.png": encode(face, "PPM", "RGB"),
        "ICO.bmp": encode(face, "ICO", "RGB"),
        "TIFF-F-0..255.tif": _saved(Image.fromarray(gray), "TIFF"),
        "TIFF-F-NaN.tif": _saved(Image.fromarray(nan), "TIFF"),
    }


def _saved(img: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


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
