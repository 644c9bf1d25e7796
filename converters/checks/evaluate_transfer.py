"""Measure expression transfer: does the emotion classifier read the source's expression on the result?

    python -m converters.checks.evaluate_transfer [--data ../shared/data] [--per-emotion 40] [--out reports/transfer]

Sources: FER+ FER2013Valid faces that at least ``--min-votes`` of 10 annotators gave one emotion
(48x48 crops upscaled x4 on a gray border). Targets: FER2013Valid faces with >= 9/10 neutral votes
(upscaled the same way) and LFW photos the shipped classifier reads as neutral. Each source is
paired with one target of each kind. For every pair the shipped emotion model classifies the
result's face; the report gives, per source emotion, the share of pairs whose top-1 is the source
emotion (with and without filling the open mouth from the source), against two references: the
same share on the untouched targets (what the classifier says without any transfer) and on the
sources themselves (the classifier's own accuracy on them, a ceiling of sorts).

Writes ``report.json``, ``pairs.csv`` (one row per pair), ``README.md`` and ``before_after.png``
under ``--out``. The committed
picture shows only the public-domain astronaut photo (FER+ and LFW images may not be copied into
the repository): its own expression flattened and amplified, and FER+ sources' expressions
transferred geometrically (``mouth_fill=False``: no source pixels). A gallery of real pairs is
written to ``runs/transfer/pairs.png`` (git-ignored) for local inspection.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from converters.core.paths import ROOT, shared_dir
from converters.core.fercrops import ferplus_rows, upscaled_crop
from converters.core.provenance import git_info, host_device, package_versions
from converters.core.detection import UNREFINED
from edgekit.assets import demo_photo
from edgekit.errors import NoFaceError
from edgekit.pipeline import Pipeline
from edgekit.labels import EMOTIONS
from edgekit.registry import model_info
from edgekit.transfer import ExpressionTransfer

#: Source emotions evaluated (FER2013Valid has too few strong disgust/contempt faces).
SOURCE_EMOTIONS = ("happiness", "surprise", "sadness", "anger", "fear")
VARIANTS = ("mouth_fill", "geometry_only")


@dataclass
class Pair:
    emotion: str
    source: Path
    target: Path
    target_kind: str  # "ferplus" or "lfw"


def strong_faces(rows: Sequence[Tuple[Path, np.ndarray]], emotion: str, min_votes: int) -> List[Path]:
    col = EMOTIONS.index(emotion)
    return [path for path, votes in rows if votes[col] >= min_votes and votes[8] == 0 and votes[9] == 0]


def load(path: Path) -> np.ndarray:
    """FER+ crops are upscaled on a gray border; other photos are read as they are."""
    return upscaled_crop(path) if path.suffix == ".png" and path.name.startswith("fer") else cv2.imread(str(path))


def top_emotion(pipe: Pipeline, image: np.ndarray) -> Optional[Dict[str, float]]:
    """Probabilities of the largest face's emotion, None when no face is found."""
    faces = pipe.process(image).faces
    if not faces:
        return None
    return max(faces, key=lambda f: f.box.area).emotion.probs


def neutral_lfw(pipe: Pipeline, lfw: Path, count: int, rng: random.Random) -> List[Path]:
    """LFW photos (one per person, random people) that the classifier reads as neutral."""
    people = sorted(p for p in (lfw / "images").iterdir() if p.is_dir())
    rng.shuffle(people)
    chosen = []
    for person in people:
        photo = sorted(person.glob("*.jpg"))[0]
        probs = top_emotion(pipe, cv2.imread(str(photo)))
        if probs and max(probs, key=probs.get) == "neutral":
            chosen.append(photo)
            if len(chosen) == count:
                break
    return chosen


