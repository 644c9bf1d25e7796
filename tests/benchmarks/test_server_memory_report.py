"""benchmarks/server_load.py's memory run report: RSS measured from the ready state, the target's
verdict from that growth, the load average recorded (no server started here)."""
from __future__ import annotations

import os

import pytest

from benchmarks.server_load import (MEMORY_GROWTH_LIMIT_MB, memory_mb, memory_target, write_markdown,
                                    write_memory_markdown)


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
              "soak": soak, "target": memory_target(soak)}
    out = tmp_path / "server_memory.md"
    write_memory_markdown(result, out)
    text = out.read_text()
    assert "load average 8.5 before the run" in text and "at nice 10" in text
    assert "| growth | **+3.0** |" in text and "→ **met**" in text
    assert text.count("\n| 0 |") == 1 and "| 60 | 203.0 | +3.0 |" in text


@pytest.mark.parametrize("errors, growth, met", [(0, 19.9, True), (0, 20.0, True), (0, 20.1, False),
                                                 (1, 19.9, False), (1, 3.0, False), (0, -2.0, True)])
def test_memory_target_is_errors_and_growth_from_ready(errors, growth, met):
    """Met only with 0 errors and at most 20 MB growth from ready; the first minute's or the whole
    run's growth (other keys of the soak result) play no part."""
    assert MEMORY_GROWTH_LIMIT_MB == 20.0
    soak = {"errors": errors, "growth_mb_from_ready": growth, "growth_mb_whole_run": 0.0,
            "growth_mb_after_60s": 0.0}
    assert memory_target(soak) == {"errors": errors, "growth_mb_from_ready": growth, "met": met}


def test_memory_markdown_verdict_follows_the_target(tmp_path):
    ready = {"rss": 200.0, "anon": 120.0, "file": 80.0, "pss": 130.0}
    end = {"rss": 220.1, "anon": 140.1, "file": 80.0, "pss": 150.0}
    soak = {"seconds": 60.0, "concurrency": 4, "requests": 1000, "errors": 0, "memory_mb_ready": ready,
            "memory_mb_end": end, "growth_mb_from_ready": 20.1, "max_growth_mb_from_ready": 20.1,
            "loadavg_at_ready": [9.0, 8.0, 7.0], "load1_median": 9.5, "load1_max": 9.5,
            "memory_samples": [{"t": 0.0, **ready, "load1": 9.0}, {"t": 60.0, **end, "load1": 9.0}]}
    result = {"machine": "x86_64, 2 CPUs", "nice": 10, "loadavg_before": [8.5, 8.0, 7.0], "ready_s": 7.0,
              "readyz": {"status": "ready"}, "command": "python -m benchmarks.server_load --memory-only",
              "soak": soak, "target": memory_target(soak)}
    out = tmp_path / "server_memory.md"
    write_memory_markdown(result, out)
    assert "+20.1 MB at the end (max +20.1 MB) → **missed**" in out.read_text()


def test_full_run_memory_row_shows_the_growth_from_ready(tmp_path):
    """server.md's memory row prints the number its verdict uses (growth from ready), not the
    growth after the first minute or over the whole run."""
    soak = {"seconds": 600.0, "concurrency": 4, "requests": 13000, "errors": 0, "rss_mb_ready": 200.0,
            "rss_mb_start": 205.0, "rss_mb_after_60s": 215.0, "rss_mb_end": 221.5, "rss_mb_max": 222.0,
            "growth_mb_from_ready": 21.5, "max_growth_mb_from_ready": 22.0, "growth_mb_whole_run": 16.5,
            "growth_mb_after_60s": 6.5}
    targets = {"analyze_overhead_p50_ms": 1.0, "overhead_met": True, "c4_vs_cli_pct": 85.0,
               "c4_vs_cli_wall_pct": 90.0, "c4_vs_cli_steady_pct": 85.0, "c4_vs_cli_loop_pct": 80.0,
               "throughput_met": True, "load_errors": 0, "load_rejected_busy": 0,
               "errors_met": True, "kill9_met": True, "soak_met": memory_target(soak)["met"]}
    result = {"machine": "x86_64, 2 CPUs", "note": "shared", "command": "python -m benchmarks.server_load",
              "load": [], "in_process": {"p50_ms": 15.0, "p95_ms": 20.0, "throughput_rps": 60.0},
              "paired_overhead": {"requests": 200, "overhead_ms_p25_p75": [1.0, 3.0], "in_process_p50_ms": 15.0,
                                  "server_p50_ms": 17.0},
              "paired_throughput": {"rounds": 5, "photos_per_round": 200, "concurrency": 4, "server_rps": 50.0,
                                    "cli_photos_s": 45.0, "cli_steady_photos_s": 55.0, "cli_loop_photos_s": 60.0,
                                    "cli_startup_s_median": 0.4, "ratio_vs_cli_pct_per_round": [111.1],
                                    "ratio_vs_cli_steady_pct_per_round": [90.9], "ratio_vs_loop_pct_per_round": [83.3]},
              "targets": targets, "soak": soak,
              "kill9": {"photos": 100, "records": 100, "distinct_sources": 100, "output_files": 100,
                        "outputs_match_manifest": True, "temporary_files_left": 0, "exactly_once": True,
                        "killed_after_s": 3.0, "counts_at_kill": {}, "restart_ready_s": 2.0,
                        "finish_after_restart_s": 9.0, "final_counts": {}},
              "bad_requests": [], "healthy_after_bad_requests": True, "rss_mb_after_load": 219.0,
              "tree_rss_mb_after_load": 300.0}
    out = tmp_path / "server.md"
    write_markdown(result, out)
    row = next(line for line in out.read_text().splitlines() if line.startswith("| 0 errors, RSS growth"))
    assert "RSS 200.0 MB at ready → 221.5 MB (max 222.0): +21.5 MB from ready at the end (max +22.0 MB)" in row
    assert row.endswith("| False |") and "+6.5" not in row and "+16.5" not in row
