"""Benchmark result schema shared by every harness (host now; Android/Jetson later).

A report is one JSON document::

    {
      "schema": "edgekit.benchmark/1",
      "harness": "host",                       # which harness produced it
      "created": "2025-01-01T12:00:00+00:00",
      "git": {"sha": "abc1234", "dirty": false},
      "device": {"kind": "host", "name": ..., "cpu_model": ..., "cpu_count": ..., ...},
      "versions": {"edgekit": ..., "numpy": ..., ...},
      "config": {...},                          # what was run (models, frame size, counts)
      "measurements": [                         # every number, with its unit and parameters
        {"name": "pipeline.detect_align_classify", "unit": "ms", "params": {"threads": 1},
         "stats": {"p50": ..., "p95": ..., "mean": ..., "min": ..., "max": ..., "n": 200}}
      ],
      "targets": [                              # pass/fail checks on measurements
        {"description": ..., "measurement": ..., "params": {...}, "stat": "p50", "limit": 3.0,
         "unit": "ms", "value": ..., "passed": true}
      ],
      "notes": [...]
    }

:func:`write_report` writes ``<stem>.json`` and a Markdown rendering ``<stem>.md``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

SCHEMA = "edgekit.benchmark/1"
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Measurement:
    """One measured quantity: ``stats`` summarise samples (or hold a single ``value``)."""

    name: str
    unit: str
    stats: Dict[str, float]
    params: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_samples(cls, name: str, unit: str, samples: Sequence[float], **params: Any) -> "Measurement":
        x = np.asarray(samples, dtype=np.float64)
        stats = {"p50": np.percentile(x, 50), "p95": np.percentile(x, 95), "mean": x.mean(), "min": x.min(),
                 "max": x.max()}
        return cls(name, unit, {k: round(float(v), 4) for k, v in stats.items()} | {"n": int(x.size)}, params)

    @classmethod
    def single(cls, name: str, unit: str, value: float, **params: Any) -> "Measurement":
        return cls(name, unit, {"value": round(float(value), 4)}, params)


@dataclass
class Target:
    """A pass/fail check: ``stat`` of the measurement ``measurement`` (with ``params``) <= ``limit``."""

    description: str
    measurement: str
    stat: str
    limit: float
    params: Dict[str, Any] = field(default_factory=dict)

    def evaluate(self, measurements: Iterable[Measurement]) -> Dict[str, Any]:
        match = next((m for m in measurements if m.name == self.measurement
                      and all(m.params.get(k) == v for k, v in self.params.items())), None)
        value = match.stats.get(self.stat) if match else None
        return {**asdict(self), "unit": match.unit if match else None, "value": value,
                "passed": None if value is None else bool(value <= self.limit)}


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo ("model name" / "Hardware"), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_device() -> Dict[str, Any]:
    """This machine: OS, CPU model, logical cores (total and usable), load average."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return {"kind": "host", "name": platform.node(), "os": platform.platform(), "machine": platform.machine(),
            "cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "cpu_usable": usable,
            "load_avg_1_5_15": [round(v, 2) for v in load] if load else None,
            "python": platform.python_version()}


def package_versions(names: Sequence[str]) -> Dict[str, Optional[str]]:
    """Installed versions of ``names`` (distribution names); None when not installed."""
    out: Dict[str, Optional[str]] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git(root: Path, *args: str) -> Optional[str]:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def git_sha(root: Path = ROOT) -> Optional[str]:
    """Short SHA of HEAD; None before the first commit or without git."""
    return _git(root, "rev-parse", "--short", "HEAD") or None


def git_info(root: Path = ROOT) -> Dict[str, Any]:
    """Short SHA of HEAD (None before the first commit) and whether the tree has changes."""
    status = _git(root, "status", "--porcelain")
    return {"sha": git_sha(root), "dirty": bool(status) if status is not None else None}


def build_report(harness: str, device: Dict[str, Any], versions: Dict[str, Any], config: Dict[str, Any],
                 measurements: List[Measurement], targets: List[Target], notes: Sequence[str] = ()) -> Dict[str, Any]:
    return {
        "schema": SCHEMA,
        "harness": harness,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_info(),
        "device": device,
        "versions": versions,
        "config": config,
        "measurements": [asdict(m) for m in measurements],
        "targets": [t.evaluate(measurements) for t in targets],
        "notes": list(notes),
    }


def write_report(report: Dict[str, Any], out_dir: Path, stem: str) -> Tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(report), encoding="utf-8")
    return json_path, md_path


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def _params(params: Dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "-"


def to_markdown(report: Dict[str, Any]) -> str:
    """Human-readable rendering of a report (generated, never edited by hand)."""
    dev, git = report["device"], report["git"]
    lines = [
        f"# edgekit benchmark: {report['harness']}",
        "",
        f"Generated by `python -m benchmarks.{report['harness']}` on {report['created']} "
        f"(git {git.get('sha') or 'no commit'}{' + local changes' if git.get('dirty') else ''}).",
        "",
        "## Device",
        "",
        *[f"- {k}: {_fmt(v) if not isinstance(v, list) else ', '.join(map(str, v))}" for k, v in dev.items()],
        "",
        "## Versions",
        "",
        *[f"- {k}: {v or 'not installed'}" for k, v in report["versions"].items()],
        "",
        "## Configuration",
        "",
        *[f"- {k}: {v}" for k, v in report["config"].items()],
        "",
    ]
    if report["targets"]:
        lines += ["## Targets", "", "| target | measured | limit | result |", "|---|---|---|---|"]
        for t in report["targets"]:
            verdict = "n/a" if t["passed"] is None else ("PASS" if t["passed"] else "FAIL")
            lines.append(f"| {t['description']} | {_fmt(t['value'])} {t['unit'] or ''} | {t['limit']} | {verdict} |")
        lines.append("")
    stat_names = ["p50", "p95", "mean", "min", "max", "n", "value"]
    used = [s for s in stat_names if any(s in m["stats"] for m in report["measurements"])]
    lines += ["## Measurements", "", "| measurement | params | unit | " + " | ".join(used) + " |",
              "|---|---|---|" + "---|" * len(used)]
    for m in report["measurements"]:
        cells = " | ".join(_fmt(m["stats"].get(s)) for s in used)
        lines.append(f"| {m['name']} | {_params(m['params'])} | {m['unit']} | {cells} |")
    if report["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"