def make_pairs(data: Path, pipe: Pipeline, per_emotion: int, min_votes: int, seed: int) -> List[Pair]:
    rng = random.Random(seed)
    rows = ferplus_rows(data / "ferplus" / "FER2013Valid")
    fer_neutral = strong_faces(rows, "neutral", 9)
    rng.shuffle(fer_neutral)
    total = per_emotion * len(SOURCE_EMOTIONS)
    lfw_targets = neutral_lfw(pipe, data / "lfw", total, rng) if (data / "lfw" / "images").is_dir() else []
    pairs, k = [], 0
    for emotion in SOURCE_EMOTIONS:
        sources = strong_faces(rows, emotion, min_votes)
        rng.shuffle(sources)
        for source in sources[:per_emotion]:
            pairs.append(Pair(emotion, source, fer_neutral[k % len(fer_neutral)], "ferplus"))
            if lfw_targets:
                pairs.append(Pair(emotion, source, lfw_targets[k % len(lfw_targets)], "lfw"))
            k += 1
    return pairs


def evaluate(pairs: List[Pair], engine: ExpressionTransfer, pipe: Pipeline) -> List[dict]:
    records = []
    for pair in tqdm(pairs, desc="transfer pairs", file=sys.stderr):
        src, dst = load(pair.source), load(pair.target)
        record = {"emotion": pair.emotion, "target_kind": pair.target_kind, "source": pair.source.name,
                  "target": pair.target.name, "source_read": reading(pipe, src, pair.emotion),
                  "target_read": reading(pipe, dst, pair.emotion)}
        for variant in VARIANTS:
            try:
                result = engine.transfer(src, dst, mouth_fill=variant == "mouth_fill")
            except NoFaceError:
                record[variant] = None
                continue
            record[variant] = reading(pipe, result.image, pair.emotion)
            record["mouth_open_in_source"] = result.mouth_from_source or record.get("mouth_open_in_source", False)
        records.append(record)
    return records


def reading(pipe: Pipeline, image: np.ndarray, emotion: str) -> Optional[Dict[str, object]]:
    """What the classifier reads on the largest face: its top-1 label and p(``emotion``)."""
    probs = top_emotion(pipe, image)
    if probs is None:
        return None
    return {"top1": max(probs, key=probs.get), "p_source": round(float(probs[emotion]), 4)}


def _share(records: List[dict], key: str) -> Tuple[Optional[float], int]:
    """Share of records whose ``key`` reading has the record's emotion on top."""
    hits = [r[key]["top1"] == r["emotion"] for r in records if r.get(key)]
    return (float(np.mean(hits)) if hits else None), len(hits)


def _mean_prob(records: List[dict], key: str) -> Optional[float]:
    values = [r[key]["p_source"] for r in records if r.get(key)]
    return float(np.mean(values)) if values else None


def summarize(records: List[dict]) -> Dict[str, dict]:
    groups = {"all": records}
    for emotion in SOURCE_EMOTIONS:
        groups[emotion] = [r for r in records if r["emotion"] == emotion]
    for kind in ("ferplus", "lfw"):
        groups[f"targets={kind}"] = [r for r in records if r["target_kind"] == kind]
    out = {}
    for name, group in groups.items():
        if not group:
            continue
        row = {"pairs": len(group)}
        for key in ("target_read", "source_read", *VARIANTS):
            share, n = _share(group, key)
            row[key] = {"top1_is_source_emotion": share, "n": n, "mean_prob_of_source_emotion": _mean_prob(group, key)}
        readable = [r for r in group if r.get("source_read") and r["source_read"]["top1"] == r["emotion"]]
        share, n = _share(readable, "mouth_fill")
        row["mouth_fill_when_source_read_right"] = {"top1_is_source_emotion": share, "n": n}
        out[name] = row
    return out


