"""Image targets: mutated image files (every format and mode, truncated, corrupt, bomb
headers, PostScript and other formats under image names), byte-heavy files at the size limits,
and hostile arrays (dtypes, shapes, NaN/inf, non-contiguous layouts)."""
from __future__ import annotations

import contextlib
import math
import sys
import tracemalloc
import warnings
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import cv2
import numpy as np
from hypothesis import strategies as st
from PIL import Image

from . import seeds
from .checks import check_bgr, check_emotion, check_faces, check_frame, shared_classifier, shared_pipeline
from .harness import attempt

# ----------------------------------------------------------------------------- decoding guards

#: Audit events of starting another program or creating a temporary file (Pillow renders EPS by
#: writing temp files and running Ghostscript): decoding an image must do neither.
SIDE_EFFECT_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn", "os.fork",
                                "os.forkpty", "tempfile.mkstemp", "tempfile.mkdtemp"})
_attempts: Optional[List[str]] = None


def _audit(event: str, args: tuple) -> None:
    if _attempts is not None and event in SIDE_EFFECT_EVENTS:
        _attempts.append(f"{event} {args!r}"[:300])
        raise PermissionError(f"{event} while decoding an image")  # blocked: the program never runs


sys.addaudithook(_audit)  # once per process (this module is imported once); inactive outside the guard


@contextlib.contextmanager
def no_programs_or_temp_files() -> Iterator[None]:
    """Fails the check when the block started a program or created a temporary file (the attempt
    is blocked too, and reported even when the code under test swallowed the error)."""
    global _attempts
    _attempts, seen = [], []
    try:
        yield
    finally:
        seen, _attempts = _attempts, None
    assert not seen, f"decoding tried to start a program or write a temp file: {seen}"


