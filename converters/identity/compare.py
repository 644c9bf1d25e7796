"""A candidate identity model next to the shipped one, measured the same way in the same run.

``python -m converters.identity compare --config C --candidate A.tflite --baseline B.tflite
--report-dir D``: both ``.tflite`` files through the runtime embedder on the held-out people of
``C``'s split (the same people, pairs and seed for both), with the mirror-averaged embedding
(``flip``) and without: 10-fold verification accuracy (mean ± spread over the folds), TAR at FAR
1e-2 / 1e-3, ROC AUC, then the strangers-first operating point and gallery test of
:func:`converters.identity.gallery_eval.operating_point` (chosen on half A, tested on half B, and
over five halvings), file size and 1-thread latency measured in alternating rounds (so a busy
machine slows both alike). ``uptime`` before and after is recorded. Writes ``D/comparison.json``
and a section at the top of ``D/README.md`` (between markers, replaced on a re-run).
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Dict

import numpy as np

BEGIN, END = "<!-- comparison:begin -->", "<!-- comparison:end -->"
LATENCY_ROUNDS = 6


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def measure(prep, path: Path, far: float, seed: int) -> Dict[str, dict]:
    """Verification and gallery numbers of one model, with and without the mirror average."""
    from converters.identity import metrics
    from converters.identity.gallery_eval import operating_point
    from converters.identity.report import combine, runtime_embeddings

    held = set(prep.split.heldout_people)
    rows = np.array([i for i, n in enumerate(prep.faces.names) if str(n) in held], np.int64)
    plain, mirrored = runtime_embeddings(path, prep.faces.images[rows])
    out = {}
    for flip in (True, False):
        emb = np.zeros((len(prep.faces.images), plain.shape[1]), np.float64)
        emb[rows] = combine(plain, mirrored, flip)
        sims, same = metrics.pair_similarities(emb, prep.heldout_pairs)
        points = [operating_point(prep.faces.names, prep.split.heldout_people, prep.heldout_pairs, emb, far, seed + k)
                  for k in range(5)]
        first = points[0]
        out["flip" if flip else "plain"] = {
            "heldout": metrics.verification_report(sims, same, first["threshold"]),
            "operating_point": {"threshold": first["threshold"], "margin": first["margin"],
                                "report_half": first["report_half"], "gallery_test": first["gallery_test"]},
            "halvings": {key: {"mean": float(np.mean(v)), "std": float(np.std(v))} for key, v in {
                "accuracy": [p["report_half"]["accuracy"] for p in points],
                "recognised": [p["gallery_test"]["recognised"] for p in points],
                "strangers_named": [p["gallery_test"]["strangers_named"] for p in points]}.items()}}
    return out


def interleaved_latency(paths: Dict[str, Path], size: int, runs: int, rounds: int = LATENCY_ROUNDS) -> Dict[str, dict]:
    """Median 1-thread latency per model over ``rounds`` alternating rounds of ``runs`` calls."""
    from converters.identity.report import latency_ms

    medians: Dict[str, list] = {name: [] for name in paths}
    for k in range(rounds):
        order = list(paths) if k % 2 == 0 else list(paths)[::-1]
        for name in order:
            medians[name].append(latency_ms(paths[name], size, runs)["median"])
    return {name: {"median_ms": float(np.median(v)), "round_medians_ms": [round(x, 4) for x in v], "runs": runs}
            for name, v in medians.items()}


def compare(cfg, candidate: Path, baseline: Path, report_dir: Path, command: str) -> dict:
    """Measure both models; write ``comparison.json`` and the README section; return the dict."""
    from converters.core.report import host_info
    from converters.identity.pipeline import prepare

    load_before = _uptime()
    prep = prepare(replace(cfg, teacher="", extra_teacher=""))  # the split and pairs need no teacher
    models = {"candidate": Path(candidate), "shipped": Path(baseline)}
    far = cfg.threshold_far or 0.01
    result = {name: measure(prep, path, far, cfg.seed) for name, path in models.items()}
    latency = interleaved_latency(models, cfg.input_size, cfg.latency_runs)
    for name, path in models.items():
        result[name]["file"] = {"path": str(path), "bytes": path.stat().st_size}
        result[name]["latency_1_thread"] = latency[name]
    cand, base = result["candidate"]["flip"], result["shipped"]["flip"]
    better_verification = cand["heldout"]["kfold_accuracy"] > base["heldout"]["kfold_accuracy"]
    better_gallery = (cand["halvings"]["recognised"]["mean"] > base["halvings"]["recognised"]["mean"]
                      and cand["halvings"]["strangers_named"]["mean"] <= base["halvings"]["strangers_named"]["mean"])
    doc = {"produced_by": command, "host": host_info(), "uptime_before": load_before, "uptime_after": _uptime(),
           "data": {"heldout_people": len(prep.split.heldout_people), "heldout_pairs": int(len(prep.heldout_pairs)),
                    "far_asked": far, "seed": cfg.seed},
           "models": result,
           "decision": {"better_heldout_verification": bool(better_verification),
                        "better_gallery_test": bool(better_gallery),
                        "ship": bool(better_verification and better_gallery)}}
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "comparison.json").write_text(json.dumps(doc, indent=1) + "\n")
    readme = report_dir / "README.md"
    body = readme.read_text() if readme.is_file() else ""
    if BEGIN in body:
        body = body[:body.index(BEGIN)] + body[body.index(END) + len(END):].lstrip("\n")
    lines = body.splitlines()
    head = lines[:2] if lines and lines[0].startswith("# ") else []
    rest = "\n".join(lines[len(head):])
    readme.write_text("\n".join(head) + ("\n" if head else "") + render(doc) + "\n" + rest.lstrip("\n")
                      + ("\n" if rest and not rest.endswith("\n") else ""))
    return doc


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render(doc: dict) -> str:
    """The README section: both models, the same measurements, side by side."""
    m = doc["models"]
    lines = [BEGIN, "## Against the shipped model (same run, same held-out people)", "",
             f"Measured by `{doc['produced_by']}` on {doc['host']['date_utc']} (git {doc['host']['git_sha']}); "
             f"{doc['data']['heldout_people']} held-out people, {doc['data']['heldout_pairs']} pairs; "
             f"machine load: before `{doc['uptime_before']}`, after `{doc['uptime_after']}`.", "",
             "| model | view | held-out acc (10-fold) | TAR@FAR1e-2 | TAR@FAR1e-3 | AUC | half B acc at its threshold "
             "| enrolled recognised (5 halvings) | strangers named (5 halvings) | size | latency 1 thread |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("candidate", "shipped"):
        for view in ("flip", "plain"):
            r = m[name][view]
            h, hv = r["heldout"], r["halvings"]
            far3 = _pct(h["tar_at_far_0.001"]) + ("" if h["far_0.001_resolvable"] else " (n/a*)")
            lines.append(
                f"| {name} | {'mirror-averaged' if view == 'flip' else 'single'} | "
                f"{_pct(h['kfold_accuracy'])} ± {100 * h['kfold_std']:.1f} | {_pct(h['tar_at_far_0.01'])} | {far3} | "
                f"{h['roc_auc']:.3f} | {_pct(r['operating_point']['report_half']['accuracy'])} | "
                f"{_pct(hv['recognised']['mean'])} ± {100 * hv['recognised']['std']:.1f} | "
                f"{_pct(hv['strangers_named']['mean'])} ± {100 * hv['strangers_named']['std']:.1f} | "
                f"{m[name]['file']['bytes'] / 1e6:.2f} MB | {m[name]['latency_1_thread']['median_ms']:.2f} ms |")
    d = doc["decision"]
    lines += ["", "\\* FAR 1e-3 needs at least 1000 mismatched pairs to be resolvable.",
              "Gallery numbers: threshold and margin chosen for strangers on one half of the held-out people "
              "(FAR " + f"{doc['data']['far_asked']:g}" + "), galleries of 10 people tested on the other half, "
              "mean ± spread over five halvings. Latency: median of "
              f"{len(m['candidate']['latency_1_thread']['round_medians_ms'])} alternating rounds of "
              f"{m['candidate']['latency_1_thread']['runs']} calls each. The shipped model was trained in an earlier "
              "run (its own report); no repeat run measured run-to-run noise, so a difference within the fold "
              "spread is not evidence either way.", "",
              f"Decision (mirror-averaged rows): better on held-out verification: "
              f"**{'yes' if d['better_heldout_verification'] else 'no'}**; better on the gallery test (more enrolled "
              f"people recognised, no more strangers named): **{'yes' if d['better_gallery_test'] else 'no'}**; "
              f"ship criterion met: **{'yes' if d['ship'] else 'no'}** "
              "(both are required to replace the shipped model).",
              "", END, ""]
    return "\n".join(lines)
