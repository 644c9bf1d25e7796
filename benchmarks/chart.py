"""PNG chart of a benchmark report (matplotlib, Agg backend; benchmarks only, never the runtime).

:func:`write_chart`: left, whole-pipeline latency per emotion model (and running mode) and thread count
(p50 bar, p95 whisker) against the 15 ms/frame budget. Right: one ``invoke()`` per model (p50) for each
CPU configuration (XNNPACK on/off on the host, delegates over ADB). :func:`write_energy_chart`: latency vs energy
per configuration (Jetson power-mode sweep, ADB battery sampling).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from .report import FRAME_BUDGET_MS


def _rows(report: Dict[str, Any], name: str) -> List[Dict[str, Any]]:
    return [m for m in report["measurements"]
            if m["name"] == name and "p50" in m["stats"] and m["params"].get("repeat", "all") == "all"]


def write_chart(report: Dict[str, Any], path: Path) -> Optional[Path]:
    """Write the chart; returns None (nothing written) when matplotlib is missing or nothing to plot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    pipeline, models = _rows(report, "pipeline.process"), _rows(report, "model.latency")
    frame_models = [m for m in report["measurements"] if m["name"] == "frame.models_latency"]
    if not pipeline and not models and not frame_models:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [1, 1.3]})
    if pipeline or not frame_models:
        _pipeline_panel(axes[0], pipeline)
    else:
        _frame_models_panel(axes[0], frame_models)
    _model_panel(axes[1], models)
    dev = report["device"]
    busy = " - BUSY MACHINE: numbers are pessimistic" if (dev.get("contention") or {}).get("busy") else ""
    fig.suptitle(f"edgekit {report['harness']} benchmark - {dev.get('name') or dev.get('model')} "
                 f"({dev.get('cpu_model') or dev.get('soc_model') or dev.get('board') or ''}), "
                 f"git {report['git'].get('sha')}{busy}", fontsize=10)
    return _save(fig, path)


def _pipeline_group(m: Dict[str, Any]) -> str:
    """A pipeline bar group: the emotion model, and the running mode when the row has one."""
    mode = m["params"].get("mode")
    return m["params"].get("emotion", "?") + (f" ({mode})" if mode else "")


