"""``python -m converters.caption {corpus,train,prune,export,evaluate,all}``: rebuild the caption artifacts.

Each stage is a function of :mod:`converters.caption.pipeline`; ``all`` runs them in order.
"""
from __future__ import annotations

import argparse
import logging

from converters.core.cli import run
from edgekit.errors import ConfigError

STAGES = ("corpus", "train", "prune", "export", "evaluate")
#: Stages that run TensorFlow and take ``--threads``.
THREADED = ("train", "prune", "evaluate")
log = logging.getLogger("converters.caption")


def _run(args: argparse.Namespace) -> None:
    from converters.caption import pipeline

    if args.library_only and args.stage != "corpus":
        raise ConfigError("applies to the corpus stage only", f"--library-only with stage {args.stage!r}",
                          "run `python -m converters.caption corpus --library-only`")
    if args.shipped_only and args.stage != "evaluate":
        raise ConfigError("applies to the evaluate stage only", f"--shipped-only with stage {args.stage!r}",
                          "run `python -m converters.caption evaluate --shipped-only`")
    for stage in STAGES if args.stage == "all" else (args.stage,):
        log.info("stage %s", stage)
        fn = getattr(pipeline, stage)
        if stage == "corpus":
            fn(tokenizer=not args.library_only)
        elif stage == "evaluate":
            fn(threads=args.threads, shipped_only=args.shipped_only)
        else:
            fn(threads=args.threads) if stage in THREADED else fn()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m converters.caption", description=__doc__)
    parser.add_argument("stage", choices=STAGES + ("all",))
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra/inter-op threads (default 1)")
    parser.add_argument("--library-only", action="store_true",
                        help="corpus stage only: write the library and keep the shipped tokenizer (a corpus edit "
                             "shipped without a retrain; the shipped model and tokenizer must stay a pair)")
    parser.add_argument("--shipped-only", action="store_true",
                        help="evaluate stage only: measure again what depends on the shipped model, tokenizer and "
                             "library (integrity, style batches, restyle, latency, sizes, the library) and keep the "
                             "full run's model rows from reports/caption/report.json (no build folder needed)")
    parser.set_defaults(func=_run)
    return parser


def main(argv=None) -> int:
    return run(build_parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
