"""Hostile image files, round two (issue #20): PostScript under an image name never reaches
Ghostscript, any decoder exception is a typed error, memory is bounded by decoded bytes, damaged
metadata prints no warning, and float files get a hint that fits a file."""
from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image, ImageFile

from edgekit import imageio
from edgekit.errors import ImageReadError
from edgekit.imageio import load_image
from fuzz import seeds
from fuzz.images import no_programs_or_temp_files, no_warnings

ROOT = Path(__file__).resolve().parents[2]
REFUSED = seeds.refused_files()
SEEDS = seeds.seed_files()


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------ 1. PostScript, other formats, any exception


@pytest.mark.parametrize("name", ["EPS.jpg", "EPS-with-TIFF-preview.tif", "PS-no-bounding-box.png", "PDF.jpg"])
def test_postscript_under_an_image_name_starts_no_program(name, tmp_path, monkeypatch):
    """Pillow renders EPS by writing temp files and running Ghostscript; edgekit never lets it. With
    Ghostscript "installed" (whether or not it is), no program starts and no temp file is made."""
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", "gs")
    path = _write(tmp_path, name, REFUSED[name])
    with no_programs_or_temp_files(), pytest.raises(ImageReadError,
                                                    match="not an image file Pillow can decode as JPEG") as err:
        load_image(path)
    assert str(path) in str(err.value) and "EPS" in err.value.hint


@pytest.mark.parametrize("name", ["PPM.png", "ICO.bmp"])
def test_formats_outside_the_allow_list_are_refused_whatever_the_name(name, tmp_path):
    with pytest.raises(ImageReadError, match="not an image file Pillow can decode"):
        load_image(_write(tmp_path, name, REFUSED[name]))


def test_phone_mpo_jpegs_are_still_decoded(tmp_path):
    """The allow-list keeps JPEG's multi-picture variant (phone cameras): the first picture."""
    path = _write(tmp_path, "phone.jpg", SEEDS["MPO-RGB"])
    assert Image.open(path).format == "MPO"
    np.testing.assert_array_equal(load_image(path), np.asarray(Image.open(path).convert("RGB"))[..., ::-1])


@pytest.mark.parametrize("error", [subprocess.CalledProcessError(1, ["gs"]), RuntimeError("decoder state"), KeyError(7),
                                   struct.error("unpack requires a buffer of 4 bytes"), MemoryError()],
                         ids=lambda e: type(e).__name__)
def test_any_decoder_exception_is_an_image_read_error(error, tmp_path, monkeypatch):
    def load(self):
        raise error

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    path = _write(tmp_path, "x.png", SEEDS["PNG-RGB"])
    with pytest.raises(ImageReadError) as err:
        load_image(path)
    assert str(path) in str(err.value) and type(error).__name__ in str(err.value)


