"""Run edgekit's main job on the embedded demo photo (or --image): find the faces, classify their
emotions, write a caption and render the meme.

Writes the meme (<name>_meme.png), the annotated photo and the JSON result to --out-dir and
prints where they went.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List

from ._common import add_pipeline_options, one_line, pipeline_options


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("demo", help="analyse the embedded demo photo and write the results",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default="out/demo", metavar="DIR", help="output folder (default: %(default)s)")
    p.add_argument("--image", metavar="PATH", help="photo to use instead of the embedded one")
    p.add_argument("--lang", default="zh", help="caption language: zh or en (default: %(default)s)")
    p.add_argument("--style", help="caption style (plain, anime, retro, sarcastic, wholesome, dramatic, slang, poetic)")
    p.add_argument("--text", help="your own caption instead of a generated one")
    p.add_argument("--seed", type=int, help="caption sampling seed")
    add_pipeline_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..assets import demo_photo

    image = Path(args.image) if args.image else demo_photo()
    outputs = main_job(image, Path(args.out_dir), args)
    for path in outputs:
        print(one_line(f"wrote {path}"))
    return 0


def main_job(image: Path, out_dir: Path, args: argparse.Namespace) -> List[Path]:
    """Analyse ``image``, print one line per face, write ``<stem>_meme.png`` (the largest face's
    meme), ``<stem>.json`` and ``<stem>_annotated.png``."""
    from ..annotate import draw_faces, save_image
    from ..errors import FontError, InputError
    from ..meme import make_meme
    from ..paths import write_output
    from ..pipeline import Pipeline

    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("is a file, not a folder", f"--out-dir {out_dir}",
                         "pass a folder path (it is created when missing)")
    with Pipeline(pipeline_options(args)) as pipe:
        bgr, result = pipe.decode_and_process(image)
    print(one_line(f"{image}: {len(result.faces)} face(s) in {result.timings.total_ms:.1f} ms"))
    for i, face in enumerate(sorted(result.faces, key=lambda f: f.box.x + f.box.width / 2)):  # as `meme --face N`
        b = face.box
        emotion = f"{face.emotion.label} {face.emotion.score:.0%}" if face.emotion else "no emotion model"
        print(f"  face {i}: {emotion} (box x={b.x:.0f} y={b.y:.0f} w={b.width:.0f} h={b.height:.0f})")
    json_path = write_output(out_dir / f"{image.stem}.json",
                             lambda tmp: tmp.write_text(result.to_json() + "\n", encoding="utf-8"), [image])
    annotated = save_image(out_dir / f"{image.stem}_annotated.png", draw_faces(bgr, result.faces), [image])
    meme_options = dict(faces=result.faces, text=args.text, style=args.style, seed=args.seed)
    try:
        meme = make_meme(image, lang=args.lang, **meme_options)
    except FontError as exc:  # e.g. no CJK font yet: the demo still makes a meme, in English
        if args.text is not None or args.lang == "en":
            raise
        print(f"note: {exc}; making an English meme instead", file=sys.stderr)
        meme = make_meme(image, lang="en", **meme_options)
    print(one_line(f"meme of the largest face ({meme.emotion or 'no face'}, "
                   f"style {meme.style or 'your text'}): {meme.caption}"))
    return [meme.save(out_dir / f"{image.stem}_meme.png"), annotated, json_path]
