"""The teacher's report: JSON, Markdown and a learning-curve plot, with the labels' sha256."""
from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Dict


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
    lines += ["", "![learning curves](curves.png)", "", "Settings: " + ", ".join(f"{k} {v}" for k, v in cfg.items()),
              ""]
    return "\n".join(lines)


def write(result: Dict, out: Path) -> None:
    """``report.json``, ``report.md`` and ``curves.png`` under ``out`` (beside ``teacher_labels.npz``)."""
    result["labels_sha256"] = hashlib.sha256((out / "teacher_labels.npz").read_bytes()).hexdigest()
    result["host"] = host()
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
