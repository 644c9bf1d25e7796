"""``edgekit caption``: meme captions for an emotion, on device (tiny GPT-2 INT8 on LiteRT).

Examples:
  edgekit caption --emotion happiness --style anime --scene party --lang zh -n 5
  edgekit caption --emotion '{"happiness": 0.8, "surprise": 0.2}' --styles --lang en
  edgekit caption --restyle "终于吃上了心心念念的火锅" --style dramatic

Prints one caption per line (``--json``: a JSON list with tags, source and latency). Captions
the model cannot produce acceptably come from the bundled caption library (source "library").
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import positive_int


def register(subparsers: "argparse._SubParsersAction") -> None:
    p = subparsers.add_parser("caption", help="write meme captions for an emotion (zh/en, 8 styles)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emotion", metavar="LABEL|JSON", help="emotion label (neutral, happiness, surprise, sadness, anger, "
                   "disgust, fear, contempt) or a JSON {label: probability} dict")
    p.add_argument("--style", help="plain, anime, retro, sarcastic, wholesome, dramatic, slang, poetic (or 二次元, 毒舌, ...)")
    p.add_argument("--scene", help="scene key (party, work, food, ...) or any free text (default: no scene words)")
    p.add_argument("--lang", help="zh or en (default: zh; --restyle: the text's language)")
    p.add_argument("-n", type=positive_int, default=1, help="number of captions (default: %(default)s, at most 20)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--styles", action="store_true", help="one caption in each of 5 different styles")
    mode.add_argument("--restyle", metavar="TEXT", help="say TEXT in the voice of --style, or of all 8 styles (TEXT is kept)")
    p.add_argument("--seed", type=int, help="sampling seed (same seed, same captions)")
    # Sampling defaults are the Captioner's (SamplingOptions); a flag left out is not passed, so
    # building the parser imports no model code.
    p.add_argument("--temperature", type=float, help="sampling temperature, 0 = greedy (default 0.9)")
    p.add_argument("--top-k", type=int, help="top-k sampling, 0 = off (default 40)")
    p.add_argument("--top-p", type=float, help="nucleus sampling mass (default 0.95)")
    p.add_argument("--repetition-penalty", type=float,
                   help="per-token penalty, 1 = off (the default): above 1 it splits Chinese doubled words")
    p.add_argument("--no-repeat-ngram", type=int, help="never repeat an n-gram of this size, 0 = off (default 3)")
    p.add_argument("--max-tokens", type=positive_int, help="max new tokens per caption (default 48)")
    p.add_argument("--threads", type=positive_int, default=1, help="LiteRT threads (default: %(default)s)")
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

    sampling = {"temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p,
                "repetition_penalty": args.repetition_penalty, "no_repeat_ngram": args.no_repeat_ngram,
                "max_new_tokens": args.max_tokens}
    cap = Captioner(num_threads=args.threads, seed=args.seed, **{k: v for k, v in sampling.items() if v is not None})
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
