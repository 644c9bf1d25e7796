"""Hostile videos, round two (issue #20): FIFOs and devices named like videos, annotated videos on
a full disk, containers that claim absurd frame rates, and files with a corrupt middle.

Every command-line check runs the real ``python -m edgekit`` in a subprocess with a timeout, so a
command that blocks on a FIFO fails the test instead of hanging the suite.
"""
from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import warnings
from pathlib import Path
from typing import List, Optional

import cv2
import numpy as np
import pytest

import edgekit
from edgekit.errors import VideoReadError
from edgekit.timeline import emotion_timeline
from edgekit.video import (DEFAULT_FPS, FRAME_COUNT_TOLERANCE, IncompleteVideoWarning, VideoReader, VideoTimingWarning,
                           VideoWarning, VideoWriter)

ROOT = Path(__file__).resolve().parents[2]
FPS, FRAMES, SIZE = 30.0, 90, (320, 240)
#: Seconds a refusal may take (opening a Pipeline included); reading /dev/zero took 31 s.
QUICK_S = 20.0


# ----------------------------------------------------------------------------------- helpers


def write_clip(path: Path, fourcc: str, fps: float = FPS, frames: int = FRAMES) -> Path:
    """``frames`` frames of a window sliding over the demo photo (one face), written by OpenCV itself."""
    from edgekit.assets import demo_photo

    photo = edgekit.load_image(demo_photo())
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, SIZE)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.ascontiguousarray(cv2.resize(photo[i:i + 400, i:i + 400], SIZE)))
    writer.release()
    return path


def with_avi_rate(src: Path, dst: Path, rate: int, scale: int) -> Path:
    """Copy of an AVI whose headers claim ``rate / scale`` frames per second (stream header) and
    the matching microseconds per frame (main header, clamped to 32 bits)."""
    data = bytearray(src.read_bytes())
    avih, strh = data.find(b"avih"), data.find(b"strh")
    assert avih > 0 and data[strh + 8:strh + 12] == b"vids"
    data[avih + 8:avih + 12] = struct.pack("<I", min(round(1e6 * scale / rate), 2**32 - 1))
    data[strh + 28:strh + 36] = struct.pack("<II", scale, rate)  # dwScale, dwRate
    dst.write_bytes(bytes(data))
    return dst


def with_corrupt_middle(src: Path, dst: Path) -> Path:
    """Copy of ``src`` with its middle 30 % overwritten by (seeded) noise; the headers stay intact."""
    data = bytearray(src.read_bytes())
    start, end = int(len(data) * 0.3), int(len(data) * 0.6)
    data[start:end] = np.random.default_rng(20).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))
    return dst


def special_file(folder: Path, kind: str, name: str) -> Path:
    """A non-regular file named ``name``: a FIFO, a link to one, a link to /dev/zero or a folder."""
    path = folder / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "fifo_link":
        os.mkfifo(folder / f"pipe-{name}")
        path.symlink_to(folder / f"pipe-{name}")
    elif kind == "dev_zero_link":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    return path


