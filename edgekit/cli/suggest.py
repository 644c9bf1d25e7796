"""``edgekit suggest``: captions (or ready memes) for a chat, from its text and your selfie.

Examples:
  edgekit suggest --chat "明天考试，完全没复习"
  edgekit suggest --chat "finals tomorrow and i haven't studied" --photo me.jpg -n 3
  edgekit suggest --chat "明天考试，完全没复习" --photo me.jpg --memes memes/
  pbpaste | edgekit suggest --chat -          # several messages, one per line, newest last

The chat's emotion and scene come from edgekit's zh/en lexicon, fused with the face's emotion;
the captions are ranked by your `edgekit feedback` (use --no-personalize to ignore it).
Everything runs on this device.
"""
from __future__ import annotations

import argparse
import json
import sys

from ._common import positive_int


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("suggest", help="suggest captions or memes for a chat (+ optional selfie)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chat", required=True, metavar="TEXT", help="recent chat text ('-': read it from stdin)")
    p.add_argument("--photo", metavar="FILE", help="a selfie whose facial emotion is fused with the chat's")
    p.add_argument("-n", type=positive_int, default=5, help="number of suggestions (default: %(default)s, at most 20)")
    p.add_argument("--lang", help="caption language, zh or en (default: the chat's)")
    p.add_argument("--face", type=int, metavar="N", help="which face of --photo, 0 = leftmost (default: the largest)")
    p.add_argument("--scene", help="force a scene (default: inferred from the chat)")
    p.add_argument("--memes", metavar="DIR", help="also render each suggestion as a meme of --photo into DIR")
    p.add_argument("--no-personalize", action="store_true", help="ignore stored feedback")
    p.add_argument("--seed", type=int, help="sampling seed")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.set_defaults(func=run)


def _top(probs: dict) -> str:
    label = max(probs, key=probs.get)
    return f"{label} {probs[label]:.2f}"


def run(args: argparse.Namespace) -> int:
    from ..suggestions import suggest
    from .feedback import printed_warnings

    chat = sys.stdin.read() if args.chat == "-" else args.chat
    with printed_warnings():
        result = suggest(chat, args.photo, n=args.n, lang=args.lang, face=args.face, scene=args.scene,
                         personalize=not args.no_personalize, memes_dir=args.memes, seed=args.seed)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(f"chat: {_top(result.chat.probs)} (confidence {result.chat.confidence:.2f}), scene: {result.scene or '-'}")
    if result.face is not None:
        print(f"face: {_top(result.face)}; fused: {_top(result.probs)}")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for i, s in enumerate(result.suggestions, 1):
        print(f"{i}. [{s.caption.style}] {s.text}" + (f"  -> {s.meme}" if s.meme else ""))
    return 0
