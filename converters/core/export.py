"""Writing and reading ``.tflite`` files that carry TFLite metadata (MediaPipe's metadata writers)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import List

LABEL_FILE = "labels.txt"


def save_with_metadata(path: Path, model: bytes, meta_json: str) -> str:
    """Write a ``.tflite`` that carries metadata, and that metadata as JSON beside it; returns the JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model)
    path.with_suffix(".metadata.json").write_text(meta_json)
    return meta_json


def read_labels(model: bytes) -> List[str]:
    """Labels packed in a ``.tflite`` with metadata (the file is also a zip archive)."""
    with zipfile.ZipFile(io.BytesIO(model)) as archive:
        names = [n for n in archive.namelist() if n.endswith(".txt")]
        if not names:
            raise ValueError("model metadata has no label file")
        text = archive.read(LABEL_FILE if LABEL_FILE in names else names[0]).decode("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]
