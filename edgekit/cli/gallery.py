"""Manage the local identity gallery (embeddings of enrolled people; never photos).

  edgekit gallery list [--json]      enrolled people and their sample counts
  edgekit gallery remove NAME        forget a person
  edgekit gallery export FILE        copy the gallery to FILE (owner-only permissions)
  edgekit gallery import FILE        merge people from an exported gallery (same model only)
"""
from __future__ import annotations

import argparse
import json

from ._common import add_identity_options, identifier, one_line


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("gallery", help="list, remove, export or import enrolled people",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="enrolled people")
    ls.add_argument("--json", action="store_true", help="print JSON")
    rm = sub.add_parser("remove", help="forget a person")
    rm.add_argument("name", metavar="NAME")
    ex = sub.add_parser("export", help="write the gallery to a file")
    ex.add_argument("path", metavar="FILE")
    im = sub.add_parser("import", help="merge people from an exported gallery")
    im.add_argument("path", metavar="FILE")
    for action in (ls, rm, ex, im):
        add_identity_options(action)
        action.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with identifier(args) as ident:
        if args.action == "list":
            people = ident.list()
            if args.json:
                print(json.dumps({"gallery": str(ident.gallery.path), "people": [p.to_dict() for p in people]},
                                 ensure_ascii=False, indent=1))
            elif not people:
                print(one_line(f"nobody is enrolled ({ident.gallery.path})"))
            for person in [] if args.json else people:
                print(f"{one_line(person.name)}\t{person.samples} sample(s)")
        elif args.action == "remove":
            ident.remove(args.name)
            print(one_line(f"removed {args.name.strip()}"))
        elif args.action == "export":
            print(one_line(f"exported {len(ident.list())} people to {ident.export(args.path)}"))
        else:
            names = ident.import_(args.path)
            print(one_line(f"imported {len(names)} people: {', '.join(names)}"))
    return 0
