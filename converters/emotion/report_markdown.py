"""The emotion report's README.md, rendered from its ``report.json`` dict (see :mod:`.report`)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional

from converters.core.paths import ROOT
from converters.emotion import evaluate as ev
from converters.emotion.data import EMOTIONS



def _teacher_lines(t: Optional[dict], report_dir: Path) -> List[str]:
    if not t:
        return []
    own = ""
    if t.get("val_accuracy") is not None:
        link = os.path.relpath(ROOT / t["report"], ROOT / report_dir)
        own = f" (the teacher: {_pct(t['val_accuracy'])} on FER2013Valid, [its report]({link}))"
    if "float_weight" not in t:  # reports written before the float stage's share was recorded
        float_note = ""
    elif t["float_weight"] is None:
        float_note = (" The float model learned from the votes alone, so the pruned drop compares a distilled "
                      "pruned model with an undistilled float one.")
    else:
        float_note = f" The float model learned from the same kind of mix, the teacher's share {t['float_weight']:g}."
    return [f"- fine-tune and QAT targets: {t['weight']:g} x a teacher's out-of-fold probabilities "
            f"(`{t['labels']}`, sha256 `{t['sha256'][:16]}…`){own} + {1 - t['weight']:g} x the FER+ vote "
            f"distribution.{float_note}"]


def _continued_lines(c: Optional[dict]) -> List[str]:
    """The earlier run this one continued (its float model reused, its pruned model fine-tuned again)."""
    if not c:
        return []
    done = "; ".join(f"{stage} {s['epochs']} epochs in {s['wall_clock_s'] / 60:.0f} min"
                     for stage, s in c["training"].items() if s.get("wall_clock_s"))
    return [f"- continued from `{c['run']}` ({done}): its float model is this report's float model, and its "
            "pruned, fine-tuned model was fine-tuned again on a fresh cosine schedule (the pruned line above)."]


def _latency_notes(res: dict, shipped: str) -> List[str]:
    """Why the latency-ratio target is measured on the pair it is, and the INT8 pair on built-in kernels."""
    lines = []
    unpruned = res.get("float_int8_ptq", {})
    if unpruned.get("xnnpack_partitions") == 0:
        ratio = res["pruned_fp32"]["latency_1thread"]["median_ms"] / res["float_fp32"]["latency_1thread"]["median_ms"]
        lines += ["", "Note: XNNPACK refused to prepare the unpruned INT8 graph (`float_int8_ptq`), so it ran on the "
                  "built-in kernels; the pruned/unpruned latency ratio target above is therefore measured on the "
                  f"float32 models (both fully in XNNPACK): {ratio:.3f}."]
        refused = unpruned.get("xnnpack_refused_ops") or []
        if refused:
            ops = ", ".join(f"`{o['output']}` ({o['requant_scale']:,.0f}; output range {o['output_range']:.2g})"
                            for o in refused)
            lines += ["", f"Why XNNPACK refuses it: {len(refused)} quantized ops have a requantization scale "
                      "(input x weight / output scale) above XNNPACK's limit of "
                      f"{ev.XNNPACK_MAX_REQUANT_SCALE:.0f}: {ops}."]
            if all(o["output_range"] < 1e-5 for o in refused):
                lines[-1] += (" An output range this small is the converter's minimum: these outputs were zero on "
                              "every calibration face (ReLUs that did not fire on them).")
            pruned_int8 = [r for name, r in res.items() if name.startswith("pruned_int8")]
            if pruned_int8 and all(r.get("xnnpack_partitions") == 1 for r in pruned_int8):
                lines += ["", "The pruned (and fine-tuned) INT8 graphs have no such op: they run fully in XNNPACK."]
    elif all(res.get(n, {}).get("latency_1thread") for n in ("pruned_fp32", "float_fp32")):
        fp32 = res["pruned_fp32"]["latency_1thread"]["median_ms"], res["float_fp32"]["latency_1thread"]["median_ms"]
        lines += ["", f"The same pair in float32 (both in XNNPACK): pruned {fp32[0]:.3f} ms vs "
                  f"unpruned {fp32[1]:.3f} ms median, ratio {fp32[0] / fp32[1]:.3f}. INT8 gains less from pruning "
                  "than float32 here: its per-op costs (requantization, the RGB->gray and stem convolutions, which "
                  "pruning leaves as they are) weigh more against its cheaper multiply-adds."]
    a, b = res.get(shipped, {}).get("latency_1thread_builtin"), unpruned.get("latency_1thread_builtin")
    if a and b:
        lines += ["", "INT8 on LiteRT's built-in kernels (no XNNPACK) for both graphs: "
                  f"pruned {a['median_ms']:.3f} ms vs "
                  f"unpruned {b['median_ms']:.3f} ms median, ratio {a['median_ms'] / b['median_ms']:.3f}."]
    return lines


def _folded_gate_lines(folded: Dict[str, list]) -> List[str]:
    """Which squeeze-excite gates were constant on the training faces and folded before conversion."""
    if not folded:
        return []
    lines = ["Constant squeeze-excite gates folded before conversion. A gate whose ReLU does not fire is a "
             "per-channel constant, folded into the next 1x1 conv; left in, its always-zero INT8 tensor makes "
             "XNNPACK refuse the whole graph. Exact on the faces where it never fired; the float32 and PTQ rows "
             "above are measured on the folded graphs:", ""]
    for stage, gates in folded.items():
        found = ", ".join(f"`{g['block']}` (fired on {g.get('fired_on', 0)} of {g['faces']:,} training faces; largest "
                          f"pre-activation {g['max_preactivation']:.3f})" for g in gates)
        lines.append(f"- {stage}: {found or 'none'}")
    return lines + ["", "The QAT model keeps its gates: QAT learned their ranges.", ""]


def _history_lines(runs: List[dict]) -> List[str]:
    """The "what was tried" section: every committed run of this report, then this one."""
    from converters.emotion import history

    if len(runs) < 2:
        return []
    return ["", "## What was tried", "",
            "Every earlier run of this pipeline whose report was committed (`git log -- reports/emotion/report.json`), "
            "oldest first, each measured by the code of its commit, then this report. \"what changed\" lists the "
            "settings that differ from the row above (training effort has its own column); ✗ marks a missed "
            "target.", "",
            *history.render([history.Run(**run) for run in runs])]


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def render_markdown(r: dict, report_dir: Path) -> str:
    res, host, sh = r["results"], r["host"], r["shipped"]
    order = ["float_keras", "float_fp32", "float_int8_ptq", "pruned_keras", "pruned_fp32", "pruned_int8_ptq",
             "pruned_int8_qat"]
    lines = [
        "# Emotion classifier: train -> prune 30% channels -> INT8 -> export",
        "",
        f"Generated by `converters/emotion/report.py` on {host['date_utc']} (git {host['git_sha']}), "
        f"{host['cpu']} x{host['cpu_count']} (load average at report time {host['load_average']}).",
        "",
        f"**Evaluation split: FER2013Valid** ({r['dataset']['n_majority']} images with a majority label; "
        f"{r['dataset']['n_dropped_no_majority']} dropped as unknown/not-a-face/tied). {r['dataset']['note']}.",
        "",
        "Reproduce (one command, resumes from `runs/` checkpoints):",
        "",
        "```",
        r["reproduce"],
        "```",
        "",
        "## Results",
        "",
        "Every variant is scored on the pixels `edgekit.EmotionClassifier.predict` feeds the model "
        "(`converters.emotion.evaluate.runtime_inputs`: the runtime's own resize of the 48 px PNG). "
        "\"±1 flips\" is the share of faces whose top-1 changes when each input pixel moves by a random "
        "-1/0/+1, the size of a rounding difference between two resize implementations.",
        "",
        "| variant | majority acc | macro-F1 | params | MACs | file | LiteRT 1-thread median (p90) "
        "| XNNPACK partitions | ±1 flips |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in order:
        if name not in res:
            continue
        m = res[name]
        lat = m.get("latency_1thread")
        size = f"{m['file_bytes'] / 1024:.0f} KiB" if "file_bytes" in m else "-"
        speed = f"{lat['median_ms']:.3f} ms ({lat['p90_ms']:.3f})" if lat else "-"
        lines.append(f"| {name} | {_pct(m['accuracy'])} | {m['macro_f1']:.3f} | {m.get('params', 0):,} | "
                     f"{m.get('macs', 0):,} | {size} | {speed} | {m.get('xnnpack_partitions', '-')} | "
                     f"{_pct(m['noise_flip_rate']) if 'noise_flip_rate' in m else '-'} |")
    timing = next((m["latency_1thread"] for m in res.values() if "latency_1thread" in m), {})
    if "rounds" in timing:
        lines += ["", f"Latency: every model (and the INT8 ones again on the built-in kernels) timed in the same run, "
                  f"{timing['rounds']} interleaved rounds of {timing['runs'] // timing['rounds']} invokes each, "
                  "pooled; "
                  "so a drift in this shared VM's speed hits all models alike and the ratios compare like with like."]
    lines += ["", "XNNPACK partitions = delegated subgraphs; more than one means some ops (e.g. int8 HARD_SWISH) run "
              "outside XNNPACK, which is why INT8 can be slower than float32 here; 0 means XNNPACK refused to "
              "prepare the graph and LiteRT's built-in kernels ran it.", "", "Per-class recall:", "",
              "| variant | " + " | ".join(EMOTIONS) + " |", "|---" * (len(EMOTIONS) + 1) + "|"]
    for name in order:
        if name in res:
            lines.append(f"| {name} | " + " | ".join(f"{res[name]['per_class_recall'][e]:.2f}" for e in EMOTIONS)
                         + " |")
    support = res["float_keras"]["support"]
    lines += ["| support | " + " | ".join(str(support[e]) for e in EMOTIONS) + " |", ""]
    lines += ["Confusion matrices: " + ", ".join(f"[{p.name}]({p.name})" for p in
                                                 sorted(Path(report_dir).glob("confusion_*.png"))), ""]
    p = r["pruning"]
    lines += ["## Structured pruning", "",
              f"{p['removed_channels']} of {p['prunable_channels']} prunable channels removed "
              f"({_pct(p['removed_fraction'])}) across {p['prunable_groups']} channel groups "
              "(expansion, squeeze-excite, "
              "residual chains, head); params "
              f"{p['params_before']:,} -> {p['params_after']:,}, MACs {p['macs_before']:,} -> {p['macs_after']:,}. "
              "Channels ranked by BN scale |gamma|/sqrt(var+eps) (filter L2 norm where no BN follows), then the thin "
              "model was rebuilt and fine-tuned.", ""]
    lines += _folded_gate_lines(r.get("folded_gates", {}))
    lines += ["## Shipped model", "", f"- variant: `{sh['variant']}` (of PTQ and QAT: more targets met, then higher "
              "validation accuracy)"]
    if "path" in sh:
        lines += [f"- file: `{sh['path']}`, {sh['bytes']:,} bytes, sha256 `{sh['sha256']}`"]
        rp = sh["runtime_path"]
        lines += [f"- through the runtime (`edgekit.EmotionClassifier.predict` on the validation PNGs): accuracy "
                  f"{_pct(rp['accuracy'])}, top-1 agreement with the toolchain evaluation "
                  f"{_pct(rp['top1_agreement_with_toolchain'])}"]
        mp = sh["mediapipe_image_classifier"]
        lines += [f"- MediaPipe Tasks `ImageClassifier` loads it as is; on {mp['n']} validation images (pre-resized "
                  f"to the model input) its top-1 agrees with edgekit on {_pct(mp['top1_agreement'])}, largest "
                  f"probability difference {mp['max_abs_prob_diff']:.4f}"]
    lines += ["", "## Targets", "", "| target | measured | required | met | missed by |", "|---|---|---|---|---|"]
    for name, t in r["targets"].items():
        missed = "" if t["met"] else f"{t['miss_by']:.4g}"
        lines.append(f"| {name} | {t['measured']:.4g} | {t['target']} | {'yes' if t['met'] else 'NO'} | {missed} |")
    lines += _latency_notes(res, sh["variant"])
    lines += _history_lines(r.get("history", []))
    lines += ["", "## Training", ""]
    for stage, s in r["training"].items():
        fin = s["final"] or {}
        lines.append(f"- {stage}: {s['epochs']} epochs, {s['wall_clock_s'] / 60:.1f} min wall clock; last epoch "
                     f"val acc {fin.get('val_acc', float('nan')):.4f}")
    lines += _continued_lines(r.get("continued_from"))
    lines += _teacher_lines(r.get("teacher"), report_dir)
    lines += ["", "Configs: " + ", ".join(f"[{k}]({v})" for k, v in r["configs"].items()), "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in host["versions"].items()), ""]
    return "\n".join(lines)