def test_cli_folder_batch_survives_postscript_and_damaged_exif(tmp_path):
    """`edgekit analyze FOLDER` with an EPS named .jpg and a JPEG with a damaged EXIF block, and a
    Ghostscript on PATH that records its runs and fails: the other files are analysed, the EPS
    gets one error line, nothing else reaches stderr (no traceback, no Pillow warning), exit 1,
    and Ghostscript never ran."""
    folder = tmp_path / "photos"
    folder.mkdir()
    _write(folder, "a_face.jpg", SEEDS["JPEG-RGB"])
    _write(folder, "b_poster.jpg", REFUSED["EPS.jpg"])
    _write(folder, "c_damaged_exif.jpg", SEEDS["JPEG-damaged-EXIF"])
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    ran = tmp_path / "gs_ran"
    (fake_bin / "gs").write_text(f"#!/bin/sh\necho \"$@\" >> {ran}\nexit 1\n")
    (fake_bin / "gs").chmod(0o755)
    proc = subprocess.run([sys.executable, "-m", "edgekit", "analyze", "photos"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300,
                          env={"PATH": f"{fake_bin}:/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert not ran.exists(), f"Ghostscript ran: {ran.read_text()}"
    assert proc.stderr.splitlines() == [
        "edgekit: error: photos/b_poster.jpg: not an image file Pillow can decode as "
        "JPEG, PNG, BMP, TIFF, WEBP or GIF. "
        "convert it to JPEG or PNG "
        "(edgekit.imageio.FORMATS lists the formats decoded; EPS, PDF and others are not)"]
    assert proc.returncode == 1  # the documented batch status: some input failed, the others ran
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["source"] for r in results] == ["photos/a_face.jpg", "photos/c_damaged_exif.jpg"]
    assert all(len(r["faces"]) == 1 for r in results)


# ------------------------------------------------------------- 7. memory bounded by decoded bytes


def _heavy_file(folder: Path, kind: str, side: int) -> Path:
    """A ``side`` x ``side`` all-zero file that compresses to almost nothing (a byte-heavy bomb)."""
    shape, dtype = {"float32.tif": ((side, side), np.float32), "int32.tif": ((side, side), np.int32),
                    "uint16.png": ((side, side), np.uint16), "rgb.png": ((side, side, 3), np.uint8)}[kind]
    path = folder / kind
    options = {"compression": "tiff_adobe_deflate"} if kind.endswith(".tif") else {"optimize": True}
    Image.fromarray(np.zeros(shape, dtype)).save(path, **options)
    return path


#: Decodes one file in a fresh process and prints its pixel count and how far its peak RSS rose
#: above the RSS before decoding. Linux's VmHWM, not ``ru_maxrss``: a child's ``ru_maxrss`` starts
#: at the parent's RSS (pytest's, hundreds of MB), which would hide any growth below it.
_PEAK_PROBE = """
import sys
from edgekit.imageio import load_image
def status(key):
    return int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith(key + ":"))) * 1024
before = status("VmRSS")
shape = load_image(sys.argv[1]).shape
print(shape[0] * shape[1], status("VmHWM") - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc/self/status")
@pytest.mark.parametrize("kind, bytes_per_pixel",
                         [("float32.tif", 4), ("int32.tif", 4), ("uint16.png", 2), ("rgb.png", 4)])
def test_decoding_peak_memory_is_the_decoded_bytes_plus_the_result(kind, bytes_per_pixel, tmp_path):
    """16-megapixel 32-bit, 16-bit and RGB files of a few hundred KB: a fresh process's peak RSS
    grows by the decoded pixels plus the BGR result (3 bytes/pixel), not by full-size float copies
    (before: 2-3x that: 317 MB for the float TIFF, 247 MB for the 16-bit PNG)."""
    path = _heavy_file(tmp_path, kind, 4000)
    assert path.stat().st_size < 1_000_000
    proc = subprocess.run([sys.executable, "-c", _PEAK_PROBE, str(path)], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    pixels, growth = map(int, proc.stdout.split())
    budget = pixels * (bytes_per_pixel + 3) + 32 * 2**20
    assert growth <= budget, f"peak RSS grew {growth / 2**20:.0f} MB, budget {budget / 2**20:.0f} MB"


def test_over_budget_file_is_refused_from_its_header(tmp_path, monkeypatch):
    """MAX_DECODED_BYTES counts bytes: a float TIFF is refused where an 8-bit file of the same
    pixel count is decoded; refused before any pixel is decoded."""
    wide = tmp_path / "wide.tif"
    Image.fromarray(np.zeros((200, 300), np.float32)).save(wide)  # 240,000 bytes decoded
    narrow = tmp_path / "narrow.png"
    Image.fromarray(np.zeros((200, 300), np.uint8)).save(narrow)  # 60,000 bytes decoded
    monkeypatch.setattr(imageio, "MAX_DECODED_BYTES", 240_000)
    assert load_image(wide).shape == (200, 300, 3)  # exactly at the budget
    monkeypatch.setattr(imageio, "MAX_DECODED_BYTES", 239_999)
    assert load_image(narrow).shape == (200, 300, 3)

    def decode(img, path):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(imageio, "_to_bgr", decode)
    with pytest.raises(ImageReadError,
                       match=r"300x200 pixels of mode F: 240,000 bytes decoded.*MAX_DECODED_BYTES = 239,999") as err:
        load_image(wide)
    assert str(wide) in str(err.value) and "re-export it with 8-bit pixels" in err.value.hint


# ------------------------------------------------------------------ 20. no warnings on damaged metadata


def _clean_jpeg(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))[..., ::-1]


@pytest.mark.parametrize("damage", sorted(seeds.DAMAGED_EXIF))
def test_damaged_exif_decodes_without_a_warning(damage, tmp_path):
    """Pillow warns (to stderr, with a site-packages path) about a damaged EXIF block; edgekit skips
    the block silently and decodes the pixels."""
    jpeg = seeds.encode(seeds.face_rgb(), "JPEG", "RGB", quality=90)
    path = _write(tmp_path, "photo.jpg", seeds.with_app1(jpeg, seeds.DAMAGED_EXIF[damage]))
    with no_warnings():
        bgr = load_image(path)
    np.testing.assert_array_equal(bgr, _clean_jpeg(jpeg))


def test_malformed_mpo_header_decodes_without_a_warning(tmp_path):
    path = _write(tmp_path, "phone.jpg", SEEDS["MPO-malformed"])
    with no_warnings():
        bgr = load_image(path)
    assert bgr.shape == (96, 96, 3)


def test_concurrent_decodes_leave_the_warning_filters_as_they_were(tmp_path, monkeypatch):
    """Two decodes that overlap (A enters, B enters, A leaves, B leaves) must not leave edgekit's
    warning filter installed for the whole process (``warnings.catch_warnings`` alone would)."""
    path = _write(tmp_path, "x.png", SEEDS["PNG-RGB"])
    a_inside, b_inside, a_done = threading.Event(), threading.Event(), threading.Event()
    check = imageio._check_pixel_count

    def interleaved(size, subject):  # runs inside the decode's warning block
        if threading.current_thread().name == "A":
            a_inside.set()
            assert b_inside.wait(30)
        else:
            b_inside.set()
            assert a_done.wait(30)
        check(size, subject)

    monkeypatch.setattr(imageio, "_check_pixel_count", interleaved)
    before = list(warnings.filters)
    errors = []

    def decode() -> None:
        try:
            load_image(path)
        except BaseException as exc:  # reported below
            errors.append(exc)
        if threading.current_thread().name == "A":
            a_done.set()

    a = threading.Thread(target=decode, name="A")
    b = threading.Thread(target=decode, name="B")
    a.start()
    assert a_inside.wait(30)
    b.start()
    a.join(60)
    b.join(60)
    assert not errors, errors
    assert warnings.filters == before


# ---------------------------------------------------------------------- 21. a file gets a file hint


@pytest.mark.parametrize("name, reason", [("TIFF-F-0..255.tif", r"float pixel values span 0\.\.252, outside \[0, 1\]"),
                                          ("TIFF-F-NaN.tif", "NaN or infinite")])
def test_float_file_out_of_contract_gets_a_file_hint(name, reason, tmp_path):
    path = _write(tmp_path, "float.tif", REFUSED[name])
    with pytest.raises(ImageReadError, match=reason) as err:
        load_image(path)
    assert str(path) in str(err.value)
    assert "re-export the image" in err.value.hint and "np." not in str(err.value) and "array" not in str(err.value)


def test_float_array_keeps_the_array_hint():
    with pytest.raises(ImageReadError, match=r"outside \[0, 1\]") as err:
        load_image(np.full((4, 4), 200.0, np.float32))
    assert "arr.astype(np.uint8)" in err.value.hint
