"""The one place that configures and imports TensorFlow for the toolchain.

tensorflow-model-optimization 0.8 works with Keras 2 only, so ``TF_USE_LEGACY_KERAS=1`` must be
set before TensorFlow is imported anywhere in the process. Every converter module does
``from converters.core.tfenv import tf, keras`` instead of importing TensorFlow itself.
"""
from __future__ import annotations

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["tf", "keras", "tfmot"]  # noqa: F822 (tfmot comes from __getattr__ below)


def __getattr__(name: str):
    """Import tensorflow_model_optimization lazily (it takes a second and most callers skip it)."""
    if name == "tfmot":
        import tensorflow_model_optimization as tfmot

        return tfmot
    raise AttributeError(name)
