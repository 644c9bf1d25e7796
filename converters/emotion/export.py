"""TFLite metadata (labels, image input spec, normalisation) for MediaPipe Tasks / TFLite Task Library.

Written with the metadata writers shipped inside mediapipe (tflite-support does not install
beside mediapipe's protobuf). The model takes raw RGB 0..255 (rescaling is inside the network),
so the normalisation recorded is mean 0, std 1: MediaPipe's ``ImageClassifier`` then feeds the
plain pixel values, as does ``edgekit.EmotionClassifier``.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import List, Sequence, Tuple

from converters.emotion.data import EMOTIONS

MODEL_NAME = "edgekit emotion classifier"
DESCRIPTION = ("Facial expression of one face crop, FER+ classes ({}). Input: RGB face crop, raw pixel "
               "values 0..255; gray conversion and scaling are inside the model.").format(", ".join(EMOTIONS))
LABEL_FILE = "labels.txt"


def add_metadata(tflite: bytes, labels: Sequence[str] = EMOTIONS, name: str = MODEL_NAME,
                 description: str = DESCRIPTION) -> Tuple[bytes, str]:
    """Return (model bytes with metadata + packed label file, metadata JSON)."""
    from mediapipe.tasks.python.metadata.metadata_writers import image_classifier, metadata_writer

    writer = metadata_writer.MetadataWriter(bytearray(tflite))
    writer.add_general_info(name, description)
    writer.add_image_input(norm_mean=[0.0], norm_std=[1.0])
    writer.add_classification_output(metadata_writer.Labels().add(list(labels)))
    model, meta_json = image_classifier.MetadataWriter(writer).populate()
    return bytes(model), meta_json


def read_labels(model: bytes) -> List[str]:
    """Labels packed in a ``.tflite`` with metadata (the file is also a zip archive)."""
    with zipfile.ZipFile(io.BytesIO(model)) as archive:
        names = [n for n in archive.namelist() if n.endswith(".txt")]
        if not names:
            raise ValueError("model metadata has no label file")
        text = archive.read(LABEL_FILE if LABEL_FILE in names else names[0]).decode("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def write_model(path: Path, tflite: bytes, labels: Sequence[str] = EMOTIONS) -> str:
    """Write ``tflite`` with metadata to ``path`` and its metadata JSON beside it; returns the JSON."""
    return save_with_metadata(path, *add_metadata(tflite, labels))


def save_with_metadata(path: Path, model: bytes, meta_json: str) -> str:
    """Write a ``.tflite`` that carries metadata, and that metadata as JSON beside it; returns the JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model)
    path.with_suffix(".metadata.json").write_text(meta_json)
    return meta_json
