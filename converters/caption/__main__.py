"""``python -m converters.caption {corpus,train,prune,export,evaluate,all}``: rebuild the caption artifacts."""
from __future__ import annotations

import argparse

from . import stages

STAGES = ("corpus", "train", "prune", "export", "evaluate")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m converters.caption", description=__doc__)
    parser.add_argument("stage", choices=STAGES + ("all",))
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra/inter-op threads (default 1)")
    args = parser.parse_args(argv)
    for stage in STAGES if args.stage == "all" else (args.stage,):
        stages.log(f"stage {stage}")
        fn = getattr(stages, stage)
        fn(threads=args.threads) if stage in ("train", "prune", "evaluate") else fn()


if __name__ == "__main__":
    main()
