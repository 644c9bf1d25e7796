"""How busy the machine was while a benchmark ran: load averages and CPU time used by other processes.

Latency numbers from a machine that something else is loading are pessimistic; the report must
say so. :class:`ContentionMonitor` measures, over the run, the share of all CPU time that went
to processes other than this one and its children (from ``/proc/stat`` and ``os.times``), which
is more direct than the load average (that also counts this benchmark's own threads).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

#: Share of the machine's CPU time used by other processes above which a run is "busy".
BUSY_OTHER_CPU_SHARE = 0.10
#: Shortest window whose CPU share is reported: /proc/stat counts in clock ticks (10 ms), so a
#: shorter window's share is mostly rounding (a 2 ms window read 9.2, i.e. 920%).
MIN_WINDOW_S = 1.0


def _proc_stat_busy_seconds() -> Optional[float]:
    """CPU seconds (all cores, all processes) spent non-idle since boot, from ``/proc/stat``."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if fields[0] != "cpu":
        return None
    ticks = [int(v) for v in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    busy = sum(ticks[:8]) - idle  # user nice system idle iowait irq softirq steal (guest is inside user)
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def load_average() -> Optional[List[float]]:
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class ContentionMonitor:
    """Start before the benchmark, :meth:`summary` after: load averages at both ends and the share
    of CPU time other processes used in between."""

    def __init__(self) -> None:
        self.load_start = load_average()
        self._t0 = time.monotonic()
        self._busy0 = _proc_stat_busy_seconds()
        self._own0 = _own_cpu_seconds()

    def summary(self) -> Dict[str, Any]:
        elapsed = time.monotonic() - self._t0
        busy1 = _proc_stat_busy_seconds()
        cores = os.cpu_count() or 1
        other: Optional[float] = None
        if busy1 is not None and self._busy0 is not None and elapsed >= MIN_WINDOW_S:
            others_busy = (busy1 - self._busy0) - (_own_cpu_seconds() - self._own0)
            other = round(min(1.0, max(0.0, others_busy) / (elapsed * cores)), 3)
        out: Dict[str, Any] = {"load_avg_start_1_5_15": self.load_start, "load_avg_end_1_5_15": load_average(),
                               "other_processes_cpu_share": other, "wall_s": round(elapsed, 1)}
        busy = other is not None and other > BUSY_OTHER_CPU_SHARE
        if self.load_start and not busy:
            busy = self.load_start[0] > 0.5 * usable_cpus()
        out["busy"] = busy
        if busy:
            share = f"{100 * other:.0f}% of all CPU time went to other processes" if other is not None else "high load"
            out["warning"] = (f"The machine was busy during this run ({share}; 1-min load average "
                              f"{self.load_start[0] if self.load_start else '?'} at the start on "
                              f"{usable_cpus()} usable cores): "
                              "latencies are pessimistic; re-run on an idle machine before quoting them.")
        return out
