"""Outputs and messages (#20): an output never replaces an input, is written atomically (a full
disk or Ctrl-C leaves the previous file or nothing, never a torn file), a batch interrupted with
Ctrl-C says what it finished, OS errors and control characters never reach the terminal raw, and
objects documented as one-per-thread refuse a second thread instead of mixing up results.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import List

import cv2
import numpy as np
import pytest

import edgekit
from edgekit import paths
from edgekit.errors import ConcurrentUseError, ConfigError, InputError
from fuzz.cli import check_cli_failure_output, run_cli
from fuzz import seeds

ROOT = Path(__file__).resolve().parents[2]
FACE_BGR = np.ascontiguousarray(seeds.face_rgb()[..., ::-1])


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), FACE_BGR)
    return path


def _cli(*argv: str, cwd: Path, limit_bytes: int = 0, stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess:
    """``python -m edgekit ARGV`` in a child; ``limit_bytes`` > 0 caps every file it writes (RLIMIT_FSIZE with
    SIGXFSZ ignored: writes past the cap fail with EFBIG, as on a full disk)."""

    def cap() -> None:
        if limit_bytes:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "EDGEKIT_DATA_DIR": str(cwd / "data")}
    return subprocess.run([sys.executable, "-m", "edgekit", *argv], cwd=cwd, env=env, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=300, preexec_fn=cap)


def check_one_error_line(code: int, stderr: str) -> None:
    """A failure prints exactly one ``edgekit: error:`` line, last, and no traceback."""
    check_cli_failure_output(code, stderr)
    assert sum("error:" in line for line in stderr.splitlines()) == 1, stderr


def _no_temporaries(folder: Path) -> List[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


# ------------------------------------------------------------------------- outputs over inputs


@pytest.mark.parametrize("argv", [
    ["analyze", "{photo}", "--out", "{photo}"],
    ["analyze", "{photo}", "--annotate", "{photo}"],
    ["meme", "{photo}", "-o", "{photo}", "--text", "hi"],
    ["meme", "{photo}", "-o", "{link}", "--text", "hi"],
    ["transfer", "--target", "{photo}", "--exaggerate", "1.5", "-o", "{photo}"],
    ["demo", "--image", "{photo}", "--out-dir", "{folder}/demo"],
])
def test_an_output_never_replaces_an_input(argv, photo, tmp_path):
    before = photo.read_bytes()
    link = tmp_path / "alias.png"
    link.symlink_to(photo)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "photo_meme.png").symlink_to(photo)  # the demo's meme output links to its input
    argv = [a.format(photo=photo, link=link, folder=tmp_path) for a in argv]
    code, out, err = run_cli(argv, tmp_path)
    assert code != 0, (out, err)
    check_one_error_line(code, err)
    assert "is also an input" in err.splitlines()[-1], err
    assert photo.read_bytes() == before
    assert not _no_temporaries(tmp_path)


def test_write_output_refuses_an_input_and_a_link_to_it(photo, tmp_path):
    link = tmp_path / "same.png"
    link.symlink_to(photo)
    for target in (photo, link, tmp_path / "." / "photo.png"):
        with pytest.raises(InputError, match="is also an input"):
            paths.write_output(target, lambda tmp: tmp.write_bytes(b"x"), [photo])
    assert photo.read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------------- atomic outputs


def test_a_failed_write_keeps_the_previous_output_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match="No space left on device"):
        paths.write_output(target, half_then_fail)
    assert target.read_bytes() == b"previous" and not _no_temporaries(tmp_path)

    def interrupted(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        paths.write_output(target, interrupted)
    assert target.read_bytes() == b"previous" and not _no_temporaries(tmp_path)


@pytest.mark.parametrize("argv,output", [
    (["meme", "photo.png", "--text", "hello", "-o", "meme.png"], "meme.png"),
    (["meme", "photo.png", "--text", "hello", "--gif", "-o", "meme.gif"], "meme.gif"),
    (["analyze", "photo.png", "--annotate", "annotated.png"], "annotated.png"),
    (["transfer", "--target", "photo.png", "--exaggerate", "1.5", "-o", "edited.png"], "edited.png"),
])
def test_full_disk_keeps_the_previous_output(argv, output, photo):
    """Re-making an output on a full disk (writes capped by RLIMIT_FSIZE) fails with one line and
    leaves the previous file whole; no temporary file is left."""
    folder = photo.parent
    previous = b"previous output, must survive"
    (folder / output).write_bytes(previous)
    result = _cli(*argv, cwd=folder, limit_bytes=4096)
    assert result.returncode == 1, result.stderr
    check_one_error_line(result.returncode, result.stderr)
    assert "cannot be written" in result.stderr.splitlines()[-1], result.stderr
    assert (folder / output).read_bytes() == previous
    assert not _no_temporaries(folder)


def test_analyze_out_is_written_atomically_and_kept_on_ctrl_c(tmp_path, monkeypatch):
    """--out appears only when the run ends; Ctrl-C publishes the complete lines so far and says
    how many inputs were finished (exit 130, one line)."""
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"p{i}.png"), FACE_BGR)
    from edgekit.pipeline import Pipeline

    real, calls = Pipeline.decode_and_process, []

    def decode_and_process(self, image, timestamp_ms=None):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, image, timestamp_ms)

    monkeypatch.setattr(Pipeline, "decode_and_process", decode_and_process)
    code, _, err = run_cli(["analyze", "p0.png", "p1.png", "p2.png", "--out", "results.jsonl"], tmp_path)
    assert code == 130
    assert err.strip().splitlines()[-1] == ("edgekit: error: interrupted after 1 of 3 input(s); "
                                            "their results are in results.jsonl")
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 1 and '"p0.png"' in lines[0] and not _no_temporaries(tmp_path)


def test_meme_folder_batch_reports_what_was_made_on_ctrl_c(tmp_path, monkeypatch):
    from edgekit import meme

    def fake_make_memes(folder, out, on_item=None, **kwargs):
        class Item:
            error, records = None, []

        on_item(Item())
        on_item(Item())
        raise KeyboardInterrupt

    monkeypatch.setattr(meme, "make_memes", fake_make_memes)
    (tmp_path / "photos").mkdir()
    code, _, err = run_cli(["meme", "photos", "-o", "memes"], tmp_path)
    assert code == 130
    assert err.strip().splitlines()[-1] == ("edgekit: error: interrupted after 2 input(s); their results are in "
                                            f"{Path('memes') / 'manifest.jsonl'}")


# ---------------------------------------------------------------------------------- messages


@pytest.mark.parametrize("argv", [["models"], ["caption", "--emotion", "happiness"], ["analyze", "photo.png"],
                                  ["demo", "--out-dir", "demo"]])
def test_a_full_stdout_gives_one_line_not_a_traceback(argv, photo):
    with open("/dev/full", "w") as full:
        result = _cli(*argv, cwd=photo.parent, stdout=full)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    full = "edgekit: error: standard output: cannot be written (No space left on device)"
    assert lines[-1].startswith(full), result.stderr


@pytest.mark.parametrize("argv", [
    ["meme", "{folder}", "-o", "blocker/memes"],
    ["suggest", "--chat", "明天考试", "--photo", "{photo}", "--memes", "blocker/memes"],
    ["analyze", "{photo}", "--out", "blocker/out.jsonl"],
])
def test_unwritable_output_folders_give_one_line(argv, photo, tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder is needed\n")
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), FACE_BGR)
    code, out, err = run_cli([a.format(folder=folder, photo=photo) for a in argv], tmp_path)
    assert code != 0, (out, err)
    check_one_error_line(code, err)
    assert "blocker" in err.splitlines()[-1], err


def test_control_characters_in_file_names_are_escaped(tmp_path):
    name = "evil\x1b]0;pwned\x07\x1b[2J\u202e.png"
    code, _, err = run_cli(["analyze", name], tmp_path)
    assert code == 1
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err
    assert "\\x1b]0;pwned\\x07" in err and "\\u202e" in err
    check_one_error_line(code, err)


def test_demo_image_errors_name_the_path(tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 120, 3), 127, np.uint8))
    code, _, err = run_cli(["demo", "--image", str(blank), "--out-dir", str(tmp_path / "out")], tmp_path)
    assert code == 1 and err.splitlines()[-1].startswith(f"edgekit: error: {blank}: no face found"), err


# ------------------------------------------------------------------------------------ threads


def test_closing_a_pipeline_while_threads_use_it_gives_typed_errors_only():
    pipe = edgekit.Pipeline()
    errors: List[BaseException] = []
    started = threading.Barrier(5)

    def worker() -> None:
        started.wait()
        for _ in range(200):
            try:
                pipe.process(FACE_BGR)
            except ConfigError as exc:
                assert "closed" in str(exc)
                return
            except BaseException as exc:  # noqa: BLE001 - anything untyped is the bug
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    pipe.process(FACE_BGR)
    pipe.close()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with pytest.raises(ConfigError, match="the pipeline is closed.*create a new Pipeline"):
        pipe.process(FACE_BGR)
    pipe.close()  # twice is harmless


@pytest.mark.parametrize("make,call", [
    (lambda: edgekit.EmotionClassifier(), lambda c, crop: c.predict(crop)),
    (lambda: edgekit.FaceDetector(), lambda d, _: d.detect(FACE_BGR)),
])
def test_sharing_a_one_per_thread_model_between_threads_is_refused(make, call):
    """Two threads inside one classifier at once get ConcurrentUseError, never silently mixed results."""
    model = make()
    crop = cv2.resize(FACE_BGR, (96, 96))
    inside, release = threading.Event(), threading.Event()
    real_invoke = model._interpreter.invoke

    class SlowInterpreter:
        def __getattr__(self, name):
            return getattr(model._interpreter_real, name)

        def invoke(self):
            inside.set()
            release.wait(10)
            real_invoke()

    model._interpreter_real = model._interpreter
    model._interpreter = SlowInterpreter()
    first = threading.Thread(target=call, args=(model, crop))
    first.start()
    assert inside.wait(10)
    try:
        with pytest.raises(ConcurrentUseError, match="in use by another thread"):
            call(model, crop)
    finally:
        release.set()
        first.join(10)
    call(model, crop)  # free again once the first thread left


def test_a_captioner_shared_between_threads_is_refused():
    captioner = edgekit.captioning.Captioner()
    started, release = threading.Event(), threading.Event()
    real_one = captioner._one

    def slow_one(*args, **kwargs):
        started.set()
        release.wait(10)
        return real_one(*args, **kwargs)

    captioner._one = slow_one
    first = threading.Thread(target=captioner.generate, args=("happiness",))
    first.start()
    assert started.wait(10)
    try:
        with pytest.raises(ConcurrentUseError):
            captioner.generate("sadness")
    finally:
        release.set()
        first.join(30)


def test_closed_models_raise_typed_errors():
    classifier = edgekit.EmotionClassifier()
    classifier.close()
    with pytest.raises(ConfigError, match="EmotionClassifier was closed"):
        classifier.predict(cv2.resize(FACE_BGR, (96, 96)))
    detector = edgekit.FaceDetector()
    detector.close()
    with pytest.raises(ConfigError, match="FaceDetector was closed"):
        detector.detect(FACE_BGR)


def _clip(path: Path, frames: int = 12) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (FACE_BGR.shape[1], FACE_BGR.shape[0]))
    for _ in range(frames):
        writer.write(FACE_BGR)
    writer.release()
    return path


def test_timeline_on_a_full_disk_gives_one_line_and_no_torn_files(tmp_path):
    _clip(tmp_path / "clip.avi")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "timeline.png").write_bytes(b"previous plot")
    result = _cli("timeline", "clip.avi", "-o", "out", cwd=tmp_path, limit_bytes=4096)
    assert result.returncode == 1, result.stderr
    check_one_error_line(result.returncode, result.stderr)
    assert "timeline.png: cannot be written" in result.stderr.splitlines()[-1], result.stderr
    assert (tmp_path / "out" / "timeline.png").read_bytes() == b"previous plot"
    assert not _no_temporaries(tmp_path)


def test_timeline_with_an_unusable_data_dir_gives_one_line(tmp_path):
    _clip(tmp_path / "clip.avi")
    (tmp_path / "blocker").write_text("a file where the data dir should be\n")
    env = {**os.environ, "EDGEKIT_DATA_DIR": str(tmp_path / "blocker" / "data"), "MPLCONFIGDIR": ""}
    env.pop("MPLCONFIGDIR")
    result = subprocess.run([sys.executable, "-m", "edgekit", "timeline", "clip.avi", "-o", "out"], cwd=tmp_path,
                            env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    check_one_error_line(result.returncode, result.stderr)
    assert "blocker" in result.stderr.splitlines()[-1], result.stderr
