"""Hostile images through the public API (load_image, analyze, Pipeline, EmotionClassifier):
every odd-but-valid format is analysed, every broken one is refused with ImageReadError, bombs
are refused from the header before any pixel is decoded."""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

import edgekit
from edgekit import imageio
from edgekit.errors import ImageReadError
from fuzz import seeds

SEEDS = seeds.seed_files()


@pytest.fixture(scope="module")
def pipe():
    with edgekit.Pipeline() as p:
        yield p


def _write(tmp_path, data: bytes, name: str = "image.bin"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _signature(faces):
    return [(tuple(round(v, 3) for v in f.box.as_xyxy()), f.emotion.label, round(f.emotion.score, 4)) for f in faces]


@pytest.mark.parametrize("key", sorted(SEEDS))
def test_every_format_and_mode_is_analysed(key, tmp_path):
    """CMYK, palette, 16-bit, alpha, gray-alpha, progressive: decoded and the one face found."""
    path = _write(tmp_path, SEEDS[key])
    bgr = edgekit.load_image(path)
    assert bgr.dtype == np.uint8 and bgr.shape == (96, 96, 3) and bgr.flags.c_contiguous
    faces = edgekit.analyze(path)
    assert len(faces) == 1 and faces[0].emotion is not None


@pytest.mark.parametrize("key", ["PNG-RGB", "JPEG-RGB", "GIF-P", "WEBP-RGBA", "TIFF-CMYK", "BMP-RGB"])
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_files_are_refused_not_half_decoded(key, keep, tmp_path):
    data = SEEDS[key]
    path = _write(tmp_path, data[: int(len(data) * keep)])
    with pytest.raises(ImageReadError, match="truncated or corrupt|not an image file") as err:
        edgekit.analyze(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("key", ["PNG-RGB", "JPEG-RGB", "GIF-P"])
def test_corrupt_headers_are_refused(key, tmp_path):
    data = bytearray(SEEDS[key])
    data[1:4] = b"\x00\x00\x00"  # magic number destroyed
    with pytest.raises(ImageReadError, match="not an image file Pillow can decode"):
        edgekit.analyze(_write(tmp_path, bytes(data)))


def test_header_with_a_wrong_checksum_is_refused(tmp_path):
    png = bytearray(SEEDS["PNG-RGB"])
    png[20] ^= 0xFF  # IHDR height changed, CRC now wrong
    with pytest.raises(ImageReadError, match="not an image file|truncated or corrupt"):
        edgekit.load_image(_write(tmp_path, bytes(png), "bad_crc.png"))


@pytest.fixture
def decoding_forbidden(monkeypatch):
    """Any pixel decoding fails the test: proves a refusal happened from the header alone."""
    def load(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.mark.parametrize("key", ["PNG-RGB", "GIF-P", "BMP-RGB", "JPEG-RGB"])
@pytest.mark.parametrize("size", [(65_535, 65_535), (200_000, 200_000), (2**31 - 1, 2**31 - 1)])
def test_decompression_bombs_refused_before_decoding(key, size, tmp_path, decoding_forbidden):
    width, height = (min(v, 65_535) for v in size) if key in ("GIF-P", "JPEG-RGB") else size
    path = _write(tmp_path, seeds.set_dims(SEEDS[key], width, height))
    with pytest.raises(ImageReadError, match="too large to decode safely") as err:
        edgekit.analyze(path)
    assert "MAX_PIXELS" in str(err.value)


def test_pillow_bomb_guard_still_applies_when_the_cap_is_raised(tmp_path, monkeypatch, decoding_forbidden):
    """A caller who raises MAX_PIXELS still gets Pillow's own guard (2x Image.MAX_IMAGE_PIXELS)."""
    monkeypatch.setattr(imageio, "MAX_PIXELS", 10**12)
    side = int((2 * Image.MAX_IMAGE_PIXELS) ** 0.5) + 2
    path = _write(tmp_path, seeds.set_dims(SEEDS["PNG-RGB"], side, side))
    assert side <= imageio.MAX_SIDE
    with pytest.raises(ImageReadError, match="too large to decode safely"):
        edgekit.load_image(path)


def test_sides_past_opencvs_limit_are_refused_not_crashing(tmp_path, pipe, decoding_forbidden):
    """OpenCV's warps (detector letterbox, aligner) cannot read sides >= 32767: refused up front."""
    wide = np.zeros((1, imageio.MAX_SIDE + 1, 3), np.uint8)
    for call in (edgekit.load_image, pipe.process, edgekit.EmotionClassifier().predict):
        with pytest.raises(ImageReadError, match="MAX_SIDE"):
            call(wide)
    path = _write(tmp_path, seeds.set_dims(SEEDS["PNG-RGB"], 40_000, 2))
    with pytest.raises(ImageReadError, match="MAX_SIDE"):
        edgekit.analyze(path)


def test_longest_allowed_side_is_analysed(pipe):
    assert pipe.process(np.zeros((1, imageio.MAX_SIDE, 3), np.uint8)).faces == []
    assert pipe.process(np.zeros((imageio.MAX_SIDE, 2), np.uint8)).faces == []


def test_one_pixel_images(tmp_path, pipe):
    png = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(png)
    assert edgekit.analyze(png) == []
    for arr in (np.zeros((1, 1), np.uint8), np.ones((1, 1, 4), np.float32), np.full((1, 1, 3), 65535, np.uint16)):
        assert pipe.process(arr).faces == []
        assert edgekit.EmotionClassifier().predict(arr).label  # a 1x1 "face" is resized, not refused


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_arrays_are_refused_everywhere(bad, pipe):
    face = seeds.face_rgb()[..., ::-1].astype(np.float32) / 255
    face[10, 10, 1] = bad
    for call in (edgekit.load_image, edgekit.analyze, pipe.process, edgekit.EmotionClassifier().predict):
        with pytest.raises(ImageReadError, match="NaN or infinite") as err:
            call(face)
        assert "(96, 96, 3)" in str(err.value)


def _face_bgr() -> np.ndarray:
    return np.ascontiguousarray(seeds.face_rgb()[..., ::-1])


@pytest.mark.parametrize("variant", [
    "fortran", "strided", "padded_view", "readonly", "uint16", ">u2", "float32", "float64", "bgra_uint8", "bgra_float",
])
def test_equivalent_arrays_give_identical_results(variant, pipe):
    """Non-contiguous views, read-only buffers, 16-bit, float and BGRA versions of the same pixels
    give exactly the results of the plain BGR uint8 array, and are never modified."""
    bgr = _face_bgr()
    expected = _signature(pipe.process(bgr).faces)
    assert len(expected) == 1
    if variant == "fortran":
        arr = np.asfortranarray(bgr)
    elif variant == "strided":
        arr = np.repeat(bgr, 2, axis=1)[:, ::2]
    elif variant == "padded_view":
        big = np.zeros((98, 98, 3), np.uint8)
        big[1:-1, 1:-1] = bgr
        arr = big[1:-1, 1:-1]
    elif variant == "readonly":
        arr = bgr.copy()
        arr.flags.writeable = False
    elif variant in ("uint16", ">u2"):
        arr = (bgr.astype(np.uint16) * 257).astype(variant)
    elif variant in ("float32", "float64"):
        arr = bgr.astype(variant) / 255
    else:
        alpha = np.full(bgr.shape[:2] + (1,), 255, np.uint8)
        arr = np.concatenate([bgr, alpha], axis=2)
        arr = arr if variant == "bgra_uint8" else arr.astype(np.float32) / 255
    before = arr.copy()
    assert _signature(pipe.process(arr).faces) == expected
    assert _signature(edgekit.analyze(arr)) == expected
    np.testing.assert_array_equal(arr, before)


@pytest.mark.parametrize("path_kind", ["fifo", "too_long", "dangling_symlink", "symlink_loop", "nul_byte"])
def test_odd_paths_are_refused_with_a_typed_error(path_kind, tmp_path):
    if path_kind == "fifo":
        path = tmp_path / "pipe.png"
        os.mkfifo(path)  # opening it for reading would block forever
    elif path_kind == "too_long":
        path = tmp_path / ("a" * 5000 + ".png")
    elif path_kind == "dangling_symlink":
        path = tmp_path / "link.png"
        path.symlink_to(tmp_path / "missing.png")
    elif path_kind == "symlink_loop":
        path = tmp_path / "loop.png"
        path.symlink_to(path)
    else:
        path = str(tmp_path / "a\x00b.png")
    with pytest.raises(ImageReadError):
        edgekit.analyze(path)


def test_unreadable_file_is_not_called_corrupt(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: file permissions do not stop reads")
    path = _write(tmp_path, SEEDS["PNG-RGB"], "secret.png")
    path.chmod(0)
    with pytest.raises(ImageReadError, match="cannot be opened"):
        edgekit.load_image(path)


def test_png_crc_helper_writes_valid_headers(tmp_path):
    """Guard for the bomb tests: the rewritten header is well formed (its CRC checks out)."""
    data = seeds.set_dims(SEEDS["PNG-RGB"], 123, 45)
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (123, 45)
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(data[12:29])
    with Image.open(_write(tmp_path, data)) as img:
        assert img.size == (123, 45)
