"""Section 2 of the AU validation (#22): a smile transferred onto a neutral face must raise AU12 and AU6.

Pairs (fixed before any result was looked at, except the LFW neutral rule, see below):

- sources: the first N FER2013Valid faces with >= 8 of 10 happiness votes (none for unknown or
  not-a-face), each paired with one target in order;
- FER+ targets: the first N FER2013Valid faces with >= 9 of 10 neutral votes;
- LFW targets: LFW photos in a seeded random order, kept when the shipped classifier reads their
  largest face as neutral (p(neutral) >= :data:`NEUTRAL_P`, section 3's threshold), until N are found.
  Earlier runs drew N random LFW photos with no neutral condition, so many targets were
  already smiling and the transfer (which sets the target's mouth shape to the source's) could not
  raise their AU12; :func:`diagnose_random_sample` keeps that sample as the diagnosis.

Per pair: the AU12 / AU6 raw measures (mean of the two sides) of the target, of the landmarks the
transfer moved, and of the edited photo meshed again; the source's own AU12 against the population
neutral; head poses; the target's p(neutral). Per-pair rows go to ``runs/aus/transfer_pairs.json``.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from converters.aus.common import raw_change
from converters.core.fercrops import ferplus_rows, upscaled_crop
from converters.core.paths import ROOT
from converters.core.detection import UNREFINED
from edgekit.aus import AU_NAMES, action_units, feature_matrix, fit_pose, population_calibration
from edgekit.pipeline import Pipeline
from edgekit.transfer.geometry import anchor_matrix

RUNS = ROOT / "runs" / "aus"
#: A target counts as neutral when the classifier gives its face p(neutral) >= this (section 3's threshold).
NEUTRAL_P = 0.6
SEED = 0
SELECTION = {
    "ferplus": "FER2013Valid faces with >= 9 of 10 neutral votes, in file order",
    "lfw": f"LFW photos in a seeded random order whose largest face the classifier reads as neutral "
           f"(p(neutral) >= {NEUTRAL_P})",
}
SOURCES = "the first FER2013Valid faces with >= 8 of 10 happiness votes"


def smile_sources(data: Path, pairs: int) -> List[Path]:
    rows = ferplus_rows(data / "ferplus" / "FER2013Valid")
    return [p for p, v in rows if v[1] >= 8 and v[8] == 0 and v[9] == 0][:pairs]


def ferplus_neutrals(data: Path, pairs: int) -> List[Path]:
    rows = ferplus_rows(data / "ferplus" / "FER2013Valid")
    return [p for p, v in rows if v[0] >= 9 and v[8] == 0 and v[9] == 0][:pairs]


def lfw_photos(data: Path) -> List[Path]:
    return sorted((data / "lfw" / "images").glob("*/*.jpg"))


def p_neutral(pipe: Pipeline, image: np.ndarray) -> Optional[float]:
    """The classifier's p(neutral) for the largest face (None: no face)."""
    faces = pipe.process(image).faces
    return max(faces, key=lambda f: f.box.area).emotion.probs["neutral"] if faces else None


def lfw_neutral_targets(data: Path, pairs: int, pipe: Pipeline) -> Tuple[List[Path], int]:
    """(the first ``pairs`` LFW photos, in seeded random order, read as neutral; photos looked at)."""
    order = lfw_photos(data)
    random.Random(SEED).shuffle(order)
    chosen: List[Path] = []
    looked = 0
    for path in order:
        if len(chosen) == pairs:
            break
        looked += 1
        p = p_neutral(pipe, cv2.imread(str(path)))
        if p is not None and p >= NEUTRAL_P:
            chosen.append(path)
    return chosen, looked


def lfw_random_sample(data: Path, pairs: int) -> List[Path]:
    """The LFW targets of the runs before the neutral rule: ``pairs`` random photos."""
    photos = lfw_photos(data)
    return random.Random(SEED).sample(photos, min(len(photos), pairs))


def au_vs_population(raw: np.ndarray, au: str) -> float:
    k = AU_NAMES.index(au)
    return float(np.mean(raw[2 * k:2 * k + 2] - population_calibration().base[2 * k:2 * k + 2]))


def mouth_anchor_split(points: np.ndarray) -> Tuple[float, float]:
    """A face's AU12 raw measure (mean of the sides, reference units) split into its mouth anchor's
    part (the upper-lip centre, which the transfer keeps where the target has it) and the lip
    corners' part relative to that anchor (what the transfer copies from the source)."""
    rotation, scale, translation = fit_pose(np.asarray(points, np.float64))
    aligned = scale * np.asarray(points, np.float64) @ rotation.T + translation
    k = AU_NAMES.index("AU12")
    rows = feature_matrix()[2 * k:2 * k + 2]
    anchors = anchor_matrix() @ aligned
    return float((rows @ anchors.reshape(-1)).mean()), float((rows @ (aligned - anchors).reshape(-1)).mean())


