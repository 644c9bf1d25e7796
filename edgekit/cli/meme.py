"""``edgekit meme``: photo, video clip or folder -> captioned memes (PNG/JPEG/WebP, GIF, WebP).

Examples:
  edgekit meme                                   # the embedded demo photo -> astronaut_meme.png
  edgekit meme me.jpg -o meme.png --style sarcastic --scene work --lang en
  edgekit meme me.jpg -o meme.png --text "周一的我"   # your own caption
  edgekit meme me.jpg -o memes/me.png --styles 5  # 5 memes, one per caption style
  edgekit meme me.jpg -o meme.gif                 # zoom punch + caption reveal (or --gif / --webp)
  edgekit meme clip.mp4 -o clip.gif               # a clip, streamed; caption from the tracked face
  edgekit meme photos/ -o memes/                  # a folder: memes + memes/manifest.jsonl

The output format follows -o's suffix (.png .jpg .webp stills; .gif animated); --gif / --webp
ask for an animation. Faces are numbered left to right (--face 0 = leftmost; default: the
largest face). A photo without a face needs --text.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from ._common import (Progress, add_pipeline_options, input_failure, one_line, pipeline_options, positive_int,
                      progress_enabled)

STILL_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("meme", help="make captioned memes (still, GIF, WebP) from photos, clips or folders",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", metavar="PHOTO|CLIP|FOLDER",
                   help="photo, video clip or folder (default: the embedded demo photo)")
    p.add_argument("-o", "--out", metavar="PATH",
                   help="output file (a folder for folder inputs; default: <name>_meme.png / .gif, or <folder>_memes/)")
    p.add_argument("--text", help="your own caption instead of a generated one")
    p.add_argument("--style", help="caption style: plain, anime, retro, sarcastic, wholesome, dramatic, slang, poetic")
    p.add_argument("--scene", help="scene key (party, work, exam, ...) or free text mentioning one")
    p.add_argument("--lang", default="zh", help="caption language: zh or en (default: %(default)s)")
    p.add_argument("--face", type=int, metavar="N",
                   help="caption face N, counted left to right from 0 (default: largest)")
    p.add_argument("--styles", type=positive_int, metavar="N", help="make N memes, one per caption style (N <= 8)")
    anim = p.add_mutually_exclusive_group()
    anim.add_argument("--gif", action="store_true", help="animated GIF (photos: zoom punch + caption reveal)")
    anim.add_argument("--webp", action="store_true", help="animated WebP")
    p.add_argument("--placement", default="auto", choices=("auto", "top", "bottom", "bubble"),
                   help="where the caption goes (default: %(default)s: the largest free area around the faces)")
    p.add_argument("--font", metavar="PATH", help="font file to use first (.ttf/.otf/.ttc)")
    p.add_argument("--seed", type=int, help="caption sampling seed (same seed, same captions)")
    p.add_argument("--json", action="store_true", help="print one JSON object per meme instead of a text line")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars on stderr (default: only when stderr is a terminal)")
    add_pipeline_options(p)
    p.set_defaults(func=run)


def _animation(args: argparse.Namespace, source: Path, out: Optional[Path], folder: bool) -> Optional[str]:
    """``"gif"``/``"webp"`` when the output is animated, else None (validates -o's suffix)."""
    from ..errors import ConfigError
    from ..video import is_video_path

    wanted = "webp" if args.webp else "gif" if args.gif else None
    suffix = out.suffix.lower() if out is not None and not folder else ""
    if wanted is None and (suffix == ".gif" or is_video_path(source)):
        wanted = "webp" if suffix == ".webp" else "gif"
    if out is not None and not folder:
        allowed = (f".{wanted}",) if wanted else STILL_SUFFIXES
        if suffix not in allowed:
            raise ConfigError(f"output suffix {out.suffix or '(none)'!r} does not match the output type",
                              f"-o {out}", f"use {' or '.join(allowed)} (or end -o with / for a folder)")
    return wanted


def _target(source: Path, out: Optional[Path], folder: bool, animated: Optional[str]) -> Path:
    name = f"{source.stem}_meme.{animated or 'png'}"
    if out is None:
        return Path(name)
    return out / name if folder else out


def _meme_options(args: argparse.Namespace) -> Dict[str, Any]:
    return {"text": args.text, "style": args.style, "scene": args.scene, "lang": args.lang, "face": args.face,
            "seed": args.seed, "font": args.font, "placement": args.placement, "options": pipeline_options(args)}


def _report(meme: Any, path: Path, as_json: bool) -> None:
    if as_json:
        print(json.dumps({**meme.to_dict(), "output": str(path)}, ensure_ascii=False))
        return
    who = f"face {meme.face_index}: {meme.emotion}" if meme.face_index is not None else "no face"
    print(one_line(f"wrote {path}  [{who}] {meme.caption}"))


def _single(args: argparse.Namespace, source: Path) -> int:
    from ..errors import ConfigError
    from ..meme import animate, make_gif, make_meme, meme_styles
    from ..video import is_video_path

    out = Path(args.out) if args.out else None
    folder = out is not None and (out.is_dir() or args.out.endswith(("/", os.sep)))  # -o DIR/
    animated = _animation(args, source, out, folder)
    target = _target(source, out, folder, animated)
    options = _meme_options(args)
    if args.styles:
        if args.text is not None or is_video_path(source):
            raise ConfigError("--styles makes one generated caption per style of a photo", f"--styles {args.styles}",
                              "drop --text (and use a photo, not a clip)")
        options = {k: v for k, v in options.items() if k not in ("text", "style")}
        memes: List[Any] = meme_styles(source, args.styles, **options)
        outputs = [target.with_name(f"{target.stem}_{i + 1}_{m.style}{target.suffix}") for i, m in enumerate(memes)]
        if animated:
            memes = [animate(m) for m in memes]
    else:
        memes = [make_gif(source, progress=progress_enabled(args.progress), **options) if animated
                 else make_meme(source, **options)]
        outputs = [target]
    for meme, path in zip(memes, outputs):
        _report(meme, meme.save(path), args.json)
    return 0


def _folder(args: argparse.Namespace, folder: Path) -> int:
    from tqdm import tqdm

    from ..meme import make_memes
    from ..meme.batch import MANIFEST_NAME

    out = Path(args.out) if args.out else folder.with_name(f"{folder.resolve().name}_memes")
    options = _meme_options(args)
    if args.styles:
        options = {k: v for k, v in options.items() if k not in ("text", "style")}

    done = Progress()

    def report(item: Any) -> None:
        done.add()
        if item.error is not None:
            tqdm.write(f"edgekit: error: {input_failure(item.source, item.error)}", file=sys.stderr)
        elif args.json:
            for record in item.records:
                tqdm.write(json.dumps(record, ensure_ascii=False))

    with done.reporting(f"{out / MANIFEST_NAME}"):
        result = make_memes(folder, out, styles=args.styles,
                            animated="webp" if args.webp else "gif" if args.gif else None,
                            progress=progress_enabled(args.progress), on_item=report, **options)
    made, failed = len(result.outputs), len(result.failed)
    print(one_line(f"wrote {made} meme(s) to {result.out_dir} (manifest: {result.manifest})")
          + (f"; {failed} file(s) failed" if failed else ""))
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    from ..assets import demo_photo

    source = Path(args.input) if args.input else demo_photo()
    return _folder(args, source) if source.is_dir() else _single(args, source)