@contextlib.contextmanager
def no_warnings() -> Iterator[None]:
    """Fails the check when the block emitted any warning (it would reach the user's stderr)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert not caught, [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]


# ------------------------------------------------------------------------- image files target


def _truncate(draw: Callable, data: bytearray) -> bytearray:
    return data[: draw(st.integers(0, max(len(data) - 1, 0)))]


def _flip(draw: Callable, data: bytearray) -> bytearray:
    if data:
        data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    return data


def _overwrite(draw: Callable, data: bytearray) -> bytearray:
    if data:
        at = draw(st.integers(0, len(data) - 1))
        chunk = draw(st.one_of(st.binary(min_size=1, max_size=8),
                               st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff",
                                                b"\x80\x00"])))
        data[at:at + len(chunk)] = chunk
    return data


def _insert(draw: Callable, data: bytearray) -> bytearray:
    at = draw(st.integers(0, len(data)))
    data[at:at] = draw(st.binary(min_size=1, max_size=32))
    return data


def _delete(draw: Callable, data: bytearray) -> bytearray:
    if data:
        at = draw(st.integers(0, len(data) - 1))
        del data[at:at + draw(st.integers(1, 64))]
    return data


#: Header sizes: small, just past :data:`edgekit.imageio.MAX_SIDE`, or absurd (bombs).
_DIMENSIONS = st.one_of(st.integers(0, 64), st.sampled_from([32_767, 40_000, 65_535, 200_000, 2**31 - 1]))


def _resize_header(draw: Callable, data: bytearray) -> bytearray:
    return bytearray(seeds.set_dims(bytes(data), draw(_DIMENSIONS), draw(_DIMENSIONS)))


MUTATIONS = (_truncate, _flip, _overwrite, _insert, _delete, _resize_header)


def _all_seeds() -> dict:
    return {**seeds.seed_files(), **seeds.refused_files()}


@st.composite
def mutated_image_files(draw: Callable) -> Tuple[str, bytes]:
    files = _all_seeds()
    key = draw(st.sampled_from(sorted(files)))
    data = bytearray(files[key])
    for _ in range(draw(st.integers(0, 3))):
        data = draw(st.sampled_from(MUTATIONS))(draw, data)
    return key, bytes(data)


def check_image_file(example: Tuple[str, bytes], workdir: Path) -> None:
    """load_image + analyze on a (mutated) file: a BGR array and valid faces, or ImageReadError;
    both agree; no warning printed, no program started, no temp file written; the unmutated seed
    files must decode and the unmutated refused ones (PostScript ...) must be refused."""
    import edgekit

    key, data = example
    path = workdir / f"input{Path(key).suffix or '.img'}"  # refused seeds carry an image name; the content decides
    path.write_bytes(data)
    pristine = data == _all_seeds()[key]
    with no_programs_or_temp_files(), no_warnings():
        bgr = attempt(edgekit.load_image, path, must_succeed=pristine and key in seeds.seed_files())
        faces = attempt(edgekit.analyze, path)
    assert (bgr is None) == (faces is None), "load_image and analyze disagree on the same file"
    assert bgr is None or not (pristine and key in seeds.refused_files()), f"{key} was decoded"
    if bgr is not None:
        check_bgr(bgr)
        check_faces(faces)


# ------------------------------------------------------------------ byte-heavy image files target

#: (format, Pillow mode) of the byte-heavy files: wide samples (16/32-bit integer, float) and 4-byte pixels.
HEAVY_SPECS = (("PNG", "I;16"), ("TIFF", "I;16"), ("TIFF", "I"), ("TIFF", "F"), ("PNG", "RGBA"), ("TIFF", "CMYK"),
               ("PNG", "L"))


def _heavy_values(draw: Callable, mode: str, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if mode == "F":
        return rng.random((height, width), dtype=np.float32) * draw(st.sampled_from([1.0, 1.0, 255.0]))
    if mode == "I":
        return rng.integers(-70_000, 140_000, (height, width), dtype=np.int32)  # clipped to 0..65535
    top, shape = (65_536, (height, width)) if mode == "I;16" else (256, (height, width) + ((4,) if mode != "L" else ()))
    return rng.integers(0, top, shape, dtype=np.uint16 if mode == "I;16" else np.uint8)


#: Sides of the byte-heavy files: tiny (edge cases) or large enough (up to 4 megapixels) that a
#: full-size temporary stands out against the band-wise conversion.
_HEAVY_SIDES = st.one_of(st.integers(1, 48), st.integers(700, 2000))


@st.composite
def heavy_image_files(draw: Callable) -> Tuple[str, str, np.ndarray, int, str]:
    """(format, mode, pixels, limit offset, which limit): the limit is set at the file's own size plus
    the offset (-1: just over it, refused; 0: exactly at it, decoded; more: decoded)."""
    fmt, mode = draw(st.sampled_from(HEAVY_SPECS))
    height, width = draw(_HEAVY_SIDES), draw(_HEAVY_SIDES)
    return (fmt, mode, _heavy_values(draw, mode, height, width), draw(st.sampled_from([-1, 0, 0, 1, 10**6])),
            draw(st.sampled_from(["bytes", "pixels"])))


def _expected_gray(values: np.ndarray) -> np.ndarray:
    """The documented conversion of wide gray pixels to 0..255 (floats in [0, 1], integers clipped to 0..65535)."""
    if values.dtype.kind == "f":
        return np.rint(values * np.float32(255)).astype(np.uint8)
    return np.rint(np.clip(values, 0, 65535) / 257).astype(np.uint8)


def check_heavy_image_file(example: Tuple[str, str, np.ndarray, int, str], workdir: Path) -> None:
    """A 16-bit, 32-bit, float or 4-byte-pixel file with MAX_DECODED_BYTES (or MAX_PIXELS) set right
    at its size: over the limit it is refused from the header, at or under it decoded to the
    documented values, with numpy never holding more than the BGR result plus a band of temporaries."""
    from edgekit import imageio

    fmt, mode, values, offset, limit = example
    path = workdir / f"heavy.{fmt.lower()}"
    img = Image.fromarray(values) if mode in ("I;16", "I", "F", "L") else Image.fromarray(values, "RGBA").convert(mode)
    img.save(path, fmt)
    height, width = values.shape[:2]
    bytes_per_pixel = 1 if mode == "L" else 2 if mode == "I;16" else 4
    name = "MAX_DECODED_BYTES" if limit == "bytes" else "MAX_PIXELS"
    size = height * width * (bytes_per_pixel if limit == "bytes" else 1)
    out_of_range = mode == "F" and float(values.max()) > 1.0
    saved = getattr(imageio, name), imageio._BAND_PIXELS
    setattr(imageio, name, size + offset)
    imageio._BAND_PIXELS = 1 << 16  # small bands, so a full-size temporary stands out
    tracemalloc.start()
    try:
        with no_warnings():
            bgr = attempt(imageio.load_image, path, must_succeed=offset >= 0 and not out_of_range)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        setattr(imageio, name, saved[0])
        imageio._BAND_PIXELS = saved[1]
    if offset < 0 or out_of_range:
        assert bgr is None, (f"{width}x{height} {mode} decoded although over {name} = {size + offset:,} "
                             "or outside [0, 1]")
        return
    band = min(height * width, 1 << 16)
    assert peak <= 3 * height * width + 24 * band + (1 << 20), \
        f"numpy peaked at {peak:,} bytes for {width}x{height} {mode}"
    if bgr is not None:
        check_bgr(bgr)
        assert bgr.shape == (height, width, 3)
        if mode in ("I;16", "I", "F"):
            np.testing.assert_array_equal(bgr[..., 0], _expected_gray(values))
            np.testing.assert_array_equal(bgr[..., 2], bgr[..., 0])


# ------------------------------------------------------------------------ image arrays target

ARRAY_DTYPES = ("uint8", "uint16", ">u2", "int8", "int16", "int32", "int64", "float16", "float32", "float64", ">f8",
                "bool", "complex64", "object")
LAYOUTS = ("contiguous", "fortran", "flipped", "strided", "transposed", "readonly", "padded_view", "subclass")
_FLOAT_SPECIALS = (math.nan, math.inf, -math.inf, -0.0, 1.0 + 1e-6, -1e-6, 256.0)


def _content(draw: Callable, height: int, width: int, channels: Optional[int]) -> np.ndarray:
    """Float values in [0, 1] of shape (H, W[, C]): a real face, noise or a constant."""
    kind = draw(st.sampled_from(["face", "noise", "constant"]))
    c = channels or 1
    if kind == "face":
        face = cv2.resize(seeds.face_rgb()[..., ::-1], (width, height), interpolation=cv2.INTER_AREA)
        bgr = face.astype(np.float64) / 255
        base = np.concatenate([bgr, np.ones((height, width, 1))], axis=2)  # B, G, R, alpha
        planes = [base[..., i % 4] for i in range(c)] if c != 1 else [bgr.mean(axis=2)]
        values = np.stack(planes, axis=2)
    elif kind == "noise":
        values = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random((height, width, c))
    else:
        values = np.full((height, width, c), draw(st.floats(0, 1)))
    return values if channels is not None else values[..., 0]


def _as_dtype(draw: Callable, values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``values`` in [0, 1] converted to ``dtype``, in or (when drawn) outside its valid range."""
    out_of_range = draw(st.sampled_from([False, False, False, True]))
    if dtype.kind == "O":
        return values.astype(object)
    if dtype.kind == "b":
        return values > 0.5
    if dtype.kind in "fc":
        arr = (values * (255.0 if out_of_range else 1.0)).astype(dtype)
        flat = arr.reshape(-1)
        for _ in range(draw(st.integers(0, 3))):
            flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from(_FLOAT_SPECIALS))
        return arr
    info = np.iinfo(dtype)
    top = 65535 if dtype.kind == "u" and dtype.itemsize == 2 else 255
    arr = np.rint(values * top)
    if out_of_range:
        arr = arr + draw(st.sampled_from([-300, 300, int(info.min), int(info.max) - 255]))
    return np.clip(arr, max(info.min, -(2**53)), min(info.max, 2**53)).astype(dtype)  # float-exact bounds