def _pipeline_panel(ax: Any, rows: List[Dict[str, Any]]) -> None:
    ax.set_title("whole pipeline per frame (p50 bar, p95 whisker)", fontsize=9)
    if not rows:
        ax.text(0.5, 0.5, "no pipeline measurement", ha="center", va="center", transform=ax.transAxes)
        return
    emotions = list(dict.fromkeys(_pipeline_group(m) for m in rows))
    threads = sorted({m["params"].get("threads", 1) for m in rows})
    width = 0.8 / len(threads)
    for j, n in enumerate(threads):
        sel = {_pipeline_group(m): m["stats"] for m in rows if m["params"].get("threads", 1) == n}
        xs = [i + j * width for i, e in enumerate(emotions) if e in sel]
        p50 = [sel[e]["p50"] for e in emotions if e in sel]
        err = [[0] * len(p50), [sel[e]["p95"] - sel[e]["p50"] for e in emotions if e in sel]]
        ax.bar(xs, p50, width, yerr=err, capsize=2, label=f"{n} thread{'s' if n > 1 else ''}")
    ax.axhline(FRAME_BUDGET_MS, color="red", linestyle="--", linewidth=1, label=f"{FRAME_BUDGET_MS:g} ms budget")
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(emotions))])
    ax.set_xticklabels(emotions, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("ms / frame")
    ax.legend(fontsize=8)


def _frame_models_panel(ax: Any, rows: List[Dict[str, Any]]) -> None:
    """ADB: detector + emotion inference per configuration (no pipeline runs on the phone)."""
    ax.set_title("detector + emotion inference, p50 (model only)", fontsize=9)
    labels = [f"{m['params'].get('delegate')}\n{m['params'].get('threads')} thr" for m in rows]
    ax.bar(range(len(rows)), [m["stats"]["value"] for m in rows])
    ax.axhline(FRAME_BUDGET_MS, color="red", linestyle="--", linewidth=1, label=f"{FRAME_BUDGET_MS:g} ms budget")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("ms / frame")
    ax.legend(fontsize=8)


def _model_panel(ax: Any, rows: List[Dict[str, Any]]) -> None:
    ax.set_title("one invoke per model (p50, fewest threads)", fontsize=9)
    if not rows:
        ax.text(0.5, 0.5, "no per-model measurement", ha="center", va="center", transform=ax.transAxes)
        return
    fewest = min(m["params"].get("threads", 1) for m in rows)
    rows = [m for m in rows if m["params"].get("threads", 1) == fewest]

    def config(m: Dict[str, Any]) -> str:
        p = m["params"]
        return p["delegate"] if "delegate" in p else ("XNNPACK" if p.get("xnnpack") else "no XNNPACK")

    models = list(dict.fromkeys(m["params"]["model"] for m in rows))
    configs = list(dict.fromkeys(config(m) for m in rows))
    height = 0.8 / len(configs)
    for j, c in enumerate(configs):
        sel = {m["params"]["model"]: m["stats"]["p50"] for m in rows if config(m) == c}
        ys = [i + j * height for i, key in enumerate(models) if key in sel]
        ax.barh(ys, [sel[k] for k in models if k in sel], height, label=c)
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(models))])
    ax.set_yticklabels(models, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel(f"ms per invoke ({fewest} thread{'s' if fewest > 1 else ''}, log scale)")
    ax.legend(fontsize=8)


def write_energy_chart(report: Dict[str, Any], path: Path) -> Optional[Path]:
    """Latency (p50) against energy (gross mJ) per configuration: frames (whole pipeline) on the left,
    inferences (one model) on the right; one colour per workload, one marker per clock/delegate
    setting, each point labelled with its power mode. None when matplotlib is missing or no energy."""
    from .report import energy_table_rows

    rows = [r for r in energy_table_rows(report) if r["p50_ms"] is not None]  # the Markdown table's rows
    if not rows:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    markers = {"off": "o", "on": "^"}
    for ax, item in zip(axes, ("frame", "inference")):
        sel = [r for r in rows if r["item"] == item]
        ax.set_title(f"per {item}: latency p50 vs energy (gross)", fontsize=9)
        if not sel:
            ax.text(0.5, 0.5, f"no per-{item} energy", ha="center", va="center", transform=ax.transAxes)
            continue
        workloads = list(dict.fromkeys(r["params"].get("emotion") or r["params"].get("model") or "?" for r in sel))
        colours = {w: plt.cm.tab10(i % 10) for i, w in enumerate(workloads)}
        for r in sel:
            p = r["params"]
            workload = p.get("emotion") or p.get("model") or "?"
            setting = p.get("jetson_clocks") or p.get("delegate") or ""
            ax.scatter(r["p50_ms"], r["gross_mj"], color=colours[workload], marker=markers.get(setting, "s"), s=36)
            label = p.get("nvpmodel") or (f"{p.get('threads')} thr" if "threads" in p else "")
            ax.annotate(f"{label}{' ' + setting if setting else ''}", (r["p50_ms"], r["gross_mj"]), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")
        for w in workloads:
            ax.scatter([], [], color=colours[w], label=w)
        if item == "frame":
            ax.axvline(FRAME_BUDGET_MS, color="red", linestyle="--", linewidth=1,
                       label=f"{FRAME_BUDGET_MS:g} ms budget")
        ax.set_xlabel(f"ms per {item} (p50)")
        ax.set_ylabel(f"mJ per {item} (gross)")
        ax.legend(fontsize=7)
    dev = report["device"]
    source = (report.get("energy") or {}).get("source") or "?"
    fig.suptitle(f"edgekit {report['harness']} energy - "
                 f"{dev.get('board') or dev.get('name') or dev.get('model') or ''}, "
                 f"power from {source[:60]}, git {report['git'].get('sha')}", fontsize=9)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Lay out, write and close the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
