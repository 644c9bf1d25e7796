"""edgekit.imageio.load_image: every accepted conversion and every refused input."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from edgekit import imageio
from edgekit.errors import ImageReadError, InputError
from edgekit.imageio import load_image


def _check_bgr(img: np.ndarray, shape) -> None:
    assert img.dtype == np.uint8 and img.shape == shape and img.flags["C_CONTIGUOUS"]


@pytest.fixture
def rgb_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------------- files


def test_png_is_decoded_as_bgr(tmp_path, rgb_image):
    path = tmp_path / "x.png"
    Image.fromarray(rgb_image).save(path)
    img = load_image(path)
    _check_bgr(img, (30, 40, 3))
    np.testing.assert_array_equal(img, rgb_image[..., ::-1])
    np.testing.assert_array_equal(load_image(str(path)), img)


def test_exif_orientation_is_applied(tmp_path, rgb_image):
    path = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.fromarray(rgb_image).save(path, exif=exif, quality=95)
    img = load_image(path)
    assert img.shape == (40, 30, 3)
    plain = tmp_path / "plain.jpg"
    Image.fromarray(rgb_image).save(plain, quality=95)
    rotated = cv2.rotate(load_image(plain), cv2.ROTATE_90_CLOCKWISE)
    assert np.abs(rotated.astype(int) - img.astype(int)).mean() < 3


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "CMYK", "1", "I;16", "I", "F"])
def test_pillow_modes_convert_to_bgr(tmp_path, rgb_image, mode):
    base = Image.fromarray(rgb_image)
    if mode == "I;16":
        img = Image.fromarray((np.asarray(base.convert("L")).astype(np.uint16) * 257))
    elif mode == "I":
        img = Image.fromarray(np.asarray(base.convert("L")).astype(np.int32) * 257)
    elif mode == "F":
        img = Image.fromarray(np.asarray(base.convert("L")).astype(np.float32) / 255.0)
    else:
        img = base.convert(mode)
    path = tmp_path / ("x.tiff" if mode in ("CMYK", "I", "F") else "x.png")
    img.save(path)
    out = load_image(path)
    _check_bgr(out, (30, 40, 3))
    if mode in ("L", "LA", "I;16", "I", "F"):
        expected = np.asarray(base.convert("L"))
        assert np.abs(out[..., 0].astype(int) - expected).max() <= 1
        np.testing.assert_array_equal(out[..., 0], out[..., 2])
    if mode == "RGBA":
        np.testing.assert_array_equal(out, rgb_image[..., ::-1])


def test_palette_with_transparency(tmp_path, rgb_image):
    path = tmp_path / "p.png"
    pal = Image.fromarray(rgb_image).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    pal.save(path, transparency=0)
    _check_bgr(load_image(path), (30, 40, 3))


def test_16bit_color_png_is_scaled(tmp_path):
    rng = np.random.default_rng(2)
    img16 = rng.integers(0, 65536, (10, 12, 3), dtype=np.uint16)
    path = tmp_path / "c16.png"
    assert cv2.imwrite(str(path), img16)
    out = load_image(path)
    assert np.abs(out.astype(int) - np.rint(img16 / 257.0).astype(int)).max() <= 1


def test_real_photos(astronaut_path):
    img = load_image(astronaut_path)
    _check_bgr(img, (512, 512, 3))
    np.testing.assert_array_equal(img, cv2.imread(str(astronaut_path), cv2.IMREAD_COLOR))


def test_ferplus_and_lfw_files(ferplus_dir, lfw_dir):
    fer = load_image(next((ferplus_dir / "FER2013Valid").glob("*.png")))
    _check_bgr(fer, (48, 48, 3))
    lfw = load_image(next((lfw_dir / "images").rglob("*.jpg")))
    _check_bgr(lfw, (250, 250, 3))


def test_missing_path_names_it(tmp_path):
    path = tmp_path / "nope.jpg"
    with pytest.raises(ImageReadError, match="nope.jpg: no such file") as err:
        load_image(path)
    assert isinstance(err.value, InputError) and isinstance(err.value, ValueError)


def test_directory(tmp_path):
    with pytest.raises(ImageReadError, match="is a directory"):
        load_image(tmp_path)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"empty.png: file is empty"):
        load_image(path)


def test_non_image_file(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("just some text, not pixels\n" * 10)
    with pytest.raises(ImageReadError, match="not an image file"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_raises_instead_of_partial_pixels(tmp_path, fmt):
    rng = np.random.default_rng(1)
    path = tmp_path / f"t.{fmt.lower()}"
    Image.fromarray(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt") as err:
        load_image(path)
    assert str(path) in str(err.value)


def _png_with_header_size(path: Path, width: int, height: int) -> None:
    """A real 1x1 PNG whose IHDR claims ``width`` x ``height`` (CRC fixed), i.e. a bomb header."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("side", [12000, 40000])  # 144 Mpx (edgekit's cap), 1.6 Gpx (Pillow's own cap too)