class _ArraySubclass(np.ndarray):
    """A numpy subclass (like np.matrix or masked arrays, callers may hold these)."""


def _layout(draw: Callable, arr: np.ndarray) -> np.ndarray:
    layout = draw(st.sampled_from(LAYOUTS))
    if layout == "fortran":
        return np.asfortranarray(arr)
    if layout == "flipped":
        return arr[::-1]
    if layout == "strided":
        return np.repeat(arr, 2, axis=1)[:, ::2]
    if layout == "transposed":
        return arr.swapaxes(0, 1)
    if layout == "readonly":
        arr = arr.copy()
        arr.flags.writeable = False
        return arr
    if layout == "padded_view":
        big = np.zeros((arr.shape[0] + 2, arr.shape[1] + 2) + arr.shape[2:], arr.dtype)
        big[1:-1, 1:-1] = arr
        return big[1:-1, 1:-1]
    if layout == "subclass":
        return arr.view(_ArraySubclass)
    return np.ascontiguousarray(arr)


@st.composite
def image_arrays(draw: Callable) -> np.ndarray:
    from edgekit.imageio import MAX_SIDE

    dtype = np.dtype(draw(st.sampled_from(ARRAY_DTYPES)))
    if draw(st.sampled_from([False] * 15 + [True])):  # a side past MAX_SIDE: refused, never warped
        return np.zeros((1, MAX_SIDE + 1, 3), dtype)
    height, width = draw(st.integers(0, 128)), draw(st.integers(1, 128))
    channels = draw(st.sampled_from([None, 1, 2, 3, 4, 5]))
    if height == 0:  # empty arrays
        return np.zeros((0, width) + ((channels,) if channels else ()), dtype)
    return _layout(draw, _as_dtype(draw, _content(draw, height, width, channels), dtype))


