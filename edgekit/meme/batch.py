"""Memes for a whole folder: one output per photo (or one per style), a JSON Lines manifest and a
progress bar. A file that fails (unreadable, no face and no text, ...) gets a manifest line with
its error and the batch goes on.

Outputs mirror the input tree under ``out_dir``: ``photos/a/b.jpg`` -> ``out/a/b.jpg`` (JPEG
inputs stay JPEG, other photos become PNG; ``animated="gif"``/``"webp"`` and every video give
animations). ``out_dir/manifest.jsonl`` holds one line per output or failure, written as the
batch runs, so an interrupted batch keeps what it made. ``caption_source="model"`` captions with
the caption model instead of the library (each record's ``caption_source`` says who wrote it).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Union

from ..errors import ConfigError, EdgekitError, InputError
from ..paths import progressive_output

#: Photo files picked up in a folder (videos: :data:`edgekit.video.VIDEO_EXTENSIONS`).
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})
MANIFEST_NAME = "manifest.jsonl"
ANIMATIONS = ("gif", "webp")


@dataclass(frozen=True)
class BatchItem:
    """One input file: its outputs and manifest records, or the error that stopped it."""

    source: Path
    outputs: List[Path] = field(default_factory=list)
    records: List[dict] = field(default_factory=list)
    error: Optional[EdgekitError] = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class BatchResult:
    """Every item of a batch, the output folder and the manifest path."""

    items: List[BatchItem]
    out_dir: Path
    manifest: Path

    @property
    def failed(self) -> List[BatchItem]:
        return [item for item in self.items if not item.ok]

    @property
    def outputs(self) -> List[Path]:
        return [p for item in self.items for p in item.outputs]


def find_media(folder: Path, skip: Optional[Path] = None) -> List[Path]:
    """Photos and videos under ``folder`` (recursive, sorted, hidden files and ``skip`` left out)."""
    from ..video import VIDEO_EXTENSIONS

    wanted = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    skip_dir = skip.resolve() if skip is not None else None
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.suffix.lower() not in wanted or any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if skip_dir is not None and skip_dir in path.resolve().parents:
            continue
        found.append(path)
    return found


class _Names:
    """Unique output paths under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.used: Set[Path] = set()

    def take(self, rel: Path, suffix: str, tag: str = "") -> Path:
        base = self.root / rel.parent / f"{rel.stem}{tag}"
        path, n = base.with_name(base.name + suffix), 1
        while path in self.used:
            n += 1
            path = base.with_name(f"{base.name}_{n}{suffix}")
        self.used.add(path)
        return path


def _memes_for(path: Path, styles: Optional[int], animated: Optional[str], options: Dict[str, Any]) -> List[Any]:
    """The memes (still or animated) of one input file."""
    from ..video import is_video_path
    from .animate import animate, make_gif
    from .maker import make_meme, meme_styles

    if is_video_path(path):
        return [make_gif(path, **options)]
    if styles:
        keep = {k: v for k, v in options.items() if k not in ("text", "style")}
        memes = meme_styles(path, styles, **keep)
    else:
        memes = [make_meme(path, **options)]
    return [animate(m) for m in memes] if animated else memes


def _suffix(path: Path, meme: Any, animated: Optional[str]) -> str:
    if hasattr(meme, "frames"):
        return f".{animated or 'gif'}"
    return ".jpg" if path.suffix.lower() in (".jpg", ".jpeg") else ".png"


def _run_one(path: Path, rel: Path, out: Path, names: _Names, styles: Optional[int], animated: Optional[str],
             options: Dict[str, Any], durable: bool = False) -> BatchItem:
    outputs: List[Path] = []
    records: List[dict] = []
    try:
        for i, meme in enumerate(_memes_for(path, styles, animated, options)):
            style = getattr(getattr(meme, "meme", None) or meme, "style", None)
            target = meme.save(names.take(rel, _suffix(path, meme, animated), f"_{i + 1}_{style}" if styles else ""),
                               durable=durable)
            outputs.append(target)
            records.append({**meme.to_dict(), "source": str(rel), "output": str(target.relative_to(out)),
                            "ok": True, "error": None})
    except EdgekitError as exc:
        records.append({"source": str(rel), "output": None, "ok": False, "error": str(exc),
                        "error_type": type(exc).__name__})
        return BatchItem(path, outputs, records, exc)
    return BatchItem(path, outputs, records)


