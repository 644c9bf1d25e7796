"""Detect faces and classify their emotions in images, folders, videos or a camera.

Writes one JSON object per image or video frame (JSON Lines) to stdout or --out. Images are
processed first (in the order given; folders recursively, sorted), then videos, then the camera.
A failing input prints one "edgekit: error: <path>: <reason>" line to stderr and the other
inputs still run; the exit code is then 1.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, ContextManager, Iterable, List, Optional, Set, Tuple, Union

from ..errors import ConfigError, EdgekitError, InputError
from ._common import (Progress, add_au_options, add_identity_options, add_pipeline_options, exists, input_failure,
                      is_dir, one_line, pipeline_options, positive_int, progress_enabled, report_gallery_recovery)

if TYPE_CHECKING:
    from ..pipeline import Pipeline
    from ..results import FrameResult
    from ..video import VideoReader, VideoWriter

#: Extensions of the image files picked up when a folder is given.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})


@dataclass(frozen=True)
class Item:
    """One input: ``path`` as the user named it, ``kind`` ("image"/"video"), and ``name``, its
    relative path under an ``--annotate`` folder."""

    path: Path
    kind: str
    name: Path


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser(
        "analyze", help="detect faces and classify their emotions (JSON Lines output)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="PATH",
                   help="image files, folders (searched recursively for images) or video files")
    p.add_argument("--camera", type=int, metavar="N", help="also analyse camera N (stop with Ctrl-C or --max-frames)")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop each video/camera after N frames")
    p.add_argument("--out", metavar="FILE", help="write the JSON Lines to FILE instead of stdout")
    p.add_argument("--annotate", metavar="OUT",
                   help="write annotated copies: OUT is the output image/video file for a single input, "
                        "a folder when there are several inputs or a folder among them")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars on stderr (default: only when stderr is a terminal)")
    add_pipeline_options(p, video=True)
    add_identity_options(p, flag=True)
    add_au_options(p)
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    if not args.inputs and args.camera is None:
        args.parser.error("nothing to analyse: pass image/video/folder paths or --camera N")
    from ..pipeline import Pipeline

    items, failed = collect(args.inputs)
    camera = Item(Path(f"camera:{args.camera}"), "video", Path(f"camera{args.camera}.mp4")) \
        if args.camera is not None else None
    annotations = None
    if args.annotate:
        folder = len(items) + (camera is not None) > 1 or any(is_dir(Path(t)) for t in args.inputs)
        annotations = Annotations(args.annotate, folder)
        for item in ([] if annotations.folder else [it for it in (*items, camera) if it][:1]):
            annotations.target(item)  # a bad single output path fails now, before any work
    for path, exc in failed:
        _report(path, exc)
    show = progress_enabled(args.progress)
    done = Progress(len(items) + (camera is not None))
    with _open_sink(args.out, [it.path for it in items]) as sink, Pipeline(pipeline_options(args)) as pipe, \
            done.reporting(args.out):
        if pipe.identifier is not None:
            report_gallery_recovery(pipe.identifier)
        emit = _emitter(sink)
        images = [it for it in items if it.kind == "image"]
        failures = len(failed) + _analyze_images(pipe, images, emit, annotations, show, done)
        for item in (it for it in items if it.kind == "video"):
            failures += not _analyze_video(pipe, item, emit, annotations, show, args.max_frames)
            done.add()
        if camera is not None:
            failures += not _analyze_video(pipe, camera, emit, annotations, show, args.max_frames, args.camera)
            done.add()
    return 1 if failures else 0


def collect(inputs: Iterable[str]) -> Tuple[List[Item], List[Tuple[str, EdgekitError]]]:
    """Expand folders (recursively, image extensions, hidden files skipped) into items."""
    from ..video import is_video_path

    items: List[Item] = []
    failed: List[Tuple[str, EdgekitError]] = []
    for text in inputs:
        path = Path(text)
        if not is_dir(path):
            items.append(Item(path, "video" if is_video_path(path) else "image", Path(path.name)))
            continue
        found = sorted(f for f in path.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()
                       and not any(part.startswith(".") for part in f.relative_to(path).parts))
        if not found:
            failed.append((text, InputError(f"folder contains no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})",
                                            path, "pass a folder with images, or image/video files")))
        prefix = Path(path.resolve().name)
        items.extend(Item(f, "image", prefix / f.relative_to(path)) for f in found)
    return items, failed


class Annotations:
    """Where ``--annotate`` writes each input's annotated copy.

    ``folder=False`` (one input): ``root`` is the output file itself, unless it is an existing
    folder. Otherwise outputs go under ``root`` at each item's ``name``; images keep their
    extension when OpenCV can write it (else ``.png``), videos become ``.mp4``.
    """

    def __init__(self, root: str, folder: bool) -> None:
        self.root = Path(root)
        self.folder = folder or is_dir(self.root) or root.endswith(("/", os.sep))
        if self.folder and exists(self.root) and not is_dir(self.root):
            raise InputError("is a file, but several inputs need an output folder", f"--annotate {root}",
                             "pass a folder path")
        self._used: Set[Path] = set()

    def target(self, item: Item) -> Path:
        from ..annotate import IMAGE_WRITE_EXTENSIONS
        from ..video import WRITER_FOURCC

        allowed = IMAGE_WRITE_EXTENSIONS if item.kind == "image" else WRITER_FOURCC
        if not self.folder:
            if self.root.suffix.lower() not in allowed:
                raise ConfigError(f"unsupported {item.kind} extension {self.root.suffix!r}", f"--annotate {self.root}",
                                  f"use one of {', '.join(sorted(allowed))}")
            out = self.root
        else:
            kept = item.name.suffix.lower() in allowed
            suffix = item.name.suffix if kept else (".png" if item.kind == "image" else ".mp4")
            out = self._unique(self.root / item.name.with_suffix(suffix))
        from ..paths import refuse_overwriting_inputs

        refuse_overwriting_inputs(out, [item.path], "--annotate")
        return out

    def _unique(self, path: Path) -> Path:
        candidate, n = path, 1
        while candidate in self._used:
            n += 1
            candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        self._used.add(candidate)
        return candidate


def _analyze_images(pipe: "Pipeline", images: List[Item], emit: Callable[["FrameResult"], None],
                    annotations: Optional[Annotations], show: bool, done: Progress) -> int:
    """Analyse every image; returns the number that failed."""
    from tqdm import tqdm

    from ..annotate import draw_faces, save_image

    failures = 0
    for item in tqdm(images, unit="image", file=sys.stderr, disable=not show or len(images) < 2):
        try:
            image, result = pipe.decode_and_process(item.path)  # decoded once, for the analysis and the annotated copy
            emit(result)
            if annotations is not None:
                save_image(annotations.target(item), draw_faces(image, result.faces), [item.path])
        except EdgekitError as exc:
            _report(item.path, exc)
            failures += 1
        done.add()
    return failures


def _analyze_video(pipe: "Pipeline", item: Item, emit: Callable[["FrameResult"], None],
                   annotations: Optional[Annotations], show: bool, max_frames: Optional[int],
                   camera: Optional[int] = None) -> bool:
    """Analyse one video file or camera frame by frame; returns False when it failed. The
    annotated copy appears only when the whole video went well (see :class:`edgekit.video.VideoWriter`)."""
    from tqdm import tqdm

    from ..annotate import draw_faces
    from ..video import VideoReader

    try:
        with VideoReader(item.path if camera is None else camera, max_frames=max_frames) as reader, \
                _annotated_video(annotations, item, reader) as writer:
            with tqdm(total=reader.total, unit="frame", desc=one_line(reader.name), file=sys.stderr,
                      disable=not show) as bar:
                try:
                    for frame, result in pipe.stream_video(reader):
                        emit(result)
                        if writer is not None:
                            writer.write(draw_faces(frame.image, result.faces, inplace=True))
                        bar.update()
                except KeyboardInterrupt:
                    if camera is None:
                        raise  # a camera is stopped with Ctrl-C; a file is not
    except EdgekitError as exc:
        _report(item.path, exc)
        return False
    return True


def _annotated_video(annotations: Optional[Annotations], item: Item, reader: "VideoReader"
                     ) -> ContextManager[Optional["VideoWriter"]]:
    """The writer of ``item``'s annotated copy (published when its block ends without an error,
    discarded otherwise), or None without ``--annotate``."""
    from ..video import DEFAULT_FPS, VideoWriter

    if annotations is None:
        return contextlib.nullcontext()
    return VideoWriter(annotations.target(item), reader.fps or DEFAULT_FPS, reader.size, [item.path])


def _open_sink(out: Optional[str], inputs: List[Path]) -> ContextManager[IO[str]]:
    """``--out`` file (JSON Lines, UTF-8, written atomically: it appears when the run ends or is
    interrupted, never over an input), or stdout (left open)."""
    if out is None:
        return contextlib.nullcontext(sys.stdout)  # type: ignore[return-value]
    if is_dir(Path(out)):
        raise InputError("is a directory, not a file", f"--out {out}", "pass a file path for the JSON Lines")
    from ..paths import output_stream

    return output_stream(out, inputs, "--out")


def _emitter(sink: IO[str]) -> Callable[["FrameResult"], None]:
    """Writes one JSON line per result (through tqdm so a progress bar on the terminal stays intact)."""
    from tqdm import tqdm

    def emit(result: "FrameResult") -> None:
        tqdm.write(result.to_json(), file=sink)
        sink.flush()

    return emit


def _report(path: Union[str, Path], exc: EdgekitError) -> None:
    from tqdm import tqdm

    tqdm.write(f"edgekit: error: {input_failure(path, exc)}", file=sys.stderr)
