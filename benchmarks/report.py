"""Benchmark result schema shared by every harness: host, Android over ADB, Jetson.

A report is one JSON document per machine/device::

    {
      "schema": "edgekit.benchmark/2",
      "harness": "host" | "adb" | "jetson",
      "status": "complete" | "partial" | "interrupted" | "failed",
      "created": "2025-01-01T12:00:00+00:00",
      "git": {"sha": "abc1234", "dirty": false},
      "device": {"kind": "host"|"android"|"jetson", "name": ..., "cpu_model": ..., ...},
      "versions": {"edgekit": ..., "numpy": ..., ...},
      "config": {...},                          # what was run (models, frame size, counts)
      "measurements": [                         # every number, with its unit and parameters
        {"name": "model.latency", "unit": "ms",
         "params": {"model": "emotion/pruned_int8_qat", "threads": 1, "xnnpack": true},
         "stats": {"p50": ..., "p95": ..., "mean": ..., "min": ..., "max": ..., "n": 200}}
      ],
      "targets": [                              # pass/fail checks on measurements
        {"description": ..., "measurement": ..., "params": {...}, "stat": "p95", "limit": 15.0,
         "unit": "ms", "value": ..., "passed": true}
      ],
      "ratios": [                               # what pruning / INT8 bought, measured in this run
        {"description": ..., "quantity": ..., "numerator": ..., "denominator": ..., "value": 0.62}
      ],
      "skipped": [{"what": ..., "reason": ...}],   # not run (e.g. a model variant not exported yet)
      "errors": [{"what": ..., "error": ...}],     # run but failed (bad model, delegate rejected...)
      "artifacts": {"chart": "host.png"},
      "notes": [...],
      "energy": {"source": ..., "measurable": [...], "not_measurable": [...], "runs": [...]}   # optional
    }

Measurement names used by all harnesses: ``model.latency`` (one invoke, ms; params ``model``,
``threads``, and ``xnnpack`` or ``delegate``), ``model.init`` / ``model.cold_start``,
``model.peak_rss`` / ``model.memory_*`` (MB), ``pipeline.<stage>`` (ms), ``pipeline.throughput``
(frames/s; params ``emotion``, ``threads`` and, from the host harness, ``mode``: the pipeline's
running mode, ``image`` or ``video``); Jetson adds ``tegrastats.*``, ``trtexec.*``. Stats keys:
``p5 p50 p95 p99 mean std min max first n`` (samples) or ``value`` (one number).

Energy (Jetson ``--sweep-nvpmodel``, ADB battery sampling; :mod:`benchmarks.energy`), with the
same params as the latency they belong to: ``power.total`` / ``power.rail`` (mW; ``phase`` idle or
load, ``rail``), ``energy.per_frame`` / ``energy.per_inference`` (mJ; ``basis`` gross or
above_idle), ``energy.frames_per_joule`` / ``energy.inferences_per_joule``. The optional
``energy`` section says where the power numbers came from and what was and was not measurable.

:func:`write_report` writes ``<stem>.json`` and a Markdown rendering ``<stem>.md``.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

# The provenance helpers live in the toolchain's core, standard library only (docs/ARCHITECTURE.md):
# one copy for the benchmarks and the converters; re-exported here for the harnesses.
from converters.core.paths import ROOT  # noqa: F401
from converters.core.provenance import cpu_model, git_info, git_sha, host_device, package_versions, run_git  # noqa: F401

SCHEMA = "edgekit.benchmark/2"
HARNESSES = ("host", "adb", "jetson")
STATUSES = ("complete", "partial", "interrupted", "failed")
STAT_KEYS = ("p5", "p50", "p90", "p95", "p99", "mean", "std", "min", "max", "first", "n", "value")
#: Per-frame latency budget of the whole pipeline (detect + align + classify), milliseconds.
FRAME_BUDGET_MS = 15.0


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
        stats = {"p50": np.percentile(x, 50), "p95": np.percentile(x, 95), "mean": x.mean(), "std": x.std(),
                 "min": x.min(), "max": x.max()}
        return cls(name, unit, {k: round(float(v), 4) for k, v in stats.items()} | {"n": int(x.size)}, params)

    @classmethod
    def from_stats(cls, name: str, unit: str, stats: Dict[str, Optional[float]], **params: Any) -> "Measurement":
        """Stats computed elsewhere (e.g. by benchmark_model); None values are dropped."""
        clean = {k: (int(v) if k == "n" else round(float(v), 4)) for k, v in stats.items() if v is not None}
        unknown = set(clean) - set(STAT_KEYS)
        if unknown:
            raise ValueError(f"unknown stat keys {sorted(unknown)} (known: {', '.join(STAT_KEYS)})")
        return cls(name, unit, clean, params)

    @classmethod
    def single(cls, name: str, unit: str, value: float, **params: Any) -> "Measurement":
        return cls(name, unit, {"value": round(float(value), 4)}, params)

    def matches(self, name: str, params: Dict[str, Any]) -> bool:
        return self.name == name and all(self.params.get(k) == v for k, v in params.items())


def find(measurements: Iterable[Measurement], name: str, **params: Any) -> Optional[Measurement]:
    """First measurement called ``name`` whose params include ``params``."""
    return next((m for m in measurements if m.matches(name, params)), None)


@dataclass
class Target:
    """A pass/fail check: ``stat`` of the measurement ``measurement`` (with ``params``) <= ``limit``."""

    description: str
    measurement: str
    stat: str
    limit: float
    params: Dict[str, Any] = field(default_factory=dict)

    def evaluate(self, measurements: Iterable[Measurement]) -> Dict[str, Any]:
        match = find(measurements, self.measurement, **self.params)
        value = match.stats.get(self.stat) if match else None
        return {**asdict(self), "unit": match.unit if match else None, "value": value,
                "passed": None if value is None else bool(value <= self.limit)}


@dataclass
class Ratio:
    """``stat`` of measurement ``name`` for ``numerator`` params divided by the same for ``denominator``.

    E.g. pruned/unpruned: ``Ratio("emotion pruning (FP32)", "model.latency", "p50",
    {"model": "emotion/pruned_fp32"}, {"model": "emotion/float_fp32"}, {"threads": 1, "xnnpack": True})``.
    """

    description: str
    name: str
    stat: str
    numerator: Dict[str, Any]
    denominator: Dict[str, Any]
    common: Dict[str, Any] = field(default_factory=dict)

    def evaluate(self, measurements: Sequence[Measurement]) -> Dict[str, Any]:
        num = find(measurements, self.name, **self.numerator, **self.common)
        den = find(measurements, self.name, **self.denominator, **self.common)
        a, b = (num.stats.get(self.stat) if num else None), (den.stats.get(self.stat) if den else None)
        missing = [label for label, m in (("numerator", a), ("denominator", b)) if m is None]
        return {"description": self.description, "quantity": f"{self.name} {self.stat}", "common": self.common,
                "numerator": self.numerator, "denominator": self.denominator,
                "numerator_value": a, "denominator_value": b,
                "value": round(a / b, 3) if not missing and b else None,
                "missing": f"{' and '.join(missing)} not measured" if missing else None}


def build_report(harness: str, device: Dict[str, Any], versions: Dict[str, Any], config: Dict[str, Any],
                 measurements: List[Measurement], targets: List[Target], notes: Sequence[str] = (), *,
                 ratios: Sequence[Ratio] = (), skipped: Sequence[Dict[str, str]] = (),
                 errors: Sequence[Dict[str, str]] = (), status: str = "complete",
                 artifacts: Optional[Dict[str, str]] = None, energy: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    extra = {"energy": energy} if energy is not None else {}
    return {
        "schema": SCHEMA,
        "harness": harness,
        "status": status,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_info(),
        "device": device,
        "versions": versions,
        "config": config,
        "measurements": [asdict(m) for m in measurements],
        "targets": [t.evaluate(measurements) for t in targets],
        "ratios": [r.evaluate(measurements) for r in ratios],
        "skipped": list(skipped),
        "errors": list(errors),
        "artifacts": dict(artifacts or {}),
        "notes": list(notes),
        **extra,
    }


def validate_report(doc: Any) -> List[str]:
    """Problems that make ``doc`` not a valid ``edgekit.benchmark/2`` report (empty list: valid)."""
    if not isinstance(doc, dict):
        return ["report is not a JSON object"]
    problems = []
    expect = {"schema": str, "harness": str, "status": str, "created": str, "git": dict, "device": dict,
              "versions": dict,
              "config": dict, "measurements": list, "targets": list, "ratios": list, "skipped": list, "errors": list,
              "artifacts": dict, "notes": list}
    for key, kind in expect.items():
        if not isinstance(doc.get(key), kind):
            problems.append(f"{key}: missing or not a {kind.__name__}")
    if problems:
        return problems
    if doc["schema"] != SCHEMA:
        problems.append(f"schema: {doc['schema']!r} is not {SCHEMA!r}")
    if doc["harness"] not in HARNESSES:
        problems.append(f"harness: {doc['harness']!r} not in {HARNESSES}")
    if doc["status"] not in STATUSES:
        problems.append(f"status: {doc['status']!r} not in {STATUSES}")
    if "kind" not in doc["device"]:
        problems.append("device: no 'kind'")
    for i, m in enumerate(doc["measurements"]):
        if not (isinstance(m, dict) and isinstance(m.get("name"), str) and isinstance(m.get("unit"), str)
                and isinstance(m.get("params"), dict) and isinstance(m.get("stats"), dict) and m["stats"]):
            problems.append(f"measurements[{i}]: needs name, unit, params and non-empty stats")
            continue
        bad = [k for k, v in m["stats"].items() if k not in STAT_KEYS or not isinstance(v, (int, float))
               or isinstance(v, bool) or not np.isfinite(v)]
        if bad:
            problems.append(f"measurements[{i}] ({m['name']}): bad stats {bad}")
    for key, fields in (("targets", ("description", "measurement", "stat", "limit", "value", "passed")),
                        ("ratios", ("description", "quantity", "value")), ("skipped", ("what", "reason")),
                        ("errors", ("what", "error"))):
        for i, item in enumerate(doc[key]):
            if not isinstance(item, dict) or any(f not in item for f in fields):
                problems.append(f"{key}[{i}]: needs {', '.join(fields)}")
    if "energy" in doc and not (isinstance(doc["energy"], dict) and isinstance(doc["energy"].get("measurable"), list)
                                and isinstance(doc["energy"].get("not_measurable"), list)):
        problems.append("energy: needs measurable and not_measurable lists")
    return problems


def write_report(report: Dict[str, Any], out_dir: Path, stem: str) -> Tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir``; returns both paths.

    Raises ValueError when the report does not follow the schema (a harness bug, never user input).
    """
    problems = validate_report(report)
    if problems:
        raise ValueError("benchmark report does not follow the schema: " + "; ".join(problems))
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(report), encoding="utf-8")
    return json_path, md_path


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value) or "-"
    return str(value)


