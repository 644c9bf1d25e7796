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

Files are decoded with Pillow, in the formats of :data:`FORMATS` only (never EPS/PS/PDF, which
Pillow renders by running Ghostscript): EXIF orientation is applied, palette/CMYK/gray/alpha modes
are converted (alpha is dropped, not composited), 16-bit and float files are scaled like arrays
(32-bit integer ones are clipped to 0..65535 and scaled like 16-bit), multi-frame
files give their first frame and truncated files raise instead of returning partially decoded
pixels. Images with more than :data:`MAX_PIXELS` pixels, a side longer than :data:`MAX_SIDE`, or
whose decoded pixels would take more than :data:`MAX_DECODED_BYTES`, are refused from their header,
before any pixel is decoded (arrays: before any conversion). Conversions work a band of rows at a
time, so decoding a file needs about its decoded size plus the BGR result, never full-size float
copies (a photo whose EXIF orientation rotates it needs one more decoded size for the rotation).
Pillow's warnings about damaged metadata (a corrupt EXIF block, a malformed MPO header) are not
printed: the metadata is skipped and the pixels decoded.
"""
from __future__ import annotations

import math
import os
import threading
import warnings
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Optional, Tuple, Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageReadError, describe
from .paths import open_regular

#: Largest image (width * height) edgekit decodes: 100 megapixels (a 12000x8000 photo takes
#: ~290 MB as BGR uint8). Larger files are refused from their header, which protects against
#: decompression bombs. Change it at run time with ``edgekit.imageio.MAX_PIXELS = ...``.
MAX_PIXELS: int = 100_000_000

#: Most memory the decoded pixels of one file may take, in bytes: width * height * the bytes Pillow
#: keeps per pixel of the file's mode (1 for 1-bit, 8-bit gray and palette images, 2 for 16-bit
#: gray, 4 for every other mode: RGB, RGBA, CMYK, 32-bit integer and float). 400 MB lets every 8-bit
#: photo :data:`MAX_PIXELS` allows through; lower it to bound memory further. Checked from the header,
#: before decoding; decoding a file then needs about this plus the BGR result (3 bytes per pixel).
MAX_DECODED_BYTES: int = 400_000_000

#: Longest image side (width or height) edgekit accepts: 32,766 pixels, the largest OpenCV's
#: warps (face detection letterbox, face alignment) can read. Larger sides are refused from the
#: file header, or from the array shape.
MAX_SIDE: int = 32_766

#: The file formats edgekit decodes (Pillow format ids; JPEG includes MPO, the multi-picture JPEGs
#: of phone cameras). Any other content, whatever the file's name, is refused: Pillow renders EPS
#: and PostScript by running Ghostscript on them, and the rarer formats are attack surface that
#: photos do not need.
FORMATS: Tuple[str, ...] = ("JPEG", "PNG", "BMP", "TIFF", "WEBP", "GIF")

ImageSource = Union[str, os.PathLike, np.ndarray]

#: Pillow modes of one wide sample per pixel (16/32-bit integer, 32-bit float): scaled like arrays.
_WIDE_GRAY_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}

#: Pixels converted at a time (a band of whole rows): bounds the conversion's temporaries.
_BAND_PIXELS = 1 << 18

_FLOAT_ARRAY_HINT = "scale floats to [0, 1], or convert 0..255 data with arr.astype(np.uint8)"
_FLOAT_FILE_HINT = "re-export the image with 8- or 16-bit integer pixels, or floats scaled to [0, 1]"


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
    # FIFOs, sockets, devices are refused before anything reads them (opened non-blocking and
    # re-checked: a FIFO swapped in after the check cannot block either)
    handle, st = open_regular(path, "image file", ImageReadError, "check the path and the working directory")
    with handle:
        if st.st_size == 0:
            raise ImageReadError("file is empty (0 bytes)", subject=path, hint="re-copy or re-export the image")
        return _decode(handle, path)


class _SharedWarningFilter:
    """Context manager that ignores Pillow's warnings while any thread is inside it.

    ``warnings.catch_warnings`` is process-wide and not thread-safe: two decodes entering and
    leaving it interleaved can leave a filter installed for good. Here the first thread in installs
    the filters and the last one out removes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: Optional[warnings.catch_warnings] = None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = warnings.catch_warnings()
                self._saved.__enter__()
                warnings.filterwarnings("ignore", module=r"PIL(\.|$)")  # damaged EXIF, malformed MPO ...
                # Our MAX_PIXELS/MAX_DECODED_BYTES checks replace Pillow's DecompressionBombWarning.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            self._users += 1

    def __exit__(self, *exc_info: Any) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._saved is not None:
                self._saved.__exit__(None, None, None)
                self._saved = None


_PILLOW_WARNINGS_IGNORED = _SharedWarningFilter()


