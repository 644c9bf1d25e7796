"""Enrol a person in the local identity gallery from one or more photos.

Each photo must show the person's face; when a photo holds several faces, --face N picks one
(0 = leftmost). Only the face embeddings are stored (never the photos), in the gallery file of
the edgekit user data dir (owner-only permissions). A photo that fails is reported on its own
line and the others are still enrolled; the exit code is then 1.
"""
from __future__ import annotations

import argparse
import sys

from ._common import add_identity_options, identifier, input_failure, one_line


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("enroll", help="enrol a person in the identity gallery from photos",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", help="the person's name")
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="photos of the person")
    p.add_argument("--face", type=int, metavar="N", default=None,
                   help="in photos with several faces, use the N-th from the left (0 = leftmost; default: the largest)")
    add_identity_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import EdgekitError
    from ..identity.gallery import check_name

    name = check_name(args.name)
    with identifier(args) as ident:
        vectors, failures = [], 0
        for photo in args.photos:
            try:
                vectors.append(ident.embed(photo, face=args.face))
                if args.face is None and (ident.last_face_counts[0] or 0) > 1:
                    print(f"{one_line(str(photo))}: {ident.last_face_counts[0]} faces; "
                          f"using face {ident.last_faces[0]} "
                          "(the largest; --face N picks another)")
            except EdgekitError as exc:
                print(f"edgekit: error: {input_failure(photo, exc)}", file=sys.stderr)
                failures += 1
        if not vectors:
            print(f"edgekit: error: {name!r} was not enrolled: no usable photo", file=sys.stderr)
            return 1
        total = ident.enroll(name, vectors)
        print(one_line(f"enrolled {name}: {len(vectors)} photo(s) added, "
                       f"{total} in the gallery ({ident.gallery.path})"))
    return 1 if failures else 0
