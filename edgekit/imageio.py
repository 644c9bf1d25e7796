"""Load images from paths or arrays into edgekit's one pixel format: BGR uint8, HxWx3, C-contiguous.

Arrays follow OpenCV's convention: 3-channel arrays are **BGR**, 4-channel arrays BGRA (what
``cv2.imread`` and ``cv2.VideoCapture`` return). Pass ``cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)`` if
you hold RGB pixels (Pillow, matplotlib, ``skimage.io``).

Accepted array inputs and how they are converted:

- ``uint8``: used as is (no copy when it already is HxWx3 and C-contiguous);
- ``uint16``: scaled to 0..255 (``round(v / 257)``, so 65535 -> 255);
- other integer types: accepted only when every value lies in 0..255;
- floating point: must be finite and within [0, 1] (``round(v * 255)``); arrays in 0..255 must
  be converted by the caller (``arr.astype(np.uint8)``), edgekit does not guess the range;
- shapes HxW and HxWx1 (gray, replicated to 3 channels), HxWx3 (BGR), HxWx4 (BGRA, alpha dropped).

Files are decoded with Pillow: EXIF orientation is applied, palette/CMYK/gray/16-bit/alpha modes
are converted (alpha is dropped, not composited), multi-frame files give their first frame and
truncated files raise instead of returning partially decoded pixels. Images with more than
:data:`MAX_PIXELS` pixels, or a side longer than :data:`MAX_SIDE`, are refused from their header,
before any pixel is decoded (arrays: before any conversion).
"""
from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path
from typing import IO, Optional, Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageReadError, describe

#: Largest image (width * height) edgekit decodes: 100 megapixels (a 12000x8000 photo takes
#: ~290 MB as BGR uint8). Larger files are refused from their header, which protects against
#: decompression bombs. Change it at run time with ``edgekit.imageio.MAX_PIXELS = ...``.
MAX_PIXELS: int = 100_000_000

#: Longest image side (width or height) edgekit accepts: 32,766 pixels, the largest OpenCV's
#: warps (face detection letterbox, face alignment) can read. Larger sides are refused from the
#: file header, or from the array shape.
MAX_SIDE: int = 32_766

ImageSource = Union[str, os.PathLike, np.ndarray]

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def load_image(src: ImageSource, *, name: Optional[str] = None) -> np.ndarray:
    """Return ``src`` as a BGR uint8 HxWx3 C-contiguous array.

    Args:
        src: a path (``str`` or ``os.PathLike``) to an image file, or a numpy array following
            OpenCV's BGR convention (see the module docstring for accepted dtypes and shapes).
        name: how to call the array in error messages (default: its shape and dtype).

    Raises:
        ImageReadError: the path or array is not a usable image; the message names it and says
            what to do.
    """
    if isinstance(src, np.ndarray):
        if (type(src) is np.ndarray and src.dtype == np.uint8 and src.ndim == 3 and src.shape[2] == 3 and src.size
                and src.flags.c_contiguous and src.shape[0] <= MAX_SIDE and src.shape[1] <= MAX_SIDE):
            return src  # already edgekit's format: the per-frame re-checks (detector, aligner) stay free
        return _from_array(src, name or describe(src))
    if isinstance(src, (str, os.PathLike)):
        return _from_path(Path(src))
    raise ImageReadError(
        f"unsupported image source type {type(src).__name__}",
        subject=name or describe(src),
        hint="pass a file path or a numpy array (BGR uint8, HxWx3)",
    )


# --------------------------------------------------------------------------------------- files


def _from_path(path: Path) -> np.ndarray:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageReadError("no such file", subject=path, hint="check the path and the working directory") from None
    except OSError as exc:  # permission denied on a parent, name too long, symlink loop ...
        raise ImageReadError(f"cannot be read ({exc.strerror or exc})", subject=path,
                             hint="check the path and its permissions") from None
    except ValueError:  # a NUL character inside the path
        raise ImageReadError("is not a valid path (contains a NUL character)", subject=repr(str(path)),
                             hint="check how the path was built") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError("is a directory, not an image file", subject=path, hint="pass one image file")
    if not stat.S_ISREG(st.st_mode):  # FIFOs, sockets, devices: reading could block or never end
        raise ImageReadError("is not a regular file", subject=path, hint="pass an image file")
    if st.st_size == 0:
        raise ImageReadError("file is empty (0 bytes)", subject=path, hint="re-copy or re-export the image")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ImageReadError(f"cannot be opened ({exc.strerror or exc})", subject=path,
                             hint="check that the file is readable") from None
    with handle:
        return _decode(handle, path)


