"""Non-regular-file target: FIFOs, links to FIFOs, links to ``/dev/zero``, folders and dangling
links named like videos or images, through every reader of a path (Python API and CLI). A
regular file of the same name must be read; anything else must be refused with a typed error
(one error line from the CLI) within seconds: a reader that blocks on a FIFO or streams a device
fails the check instead of hanging the run."""
from __future__ import annotations

import functools
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

from hypothesis import strategies as st

from . import seeds
from .checks import shared_video_pipeline
from .cli import check_cli_failure_output, run_cli
from .harness import attempt, fresh_dir

KINDS = ("regular", "fifo", "fifo_link", "dev_zero_link", "folder", "dangling_link")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi")
IMAGE_SUFFIXES = (".png", ".jpg")
#: Seconds a refusal may take (a CLI run builds its pipeline first); a regular file gets longer.
REFUSE_S, READ_S = 30.0, 300.0


def _video_reader(path: Path, folder: Path) -> Any:
    from edgekit.video import VideoReader

    with VideoReader(path) as reader:
        return len(list(reader))


def _process_video(path: Path, folder: Path) -> Any:
    return len(list(shared_video_pipeline().process_video(path)))


def _timeline(path: Path, folder: Path) -> Any:
    from edgekit.timeline import emotion_timeline

    return emotion_timeline(path, pipeline=shared_video_pipeline()).frames


def _load_image(path: Path, folder: Path) -> Any:
    import edgekit

    return edgekit.load_image(path)


def _analyze(path: Path, folder: Path) -> Any:
    import edgekit

    return edgekit.analyze(path)


#: reader -> (call, the suffixes it reads); CLI readers are argv prefixes (the path is appended).
READERS: Dict[str, Tuple[Any, Tuple[str, ...]]] = {
    "VideoReader": (_video_reader, VIDEO_SUFFIXES),
    "Pipeline.process_video": (_process_video, VIDEO_SUFFIXES),
    "emotion_timeline": (_timeline, VIDEO_SUFFIXES),
    "load_image": (_load_image, IMAGE_SUFFIXES),
    "analyze": (_analyze, IMAGE_SUFFIXES),
    "cli analyze": (["analyze", "--max-frames", "3"], VIDEO_SUFFIXES + IMAGE_SUFFIXES),
    "cli timeline": (["timeline", "--no-plot", "--max-frames", "3"], VIDEO_SUFFIXES),
    "cli meme": (["meme", "--text", "hi", "--no-progress"], VIDEO_SUFFIXES + IMAGE_SUFFIXES),
}


@st.composite
def special_files(draw: Callable) -> Tuple[str, str, str]:
    """(kind of file, reader, file suffix)."""
    reader = draw(st.sampled_from(sorted(READERS)))
    return draw(st.sampled_from(KINDS)), reader, draw(st.sampled_from(READERS[reader][1]))


@functools.lru_cache(maxsize=None)
def regular_bytes(suffix: str) -> bytes:
    """A small valid file for ``suffix``: a 6-frame clip of the seed face, or a PNG/JPEG of it."""
    if suffix in IMAGE_SUFFIXES:
        return seeds.encode(seeds.face_rgb(), "PNG" if suffix == ".png" else "JPEG", "RGB")
    from edgekit.video import VideoWriter

    bgr = seeds.face_rgb()[..., ::-1].copy()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip{suffix}"
        with VideoWriter(path, 10.0, (96, 96)) as writer:
            for _ in range(6):
                writer.write(bgr)
        return path.read_bytes()


def make_file(folder: Path, kind: str, suffix: str) -> Path:
    """``folder/input<suffix>`` of the given kind."""
    path = folder / f"input{suffix}"
    if kind == "regular":
        path.write_bytes(regular_bytes(suffix))
    elif kind in ("fifo", "fifo_link"):
        os.mkfifo(folder / "pipe" if kind == "fifo_link" else path)
        if kind == "fifo_link":
            path.symlink_to(folder / "pipe")
    elif kind == "dev_zero_link":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(folder / "missing")
    return path


def _within(seconds: float, path: Path, call: Callable[[], Any]) -> Any:
    """``call()`` in a thread; AssertionError when it is still running after ``seconds`` (a
    reader blocked on a FIFO is released by opening its write end, so the thread ends)."""
    box: Dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # re-raised in the fuzzing thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # EOF for a reader blocked on the FIFO
        except OSError:
            pass
        thread.join(10)
        raise AssertionError(f"{path} was still being read after {seconds:g} s: a non-regular file must be "
                             "refused before it is opened")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def check_special_file(example: Tuple[str, str, str], workdir: Path) -> None:
    """A regular file is read; a FIFO, device, folder or dangling link is refused quickly with a
    typed error (CLI: exit 1, one error line naming the input)."""
    kind, reader, suffix = example
    folder = fresh_dir(workdir, "special")
    path = make_file(folder, kind, suffix)
    regular = kind == "regular"
    call = READERS[reader][0]
    seconds = READ_S if regular else REFUSE_S
    if isinstance(call, list):
        code, _, stderr = _within(seconds, path, lambda: run_cli([*call, path.name], folder))
        assert code == (0 if regular else 1), (code, stderr)
        check_cli_failure_output(code, stderr)
        if not regular:
            assert [line for line in stderr.splitlines() if "error:" in line] == stderr.splitlines()[-1:], stderr
            assert path.name in stderr, stderr
        return
    result = _within(seconds, path, lambda: attempt(call, path, folder, must_succeed=regular))
    assert (result is not None) == regular, (kind, reader, result)
