"""The teacher's report: JSON, Markdown and a learning-curve plot, with the labels' sha256 and the
kept weights' descriptor (``teacher_weights.json``, see :mod:`.ensemble`)."""
from __future__ import annotations

import hashlib
import json
import platform
import shutil
from pathlib import Path
from typing import Dict, List, Optional


def host() -> Dict[str, str]:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {"python": platform.python_version(), "torch": torch.__version__, "gpu": gpu, "machine": platform.machine()}


def plot(result: Dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for fold, hist in sorted(result["histories"].items()):
        ax_loss.plot([h["epoch"] for h in hist], [h["loss"] for h in hist], label=f"fold {fold}")
        points = [(h["epoch"], 100 * h["val_acc"]) for h in hist if "val_acc" in h]
        ax_acc.plot(*zip(*points), marker="o", label=f"fold {fold}")
    ax_loss.set(xlabel="epoch", ylabel="training loss (soft-label cross-entropy)", title="Teacher training loss")
    ax_acc.set(xlabel="epoch", ylabel="FER2013Valid majority accuracy (%)", title="Each fold's teacher on validation")
    ax_acc.axhline(100 * result["val_majority_accuracy_ensemble"], color="k", ls="--", label="ensemble of the folds")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(result: Dict) -> str:
    cfg, h = result["config"], result["host"]
    lines = [
        "# Emotion teacher (K-fold ResNet-18, PyTorch) for distillation", "",
        f"Produced by `{result['produced_by']}` at commit `{result['source_commit'] or 'unknown'}` on "
        f"{h['gpu']} (torch {h['torch']}, Python {h['python']}).", "",
        f"- Validation (FER2013Valid, {result['val_faces']} faces, majority protocol), mean of the {cfg['folds']} fold "
        f"teachers' probabilities: **{100 * result['val_majority_accuracy_ensemble']:.2f}%**",
        f"- Training faces, each scored by the fold teacher that did not train on it (out-of-fold): "
        f"{100 * result['oof_majority_accuracy_train']:.2f}%",
        f"- `teacher_labels.npz` ({result['train_faces']} training faces' out-of-fold probabilities): sha256 "
        f"`{result['labels_sha256']}`", "",
        "| fold | training faces | epochs | steps | minutes | validation accuracy |", "|---|---|---|---|---|---|",
    ]
    for f in result["folds"]:
        lines.append(f"| {f['fold']} | {f['train_rows']} | {f['epochs']} | {f['steps']} | {f['elapsed_s'] / 60:.1f} | "
                     f"{100 * f['val_acc']:.2f}% |")
    lines += ["", *weights_lines(result), "", "![learning curves](curves.png)", "",
              "Settings: " + ", ".join(f"{k} {v}" for k, v in cfg.items()), ""]
    return "\n".join(lines)


def weights_lines(result: Dict) -> List[str]:
    """Where the fold teachers' weights are and how to label new faces with them, or that this run
    kept none and what to run instead."""
    crops = ("`python -m converters.emotion.teacher crops --lfw ../shared/data/lfw --out CROPS.npz` (LFW photos "
             "through the runtime's detector + aligner)")
    w = result.get("weights")
    if not w:
        return [f"- Weights: **not kept** (this run predates `train` keeping them): nothing can label new faces with "
                "this teacher. Retrain with the command above (a new teacher: training stops on a wall-clock "
                "budget, so its labels and their sha256 will differ); it keeps each fold's `fold_<k>.pt` and "
                "their descriptor `teacher_weights.json` in its `--work` folder's `folds/` "
                f"(`runs/emotion_teacher/folds/` by default). Then {crops} and `python -m converters.emotion.teacher "
                "label --weights runs/emotion_teacher/folds --images CROPS.npz --out LABELS.npz`."]
    return [f"- Weights: {w['folds']} fold teachers (`fold_<k>.pt`, {w['bytes'] / 1e6:.1f} MB together) kept outside "
            f"git in `{w['folder']}` where this ran; their sizes and sha256 are in "
            f"[teacher_weights.json](teacher_weights.json) (sha256 `{w['descriptor_sha256']}`). Label new faces "
            f"(the mean of the folds, each averaged with its mirror): {crops}, then `python -m "
            f"converters.emotion.teacher label --weights {w['folder']} --descriptor <this folder>/teacher_weights.json "
            "--images CROPS.npz --out LABELS.npz`; a weight file whose sha256 differs is refused."]


def write(result: Dict, out: Path, descriptor: Optional[Path] = None) -> None:
    """``report.json``, ``report.md`` and ``curves.png`` under ``out`` (beside ``teacher_labels.npz``),
    and a copy of the kept weights' ``descriptor`` when there is one."""
    result["labels_sha256"] = hashlib.sha256((out / "teacher_labels.npz").read_bytes()).hexdigest()
    result["host"] = host()
    if descriptor is not None:
        descriptor = Path(descriptor)
        kept = json.loads(descriptor.read_text())
        result["weights"] = {"folder": str(descriptor.parent), "folds": len(kept["files"]),
                             "bytes": sum(f["bytes"] for f in kept["files"]),
                             "descriptor_sha256": hashlib.sha256(descriptor.read_bytes()).hexdigest()}
        if descriptor.resolve() != (out / descriptor.name).resolve():
            shutil.copyfile(descriptor, out / descriptor.name)
    plot(result, out / "curves.png")
    (out / "report.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "report.md").write_text(markdown(result))


def probe_result(variants: Dict[str, dict], base, out: Path) -> Dict:
    """Each probe variant's settings, effort and final validation accuracy (read from its fold record)."""
    rows = {}
    for name, changes in variants.items():
        rec = json.loads((out / name / "fold_0.json").read_text())
        scored = [h for h in rec["history"] if "val_acc" in h]
        rows[name] = {"changes": changes, "params": rec["params"], "epochs": len(rec["history"]),
                      "minutes": rec["elapsed_s"] / 60, "val_acc": scored[-1]["val_acc"] if scored else None,
                      "val_curve": [(h["epoch"], h["val_acc"]) for h in scored]}
    from dataclasses import asdict

    return {"base": asdict(base), "variants": rows, "host": host()}


def probe_markdown(result: Dict) -> str:
    h = result["host"]
    lines = ["# Emotion probe: networks trained side by side on all FER+ training faces (PyTorch)", "",
             f"Produced by `{result['produced_by']}` at commit `{result['source_commit'] or 'unknown'}` on {h['gpu']} "
             f"(torch {h['torch']}). Each variant trains on every training face for the same wall-clock budget, "
             "sharing one GPU; accuracy is FER2013Valid majority accuracy with a mirrored second view.", "",
             "| variant | settings (on top of the base) | params | epochs | minutes | validation accuracy |",
             "|---|---|---|---|---|---|"]
    for name, r in result["variants"].items():
        changes = ", ".join(f"{k} {v}" for k, v in r["changes"].items()) or "base"
        acc = f"{100 * r['val_acc']:.2f}%" if r["val_acc"] is not None else "-"
        lines.append(f"| {name} | {changes} | {r['params']:,} | {r['epochs']} | {r['minutes']:.1f} | {acc} |")
    lines += ["", "Base settings: " + ", ".join(f"{k} {v}" for k, v in result["base"].items()), ""]
    return "\n".join(lines)


def write_probe(result: Dict, out: Path, stem: str) -> Path:
    """``<stem>.json`` and ``<stem>.md`` under ``out``; returns the Markdown path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / f"{stem}.md").write_text(probe_markdown(result))
    return out / f"{stem}.md"