def _decode(handle: IO[bytes], path: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            # Our own MAX_PIXELS check below replaces Pillow's DecompressionBombWarning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle) as img:
                _check_pixel_count(img.size, path)
                rgb = _to_rgb_array(img, path)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(
            f"image is too large to decode safely ({exc})",
            subject=path,
            hint=f"downscale it below edgekit.imageio.MAX_PIXELS = {MAX_PIXELS:,} pixels",
        ) from None
    except UnidentifiedImageError:
        raise ImageReadError(
            "not an image file Pillow can decode",
            subject=path,
            hint="pass a JPEG, PNG, BMP, TIFF, WebP or GIF image",
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated / corrupt data as OSError ("image file is truncated", "broken
        # data stream") or SyntaxError; never fall back to partially decoded pixels.
        raise ImageReadError(
            f"image data is truncated or corrupt ({exc})",
            subject=path,
            hint="re-copy or re-export the file",
        ) from None
    return np.ascontiguousarray(rgb[..., ::-1])


def _check_pixel_count(size: tuple, subject: object) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            f"image is {width}x{height} = {width * height:,} pixels, too large to decode safely "
            f"(above edgekit.imageio.MAX_PIXELS = {MAX_PIXELS:,})",
            subject=subject,
            hint="downscale the image, or raise edgekit.imageio.MAX_PIXELS if you trust the file",
        )
    if max(width, height) > MAX_SIDE:
        raise ImageReadError(
            f"image is {width}x{height} pixels, a side is longer than edgekit.imageio.MAX_SIDE = {MAX_SIDE:,}",
            subject=subject,
            hint="downscale or crop the image",
        )


def _to_rgb_array(img: Image.Image, path: Path) -> np.ndarray:
    """Decode ``img`` (orientation applied) into an RGB uint8 HxWx3 array."""
    img.load()  # decode now so truncation raises here, not lazily later
    img = ImageOps.exif_transpose(img)
    if img.mode in _SIXTEEN_BIT_MODES:
        gray = np.asarray(img)
        gray = _scale_16bit(np.clip(gray, 0, 65535))
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    if img.mode == "F":
        return cv2.cvtColor(_from_float(np.asarray(img), str(path)), cv2.COLOR_GRAY2RGB)
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")  # palette transparency is applied before dropping alpha
    if img.mode != "RGB":
        img = img.convert("RGB")  # L, LA, 1, RGBA, CMYK, YCbCr, LAB, HSV ...
    return np.asarray(img)


# -------------------------------------------------------------------------------------- arrays


def _from_array(arr: np.ndarray, subject: str) -> np.ndarray:
    if arr.size == 0:
        raise ImageReadError("array is empty (a dimension is 0)", subject=subject, hint="pass a non-empty image")
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ImageReadError(
            "unsupported image shape",
            subject=subject,
            hint="pass HxW (gray), HxWx1, HxWx3 (BGR) or HxWx4 (BGRA); for a batch pass one frame at a time",
        )
    if max(arr.shape[:2]) > MAX_SIDE:
        raise ImageReadError(f"a side is longer than edgekit.imageio.MAX_SIDE = {MAX_SIDE:,} pixels",
                             subject=subject, hint="downscale or crop the image")
    arr = _to_uint8(arr, subject)
    if arr.ndim == 2 or arr.shape[2] == 1:
        arr = cv2.cvtColor(arr.reshape(arr.shape[:2]), cv2.COLOR_GRAY2BGR)
    elif arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(arr)


def _to_uint8(arr: np.ndarray, subject: str) -> np.ndarray:
    kind = arr.dtype.kind
    if arr.dtype == np.uint8:
        return arr
    if kind == "u" and arr.dtype.itemsize == 2:  # uint16 in either byte order
        return _scale_16bit(arr)
    if kind in "iu":
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ImageReadError(
                f"integer pixel values span {lo}..{hi}, outside 0..255",
                subject=subject,
                hint="pass uint8 (0..255), uint16, or float in [0, 1]",
            )
        return arr.astype(np.uint8)
    if kind == "f":
        return _from_float(arr, subject)
    raise ImageReadError(
        f"unsupported pixel dtype {arr.dtype}",
        subject=subject,
        hint="pass uint8 (0..255), uint16 (0..65535) or float in [0, 1]",
    )


def _scale_16bit(arr: np.ndarray) -> np.ndarray:
    return np.rint(arr.astype(np.float32) / 257.0).astype(np.uint8)


def _from_float(arr: np.ndarray, subject: str) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise ImageReadError("array contains NaN or infinite values", subject=subject, hint="fix the pixel values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ImageReadError(
            f"float pixel values span {lo:g}..{hi:g}, outside [0, 1]",
            subject=subject,
            hint="scale floats to [0, 1], or convert 0..255 data with arr.astype(np.uint8)",
        )
    return np.rint(arr.astype(np.float32) * 255.0).astype(np.uint8)