def valid_image_array(arr: np.ndarray) -> bool:
    """The documented contract of :func:`edgekit.load_image` for arrays."""
    from edgekit.imageio import MAX_SIDE

    if arr.size == 0 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        return False
    if max(arr.shape[:2]) > MAX_SIDE:
        return False
    kind = arr.dtype.kind
    if kind == "u" and arr.dtype.itemsize in (1, 2):  # uint8, uint16 (either byte order)
        return True
    if kind in "iu":
        return int(arr.min()) >= 0 and int(arr.max()) <= 255
    if kind == "f":
        return bool(np.isfinite(arr).all()) and float(arr.min()) >= 0 and float(arr.max()) <= 1
    return False


def check_image_array(arr: np.ndarray, workdir: Path) -> None:
    """load_image, Pipeline.process and EmotionClassifier.predict on an array: valid arrays (by
    the documented contract) succeed with valid results, others raise ImageReadError; the
    caller's array is never modified."""
    import edgekit

    before = np.array(arr, copy=True)
    valid = valid_image_array(arr)
    bgr = attempt(edgekit.load_image, arr, must_succeed=valid)
    assert valid == (bgr is not None), "an invalid array was accepted"
    result = attempt(shared_pipeline().process, arr, must_succeed=valid)
    emotion = attempt(shared_classifier().predict, arr, must_succeed=valid)
    if valid:
        check_bgr(bgr)
        check_frame(result, bgr.shape)
        check_emotion(emotion)
        if arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3:
            np.testing.assert_array_equal(bgr, arr)
    if arr.dtype.kind != "O":
        np.testing.assert_array_equal(arr, before, err_msg="the caller's array was modified")
