"""``edgekit feedback``: tell edgekit which captions you like; it re-ranks later suggestions.

Examples:
  edgekit feedback like "复习到凌晨，想找个角落躲起来！" --style anime --scene exam
  edgekit feedback dislike "Oh great, exam week." --style sarcastic
  edgekit feedback used "这波快乐直接拉满！"
  edgekit feedback --show            # what is stored and what was learnt (also: no arguments)
  edgekit feedback --export backup.json
  edgekit feedback --import backup.json
  edgekit feedback --reset           # delete everything stored

Feedback stays on this device, in <data dir>/feedback.json ($EDGEKIT_DATA_DIR overrides the folder).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from typing import Any, Dict, Iterator

from ._common import one_line

ACTIONS = ("like", "dislike", "used")


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("feedback", help="like / dislike / used feedback on captions (personalization)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", nargs="?", choices=ACTIONS, help="what you think of the caption")
    p.add_argument("text", nargs="?", help="the caption text")
    p.add_argument("--style", help="the caption's style (plain, anime, retro, sarcastic, ...)")
    p.add_argument("--emotion", help="the emotion it was written for")
    p.add_argument("--scene", help="the scene it was written for")
    p.add_argument("--lang", help="zh or en (default: the caption's own)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--show", action="store_true", help="print what is stored and what was learnt")
    mode.add_argument("--export", metavar="FILE", help="copy everything stored to FILE")
    mode.add_argument("--import", dest="import_file", metavar="FILE", help="merge a file written by --export")
    mode.add_argument("--reset", action="store_true", help="delete everything stored")
    p.add_argument("--json", action="store_true", help="--show: print JSON")
    p.set_defaults(func=run)


@contextlib.contextmanager
def printed_warnings() -> Iterator[None]:
    """Print FeedbackWarnings raised inside the block as ``edgekit: warning: ...`` lines."""
    from ..personalize import FeedbackWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FeedbackWarning)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, FeedbackWarning):
                    print(f"edgekit: warning: {one_line(str(w.message))}", file=sys.stderr, flush=True)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _signed(pairs: Any) -> str:
    return ", ".join(f"{k} {v:+.2f}" for k, v in (pairs.items() if isinstance(pairs, dict) else pairs)) or "-"


def _print_summary(summary: Dict[str, Any]) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in summary["by_action"].items())
    print(one_line(f"feedback store: {summary['path']}"))
    print(f"events: {summary['events']} ({counts}); older events folded into weights: {summary['folded_events']}")
    print(f"styles: {_signed(summary['styles'])}")
    print(f"liked phrases: {_signed(summary['liked_phrases'])}")
    print(f"disliked phrases: {_signed(summary['disliked_phrases'])}")
    if summary["backups"]:
        print(f"unreadable files kept aside: {', '.join(summary['backups'])}")


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..personalize import FeedbackStore

    modes = [args.show, args.export is not None, args.import_file is not None, args.reset]
    if args.action is not None and any(modes):
        raise ConfigError("give either an action (like, dislike, used) or one of --show, --export, --import, --reset")
    if args.action is not None and args.text is None:
        raise ConfigError(f"`feedback {args.action}` needs the caption text",
                          hint=f'e.g. edgekit feedback {args.action} "..."')
    with printed_warnings():
        store = FeedbackStore()
        if args.action is not None:
            event = store.record(args.action, args.text, style=args.style, scene=args.scene, emotion=args.emotion,
                                 lang=args.lang)
            print(one_line(f"recorded {event.action}: {event.text}" + (f" [{event.style}]" if event.style else "")))
        elif args.export is not None:
            print(one_line(f"exported {store.export(args.export)} events to {args.export}"))
        elif args.import_file is not None:
            print(one_line(f"imported {store.import_file(args.import_file)} new events from {args.import_file}"))
        elif args.reset:
            done = store.reset()
            removed = ", ".join(str(p) for p in done.files) or "nothing (no store file)"
            print(f"removed {done.events + done.folded_events} events; deleted {removed}")
        elif args.json:
            print(json.dumps(store.summary(), ensure_ascii=False, indent=1))
        else:
            _print_summary(store.summary())
    return 0
