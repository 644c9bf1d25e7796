"""The emotion classifier: the core MobileNetV3 (:mod:`converters.core.mobilenet`) with an
8-way softmax head over the FER+ classes, sized by the TrainConfig."""
from __future__ import annotations

from converters.core.mobilenet import NetSpec, build_model, custom_objects, mobilenet_v3_spec
from converters.core.tfenv import keras
from converters.emotion.config import TrainConfig
from converters.emotion.data import EMOTIONS

__all__ = ["classifier_spec", "build_classifier", "custom_objects"]


def classifier_spec(cfg: TrainConfig) -> NetSpec:
    """The network ``cfg`` describes: variant, width, input size, activation, depth; one output per emotion."""
    return mobilenet_v3_spec(cfg.variant, cfg.alpha, cfg.input_size, num_classes=len(EMOTIONS), dropout=cfg.dropout,
                             depth=cfg.depth, activation=cfg.activation)


def build_classifier(cfg: TrainConfig) -> keras.Model:
    return build_model(classifier_spec(cfg))
