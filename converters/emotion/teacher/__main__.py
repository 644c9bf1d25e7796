"""``python -m converters.emotion.teacher <command>``: pack faces here, train the teacher on a GPU.

    pack   FER+ root -> one .npz of lossless WebP faces + votes (runs where the data is)
    train  K-fold ResNet-18 teachers in parallel on one GPU (PyTorch) -> teacher_labels.npz,
           report.json, report.md, curves.png, teacher_weights.json under --out; each fold's
           weights (fold_<k>.pt) and teacher_weights.json under <--work>/folds
    probe  several networks / inputs / targets trained side by side on all faces -> probe.json, probe.md
    crops  photos (LFW) -> .npz of the runtime detector + aligner's gray crops (runs where edgekit runs)
    label  the kept fold teachers' ensemble over face crops (a folder or an .npz) -> names + probs .npz
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from converters.core.cli import run
from edgekit.errors import ConfigError


def _pack(args: argparse.Namespace) -> None:
    from converters.emotion import data
    from converters.emotion.teacher.pack import pack

    train, val = data.load_splits(Path(args.data))
    path = pack({"train": train, "val": val}, Path(args.out))
    print(f"{path}: {len(train)} training and {len(val)} validation faces, {path.stat().st_size / 1e6:.1f} MB")


def _config(args: argparse.Namespace):
    from converters.emotion.teacher.train_torch import TeacherConfig

    return TeacherConfig(**{f.name: getattr(args, f.name) for f in fields(TeacherConfig)
                            if getattr(args, f.name, None) is not None})


def _fold(args: argparse.Namespace) -> None:
    from converters.emotion.teacher.train_torch import train_fold

    train_fold(Path(args.pack), args.fold, _config(args), Path(args.work), device=args.device)


def _train(args: argparse.Namespace) -> None:
    from converters.emotion.teacher import report
    from converters.emotion.teacher.train_torch import merge

    from converters.emotion.teacher import ensemble

    cfg = _config(args)
    out, work = Path(args.out), Path(args.work) / "folds"
    out.mkdir(parents=True, exist_ok=True)
    _wait({f"fold {k}": (_spawn(args, cfg, k, work), work / f"fold_{k}.log") for k in range(cfg.folds)})
    result = merge(Path(args.pack), cfg, work, out / "teacher_labels.npz")
    result["produced_by"] = "python -m converters.emotion.teacher " + " ".join(_argv(args))
    result["source_commit"] = args.source_commit or _git_commit()
    descriptor = ensemble.write_descriptor(
        ensemble.describe(cfg, work, result["folds"][0]["image_size"], result["produced_by"], result["source_commit"]),
        work)
    report.write(result, out, descriptor)
    print(json.dumps({k: result[k] for k in ("val_majority_accuracy_ensemble", "oof_majority_accuracy_train")}))


def _argv(args: argparse.Namespace) -> list:
    return list(args.argv) if args.argv is not None else sys.argv[1:]


def _git_commit() -> str:
    """HEAD of the checkout this runs in, "" without git (the GPU copy has no .git)."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _crops(args: argparse.Namespace) -> None:
    import numpy as np

    from converters.emotion.teacher.pack import encode

    names, images = _lfw_crops(Path(args.lfw), args.size, args.limit)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    webp, offsets = encode(images)  # lossless, about 2/3 of zlib's size: the file travels to the GPU machine
    np.savez_compressed(out, webp=webp, offsets=offsets, names=np.array(names))
    print(f"{out}: {len(names)} aligned {args.size} px crops, {out.stat().st_size / 1e6:.1f} MB")


def _lfw_crops(root: Path, size: int, limit: int = 0):
    """(names relative to ``root/images``, crops) of the LFW photos in which the runtime finds a face."""
    from converters.emotion.aligned import photo_crops

    paths = sorted((root / "images").rglob("*.jpg"))
    if not paths:
        raise ConfigError("holds no LFW photos (images/<person>/*.jpg)", root, "pass the LFW folder")
    paths = paths[:limit] if limit else paths
    crops, kept = photo_crops(paths, size)
    print(f"{root}: a face in {len(kept)} of {len(paths)} photos", file=sys.stderr)
    return [paths[i].relative_to(root / "images").as_posix() for i in kept], crops