def pair_records(engine: Any, pipe: Optional[Pipeline], sources: Sequence[Path],
                 targets: Sequence[Tuple[str, Callable[[], np.ndarray]]], desc: str) -> List[Dict[str, Any]]:
    """One row per (source, target) pair; ``skipped`` names why a pair was not measured."""
    from edgekit.errors import NoFaceError

    rows = []
    for src_path, (name, load) in tqdm(list(zip(sources, targets)), desc=desc, file=sys.stderr, mininterval=10):
        row: Dict[str, Any] = {"source": src_path.name, "target": name}
        rows.append(row)
        target = load()
        if pipe is not None:
            row["target_p_neutral"] = p_neutral(pipe, target)
        try:
            result = engine.transfer(upscaled_crop(src_path), target)
        except NoFaceError:
            row["skipped"] = "no face"
            continue
        before = action_units(result.target.points, presence=result.target.presence)
        source = action_units(result.source.points, presence=result.source.presence)
        after = engine.mesh.process(result.image)
        after_aus = action_units(after[0].points, presence=after[0].presence) if after else None
        if not before.ok or after_aus is None or not after_aus.ok:
            row["skipped"] = "AUs not read on the target or the edited photo"
            continue
        moved = action_units(result.landmarks)
        personal = action_units(after[0].points, baseline=before.raw)  # against the target's own face
        anchor_part, corners_part = mouth_anchor_split(result.source.points)
        row.update({
            "target_pose": before.pose.to_dict() if before.pose else None,
            "source_pose": source.pose.to_dict() if source.pose else None,
            "target_au12_vs_population": au_vs_population(before.raw, "AU12"),
            "source_au12_vs_population": au_vs_population(source.raw, "AU12") if source.ok else None,
            "source_mouth_anchor_au12": anchor_part,
            "source_corners_au12": corners_part,
            "target_mouth_anchor_au12": mouth_anchor_split(result.target.points)[0],
            "au12_change": raw_change(before.raw, after_aus.raw, "AU12"),
            "au6_change": raw_change(before.raw, after_aus.raw, "AU6"),
            "au12_activation_change": after_aus.activations["AU12"] - before.activations["AU12"],
            "au6_activation_change": after_aus.activations["AU6"] - before.activations["AU6"],
            "both_active_against_own_neutral": bool(personal.activations["AU12"] > 0
                                                    and personal.activations["AU6"] > 0),
            "moved_au12_change": raw_change(before.raw, moved.raw, "AU12") if moved.ok else None,
            "moved_au6_change": raw_change(before.raw, moved.raw, "AU6") if moved.ok else None,
        })
    return rows


def _share(values: Sequence[Optional[float]]) -> Optional[float]:
    v = [x for x in values if x is not None]
    return round(float((np.array(v) > 0).mean()), 4) if v else None


def _mean(values: Sequence[Optional[float]], digits: int = 3) -> Optional[float]:
    v = [x for x in values if x is not None]
    return round(float(np.mean(v)), digits) if v else None


