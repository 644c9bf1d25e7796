"""Files bundled with the wheel (see ``NOTICE.md`` for their sources and licences)."""
from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent


def demo_photo() -> Path:
    """Path of the embedded default demo photo (public-domain NASA portrait, one frontal face)."""
    return ASSETS_DIR / "astronaut.png"
