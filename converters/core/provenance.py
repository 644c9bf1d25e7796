"""Where a report's numbers came from: git SHA, package versions, CPU model, the host.

The one copy of these helpers for the toolchain (``converters``) and the benchmarks
(``benchmarks/report.py`` re-exports them). Standard library only, so importing it never pulls
in TensorFlow: the benchmarks run in the runtime venv, which has none
(``tests/runtime/test_architecture.py`` keeps it so).
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from converters.core.paths import ROOT

#: The packages a runtime-side report (checks, action units) records.
RUNTIME_PACKAGES = ("edgekit", "numpy", "opencv-contrib-python", "ai-edge-litert", "mediapipe")


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


def run_git(root: Path, *args: str) -> Optional[str]:
    """stdout of ``git <args>`` run in ``root`` (stripped); None without git or when the command fails."""
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def git_sha(root: Path = ROOT) -> Optional[str]:
    """Short SHA of HEAD; None before the first commit or without git."""
    return run_git(root, "rev-parse", "--short", "HEAD") or None


def git_info(root: Path = ROOT) -> Dict[str, Any]:
    """Short SHA of HEAD (None before the first commit) and whether the tree has changes."""
    status = run_git(root, "status", "--porcelain")
    return {"sha": git_sha(root), "dirty": bool(status) if status is not None else None}


def environment(prog: str) -> dict:
    """Git SHA, date, host and package versions for a report header; ``command`` is ``prog`` and
    this process's arguments."""
    return {
        "git_sha": git_sha(ROOT),
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
                 "python": platform.python_version()},
        "versions": package_versions(RUNTIME_PACKAGES),
        "command": " ".join([prog, *sys.argv[1:]]),
    }
