"""What every TensorFlow toolchain report records about the machine and the toolchain it ran on."""
from __future__ import annotations

import datetime as dt
import os
import platform
import re
from importlib.metadata import version
from pathlib import Path
from typing import Dict, List

import numpy as np

from converters.core.paths import ROOT
from converters.core.provenance import cpu_model, git_sha


def host_info() -> dict:
    """Date, git SHA, platform, CPU and the versions of TensorFlow, tfmot, mediapipe, LiteRT, numpy, OpenCV."""
    import cv2
    import mediapipe  # noqa: F401  (version only; the toolchain may import it)
    import tensorflow_model_optimization as tfmot

    from converters.core.tfenv import tf

    return {
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_sha": git_sha(ROOT), "platform": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None, "python": platform.python_version(),
        "versions": {"tensorflow": tf.__version__, "tf_keras": version("tf-keras"), "tfmot": tfmot.__version__,
                     "mediapipe": version("mediapipe"), "ai_edge_litert": version("ai-edge-litert"),
                     "numpy": np.__version__, "opencv": cv2.__version__},
    }


def replace_marked_section(readme: Path, name: str, section: str) -> None:
    """Write ``section`` between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in ``readme``
    (replacing what was there, or appended with its markers), leaving the rest of the file alone."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    block = f"{begin}\n{section.rstrip()}\n{end}"
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text, encoding="utf-8")


#: ``<!-- NAME:begin -->`` ... ``<!-- NAME:end -->`` (the same NAME), markers included.
MARKED_SECTION = re.compile(r"<!-- ([\w.-]+):begin -->.*?<!-- \1:end -->", re.DOTALL)


def marked_sections(text: str) -> Dict[str, str]:
    """The marked sections of a README's ``text``: name -> block (markers included), in file order."""
    return {m.group(1): m.group(0) for m in MARKED_SECTION.finditer(text)}


def write_keeping_marked_sections(readme: Path, text: str) -> List[str]:
    """Write ``text`` to ``readme`` as its whole new content, but keep every marked section of the
    old file (written there by other scripts through :func:`replace_marked_section`) that ``text``
    does not have: each is appended, in its old order. Returns the names carried over."""
    old = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    new = marked_sections(text)
    kept = {name: block for name, block in marked_sections(old).items()
            if name not in new and f"<!-- {name}:begin -->" not in text}
    if kept:
        text = text.rstrip("\n") + "\n\n" + "\n\n".join(kept.values()) + "\n"
    readme.write_text(text, encoding="utf-8")
    return list(kept)
