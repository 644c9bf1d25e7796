"""Tiny real emotion-contract models for tests (TensorFlow; tests only, never the runtime).

:func:`build_keras_model` follows the emotion model contract (docs/ARCHITECTURE.md): input
``[1, H, W, 3]`` raw RGB 0..255, rescaling and RGB->gray inside the model, softmax output.
:func:`to_int8_tflite` converts it to a full-INT8 .tflite (uint8 input and output) with TF's
converter, and :func:`with_label_metadata` adds TFLite metadata with a label file through the
MediaPipe metadata writer, the same way the emotion toolchain does.
"""
from __future__ import annotations

import functools
import os
import warnings
from typing import Iterable, Sequence, Tuple

import numpy as np

from edgekit.labels import EMOTIONS

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LABELS: Tuple[str, ...] = EMOTIONS


def _tf():
    import tensorflow as tf
    import tf_keras as keras

    return tf, keras


def build_keras_model(height: int = 32, width: int = 32, channels: int = 3, num_classes: int = 8, seed: int = 0):
    """Small CNN with deterministic weights whose softmax outputs differ clearly between inputs."""
    tf, keras = _tf()
    keras.utils.set_random_seed(seed)
    inp = keras.Input((height, width, channels), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0)(inp)
    if channels == 3:
        gray = keras.layers.Conv2D(1, 1, use_bias=False, trainable=False, name="rgb_to_gray")
        x = gray(x)
        gray.set_weights([np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 1, 3, 1)])
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    logits = keras.layers.Dense(num_classes, name="logits")
    x = logits(x)
    kernel, bias = logits.get_weights()
    logits.set_weights([kernel * 25.0, bias])  # spread the probabilities so classes are distinguishable
    out = keras.layers.Softmax(name="probs")(x)
    return keras.Model(inp, out)


def sample_images(n: int, height: int, width: int, channels: int = 3, seed: int = 1) -> np.ndarray:
    """Varied uint8 images (noise, gradients, blobs) covering the full 0..255 range."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    images = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            img = rng.integers(0, 256, (height, width, channels))
        elif kind == 1:
            angle = rng.uniform(0, 2 * np.pi)
            ramp = (np.cos(angle) * xx + np.sin(angle) * yy)
            ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
            img = np.stack([ramp * rng.uniform(0.3, 1.0) for _ in range(channels)], axis=-1) * 255
        else:
            cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.4)
            blob = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.float64)
            img = np.stack([blob * rng.uniform(100, 255) + rng.uniform(0, 80) for _ in range(channels)], axis=-1)
        images.append(np.clip(img, 0, 255).astype(np.uint8))
    images[0][0, 0] = 0
    images[0][-1, -1] = 255
    return np.stack(images)


def to_int8_tflite(model, representative: Iterable[np.ndarray], io_dtype: str = "uint8") -> bytes:
    """Full-INT8 conversion (``io_dtype`` input and output: uint8 or int8) with TF's TFLiteConverter."""
    tf, _ = _tf()
    images = [np.asarray(img, np.float32)[None] for img in representative]
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([img] for img in images)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = getattr(tf, io_dtype)
    converter.inference_output_type = getattr(tf, io_dtype)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


def with_label_metadata(tflite: bytes, labels: Sequence[str]) -> bytes:
    """``tflite`` plus image-classifier TFLite metadata whose label file lists ``labels``."""
    from mediapipe.tasks.python.metadata.metadata_writers import image_classifier, metadata_writer

    writer = image_classifier.MetadataWriter.create(
        bytearray(tflite), input_norm_mean=[0.0], input_norm_std=[1.0],
        labels=metadata_writer.Labels().add(list(labels))
    )
    model_with_metadata, _ = writer.populate()
    return bytes(model_with_metadata)


@functools.lru_cache(maxsize=None)
def int8_model(height: int = 32, width: int = 32, channels: int = 3, num_classes: int = 8, seed: int = 0,
               io_dtype: str = "uint8"):
    """``(keras_model, int8_tflite_bytes)``, built once per process for each argument set."""
    model = build_keras_model(height, width, channels, num_classes, seed)
    return model, to_int8_tflite(model, sample_images(48, height, width, channels, seed=seed + 100), io_dtype)
