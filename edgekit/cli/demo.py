"""Run edgekit's main job on the embedded demo photo (or --image).

Writes the annotated photo and the JSON result to --out-dir and prints where they went.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List

from ._common import add_pipeline_options, pipeline_options


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("demo", help="analyse the embedded demo photo and write the results",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default="out/demo", metavar="DIR", help="output folder (default: %(default)s)")
    p.add_argument("--image", metavar="PATH", help="photo to use instead of the embedded one")
    add_pipeline_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..assets import demo_photo

    image = Path(args.image) if args.image else demo_photo()
    outputs = main_job(image, Path(args.out_dir), args)
    for path in outputs:
        print(f"wrote {path}")
    return 0


def main_job(image: Path, out_dir: Path, args: argparse.Namespace) -> List[Path]:
    """Analyse ``image``, print one line per face, write ``<stem>.json`` + ``<stem>_annotated.png``."""
    from ..annotate import draw_faces, save_image
    from ..imageio import load_image
    from ..pipeline import Pipeline

    bgr = load_image(image)
    with Pipeline(pipeline_options(args)) as pipe:
        result = pipe.process(bgr)
    result.source = str(image)
    print(f"{image}: {len(result.faces)} face(s) in {result.timings.total_ms:.1f} ms")
    for i, face in enumerate(result.faces, 1):
        b = face.box
        emotion = f"{face.emotion.label} {face.emotion.score:.0%}" if face.emotion else "no emotion model"
        print(f"  face {i}: {emotion} (box x={b.x:.0f} y={b.y:.0f} w={b.width:.0f} h={b.height:.0f})")
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{image.stem}.json"
    json_path.write_text(result.to_json() + "\n", encoding="utf-8")
    annotated = save_image(out_dir / f"{image.stem}_annotated.png", draw_faces(bgr, result.faces))
    return [annotated, json_path]