def test_decompression_bomb_refused_from_header(tmp_path, side):
    path = tmp_path / "bomb.png"
    _png_with_header_size(path, side, side)  # a few bytes on disk; decoding would need gigabytes
    with pytest.raises(ImageReadError, match="too large to decode safely") as err:
        load_image(path)
    assert "MAX_PIXELS" in str(err.value) and "truncated" not in str(err.value)


def test_max_pixels_is_configurable(tmp_path, rgb_image, monkeypatch):
    path = tmp_path / "x.png"
    Image.fromarray(rgb_image).save(path)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 30 * 40 - 1)
    with pytest.raises(ImageReadError, match="1,200 pixels"):
        load_image(path)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 30 * 40)
    assert load_image(path).shape == (30, 40, 3)


# ------------------------------------------------------------------------------------ arrays


def test_uint8_bgr_array_is_returned_without_copy(rgb_image):
    assert load_image(rgb_image) is rgb_image


@pytest.mark.parametrize("shape", [(30, 40), (30, 40, 1)])
def test_gray_arrays_become_bgr(shape):
    gray = np.arange(1200, dtype=np.uint8).reshape(shape)
    out = load_image(gray)
    _check_bgr(out, (30, 40, 3))
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray.reshape(30, 40))


def test_bgra_drops_alpha(rgb_image):
    bgra = np.dstack([rgb_image, np.full((30, 40), 7, np.uint8)])
    np.testing.assert_array_equal(load_image(bgra), rgb_image)


def test_uint16_is_scaled():
    arr = np.array([[0, 257, 65535]], dtype=np.uint16)
    np.testing.assert_array_equal(load_image(arr)[..., 0], [[0, 1, 255]])


def test_float_unit_range_is_scaled():
    arr = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(load_image(arr)[..., 1], [[0, 128, 255]])
    assert load_image(arr.astype(np.float16)).dtype == np.uint8


def test_small_int_arrays_in_range_are_accepted():
    arr = np.array([[0, 12, 255]], dtype=np.int64)
    np.testing.assert_array_equal(load_image(arr)[..., 2], [[0, 12, 255]])


def test_non_contiguous_becomes_contiguous(rgb_image):
    view = rgb_image[:, ::-1]
    out = load_image(view)
    assert out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out, view)


@pytest.mark.parametrize(
    "arr, message",
    [
        (np.zeros((0, 10, 3), np.uint8), "array is empty"),
        (np.zeros((10, 0), np.uint8), "array is empty"),
        (np.zeros((4, 4, 3), dtype=object), "unsupported pixel dtype object"),
        (np.zeros((4, 4, 3), dtype=np.complex64), "unsupported pixel dtype complex64"),
        (np.zeros((4, 4, 3), dtype=bool), "unsupported pixel dtype bool"),
        (np.array([[0.1, np.nan]], dtype=np.float32), "NaN or infinite"),
        (np.array([[0.1, np.inf]], dtype=np.float64), "NaN or infinite"),
        (np.array([[0.0, 255.0]], dtype=np.float32), r"outside \[0, 1\]"),
        (np.array([[-0.5, 0.5]], dtype=np.float32), r"outside \[0, 1\]"),
        (np.array([[-1, 300]], dtype=np.int32), "outside 0..255"),
        (np.zeros(10, np.uint8), "unsupported image shape"),
        (np.zeros((4, 4, 2), np.uint8), "unsupported image shape"),
        (np.zeros((2, 4, 4, 3), np.uint8), "unsupported image shape"),
    ],
)
def test_bad_arrays(arr, message):
    with pytest.raises(ImageReadError, match=message) as err:
        load_image(arr)
    assert f"shape={arr.shape}" in str(err.value)  # described via errors.describe


def test_custom_name_in_message():
    with pytest.raises(ImageReadError, match="^frame 7: array is empty"):
        load_image(np.zeros((0, 3), np.uint8), name="frame 7")


@pytest.mark.parametrize("value", [None, 42, [[1, 2], [3, 4]], b"\x89PNG"])
def test_unsupported_source_types(value):
    with pytest.raises(ImageReadError, match="unsupported image source type"):
        load_image(value)


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    channels=st.sampled_from([None, 1, 3, 4]),
    dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int16]),
    seed=st.integers(0, 2**16),
)
def test_any_valid_array_gives_bgr_uint8(h, w, channels, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    if np.dtype(dtype).kind == "f":
        arr = rng.random(shape).astype(dtype)
    else:
        arr = rng.integers(0, 256 if dtype != np.uint16 else 65536, shape).astype(dtype)
    _check_bgr(load_image(arr), (h, w, 3))
