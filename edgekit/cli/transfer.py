"""Put the expression of the face in --source onto the face in --target, or amplify a face's own
expression with --exaggerate, and write the edited target photo.

Examples:
  edgekit transfer --source smiling.jpg --target me.jpg -o me_smiling.png
  edgekit transfer --source surprised.jpg --target me.jpg --exaggerate 1.5 -o out.png
  edgekit transfer --target me.jpg --exaggerate 2 -o more_me.png

Faces are numbered left to right from 0 (--source-face / --target-face; default: the largest face).
"""
from __future__ import annotations

import argparse

from ._common import face_number, one_line


def _factor(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser(
        "transfer", help="put one face's expression on another face, or exaggerate a face's expression",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", metavar="PHOTO", help="photo whose face's expression is taken")
    p.add_argument("--target", metavar="PHOTO", required=True, help="photo whose face is edited")
    p.add_argument("-o", "--output", metavar="OUT.png", required=True, help="where to write the edited target photo")
    p.add_argument("--exaggerate", type=_factor, metavar="K", default=None,
                   help="scale the expression K times (0..3): with --source, the source's expression; "
                        "without it, the target's own (1 keeps it, 2 doubles it, 0 flattens it)")
    p.add_argument("--source-face", type=face_number, default=None, metavar="N",
                   help="face number in --source, 0 = leftmost (default: the largest)")
    p.add_argument("--target-face", type=face_number, default=None, metavar="N",
                   help="face number in --target, 0 = leftmost (default: the largest)")
    p.add_argument("--no-mouth-fill", action="store_true",
                   help="never copy the inside of an open mouth from the source (geometry only)")
    p.set_defaults(func=run, parser=p)


def run(args: argparse.Namespace) -> int:
    if args.source is None and args.exaggerate is None:
        args.parser.error("pass --source PHOTO (expression transfer) and/or --exaggerate K")
    from ..annotate import save_image
    from ..transfer import ExpressionTransfer

    with ExpressionTransfer() as engine:
        if args.source is None:
            result = engine.exaggerate(args.target, args.exaggerate, face=args.target_face)
        else:
            result = engine.transfer(args.source, args.target,
                                     strength=1.0 if args.exaggerate is None else args.exaggerate,
                                     source_face=args.source_face, target_face=args.target_face,
                                     mouth_fill=not args.no_mouth_fill)
    print(one_line(str(save_image(args.output, result.image, [p for p in (args.target, args.source) if p]))))
    return 0
