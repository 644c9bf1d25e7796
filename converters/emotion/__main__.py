"""``python -m converters.emotion <command>``: train, prune, quantize, export, evaluate, ship.

Every command takes ``--config`` (JSON, see converters/emotion/config.py) and/or flags; flags
override the file. Errors in user input print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys

from converters.core.cli import run
from edgekit.errors import ConfigError


def _train(args: argparse.Namespace) -> None:
    from converters.emotion.config import TrainConfig
    from converters.emotion.train import train

    base = TrainConfig.load(args.config).to_dict() if args.config else {}
    overrides = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__ and v is not None}
    cfg = TrainConfig.from_dict({**base, **overrides}, source=args.config or "command line")
    train(cfg)


def _all(args: argparse.Namespace) -> None:
    from converters.core.config import read_json
    from converters.emotion.config import PipelineConfig
    from converters.emotion.pipeline import run_all

    hint = "pass a pipeline JSON (see reports/emotion/configs/pipeline.json)"
    raw = read_json(args.config, hint) if args.config else {}
    train_flags = {**({"data": args.data} if args.data else {}),
                   **({"budget_minutes": args.train_minutes} if args.train_minutes is not None else {})}
    if train_flags and isinstance(raw.get("train", {}), dict):
        raw["train"] = {**raw.get("train", {}), **train_flags}
    given = {"out": args.out, "finetune_minutes": args.finetune_minutes, "qat_minutes": args.qat_minutes,
             "prune_fraction": args.prune_fraction, "report_dir": args.report_dir}
    flags = {k: v for k, v in given.items() if v is not None}
    if args.no_ship:
        flags["ship"] = False
    cfg = PipelineConfig.from_dict({**raw, **flags}, source=args.config or "command line")
    if not cfg.train.data:
        raise ConfigError("no data set given", "--data", "pass a FER+ root, fer2013.csv or a class-folder tree")
    cfg.produced_by = "python -m converters.emotion " + " ".join(sys.argv[1:] if args.argv is None else args.argv)
    run_all(cfg)


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
    t.add_argument("--activation", choices=["hswish", "relu"])
    t.add_argument("--input-size", dest="input_size", type=int)
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", dest="batch_size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--budget-minutes", dest="budget_minutes", type=float,
                   help="wall-clock budget (cosine schedule ends there)")
    t.add_argument("--label-mode", dest="label_mode", choices=["soft", "majority"])
    t.add_argument("--strategy", choices=["default", "mirrored", "multiworker", "tpu"])
    t.add_argument("--seed", type=int)
    t.set_defaults(func=_train)
    a = sub.add_parser("all",
                       help="train -> prune 30%% + fine-tune -> QAT -> PTQ/convert -> evaluate -> ship -> report")
    a.add_argument("--config", help="pipeline JSON (PipelineConfig fields; its 'train' holds TrainConfig fields)")
    a.add_argument("--data", help="FER+ root, fer2013.csv or class-folder tree")
    a.add_argument("--out", help="work folder (default runs/emotion)")
    a.add_argument("--train-minutes", dest="train_minutes", type=float, help="float training wall-clock budget")
    a.add_argument("--finetune-minutes", dest="finetune_minutes", type=float, help="fine-tuning after pruning")
    a.add_argument("--qat-minutes", dest="qat_minutes", type=float, help="quantization-aware training")
    a.add_argument("--prune-fraction", dest="prune_fraction", type=float, help="fraction of channels removed (0.3)")
    a.add_argument("--report-dir", dest="report_dir", help="report folder (default reports/emotion)")
    a.add_argument("--no-ship", dest="no_ship", action="store_true", help="do not copy into edgekit/models/")
    a.set_defaults(func=_all)
    return parser


def main(argv=None) -> int:
    return run(build_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
