"""``python -m converters.emotion.teacher <command>``: pack faces here, train the teacher on a GPU.

    pack   FER+ root -> one .npz of lossless WebP faces + votes (runs where the data is)
    train  K-fold ResNet-18 teachers in parallel on one GPU (PyTorch) -> teacher_labels.npz,
           report.json, report.md, curves.png under --out
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from converters.cli import run


def _pack(args: argparse.Namespace) -> None:
    from converters.emotion import data
    from converters.emotion.teacher.pack import pack

    train, val = data.load_splits(Path(args.data))
    path = pack({"train": train, "val": val}, Path(args.out))
    print(f"{path}: {len(train)} training and {len(val)} validation faces, {path.stat().st_size / 1e6:.1f} MB")


def _config(args: argparse.Namespace):
    from converters.emotion.teacher.train_torch import TeacherConfig

    return TeacherConfig(**{f.name: getattr(args, f.name) for f in fields(TeacherConfig) if getattr(args, f.name, None) is not None})


def _fold(args: argparse.Namespace) -> None:
    from converters.emotion.teacher.train_torch import train_fold

    train_fold(Path(args.pack), args.fold, _config(args), Path(args.work), device=args.device)


def _train(args: argparse.Namespace) -> None:
    from converters.emotion.teacher import report
    from converters.emotion.teacher.train_torch import merge

    cfg = _config(args)
    out, work = Path(args.out), Path(args.out) / "folds"
    work.mkdir(parents=True, exist_ok=True)
    flags = [f"--{f.name.replace('_', '-')}={getattr(cfg, f.name)}" for f in fields(cfg)]
    procs = [subprocess.Popen([sys.executable, "-m", "converters.emotion.teacher", "fold", f"--pack={args.pack}",
                               f"--fold={k}", f"--work={work}", f"--device={args.device}", *flags],
                              stdout=open(work / f"fold_{k}.log", "w"), stderr=subprocess.STDOUT, env=os.environ.copy())
             for k in range(cfg.folds)]
    failed = [k for k, p in enumerate(procs) if p.wait() != 0]
    if failed:
        for k in failed:
            sys.stderr.write((work / f"fold_{k}.log").read_text()[-3000:])
        raise SystemExit(f"teacher folds {failed} failed (logs in {work})")
    result = merge(Path(args.pack), cfg, work, out / "teacher_labels.npz")
    result["produced_by"] = "python -m converters.emotion.teacher " + " ".join(sys.argv[1:])
    result["source_commit"] = args.source_commit
    report.write(result, out)
    print(json.dumps({k: result[k] for k in ("val_majority_accuracy_ensemble", "oof_majority_accuracy_train")}))


def build_parser() -> argparse.ArgumentParser:
    from converters.emotion.teacher.train_torch import TeacherConfig

    parser = argparse.ArgumentParser(prog="python -m converters.emotion.teacher", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="pack FER+ train + validation faces into one .npz")
    p.add_argument("--data", required=True, help="FER+ root (FER2013Train/, FER2013Valid/)")
    p.add_argument("--out", required=True, help="output .npz")
    p.set_defaults(func=_pack)
    for name, func, text in (("train", _train, "train the K-fold teachers and write the labels and report"),
                             ("fold", _fold, "train one fold (called by train)")):
        t = sub.add_parser(name, help=text)
        t.add_argument("--pack", required=True, help=".npz written by pack")
        t.add_argument("--device", default="cuda")
        if name == "train":
            t.add_argument("--out", required=True, help="folder for teacher_labels.npz and the report")
            t.add_argument("--source-commit", default="", help="git commit of this code (the GPU copy has no .git)")
        else:
            t.add_argument("--fold", type=int, required=True)
            t.add_argument("--work", required=True)
        for f in fields(TeacherConfig):
            t.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=type(getattr(TeacherConfig(), f.name)))
        t.set_defaults(func=func)
    return parser


def main(argv=None) -> int:
    return run(build_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
