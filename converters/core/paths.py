"""The repository root and the shared data folder: the toolchain's one definition of each.

Standard library only: the benchmarks import it too.
"""
from __future__ import annotations

import os
from pathlib import Path

#: The checkout's root (the folder holding ``converters/``, ``edgekit/``, ``reports/``).
ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """``../shared`` beside the checkout, or ``$EDGEKIT_SHARED``: the data sets (FER+, LFW)."""
    return Path(os.environ.get("EDGEKIT_SHARED", ROOT.parent / "shared"))
