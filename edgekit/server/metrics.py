"""Prometheus text-format metrics, written by hand (no client library needed).

Exposition format 0.0.4: ``# HELP`` / ``# TYPE`` lines, counters ending in ``_total``, histograms
as cumulative ``_bucket{le=...}`` series plus ``_sum`` and ``_count``.
"""
from __future__ import annotations

import bisect
import os
import threading
from typing import Callable, Dict, List, Sequence, Tuple

#: Latency buckets in seconds (1 ms .. 30 s).
BUCKETS: Tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Labels = Tuple[Tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: Sequence[Tuple[str, str]] = ()) -> str:
    items = [*labels, *extra]
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items) + "}"


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Metrics:
    """Counters, histograms and gauges (gauges are read from callbacks when scraped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: Dict[str, Dict[Labels, float]] = {}
        self._hists: Dict[str, Dict[Labels, List[float]]] = {}  # bucket counts..., sum, count
        self._help: Dict[str, Tuple[str, str]] = {}
        self._gauges: Dict[str, Tuple[str, Callable[[], Dict[Labels, float]]]] = {}

    def counter(self, name: str, help_text: str) -> None:
        self._help[name] = ("counter", help_text)
        self._counters.setdefault(name, {})

    def histogram(self, name: str, help_text: str) -> None:
        self._help[name] = ("histogram", help_text)
        self._hists.setdefault(name, {})

    def gauge(self, name: str, help_text: str, read: Callable[[], Dict[Labels, float]]) -> None:
        self._gauges[name] = (help_text, read)

    def inc(self, name: str, labels: Labels = (), by: float = 1.0) -> None:
        with self._lock:
            series = self._counters[name]
            series[labels] = series.get(labels, 0.0) + by

    def observe(self, name: str, value: float, labels: Labels = ()) -> None:
        with self._lock:
            series = self._hists[name]
            row = series.get(labels)
            if row is None:
                row = series[labels] = [0.0] * (len(BUCKETS) + 2)
            i = bisect.bisect_left(BUCKETS, value)  # the first bucket whose bound is >= value
            if i < len(BUCKETS):
                row[i] += 1
            row[-2] += value
            row[-1] += 1

    def value(self, name: str, labels: Labels = ()) -> float:
        with self._lock:
            return self._counters.get(name, {}).get(labels, 0.0)

    def render(self) -> str:
        out: List[str] = []
        with self._lock:
            for name, series in self._counters.items():
                out += [f"# HELP {name} {self._help[name][1]}", f"# TYPE {name} counter"]
                out += [f"{name}{_labels(lab)} {_number(v)}" for lab, v in sorted(series.items())]
            for name, hist_series in self._hists.items():
                out += [f"# HELP {name} {self._help[name][1]}", f"# TYPE {name} histogram"]
                for lab, row in sorted(hist_series.items()):
                    cumulative = 0.0
                    for bound, count in zip(BUCKETS, row):
                        cumulative += count
                        out.append(f"{name}_bucket{_labels(lab, [('le', _number(bound))])} {_number(cumulative)}")
                    out.append(f"{name}_bucket{_labels(lab, [('le', '+Inf')])} {_number(row[-1])}")
                    out.append(f"{name}_sum{_labels(lab)} {repr(row[-2])}")
                    out.append(f"{name}_count{_labels(lab)} {_number(row[-1])}")
        for name, (help_text, read) in self._gauges.items():
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            out += [f"{name}{_labels(lab)} {_number(v)}" for lab, v in sorted(read().items())]
        return "\n".join(out) + "\n"


def resident_bytes() -> float:
    """This process's resident set size in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return float(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        return 0.0