def _label(image: np.ndarray, text: str, width: int = 240) -> np.ndarray:
    tile = cv2.resize(image, (width, width), interpolation=cv2.INTER_AREA)
    cv2.rectangle(tile, (0, width - 22), (width, width), (0, 0, 0), -1)
    cv2.putText(tile, text, (4, width - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def _face_crop(image: np.ndarray, box) -> np.ndarray:
    side = max(box.width, box.height) * 1.5
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    x0, y0 = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
    return image[y0:int(cy + side / 2), x0:int(cx + side / 2)]


def before_after(engine: ExpressionTransfer, pipe: Pipeline, sources: Dict[str, Path], path: Path) -> None:
    """Astronaut-only picture: original, own expression x0/x2/x3, FER+ expressions (geometry only)."""
    photo = cv2.imread(str(demo_photo()))

    def tile(image: np.ndarray, caption: str, box) -> np.ndarray:
        probs = top_emotion(pipe, image) or {}
        label = max(probs, key=probs.get) if probs else "no face"
        return _label(_face_crop(image, box), f"{caption}: reads {label}")

    base = engine.exaggerate(photo, 1.0)
    tiles = [tile(photo, "original", base.target.box),
             tile(engine.exaggerate(photo, 0.0).image, "own x0", base.target.box),
             tile(engine.exaggerate(photo, 2.0).image, "own x2", base.target.box),
             tile(engine.exaggerate(photo, 3.0).image, "own x3", base.target.box)]
    for emotion, source in sources.items():
        result = engine.transfer(load(source), photo, mouth_fill=False)
        tiles.append(tile(result.image, f"{emotion} src", base.target.box))
    while len(tiles) % 3:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i:i + 3]) for i in range(0, len(tiles), 3)]
    path.parent.mkdir(parents=True, exist_ok=True)
    # a 256-colour palette keeps the committed PNG small
    Image.fromarray(cv2.cvtColor(np.vstack(rows), cv2.COLOR_BGR2RGB)).quantize(256).save(path, optimize=True)


def local_gallery(engine: ExpressionTransfer, pairs: List[Pair], path: Path) -> None:
    """Source / target / result triples of real pairs, for local inspection only (not committed)."""
    rows = []
    for pair in pairs:
        src, dst = load(pair.source), load(pair.target)
        result = engine.transfer(src, dst)
        rows.append(np.hstack([_label(src, pair.emotion), _label(dst, "target"), _label(result.image, "result")]))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows))


PAIR_COLUMNS = ("emotion", "target_kind", "source", "target", "mouth_open_in_source")
READINGS = ("source_read", "target_read", *VARIANTS)


