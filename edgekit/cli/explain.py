"""Show why the emotion model said what it said about a face: a heat map and the face's action units.

Writes <photo name>_explain.png (the photo with a heat map over the face: red where hiding that
part of the face lowers the emotion's probability most) and <photo name>_explain.json (the
probabilities, the face regions ranked by that drop, the action units and their plain-language
cues) into the -o folder, and prints the JSON summary line. The map is computed by occlusion
through the shipped INT8 model itself (8 x 8 occluder positions), or with --method cam from the
model's last feature map (4 x 4 cells on the 128-px model: fast and coarse).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..task_options import ExplainerOptions
from ._common import add_fields, face_number

#: The ExplainerOptions fields the command has flags for.
EXPLAINER_FLAGS = ("model", "num_threads")


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser(
        "explain", help="heat map of what the emotion model looked at, plus the face's action units",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photo", metavar="PHOTO", help="image file")
    p.add_argument("-o", "--out", metavar="DIR", default=".", help="output folder (default: the current folder)")
    p.add_argument("--face", type=face_number, default=None, metavar="N",
                   help="face number, left to right from 0 (default: the largest face)")
    p.add_argument("--emotion", default=None, metavar="LABEL", help="emotion to explain (default: the predicted one)")
    p.add_argument("--method", default="occlusion", metavar="METHOD",
                   help="occlusion (default: 8x8 occluder positions through the shipped model) or cam (fast, "
                        "4x4 cells of the last feature map on the 128-px model)")
    add_fields(p.add_argument_group("explainer options"), ExplainerOptions, EXPLAINER_FLAGS)
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    from ..explaining import explain

    result = explain(args.photo, out_dir=None, face=args.face, emotion=args.emotion, method=args.method,
                     model=args.model, num_threads=args.num_threads)
    written = result.save(args.out, Path(args.photo).stem)
    print(json.dumps({"emotion": result.emotion, "predicted": result.predicted,
                      "top_regions": [r["region"] for r in result.top_regions], "cues": result.cues(),
                      "files": {k: str(v) for k, v in written.items()}}, ensure_ascii=False), file=sys.stdout)
    return 0