def _label(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from converters.emotion.teacher import ensemble

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    nets, descriptor, descriptor_sha = ensemble.load(Path(args.weights), args.descriptor, device)
    if args.lfw:
        names, images = _lfw_crops(Path(args.lfw), descriptor["input"]["image_size"], args.limit)
    else:
        images, names = ensemble.read_faces(Path(args.images))
    probs, _ = ensemble.label(nets, descriptor, images, device)
    path = ensemble.write_labels(Path(args.out), names, probs, descriptor, descriptor_sha)
    counts = np.bincount(probs.argmax(1), minlength=len(descriptor["labels"])) if len(probs) else []
    print(f"{path}: {len(names)} faces labelled by {len(nets)} folds (descriptor sha256 {descriptor_sha}); top "
          "labels: " + ", ".join(f"{n} {c}" for n, c in zip(descriptor["labels"], counts)))


def _spawn(args: argparse.Namespace, cfg, fold: int, work: Path) -> subprocess.Popen:
    work.mkdir(parents=True, exist_ok=True)
    flags = [f"--{f.name.replace('_', '-')}={getattr(cfg, f.name)}" for f in fields(cfg)]
    return subprocess.Popen([sys.executable, "-m", "converters.emotion.teacher", "fold", f"--pack={args.pack}",
                             f"--fold={fold}",
                             f"--work={work}", f"--device={args.device}", *flags],
                            stdout=open(work / f"fold_{fold}.log", "w"), stderr=subprocess.STDOUT,
                            env=os.environ.copy())


def _wait(procs: dict) -> None:
    failed = {name: log for name, (p, log) in procs.items() if p.wait() != 0}
    for log in failed.values():
        sys.stderr.write(log.read_text()[-3000:])
    if failed:
        raise SystemExit(f"failed: {', '.join(map(str, failed))} (logs: {', '.join(map(str, failed.values()))})")


def _read_variants(path: Path) -> dict:
    """``{name: {TeacherConfig field: value}}`` from ``path``; ConfigError naming a bad file or field."""
    from converters.emotion.teacher.train_torch import TeacherConfig

    if not path.is_file():
        raise ConfigError("does not exist", path, "pass a JSON object {name: {TeacherConfig fields}}")
    try:
        variants = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"is not valid JSON ({exc})", path, "fix the syntax") from None
    known = {f.name for f in fields(TeacherConfig)}
    for name, changes in variants.items():
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"variant {name!r} has unknown field(s) {', '.join(unknown)}", path,
                              f"known: {', '.join(sorted(known))}")
    return variants


def _probe(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from converters.emotion.teacher import report

    base = _config(args)
    variants = _read_variants(Path(args.variants))
    work = Path(args.work) / "probe"
    procs = {name: (_spawn(args, replace(base, folds=1, **changes), 0, work / name), work / name / "fold_0.log")
             for name, changes in variants.items()}
    _wait(procs)
    result = report.probe_result(variants, replace(base, folds=1), work)
    result.update(produced_by="python -m converters.emotion.teacher " + " ".join(sys.argv[1:]),
                  source_commit=args.source_commit)
    path = report.write_probe(result, Path(args.out), Path(args.variants).stem)
    print(path.read_text())


def build_parser() -> argparse.ArgumentParser:
    from converters.emotion.teacher.train_torch import TeacherConfig

    parser = argparse.ArgumentParser(prog="python -m converters.emotion.teacher", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="pack FER+ train + validation faces into one .npz")
    p.add_argument("--data", required=True, help="FER+ root (FER2013Train/, FER2013Valid/)")
    p.add_argument("--out", required=True, help="output .npz")
    p.set_defaults(func=_pack)
    c = sub.add_parser("crops", help="aligned gray crops of LFW photos (the runtime detector + aligner) -> .npz")
    c.add_argument("--lfw", required=True, help="LFW folder (images/<person>/*.jpg)")
    c.add_argument("--out", required=True, help="output .npz (lossless WebP crops as pack writes them, names)")
    c.add_argument("--size", type=int, default=48, help="crop side; the teacher's packed face size (%(default)s)")
    c.add_argument("--limit", type=int, default=0, help="only the first N photos in name order (0: all)")
    c.set_defaults(func=_crops)
    lab = sub.add_parser("label", help="label face crops with the kept fold teachers' ensemble")
    lab.add_argument("--weights", required=True, help="folder holding fold_<k>.pt (a train run's <--work>/folds)")
    lab.add_argument("--descriptor", help="teacher_weights.json to check them against (default: the one in --weights)")
    source = lab.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", help="folder of face crops (searched recursively) or .npz (written by crops, "
                        "or images [N, H, W] uint8 + names)")
    source.add_argument("--lfw", help="LFW folder: crop its photos here first (needs edgekit's detector runtime)")
    lab.add_argument("--limit", type=int, default=0, help="with --lfw: only the first N photos (0: all)")
    lab.add_argument("--out", required=True, help="output .npz: names, probs, labels, descriptor_sha256, fold_sha256")
    lab.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    lab.set_defaults(func=_label)
    for name, func, text in (("train", _train, "train the K-fold teachers and write the labels and report"),
                             ("probe", _probe, "train several variants on all faces in parallel and compare them"),
                             ("fold", _fold, "train one fold (called by train and probe)")):
        t = sub.add_parser(name, help=text)
        t.add_argument("--pack", required=True, help=".npz written by pack")
        t.add_argument("--device", default="cuda")
        if name in ("train", "probe"):
            t.add_argument("--out", required=True, help="folder for the labels / results and the report")
            t.add_argument("--work", default="runs/emotion_teacher",
                           help="folder for each run's checkpoint-free records and logs")
            t.add_argument("--source-commit", default="", help="git commit of this code (the GPU copy has no .git)")
            if name == "probe":
                t.add_argument("--variants", required=True,
                               help="JSON {name: {TeacherConfig fields}}; results go to <out>/<its stem>.json and .md")
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
