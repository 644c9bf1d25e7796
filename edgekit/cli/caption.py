"""``edgekit caption``: meme captions for an emotion, on device.

Examples:
  edgekit caption --emotion happiness --style anime --scene party --lang zh -n 5
  edgekit caption --emotion '{"happiness": 0.8, "surprise": 0.2}' --styles --lang en
  edgekit caption --emotion sadness --source model
  edgekit caption --restyle "终于吃上了心心念念的火锅" --style dramatic

Prints one caption per line (``--json``: a JSON list with tags, source and latency). By default
captions are authored lines of the bundled caption library (source "library"); ``--source model``
generates them with the tiny GPT-2 (INT8, LiteRT), with a library line when no sample passes the
checks (source "library" with a fallback_reason).
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from ..task_options import CaptionerOptions
from ._common import add_fields, positive_int

#: The CaptionerOptions fields the command has flags for (``--top-k`` is ``top_k``).
CAPTIONER_FLAGS = ("source", "seed", "temperature", "top_k", "top_p", "repetition_penalty", "no_repeat_ngram",
                   "max_new_tokens", "num_threads")


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("caption", help="write meme captions for an emotion (zh/en, 8 styles)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emotion", metavar="LABEL|JSON",
                   help="emotion label (neutral, happiness, surprise, sadness, anger, "
                        "disgust, fear, contempt) or a JSON {label: probability} dict")
    p.add_argument("--style",
                   help="plain, anime, retro, sarcastic, wholesome, dramatic, slang, poetic (or 二次元, 毒舌, ...)")
    p.add_argument("--scene", help="scene key (party, work, food, ...) or any free text (default: no scene words)")
    p.add_argument("--lang", help="zh or en (default: zh; --restyle: the text's language)")
    p.add_argument("-n", type=positive_int, default=1, help="number of captions (default: %(default)s, at most 20)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--styles", action="store_true", help="one caption in each of 5 different styles")
    mode.add_argument("--restyle", metavar="TEXT",
                      help="say TEXT in the voice of --style, or of all 8 styles (TEXT is kept)")
    add_fields(p.add_argument_group("captioner options"), CaptionerOptions, CAPTIONER_FLAGS)
    p.add_argument("--json", action="store_true", help="print a JSON list instead of plain lines")
    p.set_defaults(func=run)


def _emotion(text: str) -> Any:
    from ..errors import InputError

    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise InputError(f"--emotion is not valid JSON ({exc})", subject=text[:80]) from None
    return text


def run(args: argparse.Namespace) -> int:
    from ..captioning import Captioner
    from ..errors import ConfigError

    cap = Captioner(**{name: getattr(args, name) for name in CAPTIONER_FLAGS})
    if args.restyle is not None:
        out = cap.restyle(args.restyle, style=args.style, lang=args.lang,
                          emotion=_emotion(args.emotion) if args.emotion else None)
    elif args.emotion is None:
        raise ConfigError("--emotion is required (or use --restyle TEXT)", hint="e.g. --emotion happiness")
    elif args.styles:
        out = cap.caption_styles(_emotion(args.emotion), scene=args.scene, lang=args.lang or "zh")
    else:
        out = cap.generate(_emotion(args.emotion), style=args.style, scene=args.scene, lang=args.lang or "zh", n=args.n)
    if args.json:
        print(json.dumps([c.to_dict() for c in out], ensure_ascii=False, indent=1))
    else:
        for c in out:
            print(c.text if not (args.styles or args.restyle is not None) else f"[{c.style}] {c.text}")
    return 0
