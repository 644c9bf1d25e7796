"""``.tflite`` export of the embedder: TFLite metadata (image input, feature output) and the INT8
calibration set of real aligned faces."""
from __future__ import annotations

from pathlib import Path
from typing import Tuple

import numpy as np

from converters.core.export import save_with_metadata

MODEL_NAME = "edgekit face embedder"
DESCRIPTION = ("Face identity embedding of one aligned face crop (eyes placed by edgekit's IDENTITY_TEMPLATE). "
               "Input: RGB crop, raw pixel values 0..255; gray conversion and scaling are inside the model. "
               "Output: embedding; L2-normalise it and compare with cosine similarity.")


def add_metadata(tflite: bytes, embedding_dim: int) -> Tuple[bytes, str]:
    """Return (model bytes with metadata, metadata JSON): image input (mean 0, std 1: raw pixels)
    and one feature output."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter(bytearray(tflite))
    writer.add_general_info(MODEL_NAME, DESCRIPTION)
    writer.add_image_input(norm_mean=[0.0], norm_std=[1.0])
    writer.add_feature_output("embedding",
                              f"{embedding_dim}-d face embedding (compare L2-normalised vectors by cosine similarity)")
    model, meta_json = writer.populate()
    return bytes(model), meta_json


def write_model(path: Path, tflite: bytes, embedding_dim: int) -> str:
    """Write ``tflite`` with metadata to ``path`` and its metadata JSON beside it; returns the JSON."""
    return save_with_metadata(path, *add_metadata(tflite, embedding_dim))


def representative_dataset(images: np.ndarray, count: int = 500, seed: int = 0):
    """Calibration generator over real aligned RGB crops ``[N, S, S, 3]``: ``[1, S, S, 3]`` float32
    0..255. The first sample has one pixel at 0 and one at 255, so the uint8 input quantization is
    exactly the raw pixel range (scale 1, zero point 0)."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(images), size=min(count, len(images)), replace=False)

    def gen():
        for i, idx in enumerate(pick):
            x = images[idx][None].astype(np.float32)
            if i == 0:
                x[0, 0, 0, :], x[0, -1, -1, :] = 0.0, 255.0
            yield [x]

    return gen
