"""What was tried: the earlier runs of the emotion report, read back from git history.

Every committed version of ``<report_dir>/report.json`` (and the configs copied beside it) is one
run of ``python -m converters.emotion all``. :func:`past_runs` summarises each one, and
:func:`render` lists them with the settings that changed from one run to the next. Every number
comes from a committed report; nothing here is typed in by hand.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from converters.core.provenance import run_git

#: Settings compared between runs: (config file, key, label in the report).
SETTINGS = [
    ("float", "variant", "MobileNetV3 variant"), ("float", "alpha", "width"), ("float", "input_size", "input px"),
    ("float", "activation", "activation"), ("float", "label_mode", "labels"), ("float", "lr", "float lr"),
    ("float", "batch_size", "batch"), ("float", "weight_decay", "weight decay"),
    ("float", "class_weight_power", "class-weight power"), ("float", "label_smoothing", "label smoothing"),
    ("float", "dropout", "dropout"), ("float", "augment", "augmentation"),
    ("float", "aligned", "runtime-aligned training crops"), ("float", "teacher_labels", "float teacher labels"),
    ("pipeline", "prune_fraction", "prune fraction"), ("pipeline", "prune_divisor", "channel multiple"),
    ("pipeline", "fold_gate_max_firing", "fold SE gates firing on at most"),
    ("pipeline", "finetune_lr", "fine-tune lr"), ("pipeline", "finetune_distill", "fine-tune distillation from float"),
    ("pipeline", "teacher_labels", "fine-tune + QAT teacher labels"), ("pipeline", "teacher_weight", "teacher share"),
    ("pipeline", "qat_lr", "QAT lr"),
    ("pipeline", "calibration_count", "calibration faces"),
]
#: Values a setting had before the code knew it (older configs lack the key).
DEFAULTS = {"activation": "hswish", "prune_divisor": 4, "fold_gate_max_firing": "off", "finetune_distill": 0.0,
            "teacher_labels": "", "teacher_weight": 0.5,
            "aligned": False}
#: How reports that do not say so prepared the validation faces for the models.
OLD_EVAL_INPUTS = "TF float resize"
#: Settings listed for the first run (later rows list only what changed).
FIRST_RUN = ("MobileNetV3 variant", "width", "input px", "activation", "labels", "channel multiple")


@dataclass
class Run:
    """One report: the settings it was trained with, the effort spent and what it measured."""

    commit: str
    date: str
    settings: Dict[str, object] = field(default_factory=dict)
    training: Dict[str, str] = field(default_factory=dict)  # stage -> "68 ep in 66 min"
    latency_method: str = ""
    eval_inputs: str = ""
    float_acc: float = 0.0
    shipped: str = ""
    shipped_acc: float = 0.0
    shipped_sha256: str = ""
    measured: Dict[str, float] = field(default_factory=dict)  # target name -> measured value
    met: List[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(report: dict, configs: Dict[str, dict], commit: str, date: str) -> Run:
    """A :class:`Run` from one report dict and its ``{"float": ..., "pipeline": ...}`` configs."""
    settings = {label: configs.get(src, {}).get(key, DEFAULTS.get(key)) for src, key, label in SETTINGS}
    settings = {label: "none" if value in ("", None) else value for label, value in settings.items()}
    training = {stage: f"{t['epochs']} ep in {t['wall_clock_s'] / 60:.0f} min"
                for stage, t in report.get("training", {}).items() if t and t.get("wall_clock_s")}
    res, shipped = report["results"], report["shipped"]["variant"]
    latency = res.get(shipped, {}).get("latency_1thread") or {}
    targets = report.get("targets", {})
    return Run(commit=commit, date=date, settings=settings, training=training,
               latency_method="interleaved" if "rounds" in latency else "back-to-back",
               eval_inputs=report.get("eval_inputs", OLD_EVAL_INPUTS),
               float_acc=res["float_keras"]["accuracy"], shipped=shipped, shipped_acc=res[shipped]["accuracy"],
               shipped_sha256=report["shipped"].get("sha256", ""),
               measured={name: t["measured"] for name, t in targets.items()},
               met=[name for name, t in targets.items() if t["met"]])


def _show_json(root: Path, commit: str, path: str) -> dict:
    text = run_git(root, "show", f"{commit}:{path}")
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}


def past_runs(root: Path, report_dir: Path) -> List[Run]:
    """Every committed version of ``report_dir/report.json``, oldest first; [] outside a git checkout."""
    try:
        rel = Path(report_dir).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return []
    log = run_git(root, "log", "--format=%h %ad", "--date=short", "--", f"{rel}/report.json")
    runs = []
    for line in reversed((log or "").splitlines()):
        commit, date = line.split()
        report = _show_json(root, commit, f"{rel}/report.json")
        if not report.get("results"):
            continue
        configs = {name: _show_json(root, commit, f"{rel}/configs/{name}.json") for name in ("float", "pipeline")}
        runs.append(summarize(report, configs, commit, date))
    return runs


def with_current(root: Path, report_dir: Path, current: Run) -> List[Run]:
    """:func:`past_runs` then ``current``; the last committed run is dropped when it shipped the
    same model file as ``current`` (a re-measurement of it, not another run)."""
    runs = past_runs(root, report_dir)
    if runs and runs[-1].shipped_sha256 == current.shipped_sha256:
        runs.pop()
    return runs + [current]


def changes(before: Optional[Run], after: Run) -> List[str]:
    """The settings ``after`` changed relative to ``before`` (all of them for the first run)."""
    if before is None:
        return [f"{k} {after.settings.get(k)}" for k in FIRST_RUN]
    return [f"{k} {before.settings.get(k)} -> {v}" if k != "augmentation" else "augmentation changed"
            for k, v in after.settings.items() if before.settings.get(k) != v]


def _cell(run: Run, target: str, fmt: str) -> str:
    value = run.measured.get(target)
    if value is None:
        return "-"
    return fmt.format(value) + ("" if target in run.met else " ✗")


def render(runs: List[Run]) -> List[str]:
    """Markdown: one row per run, oldest first, with what changed since the run before."""
    if not runs:
        return []
    lines = ["| run | what changed | training (float / fine-tune / QAT) | float acc | shipped | shipped acc "
             "| INT8 drop "
             "| pruned drop | file | latency | pruned/unpruned INT8 latency | targets met |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    before = None
    for i, run in enumerate(runs):
        changed = changes(before, run)
        if before is not None and run.latency_method != before.latency_method:
            changed.append(f"latency measured {run.latency_method}")
        if before is not None and run.eval_inputs != before.eval_inputs:
            changed.append(f"scored on {run.eval_inputs}")
        same = [r.commit for r in runs[:i] if run.shipped_sha256 and r.shipped_sha256 == run.shipped_sha256]
        if same:
            changed.append(f"the model of {same[0]} again")
        effort = " / ".join(run.training.get(s, "-") for s in ("float", "pruned", "qat"))
        lines.append(
            f"| {run.commit} ({run.date}) | {'; '.join(changed) or 'same settings'} | {effort} | "
            f"{100 * run.float_acc:.2f}% | {run.shipped} | {_cell(run, 'accuracy', '{:.2%}')} | "
            f"{_cell(run, 'int8_drop_points', '{:.2f} pt')} | {_cell(run, 'pruned_drop_points', '{:.2f} pt')} | "
            f"{_cell(run, 'file_bytes', '{:,.0f} B')} | {_cell(run, 'latency_ms_1thread', '{:.3f} ms')} | "
            f"{_cell(run, 'pruned_vs_unpruned_int8_latency_ratio', '{:.3f}')} | "
            f"{len(run.met)} of {len(run.measured)} |")
        before = run
    return lines