def write_pairs_csv(records: List[dict], path: Path) -> None:
    """One row per pair: names, and the classifier's top-1 and p(source emotion) on the source,
    the untouched target and both results (empty when no face was found)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*PAIR_COLUMNS, *(f"{k}_{f}" for k in READINGS for f in ("top1", "p_source"))])
        for r in records:
            cells = [r.get(c, "") for c in PAIR_COLUMNS]
            for key in READINGS:
                cells += [r[key]["top1"], r[key]["p_source"]] if r.get(key) else ["", ""]
            writer.writerow(cells)


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def markdown(report: dict) -> str:
    env, cfg = report["environment"], report["config"]
    lines = [
        "# Expression transfer: measured check", "",
        f"Written by `{cfg['command']}` on {report['created']} (git {env['git']['sha']}"
        f"{' + local changes' if env['git']['dirty'] else ''}).", "",
        "Question: after `edgekit transfer` puts a source face's expression on a neutral target face, does the "
        f"shipped emotion classifier (`{cfg['emotion_model']['file']}`, sha256 "
        f"`{cfg['emotion_model']['sha256'][:12]}...`) read the source's emotion on the result?", "",
        f"- Sources: FER2013Valid faces with >= {cfg['min_votes']}/10 votes for one emotion, "
        f"{cfg['per_emotion']} per emotion ({', '.join(SOURCE_EMOTIONS)}), 48x48 crops upscaled x4.",
        "- Targets: FER2013Valid faces with >= 9/10 neutral votes (upscaled the same way) and LFW photos "
        "the classifier reads as neutral; each source is paired with one target of each kind.",
        "- `mouth_fill`: the default transfer (an open source mouth fills the new mouth). "
        "`geometry_only`: `mouth_fill=False`, landmarks and warp only.",
        "- References: `untouched target` = the same share on the targets before any transfer; "
        "`source itself` = the classifier on the source face (its accuracy on these faces).", "",
        "## Share of pairs whose top-1 emotion on the result is the source's emotion", "",
        "| group | pairs | result (mouth_fill) | result (geometry_only) | untouched target | source itself "
        "| result (mouth_fill), sources the classifier reads right | mean p(source emotion): target -> result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in report["summary"].items():
        lines.append(
            f"| {name} | {row['pairs']} | {_pct(row['mouth_fill']['top1_is_source_emotion'])} | "
            f"{_pct(row['geometry_only']['top1_is_source_emotion'])} | "
            f"{_pct(row['target_read']['top1_is_source_emotion'])} | "
            f"{_pct(row['source_read']['top1_is_source_emotion'])} | "
            f"{_pct(row['mouth_fill_when_source_read_right']['top1_is_source_emotion'])} "
            f"(n={row['mouth_fill_when_source_read_right']['n']}) | "
            f"{row['target_read']['mean_prob_of_source_emotion']:.3f} -> "
            f"{row['mouth_fill']['mean_prob_of_source_emotion']:.3f} |")
    lines += ["", "Per-pair readings (file names, top-1 and p(source emotion) on source, target and results): "
              "[pairs.csv](pairs.csv).", "", "## Before / after", "",
              "![before/after](before_after.png)", "",
              "The picture uses only the public-domain astronaut photo (`edgekit/assets/astronaut.png`): FER+ "
              "and LFW images may not be copied into this repository, so transfers from FER+ sources are shown "
              "with `mouth_fill=False` (geometry only: no source pixels), and sources are not shown. Each tile "
              "is labelled with the classifier's top-1 on it. `runs/transfer/pairs.png` (not committed) shows "
              "real source/target/result triples after a local run.", "",
              "## Notes", "", *[f"- {n}" for n in report["notes"]], "",
              "## Environment", "",
              f"- device: {env['device'].get('cpu_model')} ({env['device'].get('cpu_count')} cores), "
              f"{env['device'].get('os')}",
              *[f"- {k}: {v}" for k, v in env["versions"].items()], ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=shared_dir() / "data", help="folder holding ferplus/ and lfw/")
    parser.add_argument("--per-emotion", type=int, default=40, help="source faces per emotion (default: %(default)s)")
    parser.add_argument("--min-votes", type=int, default=7, help="votes (of 10) a source needs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "transfer")
    args = parser.parse_args(argv)

    import datetime as dt

    with Pipeline(**UNREFINED) as pipe, ExpressionTransfer() as engine:
        pairs = make_pairs(args.data, pipe, args.per_emotion, args.min_votes, args.seed)
        records = evaluate(pairs, engine, pipe)
        summary = summarize(records)
        first = {e: next(p.source for p in pairs if p.emotion == e) for e in SOURCE_EMOTIONS}
        before_after(engine, pipe, first, args.out / "before_after.png")
        gallery = [next(p for p in pairs if p.emotion == e and p.target_kind == k)
                   for e in SOURCE_EMOTIONS for k in ("ferplus", "lfw") if any(p.target_kind == k for p in pairs)]
        local_gallery(engine, gallery, ROOT / "runs" / "transfer" / "pairs.png")
    failed = sum(r.get("mouth_fill") is None for r in records)
    model = model_info("emotion")
    report = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "environment": {"git": git_info(), "device": host_device(),
                        "versions": package_versions(("edgekit", "numpy", "opencv-contrib-python", "ai-edge-litert",
                                                      "mediapipe"))},
        "config": {"command": " ".join(["python -m converters.checks.evaluate_transfer", *(argv or sys.argv[1:])]),
                   "per_emotion": args.per_emotion, "min_votes": args.min_votes, "seed": args.seed,
                   "source_emotions": list(SOURCE_EMOTIONS),
                   "emotion_model": {"file": model.file, "sha256": model.sha256}},
        "summary": summary,
        "notes": [
            f"{len(pairs)} pairs; {failed} had no face found on the source or target mesh and are left out of the "
            "result columns.",
            f"{sum(bool(r.get('mouth_open_in_source')) for r in records)} pairs had an open source mouth "
            "(only there do mouth_fill and geometry_only differ).",
            "The classifier reads 48x48-like aligned crops; its accuracy on the sources themselves bounds what a "
            "transfer can show, and it is replaced from time to time (numbers change with it: rerun this script).",
        ],
        "pairs_file": "pairs.csv",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_pairs_csv(records, args.out / "pairs.csv")
    (args.out / "README.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
