"""Tell who is in photos, using the people enrolled with `edgekit enroll`.

Prints one line per face (left to right): the enrolled name, or "unknown" when nobody in the
gallery is similar enough, with the cosine similarity to the closest person (--json: one JSON
object per photo). A photo that fails is reported on its own line; the others still run.
"""
from __future__ import annotations

import argparse
import json
import sys

from ._common import add_identity_options, identifier, input_failure, one_line


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("identify", help="tell who is in photos (from the identity gallery)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photos to identify faces in")
    p.add_argument("--face", type=int, metavar="N", default=None,
                   help="only the N-th face from the left (0 = leftmost)")
    p.add_argument("--json", action="store_true", help="one JSON object per photo instead of text lines")
    add_identity_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import EdgekitError

    failures = 0
    with identifier(args) as ident:
        if not len(ident.gallery):
            print(f"edgekit: warning: the gallery {ident.gallery.path} is empty: every face is unknown "
                  "(enrol people with `edgekit enroll NAME PHOTO...`)", file=sys.stderr)
        for photo in args.photos:
            try:
                found = ident.identify_faces(photo, face=args.face)
            except EdgekitError as exc:
                print(f"edgekit: error: {input_failure(photo, exc)}", file=sys.stderr)
                failures += 1
                continue
            if not found and not args.json:
                print(one_line(f"{photo}: no face found"))
            if args.json:
                print(json.dumps({"source": photo,
                                  "faces": [{**det.to_dict(), "identity": who.to_dict()} for det, who in found]},
                                 ensure_ascii=False))
            for index, (det, who) in enumerate([] if args.json else found):
                b = det.box
                print(f"{photo}: face {index} at ({b.x:.0f}, {b.y:.0f}, {b.width:.0f}x{b.height:.0f}): "
                      f"{who.name} (similarity {who.similarity:.3f})")
    return 1 if failures else 0
