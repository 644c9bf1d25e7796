"""TFLite metadata (labels, image input spec, normalisation) for MediaPipe Tasks / TFLite Task Library.

Written with the metadata writers shipped inside mediapipe (tflite-support does not install
beside mediapipe's protobuf). The model takes raw RGB 0..255 (rescaling is inside the network),
so the normalisation recorded is mean 0, std 1: MediaPipe's ``ImageClassifier`` then feeds the
plain pixel values, as does ``edgekit.EmotionClassifier``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence, Tuple

from converters.core.export import LABEL_FILE, read_labels, save_with_metadata  # noqa: F401 (read_labels: this module's API)
from converters.emotion.data import EMOTIONS

MODEL_NAME = "edgekit emotion classifier"
DESCRIPTION = ("Facial expression of one face crop, FER+ classes ({}). Input: RGB face crop, raw pixel "
               "values 0..255; gray conversion and scaling are inside the model.").format(", ".join(EMOTIONS))


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


def write_model(path: Path, tflite: bytes, labels: Sequence[str] = EMOTIONS) -> str:
    """Write ``tflite`` with metadata to ``path`` and its metadata JSON beside it; returns the JSON."""
    return save_with_metadata(path, *add_metadata(tflite, labels))
