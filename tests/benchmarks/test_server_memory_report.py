"""benchmarks/server_load.py's memory run report: RSS measured from the ready state, the target's
verdict from that growth, the load average recorded (no server started here)."""
from __future__ import annotations

import os

from benchmarks.server_load import memory_mb, write_memory_markdown


def test_memory_mb_splits_rss():
    m = memory_mb(os.getpid())
    assert set(m) == {"rss", "anon", "file", "pss"}
    assert m["rss"] > 0 and abs(m["anon"] + m["file"] - m["rss"]) < 0.1 * m["rss"] + 1


def test_memory_markdown_measures_from_ready(tmp_path):
    ready = {"rss": 200.0, "anon": 120.0, "file": 80.0, "pss": 130.0}
    samples = [{"t": 5.0 * i, "rss": 200.0 + min(i, 3), "anon": 120.0 + min(i, 3), "file": 80.0, "pss": 131.0,
                "load1": 9.5} for i in range(13)]
    soak = {"seconds": 60.0, "concurrency": 4, "requests": 1000, "errors": 0, "memory_mb_ready": ready,
            "memory_mb_end": {k: samples[-1][k] for k in ready}, "growth_mb_from_ready": 3.0,
            "max_growth_mb_from_ready": 3.0, "loadavg_at_ready": [9.0, 8.0, 7.0], "load1_median": 9.5,
            "load1_max": 9.5, "memory_samples": samples}
    result = {"machine": "x86_64, 2 CPUs", "nice": 10, "loadavg_before": [8.5, 8.0, 7.0], "ready_s": 7.0,
              "readyz": {"status": "ready"}, "command": "python -m benchmarks.server_load --memory-only",
              "soak": soak, "target": {"met": True}}
    out = tmp_path / "server_memory.md"
    write_memory_markdown(result, out)
    text = out.read_text()
    assert "load average 8.5 before the run" in text and "at nice 10" in text
    assert "| growth | **+3.0** |" in text and "→ **met**" in text
    assert text.count("\n| 0 |") == 1 and "| 60 | 203.0 | +3.0 |" in text