#: Output names of a batch (``take(rel, suffix, tag)``): unique, in the order asked, as the CLI names them.
OutputNames = _Names


def run_item(path: Path, rel: Path, out: Path, names: Any, styles: Optional[int], animated: Optional[str],
             options: Dict[str, Any], durable: bool = False) -> BatchItem:
    """One input of a batch, as :func:`make_memes` does it: its memes saved at
    ``names.take(rel, suffix, tag)`` and its manifest records (or the error that stopped it).
    :mod:`edgekit.batch` calls it with names fixed in advance, so a re-run writes the same files.
    ``durable``: every output is fsynced before this returns (a job store records it next)."""
    return _run_one(path, rel, out, names, styles, animated, options, durable)


def make_memes(folder: Union[str, "os.PathLike[str]"], out_dir: Union[str, "os.PathLike[str]"], *,
               styles: Optional[int] = None, animated: Optional[str] = None, progress: Optional[bool] = None,
               on_item: Optional[Callable[[BatchItem], None]] = None, **options: Any) -> BatchResult:
    """Make memes for every photo/video in ``folder`` into ``out_dir`` (see the module docstring).

    Args:
        styles: make this many memes per photo, one per caption style (``meme_styles``).
        animated: ``"gif"`` or ``"webp"``: animated memes for photos too.
        progress: show a progress bar on stderr (default: when stderr is a terminal).
        on_item: called after each file with its :class:`BatchItem` (e.g. to report errors).
        options: passed to :func:`make_meme` / :func:`make_gif` (text, style, scene, lang, face,
            seed, font, placement, options, caption_source).

    Raises:
        ConfigError: a bad ``animated`` or ``caption_source`` (before any file is read).
        InputError: ``folder`` is not a folder or holds no photos/videos. Errors of single
        files do not raise: they are recorded in the manifest and in the result.
    """
    from tqdm import tqdm

    src, out = Path(folder), Path(out_dir)
    if not src.is_dir():
        raise InputError("is not a folder", src, "pass a folder of photos (or a single photo/video path)")
    if animated is not None and animated not in ANIMATIONS:
        raise ConfigError("unknown animation format", f"animated={animated!r}", "use 'gif' or 'webp'")
    if "caption_source" in options:
        from ..task_options import check_caption_source

        check_caption_source(options["caption_source"])
    if out.exists() and out.resolve() == src.resolve():
        raise ConfigError("the output folder is the input folder", out, "pass another output folder with -o")
    files = find_media(src, skip=out)
    if not files:
        raise InputError("contains no photos or videos", src,
                         "pass a folder with .jpg/.png/... photos or .mp4/... videos")
    if out.exists() and not out.is_dir():
        raise InputError("is a file, not a folder", out, "pass a folder path for the memes and manifest.jsonl")
    names = _Names(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / MANIFEST_NAME
    items: List[BatchItem] = []
    show = sys.stderr.isatty() if progress is None else progress
    # written line by line (not atomically) so that it lists what was made even after a crash
    with progressive_output(manifest, files, "the manifest") as sink:
        for path in tqdm(files, unit="file", file=sys.stderr, disable=not show):
            item = _run_one(path, path.relative_to(src), out, names, styles, animated, options)
            for record in item.records:
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            sink.flush()
            items.append(item)
            if on_item is not None:
                on_item(item)
    return BatchResult(items, out, manifest)


__all__ = ["make_memes", "find_media", "run_item", "OutputNames", "BatchItem", "BatchResult", "IMAGE_EXTENSIONS",
           "MANIFEST_NAME"]
