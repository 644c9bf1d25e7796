"""``python -m converters.emotion <command>``: train, prune, quantize, export, evaluate, ship.

Every command takes ``--config`` (JSON, see converters/emotion/config.py) and/or flags; flags
override the file. Errors in user input print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import logging
import sys

from edgekit.errors import EdgekitError


def _train(args: argparse.Namespace) -> None:
    from converters.emotion.config import TrainConfig
    from converters.emotion.train import train

    base = TrainConfig.load(args.config).to_dict() if args.config else {}
    overrides = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None}
    cfg = TrainConfig.from_dict({**base, **overrides}, source=args.config or "command line")
    train(cfg)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m converters.emotion", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a float model (resumes when --out holds checkpoints)")
    t.add_argument("--config", help="TrainConfig JSON file")
    t.add_argument("--data", help="FER+ root, fer2013.csv or class-folder tree")
    t.add_argument("--val", help="validation folder (default: per layout)")
    t.add_argument("--votes-csv", dest="votes_csv", help="FER+ fer2013new.csv to join with fer2013.csv")
    t.add_argument("--out", help="output folder (default runs/emotion/float)")
    t.add_argument("--variant", choices=["small", "large"])
    t.add_argument("--alpha", type=float)
    t.add_argument("--input-size", dest="input_size", type=int)
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", dest="batch_size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--budget-minutes", dest="budget_minutes", type=float, help="wall-clock budget (cosine schedule ends there)")
    t.add_argument("--label-mode", dest="label_mode", choices=["soft", "majority"])
    t.add_argument("--strategy", choices=["default", "mirrored", "multiworker", "tpu"])
    t.add_argument("--seed", type=int)
    t.set_defaults(func=_train)
    return parser


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except EdgekitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