def _params(params: Dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "-"


def _verdict(passed: Optional[bool]) -> str:
    return "n/a" if passed is None else ("PASS" if passed else "**FAIL**")


def _summary_rows(report: Dict[str, Any], name: str) -> List[Dict[str, Any]]:
    """Measurements ``name`` that summarise a configuration (per-repeat ADB rows left out)."""
    return [m for m in report["measurements"] if m["name"] == name and m["params"].get("repeat", "all") == "all"]


def _modes_line(report: Dict[str, Any]) -> str:
    """What the ``mode`` param of ``pipeline.*`` means, with the detector options each mode turned on
    (``config["pipeline_modes"]``, recorded by the harness from ``edgekit.PipelineOptions``)."""
    modes = report["config"].get("pipeline_modes")

    def on(mode: str) -> str:
        if not isinstance(modes, dict) or mode not in modes:
            return "not recorded"
        return ", ".join(f"`{name}`" for name in modes[mode]) or "none"

    return ("Running modes (`mode`): `image` is photos (`Pipeline.process(frame)`, as `edgekit.analyze`, memes and "
            f"the server; per-face options on: {on('image')}); `video` is streams (`process(frame, timestamp_ms)` "
            f"at 30 fps, as video files and live streams; per-face options on: {on('video')}; tracking and "
            "smoothing included). Why photos get flip averaging and the close-up and luma-keypoint refinements, "
            "and what they buy: `reports/emotion_robustness/README.md`.")


def _budget_table(report: Dict[str, Any]) -> List[str]:
    rows = [m for m in _summary_rows(report, "pipeline.process") if "p95" in m["stats"]]
    if not rows:
        return []
    fps = {json.dumps(m["params"], sort_keys=True): m["stats"].get("value")
           for m in _summary_rows(report, "pipeline.throughput")}
    lines = [f"## Frame budget ({FRAME_BUDGET_MS:g} ms per frame, whole pipeline)", ""]
    if any("mode" in m["params"] for m in rows):
        lines += [_modes_line(report), ""]
    lines += ["| configuration | p50 ms | p95 ms | frames/s | p95 within budget |", "|---|---|---|---|---|"]
    for m in rows:
        ok = m["stats"]["p95"] <= FRAME_BUDGET_MS
        lines.append(f"| {_params(m['params'])} | {_fmt(m['stats']['p50'])} | {_fmt(m['stats']['p95'])} | "
                     f"{_fmt(fps.get(json.dumps(m['params'], sort_keys=True)))} | {_verdict(ok)} |")
    return lines + [""]


def _pivot_table(report: Dict[str, Any], name: str, stat: str, title: str) -> List[str]:
    """Rows: ``params["model"]``; columns: every other parameter combination."""
    rows = [m for m in _summary_rows(report, name) if "model" in m["params"] and stat in m["stats"]]
    if not rows:
        return []

    def column(m: Dict[str, Any]) -> str:
        return _params({k: v for k, v in m["params"].items() if k not in ("model", "repeat", "repeats")})

    columns = list(dict.fromkeys(column(m) for m in rows))
    cells = {(m["params"]["model"], column(m)): m["stats"][stat] for m in rows}
    models = list(dict.fromkeys(m["params"]["model"] for m in rows))
    lines = [f"## {title}", "", "| model | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [f"| {key} | " + " | ".join(_fmt(cells.get((key, c))) for c in columns) + " |" for key in models]
    return lines + [""]


#: Latency and throughput measurements an energy row belongs to, per item.
_WORK = {"frame": ("pipeline.process", "pipeline.throughput"), "inference": ("model.latency", "model.throughput")}


def energy_rows(report: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per gross ``energy.per_frame`` / ``energy.per_inference``, joined with the latency,
    throughput, load power, above-idle energy and per-joule figures that share its params."""
    ms = report["measurements"]

    def find_stat(name: str, params: Dict[str, Any], stat: str,
                  extra: Optional[Dict[str, Any]] = None) -> Optional[float]:
        m = next((m for m in ms if m["name"] == name and m["params"] == {**params, **(extra or {})}), None)
        return m["stats"].get(stat) if m else None

    rows = []
    for m in ms:
        if m["name"] not in ("energy.per_frame", "energy.per_inference") or m["params"].get("basis") != "gross":
            continue
        item = m["name"].split("_")[-1]
        params = {k: v for k, v in m["params"].items() if k != "basis"}
        power = next((p for p in ms if p["name"] == "power.total" and p["params"].get("phase") == "load"
                      and {k: v for k, v in p["params"].items() if k not in ("phase", "of")} == params), None)
        rows.append({"item": item, "params": params, "gross_mj": m["stats"]["value"],
                     "p50_ms": find_stat(_WORK[item][0], params, "p50"),
                     "p95_ms": find_stat(_WORK[item][0], params, "p95"),
                     "per_s": find_stat(_WORK[item][1], params, "value"),
                     "power_mw": power["stats"].get("mean", power["stats"].get("value")) if power else None,
                     "above_idle_mj": find_stat(m["name"], params, "value", {"basis": "above_idle"}),
                     "per_joule": find_stat(f"energy.{item}s_per_joule", params, "value")})
    return rows


def energy_table_rows(report: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The :func:`energy_rows` to show (Markdown table and energy chart): one per configuration. ADB runs
    a configuration several times; its combined row (``repeat=all``, the repeats' medians, present when
    every repeat was measured) stands for it, else its per-repeat rows do."""
    rows = energy_rows(report)

    def config(r: Dict[str, Any]) -> Tuple[Any, ...]:
        return (r["item"],
                tuple(sorted((k, repr(v)) for k, v in r["params"].items() if k not in ("repeat", "repeats"))))

    combined = {config(r) for r in rows if r["params"].get("repeat", "all") == "all"}
    return [r for r in rows if r["params"].get("repeat", "all") == "all" or config(r) not in combined]


def _energy_section(report: Dict[str, Any]) -> List[str]:
    """Latency vs energy per configuration, then what was and was not measurable."""
    section = report.get("energy")
    rows = energy_table_rows(report)
    if not rows and not section:
        return []
    lines = ["## Energy", ""]
    if section and section.get("source"):
        lines += [f"Power source: {section['source']}.", ""]
    if rows:
        lines += ["| configuration | p50 ms | p95 ms | per s | mean power mW | mJ gross | mJ above idle | per J |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {_params(r['params'])} ({r['item']}) | {_fmt(r['p50_ms'])} | {_fmt(r['p95_ms'])} "
                  f"| {_fmt(r['per_s'])} | {_fmt(r['power_mw'])} | {_fmt(r['gross_mj'])} "
                  f"| {_fmt(r['above_idle_mj'])} | {_fmt(r['per_joule'])} |"
                  for r in rows]
        lines.append("")
    if section:
        lines += ["What was measurable on this device:", ""]
        lines += [f"- {t}" for t in section.get("measurable", [])] or ["- nothing"]
        lines += ["", "What was not:", ""]
        lines += [f"- {t}" for t in section.get("not_measurable", [])] or ["- (all of the above was measured)"]
        lines.append("")
    return lines


def _models_table(models: Dict[str, Any]) -> List[str]:
    lines = ["| model | origin | file | MB | sha256 |", "|---|---|---|---|---|"]
    for key, info in models.items():
        lines.append(f"| {key} | {info.get('origin', '-')} | `{info.get('path', '-')}` | "
                     f"{_fmt(info.get('bytes', 0) / 1e6)} | `{str(info.get('sha256', '-'))[:16]}` |")
    return lines


def _bullets(items: Dict[str, Any]) -> List[str]:
    lines = []
    for k, v in items.items():
        if isinstance(v, dict) and v and all(not isinstance(x, dict) for x in v.values()):
            lines.append(f"- {k}:")
            lines += [f"  - {kk}: {_fmt(vv)}" for kk, vv in v.items()]
        else:
            lines.append(f"- {k}: {_fmt(v)}")
    return lines


def to_markdown(report: Dict[str, Any]) -> str:
    """Human-readable rendering of a report (generated, never edited by hand)."""
    dev, git = report["device"], report["git"]
    lines = [f"# edgekit benchmark: {report['harness']}", ""]
    if report["status"] != "complete":
        lines += [f"> **{report['status'].upper()} RUN**: results below are incomplete "
                  f"({len(report['errors'])} error(s)); see Errors.", ""]
    warning = (dev.get("contention") or {}).get("warning")
    if warning:
        lines += [f"> **Busy machine.** {warning}", ""]
    config = {k: v for k, v in report["config"].items() if k != "models"}
    lines += [
        f"Generated by `python -m benchmarks.{report['harness']}` on {report['created']} "
        f"(git {git.get('sha') or 'no commit'}{' + local changes' if git.get('dirty') else ''}).",
        "",
        "## Device",
        "",
        *_bullets(dev),
        "",
        "## Versions",
        "",
        *[f"- {k}: {v or 'not installed'}" for k, v in report["versions"].items()],
        "",
        "## Configuration",
        "",
        *_bullets(config),
        "",
    ]
    if isinstance(report["config"].get("models"), dict):
        lines += ["### Models", "", *_models_table(report["config"]["models"]), ""]
    if report["artifacts"].get("chart"):
        lines += [f"![benchmark chart]({report['artifacts']['chart']})", ""]
    lines += _budget_table(report)
    if report["targets"]:
        lines += ["## Targets", "", "| target | measured | limit | result |", "|---|---|---|---|"]
        for t in report["targets"]:
            lines.append(f"| {t['description']} | {_fmt(t['value'])} {t['unit'] or ''} | {t['limit']} "
                         f"| {_verdict(t['passed'])} |")
        lines.append("")
    lines += _energy_section(report)
    lines += _pivot_table(report, "model.latency", "p50", "Per-model latency, one invoke (p50, ms)")
    if report["ratios"]:
        lines += ["## Ratios (same run)", "", "Below 1.0 means the first variant is smaller/faster.", "",
                  "| what | quantity | conditions | numerator | denominator | ratio |", "|---|---|---|---|---|---|"]
        for r in report["ratios"]:
            value = _fmt(r["value"]) if r["value"] is not None else f"n/a ({r['missing']})"
            lines.append(f"| {r['description']} | {r['quantity']} | {_params(r['common'])} | "
                         f"{_params(r['numerator'])}: {_fmt(r['numerator_value'])} | "
                         f"{_params(r['denominator'])}: {_fmt(r['denominator_value'])} | {value} |")
        lines.append("")
    for key, title, field_name in (("skipped", "Skipped", "reason"), ("errors", "Errors", "error")):
        if report[key]:
            lines += [f"## {title}", "", *[f"- {item['what']}: {item[field_name]}" for item in report[key]], ""]
    stat_names = [s for s in STAT_KEYS if any(s in m["stats"] for m in report["measurements"])]
    lines += ["## All measurements", "", "| measurement | params | unit | " + " | ".join(stat_names) + " |",
              "|---|---|---|" + "---|" * len(stat_names)]
    for m in report["measurements"]:
        cells = " | ".join(_fmt(m["stats"].get(s)) for s in stat_names)
        lines.append(f"| {m['name']} | {_params(m['params'])} | {m['unit']} | {cells} |")
    if report["notes"]:
        lines += ["", "## Notes", "", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"