def _decode(handle: IO[bytes], path: Path) -> np.ndarray:
    try:
        with _PILLOW_WARNINGS_IGNORED, Image.open(handle, formats=FORMATS) as img:
            _check_header(img, path)
            return _to_bgr(img, path)
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
            f"not an image file Pillow can decode as {', '.join(FORMATS[:-1])} or {FORMATS[-1]}",
            subject=path,
            hint="convert it to JPEG or PNG "
                 "(edgekit.imageio.FORMATS lists the formats decoded; EPS, PDF and others are not)",
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated / corrupt data as OSError ("image file is truncated", "broken
        # data stream") or SyntaxError; never fall back to partially decoded pixels.
        raise ImageReadError(
            f"image data is truncated or corrupt ({exc})",
            subject=path,
            hint="re-copy or re-export the file",
        ) from None
    except Exception as exc:  # noqa: BLE001 - whatever else a decoder raises on hostile data is a bad file, not a crash
        raise ImageReadError(
            f"image cannot be decoded ({type(exc).__name__}: {exc})",
            subject=path,
            hint="re-export the file as JPEG or PNG",
        ) from None


def _check_header(img: Image.Image, subject: object) -> None:
    """Refuse, from the header alone, images too large to decode safely (see :data:`MAX_PIXELS`,
    :data:`MAX_SIDE` and :data:`MAX_DECODED_BYTES`)."""
    _check_pixel_count(img.size, subject)
    width, height = img.size
    decoded = width * height * _bytes_per_pixel(img.mode)
    if decoded > MAX_DECODED_BYTES:
        raise ImageReadError(
            f"image is {width}x{height} pixels of mode {img.mode}: {decoded:,} bytes decoded, too large to decode "
            f"safely (above edgekit.imageio.MAX_DECODED_BYTES = {MAX_DECODED_BYTES:,})",
            subject=subject,
            hint="downscale it or re-export it with 8-bit pixels, or raise edgekit.imageio.MAX_DECODED_BYTES "
                 "if you trust the file",
        )


def _bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow keeps per pixel of ``mode``: 1-bit, 8-bit gray and palette images take 1,
    16-bit gray 2, every other mode 4 (RGB is padded to 4)."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


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


def _to_bgr(img: Image.Image, path: Path) -> np.ndarray:
    """Decode ``img`` (orientation applied) into BGR uint8, converting a band of rows at a time."""
    img.load()  # decode now so truncation raises here, not lazily later
    ImageOps.exif_transpose(img, in_place=True)  # in place: no copy of the decoded pixels
    width, height = img.size

    def rows(top: int, bottom: int) -> Image.Image:
        return img.crop((0, top, width, bottom))

    if img.mode == "F":
        lo, hi = _value_range(lambda top, bottom: np.asarray(rows(top, bottom)), height, width)
        _check_float_range(lo, hi, path, file=True)
    return _fill_rows((height, width, 3), lambda top, bottom: _band_to_bgr(rows(top, bottom)))


def _band_to_bgr(band: Image.Image) -> np.ndarray:
    """Rows of a decoded image as BGR uint8 (rows x W x 3, or rows x W x 1 for wide gray modes)."""
    if band.mode in _WIDE_GRAY_MODES:
        values = np.asarray(band)
        if values.dtype.kind == "f":  # range checked beforehand
            return _float_to_uint8(values)[..., None]
        return _scale_16bit(np.clip(values, 0, 65535))[..., None]
    if band.mode in ("P", "PA"):
        band = band.convert("RGBA")  # palette transparency is applied before dropping alpha
    if band.mode != "RGB":
        band = band.convert("RGB")  # L, LA, 1, RGBA, CMYK, YCbCr, LAB ...
    return np.asarray(band)[..., ::-1]


# --------------------------------------------------------------------------- band-wise conversion


def _row_bands(height: int, width: int) -> Iterator[Tuple[int, int]]:
    """``(top, bottom)`` of consecutive bands of whole rows, about :data:`_BAND_PIXELS` pixels each."""
    step = max(1, _BAND_PIXELS // max(width, 1))
    for top in range(0, height, step):
        yield top, min(top + step, height)


def _fill_rows(shape: Tuple[int, ...], band: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """A uint8 array of ``shape`` filled band by band with ``band(top, bottom)`` (broadcast to the
    band's shape): a conversion never holds a full-size temporary."""
    out = np.empty(shape, np.uint8)
    for top, bottom in _row_bands(shape[0], shape[1]):
        out[top:bottom] = band(top, bottom)
    return out


def _value_range(band: Callable[[int, int], np.ndarray], height: int, width: int) -> Tuple[float, float]:
    """Smallest and largest value over the bands (NaN when any value is NaN)."""
    lo, hi = math.inf, -math.inf
    for top, bottom in _row_bands(height, width):
        values = band(top, bottom)
        lo, hi = float(np.minimum(lo, values.min())), float(np.maximum(hi, values.max()))
    return lo, hi


def _check_float_range(lo: float, hi: float, subject: object, file: bool) -> None:
    """Refuse float pixels that are not finite or outside [0, 1], with a hint for a file or an array."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ImageReadError("pixel values include NaN or infinite values", subject=subject,
                             hint=_FLOAT_FILE_HINT if file else "fix the pixel values")
    if lo < 0.0 or hi > 1.0:
        raise ImageReadError(f"float pixel values span {lo:g}..{hi:g}, outside [0, 1]", subject=subject,
                             hint=_FLOAT_FILE_HINT if file else _FLOAT_ARRAY_HINT)


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 as ``round(v / 257)``, in integer arithmetic."""
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _float_to_uint8(values: np.ndarray) -> np.ndarray:
    """[0, 1] -> 0..255 as ``round(v * 255)``."""
    return np.rint(values.astype(np.float32) * 255.0).astype(np.uint8)


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

    def rows(top: int, bottom: int) -> np.ndarray:
        return arr[top:bottom]

    if kind == "u" and arr.dtype.itemsize == 2:  # uint16 in either byte order
        return _fill_rows(arr.shape, lambda top, bottom: _scale_16bit(rows(top, bottom)))
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
        _check_float_range(*_value_range(rows, arr.shape[0], arr.shape[1]), subject, file=False)
        return _fill_rows(arr.shape, lambda top, bottom: _float_to_uint8(rows(top, bottom)))
    raise ImageReadError(
        f"unsupported pixel dtype {arr.dtype}",
        subject=subject,
        hint="pass uint8 (0..255), uint16 (0..65535) or float in [0, 1]",
    )