def run_edgekit(args: List[str], cwd: Path, timeout: float = 300, max_file_bytes: Optional[int] = None
                ) -> subprocess.CompletedProcess:
    """``python -m edgekit ARGS`` in ``cwd``; ``max_file_bytes`` caps every file it writes
    (RLIMIT_FSIZE: writes past it fail with EFBIG, as on a full disk; Python ignores SIGXFSZ)."""
    def cap_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd), "PYTHONDONTWRITEBYTECODE": "1",
           "EDGEKIT_DATA_DIR": str(cwd.parent / f"{cwd.name}-data")}
    return subprocess.run([sys.executable, "-m", "edgekit", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=cap_files if max_file_bytes else None)


def stderr_lines(proc: subprocess.CompletedProcess) -> List[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.splitlines()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("clips")
    return {"mp4": write_clip(folder / "clip.mp4", "mp4v"), "avi": write_clip(folder / "clip.avi", "MJPG")}


@pytest.fixture
def work(tmp_path) -> Path:
    """An empty working folder (the data dir of the subprocesses is beside it, not in it)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


# ------------------------------------------- 5, 8: FIFOs, devices, folders named like videos

SPECIAL_KINDS = ("fifo", "fifo_link", "dev_zero_link", "folder")
_API_PROBE = """
import json, sys, time
import edgekit
from edgekit.timeline import emotion_timeline
from edgekit.video import VideoReader

path, out = sys.argv[1], {}
pipe = edgekit.Pipeline(running_mode="video")
calls = {"VideoReader": lambda: VideoReader(path), "Pipeline.process_video": lambda: list(pipe.process_video(path)),
         "emotion_timeline": lambda: emotion_timeline(path, pipeline=pipe)}
for name, call in calls.items():
    start = time.monotonic()
    try:
        call()
        out[name] = ["no error", "", 0.0]
    except Exception as exc:
        out[name] = [type(exc).__name__, str(exc), time.monotonic() - start]
print(json.dumps(out))
"""


@pytest.mark.parametrize("kind", SPECIAL_KINDS)
def test_api_refuses_non_regular_video_files_at_once(kind, work):
    """VideoReader, Pipeline.process_video and emotion_timeline refuse a FIFO (which blocked them
    forever), a link to one, a link to /dev/zero (read for 31 s, 2.2 GB) and a folder with a
    VideoReadError naming the path, before OpenCV opens it."""
    path = special_file(work, kind, "x.mp4" if kind != "dev_zero_link" else "z.m4v")
    proc = subprocess.run([sys.executable, "-c", _API_PROBE, str(path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "EDGEKIT_DATA_DIR": str(work / "data")})
    assert proc.returncode == 0, proc.stderr
    word = {"fifo": "FIFO", "fifo_link": "FIFO", "dev_zero_link": "device", "folder": "directory"}[kind]
    for api, (error, message, seconds) in json.loads(proc.stdout.splitlines()[-1]).items():
        assert error == VideoReadError.__name__, (api, error, message)
        assert str(path) in message and word in message, (api, message)
        assert seconds < QUICK_S, (api, seconds)


@pytest.mark.parametrize("command", ["analyze", "timeline", "meme"])
@pytest.mark.parametrize("kind", ["fifo", "dev_zero_link"])
def test_cli_refuses_non_regular_video_files_with_one_line(command, kind, work):
    name = "x.mp4" if kind == "fifo" else "z.m4v"
    special_file(work, kind, name)
    proc = run_edgekit([command, name], work, timeout=120)
    assert proc.returncode == 1, proc.stderr
    [line] = stderr_lines(proc)
    assert line.startswith(f"edgekit: error: {name}: is a ") and "not a regular file" in line, line
    assert sorted(p.name for p in work.iterdir()) == [name], "nothing may be written for a refused input"


# ----------------------------------------------------- 12: annotated video on a full disk


@pytest.mark.parametrize("suffix,existing", [(".mp4", None), (".avi", b"the previous video\n")])
def test_annotated_video_on_a_full_disk_fails_and_leaves_nothing(clips, work, suffix, existing):
    """With files capped at a quarter of the clip's size (RLIMIT_FSIZE), writing the annotated
    video fails: exit 1, one error line naming the output, no file (or the previous one intact)
    and no temporary file left. Before, OpenCV dropped the frames silently and the run exited 0."""
    source = work / "clip.mp4"
    source.write_bytes(clips["mp4"].read_bytes())
    out = work / f"annotated{suffix}"
    if existing is not None:
        out.write_bytes(existing)
    proc = run_edgekit(["analyze", "clip.mp4", "--annotate", out.name], work, max_file_bytes=source.stat().st_size // 4)
    assert proc.returncode == 1, proc.stderr
    [line] = stderr_lines(proc)
    assert line.startswith("edgekit: error: ") and out.name in line and "could not be written completely" in line, line
    assert len(proc.stdout.splitlines()) == FRAMES  # the analysis itself was not lost
    assert out.read_bytes() == existing if existing is not None else not out.exists()
    assert sorted(p.name for p in work.iterdir()) == sorted({"clip.mp4", out.name} if existing else {"clip.mp4"})


def test_annotated_video_is_published_whole(clips, work):
    source = work / "clip.mp4"
    source.write_bytes(clips["mp4"].read_bytes())
    proc = run_edgekit(["analyze", "clip.mp4", "--annotate", "annotated.mp4"], work)
    assert proc.returncode == 0 and stderr_lines(proc) == [], proc.stderr
    assert sorted(p.name for p in work.iterdir()) == ["annotated.mp4", "clip.mp4"]  # no temporary file left
    with VideoReader(work / "annotated.mp4") as reader:
        assert len(list(reader)) == FRAMES


def test_video_writer_discards_an_unfinished_video(tmp_path):
    """Leaving the ``with`` block on an error keeps the previous file and removes the partial one."""
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous")
    with pytest.raises(RuntimeError), VideoWriter(out, FPS, SIZE) as writer:
        writer.write(np.zeros((SIZE[1], SIZE[0], 3), np.uint8))
        raise RuntimeError("analysis failed half way")
    assert out.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_video_writer_refuses_to_write_over_its_input(clips, tmp_path):
    link = tmp_path / "same.mp4"
    link.symlink_to(clips["mp4"])
    before = clips["mp4"].read_bytes()
    with pytest.raises(edgekit.InputError, match="is also an input"):
        VideoWriter(link, FPS, SIZE, inputs=[clips["mp4"]])
    assert clips["mp4"].read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["same.mp4"]


# ----------------------------------------------------------------- 13: absurd frame rates

ABSURD_RATES = {"4e9 fps": (4_000_000_000, 1), "1e-6 fps": (1, 1_000_000)}


@pytest.mark.parametrize("rate", ABSURD_RATES, ids=list(ABSURD_RATES))
def test_absurd_container_frame_rate_falls_back_to_the_default_clock(clips, tmp_path, rate):
    """A header claiming 4e9 fps gave every frame the same timestamp (0 ms); one claiming 1e-6 fps
    put 90 frames 2.8 years apart. Both are now timed at DEFAULT_FPS, with a warning."""
    path = with_avi_rate(clips["avi"], tmp_path / "absurd.avi", *ABSURD_RATES[rate])
    with pytest.warns(VideoTimingWarning, match="implausible frame rate"):
        with VideoReader(path) as reader:
            stamps = [f.timestamp_ms for f in reader]
    assert reader.fps is None and len(reader.warnings) == 1 and str(path) in reader.warnings[0]
    assert stamps == pytest.approx([i * 1000.0 / DEFAULT_FPS for i in range(FRAMES)])


def test_timeline_of_an_absurd_frame_rate_matches_the_real_one(clips, tmp_path):
    """Same frames, same timeline: the smoothing, the duration and the alert events of the absurd
    file equal those of the same AVI at its real 30 fps (which has an alert to miss)."""
    absurd = with_avi_rate(clips["avi"], tmp_path / "absurd.avi", *ABSURD_RATES["4e9 fps"])
    with edgekit.Pipeline(running_mode="video") as pipe:
        real = emotion_timeline(clips["avi"], alerts=["happiness>1s"], pipeline=pipe)
        with pytest.warns(VideoTimingWarning):
            got = emotion_timeline(absurd, alerts=["happiness>1s"], pipeline=pipe)
    assert real.events and real.warnings == [] and real.duration_ms == pytest.approx(3000)
    assert got.duration_ms == pytest.approx(real.duration_ms)
    np.testing.assert_allclose(got.timestamps_ms, real.timestamps_ms)
    np.testing.assert_allclose(got.mean_probs, real.mean_probs, atol=1e-5)
    spans = [[(e.start_ms, e.end_ms) for e in t.events] for t in (got, real)]
    np.testing.assert_allclose(*spans)
    assert len(got.warnings) == 1 and got.to_dict()["warnings"] == got.warnings


def test_cli_timeline_notes_an_absurd_frame_rate_on_one_line(clips, work):
    with_avi_rate(clips["avi"], work / "absurd.avi", *ABSURD_RATES["1e-6 fps"])
    proc = run_edgekit(["timeline", "absurd.avi", "-o", "tl", "--no-plot"], work)
    assert proc.returncode == 0, proc.stderr
    [line] = stderr_lines(proc)
    assert line.startswith("edgekit: warning: absurd.avi: implausible frame rate") and f"{DEFAULT_FPS:g} fps" in line
    summary = json.loads((work / "tl" / "summary.json").read_text())
    assert summary["duration_s"] == pytest.approx(FRAMES / DEFAULT_FPS) and summary["fps"] is None
    assert len(summary["warnings"]) == 1


# ----------------------------------------------------------------- 14: corrupt middle


@pytest.mark.parametrize("fmt", ["mp4", "avi"])
def test_corrupt_middle_warns_that_frames_are_missing(clips, tmp_path, fmt):
    path = with_corrupt_middle(clips[fmt], tmp_path / f"corrupt.{fmt}")
    with pytest.warns(IncompleteVideoWarning, match=f"only \\d+ of the {FRAMES} frames"):
        with VideoReader(path) as reader:
            decoded = len(list(reader))
    assert reader.frame_count == FRAMES and decoded < FRAMES - FRAME_COUNT_TOLERANCE  # premise: frames were lost
    assert reader.incomplete and f"only {decoded} of the {FRAMES}" in reader.warnings[0]


def test_whole_or_capped_videos_do_not_warn(clips, tmp_path):
    corrupt = with_corrupt_middle(clips["mp4"], tmp_path / "corrupt.mp4")
    with warnings.catch_warnings():
        warnings.simplefilter("error", VideoWarning)
        for path, cap in ((clips["mp4"], None), (clips["avi"], None), (clips["mp4"], 10), (corrupt, 10)):
            with VideoReader(path, max_frames=cap) as reader:
                assert len(list(reader)) == (cap or FRAMES) and not reader.incomplete and reader.warnings == []


def test_timeline_records_the_missing_frames(clips, tmp_path):
    path = with_corrupt_middle(clips["mp4"], tmp_path / "corrupt.mp4")
    with edgekit.Pipeline(running_mode="video") as pipe, pytest.warns(IncompleteVideoWarning):
        timeline = emotion_timeline(path, pipeline=pipe)
    summary = timeline.to_dict()
    assert summary["frames_announced"] == FRAMES and summary["frames"] < FRAMES - FRAME_COUNT_TOLERANCE
    assert len(summary["warnings"]) == 1 and f"of the {FRAMES} frames" in summary["warnings"][0]


@pytest.mark.parametrize("command", ["analyze", "timeline"])
def test_cli_notes_missing_frames_on_one_line(clips, work, command):
    with_corrupt_middle(clips["mp4"], work / "corrupt.mp4")
    proc = run_edgekit([command, "corrupt.mp4"] + (["-o", "tl", "--no-plot"] if command == "timeline" else []), work)
    assert proc.returncode == 0, proc.stderr
    [line] = stderr_lines(proc)
    assert line.startswith("edgekit: warning: corrupt.mp4: only ") and f"of the {FRAMES} frames" in line, line
    if command == "analyze":
        assert 0 < len(proc.stdout.splitlines()) < FRAMES - FRAME_COUNT_TOLERANCE
    else:
        assert json.loads((work / "tl" / "summary.json").read_text())["frames_announced"] == FRAMES
