"""Parser of TensorRT ``trtexec`` performance output (TensorRT 7 and 8+ forms).

TensorRT 8+ prints a summary, each line optionally prefixed ``[MM/DD/YYYY-HH:MM:SS] [I]``::

    === Performance summary ===
    Throughput: 476.66 qps
    Latency: min = 2.05615 ms, max = 2.59482 ms, mean = 2.09467 ms, median = 2.08276 ms, percentile(99%) = 2.58971 ms
    GPU Compute Time: min = ..., percentile(90%) = ..., percentile(95%) = ..., percentile(99%) = ...
    Total Host Walltime: 3.00424 s

TensorRT 7 prints ``Average on 10 runs - GPU latency: 2.5 ms - Host latency: 2.7 ms (end to end
4.9 ms, enqueue 0.5 ms)`` lines instead. ``&&&& PASSED`` / ``&&&& FAILED`` give the verdict.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List

from ..errors import ToolOutputError
from . import NUMBER, number, numbered_lines

_PREFIX = re.compile(r"^\s*(?:\[[^\]]*\]\s*)*")
_THROUGHPUT = re.compile(rf"^Throughput:\s*(?P<qps>{NUMBER})\s*qps\s*$", re.I)
_METRIC = re.compile(r"^(?P<name>Latency|End-to-End Host Latency|Enqueue Time|H2D Latency|GPU Compute Time|D2H Latency"
                     r"|Host Latency|GPU Compute):\s*(?P<body>.*=.*)$")
_ITEM = re.compile(rf"^(?P<key>min|max|mean|median|percentile\((?P<pct>\d+(?:\.\d+)?)%\))"
                   rf"\s*=\s*(?P<value>{NUMBER})\s*(?P<unit>ms|us|s)?$")
_TOTAL = re.compile(rf"^Total (?P<name>Host Walltime|GPU Compute Time):\s*(?P<value>{NUMBER})\s*s\s*$")
_AVERAGE = re.compile(rf"^Average on (?P<runs>\d+) runs - GPU latency:\s*(?P<gpu>{NUMBER})\s*ms"
                      rf" - Host latency:\s*(?P<host>{NUMBER})\s*ms"
                      rf"(?: \(end to end (?P<e2e>{NUMBER})\s*ms, enqueue (?P<enqueue>{NUMBER})\s*ms\))?")
_SCALE = {"ms": 1.0, "us": 1e-3, "s": 1e3, None: 1.0}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def parse_metric(body: str, source: str, line_no: int, line: str) -> Dict[str, float]:
    """``min = 1 ms, max = 2 ms, ..., percentile(99%) = 3 ms`` -> ``{"min":, "max":, "p50":, "p99":...}`` in ms."""
    stats: Dict[str, float] = {}
    for item in (part.strip() for part in body.split(",") if part.strip()):
        m = _ITEM.match(item)
        if not m:
            raise ToolOutputError(f"malformed statistic {item!r}", source, line_no, line)
        key = "p50" if m["key"] == "median" else f"p{float(m['pct']):g}" if m["pct"] else m["key"]
        stats[key] = number(m["value"], key, source, line_no, line) * _SCALE[m["unit"]]
    return stats


def parse(text: str, source: str = "trtexec output") -> Dict[str, Any]:
    """``{"passed": bool|None, "throughput_qps":, "metrics": {"latency": {...}, "gpu_compute_time": {...}},
    "totals_s": {...}, "averages": [...]}`` (latencies in ms)."""
    out: Dict[str, Any] = {"passed": None, "throughput_qps": None, "metrics": {}, "totals_s": {}, "averages": []}
    for line_no, raw in numbered_lines(text):
        if raw.startswith(("&&&& PASSED", "&&&& FAILED")):
            out["passed"] = raw.startswith("&&&& PASSED") and out["passed"] is not False
            continue
        if raw.startswith("&&&& "):  # RUNNING
            continue
        line = raw[_PREFIX.match(raw).end():].strip()
        if not line:
            continue
        if (m := _THROUGHPUT.match(line)):
            out["throughput_qps"] = number(m["qps"], "throughput", source, line_no, raw)
        elif line.startswith("Throughput:"):
            raise ToolOutputError("malformed throughput line (expected 'Throughput: <number> qps')", source, line_no,
                                  raw)
        elif (m := _METRIC.match(line)):
            out["metrics"][_slug(m["name"])] = parse_metric(m["body"], source, line_no, raw)
        elif (m := _TOTAL.match(line)):
            out["totals_s"][_slug(m["name"])] = number(m["value"], "total time", source, line_no, raw)
        elif (m := _AVERAGE.match(line)):
            out["averages"].append({k: (int(v) if k == "runs" else number(v, k, source, line_no, raw))
                                    for k, v in m.groupdict().items() if v is not None})
    if out["throughput_qps"] is None and not out["metrics"] and not out["averages"] and out["passed"] is not False:
        lines: List[str] = text.splitlines() or [""]
        raise ToolOutputError("no performance summary (no 'Throughput:' / 'Latency:' / 'Average on' line)",
                              source, len(lines), lines[-1])
    return out
