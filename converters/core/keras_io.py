"""Saving and loading the toolchain's Keras models (float, pruned or QAT-wrapped), with the custom
layers of :mod:`converters.core.mobilenet` and tfmot's quantize scope.

Models are saved as HDF5 (``model.h5``) because tfmot's QAT layers do not reload from the
``.keras`` format.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from converters.core.mobilenet import custom_objects
from converters.core.quantize import quantize_scope
from converters.core.tfenv import keras


def save_model(model: keras.Model, path: Path) -> None:
    with quantize_scope():
        model.save(str(path))


def load_model(path: Path, objects: Optional[dict] = None) -> keras.Model:
    """Load a model saved by :func:`save_model` (float, pruned or QAT); ``objects`` adds custom
    layers to the backbone's."""
    with quantize_scope():
        return keras.models.load_model(str(path), custom_objects={**custom_objects(), **(objects or {})},
                                       compile=False)