def summary(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The section-2 table row of one target kind (the keys of the earlier reports, plus the source
    diagnostics)."""
    used = [r for r in rows if "skipped" not in r]
    col = lambda key: [r[key] for r in used]  # noqa: E731
    return {"pairs": len(used), "au12_rises": _share(col("au12_change")), "au6_rises": _share(col("au6_change")),
            "au12_mean_change": _mean(col("au12_activation_change")),
            "au6_mean_change": _mean(col("au6_activation_change")),
            "both_active_against_own_neutral": _mean([float(x) for x in col("both_active_against_own_neutral")], 4),
            "au12_rises_on_transferred_landmarks": _share(col("moved_au12_change")),
            "au6_rises_on_transferred_landmarks": _share(col("moved_au6_change")),
            "source_au12_above_population": _share(col("source_au12_vs_population")),
            "source_au12_vs_population_mean": _mean(col("source_au12_vs_population")),
            "au12_measure_change_on_transferred_landmarks_mean": _mean(col("moved_au12_change"))}


def diagnose_random_sample(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Why the earlier runs' random LFW targets failed: split by whether the target reads neutral."""
    used = [r for r in rows if "skipped" not in r]
    neutral = [r for r in used if (r.get("target_p_neutral") or 0.0) >= NEUTRAL_P]
    other = [r for r in used if r not in neutral]
    fails = [r for r in used if not (r["moved_au12_change"] or 0.0) > 0]
    src = lambda r: r["source_au12_vs_population"]  # noqa: E731
    split = lambda key: {"neutral_targets": _share([r[key] for r in neutral]),  # noqa: E731
                         "other_targets": _share([r[key] for r in other])}
    return {"pairs": len(used), "targets_read_neutral": len(neutral),
            "au12_rises_on_transferred_landmarks": split("moved_au12_change"),
            "au12_rises_remeshed": split("au12_change"),
            "fails_on_transferred_landmarks": len(fails),
            "fails_with_target_not_read_neutral": sum(r in other for r in fails),
            "fails_with_target_au12_at_least_the_source": sum(src(r) is not None and r["target_au12_vs_population"]
                                                              >= src(r) for r in fails),
            "target_abs_yaw_median": {"fails": _abs_yaw(fails), "rises": _abs_yaw([r for r in used if r not in fails])}}


def _abs_yaw(rows: List[Dict[str, Any]]) -> Optional[float]:
    yaws = [abs(r["target_pose"]["yaw"]) for r in rows if r.get("target_pose")]
    return round(float(np.median(yaws)), 1) if yaws else None


def remaining_failures(rows: List[Dict[str, Any]], ref_corners: float) -> Dict[str, Any]:
    """Pairs whose AU12 does not rise on the transferred landmarks: how many, from how many sources,
    and how far each source's lip corners sit from the reference's relative to the upper-lip centre
    (the only part of its smile the transfer copies)."""
    fails = [r for r in rows if "skipped" not in r and not (r["moved_au12_change"] or 0.0) > 0]
    return {"pairs": len(fails), "sources": len({r["source"] for r in fails}),
            "source_corners_minus_reference": sorted(round(r["source_corners_au12"] - ref_corners, 3) for r in fails)}


def real_smile_anchor_split(data: Path, people: int) -> Dict[str, Any]:
    """Same person, neutral photo -> smiling photo (section 3's pairing, on the first ``people`` LFW
    people with >= 2 photos): how much of the AU12 rise is the whole mouth rising (its anchor, which
    the transfer does not move) and how much the corners moving relative to it."""
    from edgekit.facemesh import FaceMesh

    folder = data / "lfw" / "images"
    chosen = sorted(p for p in folder.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 2)[:people]
    changes = []
    with Pipeline(**UNREFINED) as pipe, FaceMesh(max_faces=1) as mesh:
        for person in tqdm(chosen, desc="smile anchor split", file=sys.stderr, mininterval=10):
            items = []
            for path in sorted(person.glob("*.jpg"))[:12]:
                image = cv2.imread(str(path))
                faces = pipe.process(image).faces
                meshed = mesh.process(image)
                if not faces or not meshed or not action_units(meshed[0].points, presence=meshed[0].presence).ok:
                    continue
                probs = max(faces, key=lambda f: f.box.area).emotion.probs
                items.append((probs["neutral"], probs["happiness"], mouth_anchor_split(meshed[0].points)))
            if len(items) < 2:
                continue
            neutral, smile = max(items, key=lambda r: r[0]), max(items, key=lambda r: r[1])
            if neutral is smile or neutral[0] < NEUTRAL_P or smile[1] < NEUTRAL_P:
                continue
            changes.append(np.subtract(smile[2], neutral[2]))
    c = np.array(changes).reshape(-1, 2)
    total = c.sum(axis=1)
    return {"people_looked_at": len(chosen), "pairs": len(c),
            "au12_change_mean": round(float(total.mean()), 4) if len(c) else None,
            "mouth_anchor_part_mean": round(float(c[:, 0].mean()), 4) if len(c) else None,
            "corners_part_mean": round(float(c[:, 1].mean()), 4) if len(c) else None,
            "corners_part_rises": round(float((c[:, 1] > 0).mean()), 4) if len(c) else None}


def transfer_check(data: Path, pairs: int, out: Path,
                   anchor_people: int = 400) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(section 2's rows per target kind, the diagnosis); per-pair rows to ``runs/aus/transfer_pairs.json``,
    the picture to ``out/transfer_pairs.png``."""
    from edgekit.transfer import ExpressionTransfer
    from edgekit.transfer.geometry import load_neutral_mesh

    sources = smile_sources(data, pairs)
    image = lambda p: (str(p.relative_to(data)), lambda: cv2.imread(str(p)))  # noqa: E731 (p bound per call)
    with ExpressionTransfer() as engine, Pipeline(**UNREFINED) as pipe:
        lfw, looked = lfw_neutral_targets(data, pairs, pipe)
        fer = [(str(p.relative_to(data)), lambda p=p: upscaled_crop(p)) for p in ferplus_neutrals(data, pairs)]
        rows = {
            "ferplus": pair_records(engine, None, sources, fer, "transfer ferplus"),
            "lfw": pair_records(engine, pipe, sources, [image(p) for p in lfw], "transfer lfw"),
            "lfw_random": pair_records(engine, pipe, sources, [image(p) for p in lfw_random_sample(data, pairs)],
                                       "transfer lfw (random sample)"),
        }
    RUNS.mkdir(parents=True, exist_ok=True)
    (RUNS / "transfer_pairs.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    result = {kind: {**summary(rows[kind]), "selection": SELECTION[kind]} for kind in ("ferplus", "lfw")}
    measured = [r for r in rows["ferplus"] if "skipped" not in r]
    ref_anchor, ref_corners = mouth_anchor_split(load_neutral_mesh())
    diagnosis = {
        "sources": SOURCES, "lfw_photos_looked_at": looked,
        "random_lfw_sample": diagnose_random_sample(rows["lfw_random"]),
        "source_au12_split_minus_reference": {
            "mouth_anchor_part_mean": _mean([r["source_mouth_anchor_au12"] - ref_anchor for r in measured], 4),
            "corners_part_mean": _mean([r["source_corners_au12"] - ref_corners for r in measured], 4),
            "neutral_targets_mouth_anchor_sd": round(float(np.std([r["target_mouth_anchor_au12"]
                                                                   for r in measured])), 4) if measured else None},
        "real_smile_split": real_smile_anchor_split(data, anchor_people),
        "remaining_failures": {kind: remaining_failures(rows[kind], ref_corners) for kind in ("ferplus", "lfw")},
        "source_corners_minus_reference_median": round(float(np.median(
            [r["source_corners_au12"] - ref_corners for r in measured])), 4) if measured else None,
    }
    plot_pairs(rows, out / "transfer_pairs.png")
    return result, diagnosis


def plot_pairs(rows: Dict[str, List[Dict[str, Any]]], path: Path) -> None:
    """Per pair: the target's own AU12 (x) against the AU12 change on the transferred landmarks (y),
    for the earlier random LFW sample and the neutral-read LFW targets."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    panels = (("lfw_random", "LFW targets drawn at random (the earlier runs)"),
              ("lfw", f"LFW targets read as neutral (p >= {NEUTRAL_P})"))
    for ax, (kind, title) in zip(axes, panels):
        used = [r for r in rows[kind] if "skipped" not in r and r["moved_au12_change"] is not None]
        for neutral, colour, label in ((True, "tab:blue", "target read neutral"),
                                       (False, "tab:red", "target not read neutral")):
            pick = [r for r in used if ((r.get("target_p_neutral") or 0.0) >= NEUTRAL_P) == neutral]
            if pick:
                ax.scatter([r["target_au12_vs_population"] for r in pick], [r["moved_au12_change"] for r in pick],
                           s=18, c=colour, label=f"{label} ({len(pick)})")
        ax.axhline(0, color="gray", lw=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("target's own AU12 measure minus the population neutral", fontsize=8)
        ax.legend(fontsize=7, loc="upper right")
    axes[0].set_ylabel("AU12 change on the transferred landmarks", fontsize=8)
    fig.suptitle("A smile transferred onto LFW faces: below the line, AU12 does not rise", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(path), format="png")


def markdown(tr: Dict[str, Any], diagnosis: Optional[Dict[str, Any]]) -> List[str]:
    """Section 2 of the report's README."""
    lines = ["", "## 2. Neutral -> smile through the transfer path", "",
             "| targets | pairs | AU12 measure rises | AU6 measure rises | mean AU12 change | mean AU6 change | "
             "AU12 and AU6 active against the target's own neutral | "
             "AU12 / AU6 rise on the transferred landmarks |",
             "|---|---|---|---|---|---|---|---|"]
    for kind, v in tr.items():
        lines.append(f"| {kind} | {v['pairs']} | {v['au12_rises']:.1%} | {v['au6_rises']:.1%} | "
                     f"{v['au12_mean_change']:+.3f} | {v['au6_mean_change']:+.3f} | "
                     f"{v['both_active_against_own_neutral']:.1%} | "
                     f"{v['au12_rises_on_transferred_landmarks']:.1%} / "
                     f"{v['au6_rises_on_transferred_landmarks']:.1%} |")
    lines += ["", "Measured by meshing the edited photo again, as a user re-analysing it would; the last column "
                  "reads the landmarks the transfer moved (its geometric intent). The transfer moves lips, eyes "
                  "and brows only, never the cheeks, so AU6 comes only from what the mesh model infers from the "
                  "new mouth."]
    if not diagnosis:
        return lines
    lines += ["", f"Sources: {diagnosis['sources']}. Targets: " +
              "; ".join(f"{kind}: {v['selection']}" for kind, v in tr.items() if "selection" in v) +
              f" ({diagnosis['lfw_photos_looked_at']} LFW photos looked at). Sources whose own AU12 measure is above "
              "the population neutral: " +
              ", ".join(f"{v['source_au12_above_population']:.1%} ({kind})" for kind, v in tr.items()) + "."]
    rnd, real = diagnosis["random_lfw_sample"], diagnosis["real_smile_split"]
    split = diagnosis["source_au12_split_minus_reference"]
    moved, remesh = rnd["au12_rises_on_transferred_landmarks"], rnd["au12_rises_remeshed"]
    lines += ["", "![transfer pairs](transfer_pairs.png)", "",
              "Why LFW failed before: earlier runs drew their LFW targets at random, and of the "
              f"{rnd['pairs']} measured pairs the classifier reads only {rnd['targets_read_neutral']} targets as "
              "neutral (LFW people smile a lot, see section 4). "
              "The transfer sets the target's mouth shape to the source's, so a target that already smiles as much "
              "as the source cannot rise. On that sample AU12 rises on the transferred landmarks of "
              f"{moved['neutral_targets']:.1%} of the neutral-read targets and {moved['other_targets']:.1%} of the "
              f"others (re-meshed: {remesh['neutral_targets']:.1%} / {remesh['other_targets']:.1%}); of its "
              f"{rnd['fails_on_transferred_landmarks']} failures on the transferred landmarks, "
              f"{rnd['fails_with_target_not_read_neutral']} have a target not read as neutral and "
              f"{rnd['fails_with_target_au12_at_least_the_source']} a target whose own AU12 measure is at least the "
              f"source's. Median target head yaw: {rnd['target_abs_yaw_median']['fails']:.1f} degrees on the failures, "
              f"{rnd['target_abs_yaw_median']['rises']:.1f} on the rest.",
              "",
              "What the transfer carries of a smile: it copies the lip corners' position relative to the upper-lip "
              "centre and keeps that centre (the mouth's anchor) where the target has it. The sources' AU12 "
              f"measure exceeds the neutral reference mesh's by {split['mouth_anchor_part_mean']:+.3f} (mean, "
              f"reference units) in the anchor's place and {split['corners_part_mean']:+.3f} in the corners "
              f"relative to it. Within one person ({real['pairs']} LFW people of the first "
              f"{real['people_looked_at']}, section 3's pairing), a real smile raises AU12 by "
              f"{real['au12_change_mean']:+.3f}: {real['mouth_anchor_part_mean']:+.3f} from the whole mouth rising "
              f"and {real['corners_part_mean']:+.3f} from the corners relative to it "
              f"(that part rises for {real['corners_part_rises']:.1%} of them). So the transfer raises AU12 by about "
              "the corners' share of a smile only. The anchor's place is also identity: between the FER+ neutral "
              f"targets its AU12 part has an SD of {split['neutral_targets_mouth_anchor_sd']:.3f} (a smile raises it "
              f"by {real['mouth_anchor_part_mean']:+.3f} on average), so copying it would carry part of the source's "
              "face along with the smile; the transfer keeps it, and this section does not change that."]
    rest = diagnosis.get("remaining_failures")
    if rest:
        lines += ["", "The failures left on the transferred landmarks: " +
                  "; ".join(f"{kind}: {v['pairs']} pairs from {v['sources']} sources, whose corners sit "
                            f"{', '.join(f'{x:+.3f}' for x in v['source_corners_minus_reference'])} from the "
                            "reference's" for kind, v in rest.items()) +
                  f" (median over all sources: {diagnosis['source_corners_minus_reference_median']:+.3f}). Near 0 "
                  "means the source's smile shows as the whole mouth rising, which the transfer does not carry."]
    if "rerun" in diagnosis:
        env = diagnosis["rerun"]
        lines += ["", f"Section 2 re-measured alone by `{env['command']}` (git {env['git_sha']}, {env['date_utc']}); "
                      "the other sections are from the full run above."]
    return lines
