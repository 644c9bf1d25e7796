"""``ruff check`` passes with the configuration in pyproject.toml: lines of at most 120 characters
and the E, F and W rules, with no per-file ignores. Ruff comes with the [test]
extra, so a test venv without it fails here instead of skipping."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_check_passes():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, \
        f"ruff check failed (pip install -e '.[test]' installs ruff):\n{proc.stdout}{proc.stderr}"
