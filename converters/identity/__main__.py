"""``python -m converters.identity all``: LFW faces -> embedder -> prune 30% -> INT8 -> ship -> report.

``python -m converters.identity sizes`` measures training and INT8 inference cost per input size.

``--config`` takes a JSON file of :class:`converters.identity.pipeline.IdentityConfig` fields
(``train``/``finetune``/``qat`` hold :class:`converters.identity.train.FitSettings` fields);
flags override it. Errors in user input print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import json
import sys

from converters.core.cli import run
from edgekit.errors import ConfigError


def _all(args: argparse.Namespace) -> None:
    from converters.core.config import read_json
    from converters.identity.pipeline import IdentityConfig, run_all

    raw = read_json(args.config, "pass a JSON file of IdentityConfig fields") if args.config else {}
    flags = {k: v for k, v in {"data": args.data, "out": args.out, "report_dir": args.report_dir,
                               "input_size": args.input_size, "people_limit": args.people_limit,
                               "teacher": args.teacher_cache, "teacher_views": args.teacher_views}.items()
             if v is not None}
    for stage, minutes in (("train", args.train_minutes), ("finetune", args.finetune_minutes),
                           ("qat", args.qat_minutes)):
        if minutes is not None:
            raw[stage] = {**raw.get(stage, {}), "budget_minutes": minutes}
    if args.no_ship:
        flags["ship"] = False
    cfg = IdentityConfig.from_dict({**raw, **flags}, source=args.config or "command line")
    if not cfg.data:
        raise ConfigError("no data set given", "--data",
                          "pass the LFW root (images/Name/Name_0001.jpg, pairsDevTrain.txt)")
    cfg.produced_by = "python -m converters.identity " + " ".join(sys.argv[1:] if args.argv is None else args.argv)
    run_all(cfg)


def _compare(args: argparse.Namespace) -> None:
    from pathlib import Path

    from converters.core.config import read_json
    from converters.identity.compare import compare
    from converters.identity.pipeline import IdentityConfig

    raw = read_json(args.config, "pass the candidate's JSON of IdentityConfig fields")
    cfg = IdentityConfig.from_dict({**raw, "data": args.data}, source=args.config)
    command = "python -m converters.identity " + " ".join(sys.argv[1:] if args.argv is None else args.argv)
    doc = compare(cfg, Path(args.candidate), Path(args.baseline), Path(args.report_dir), command)
    print(json.dumps(doc["decision"]))


def _sizes(args: argparse.Namespace) -> None:
    from pathlib import Path

    from converters.identity.sizes import run

    for row in run(args.sizes, Path(args.report_dir))["sizes"]:
        print(json.dumps(row))


def _teacher(args: argparse.Namespace) -> None:
    from pathlib import Path

    import numpy as np

    from converters.identity.data import index_lfw, lfw_pairs
    from converters.identity.teacher import extract, single_core, verify_pairs

    single_core()  # before anything loads a BLAS
    root = Path(args.data)
    if args.source == "ferplus":
        _teacher_ferplus(args)
        return
    descriptor = extract(root, Path(args.out), Path(args.out) / "cache", args.limit, args.views, args.augment)
    pairs_file = root / "pairsDevTrain.txt"
    if pairs_file.is_file() and not args.limit:
        pairs, _ = lfw_pairs(index_lfw(root), pairs_file)
        emb = np.load(Path(args.out) / descriptor["cache_file"])["embeddings"][0]
        descriptor["pairsDevTrain"] = verify_pairs(emb, pairs)
    report = Path(args.report_dir)
    report.mkdir(parents=True, exist_ok=True)
    (report / "teacher_cache.json").write_text(json.dumps(descriptor, indent=2) + "\n")
    print(json.dumps(descriptor))


def _teacher_ferplus(args: argparse.Namespace) -> None:
    """FER+ faces (unlabelled; a seeded subset with ``--subset``): the teacher's embeddings of the
    photos the student's crops come from (:mod:`converters.identity.ferplus`)."""
    from pathlib import Path

    import numpy as np

    from converters.identity.ferplus import detected_faces
    from converters.identity.teacher import extract_source

    if args.augment or args.limit:
        raise ConfigError("--augment and --limit are for LFW; FER+ takes --subset N --seed S", "--source ferplus")
    out = Path(args.out)
    index, eyes, missed = detected_faces(Path(args.data), args.subset, args.seed, out / "cache")
    command = (f"python -m converters.identity teacher --source ferplus --data {args.data} --out {args.out} "
               f"--views {' '.join(args.views)} --subset {args.subset} --seed {args.seed}")
    descriptor = extract_source(index, eyes, np.ones(len(index), bool), out, args.views, 0, None, str(args.data),
                                command)
    descriptor["ferplus"] = {"subset": args.subset, "seed": args.seed, "listed": len(index) + missed,
                             "blazeface_missed": missed, "photo": "converters.core.fercrops.as_photo",
                             "note": "faces BlazeFace missed are left out; box_from_eyes counts the faces "
                                     "dlib's HOG detector could not find (their box comes from the eyes)"}
    report = Path(args.report_dir)
    report.mkdir(parents=True, exist_ok=True)
    (report / "teacher_cache_ferplus.json").write_text(json.dumps(descriptor, indent=2) + "\n")
    print(json.dumps(descriptor))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m converters.identity", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("all",
                       help="data -> train -> prune 30%% + fine-tune -> [QAT] -> convert -> evaluate -> ship -> report")
    a.add_argument("--config", help="JSON of IdentityConfig fields")
    a.add_argument("--data", help="LFW root (images/, pairsDevTrain.txt)")
    a.add_argument("--out", help="work folder (default runs/identity)")
    a.add_argument("--input-size", dest="input_size", type=int, help="crop side in pixels (64)")
    a.add_argument("--people-limit", dest="people_limit", type=int,
                   help="only the first N people with >= 2 images (smoke tests)")
    a.add_argument("--train-minutes", dest="train_minutes", type=float, help="float training wall-clock budget")
    a.add_argument("--finetune-minutes", dest="finetune_minutes", type=float, help="fine-tuning after pruning")
    a.add_argument("--qat-minutes", dest="qat_minutes", type=float, help="quantization-aware training (0: PTQ only)")
    a.add_argument("--report-dir", dest="report_dir", help="report folder (default reports/identity)")
    a.add_argument("--teacher-cache", dest="teacher_cache",
                   help="distil from this teacher cache (a .npz, or the folder of `teacher --out`, "
                        "e.g. runs/identity_teacher)")
    a.add_argument("--teacher-views", dest="teacher_views", type=int,
                   help="how many of the cache's augmented views to train on (-1: all, 0: none)")
    a.add_argument("--no-ship", dest="no_ship", action="store_true", help="do not copy into edgekit/models/")
    a.set_defaults(func=_all)
    c = sub.add_parser("compare", help="a candidate .tflite next to the shipped one: held-out verification, "
                                       "gallery test, size, interleaved latency")
    c.add_argument("--config", required=True, help="the candidate's JSON of IdentityConfig fields (split, pairs)")
    c.add_argument("--data", required=True, help="LFW root")
    c.add_argument("--candidate", required=True, help="candidate .tflite")
    c.add_argument("--baseline", default="edgekit/models/identity_mnv3s_int8.tflite", help="shipped .tflite")
    c.add_argument("--report-dir", dest="report_dir", required=True, help="the candidate's report folder")
    c.set_defaults(func=_compare)
    z = sub.add_parser("sizes", help="training and INT8 inference cost of the embedder at several input sizes")
    z.add_argument("--sizes", type=int, nargs="+", default=[64, 96])
    z.add_argument("--report-dir", dest="report_dir", default="reports/identity")
    z.set_defaults(func=_sizes)
    t = sub.add_parser("teacher",
                       help="dlib teacher embeddings of every LFW face (long, resumable; needs the [teacher] extra)")
    t.add_argument("--data", required=True,
                   help="LFW root (images/, pairsDevTrain.txt), or with --source ferplus a FER+ folder")
    t.add_argument("--source", choices=["lfw", "ferplus"], default="lfw",
                   help="lfw (labelled people) or ferplus (48 px faces, unlabelled: distillation-only samples)")
    t.add_argument("--subset", type=int, default=0, help="ferplus: a seeded subset of N faces (0: all)")
    t.add_argument("--seed", type=int, default=0, help="ferplus: the subset's seed")
    t.add_argument("--out", default="runs/identity_teacher", help="cache folder, outside git")
    t.add_argument("--limit", type=int, help="only the first N images (smoke tests)")
    t.add_argument("--views", nargs="+", default=["photo", "mirror"], help="photo [mirror] (mirror doubles the time)")
    t.add_argument("--augment", type=int, default=0,
                   help="augmented views per face on top (rotation, scale, contrast, low resolution, gray; each costs "
                        "about as much as the photo); the student trains on the same views of its own crops")
    t.add_argument("--report-dir", dest="report_dir", default="reports/identity_teacher")
    t.set_defaults(func=_teacher)
    return parser


def main(argv=None) -> int:
    return run(build_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
