"""INT8: quantization-aware training (tfmot) and full-integer conversion (PTQ or from a QAT model)."""
from __future__ import annotations

import contextlib

from converters.core.mobilenet import custom_objects
from converters.core.tfenv import keras, tf


def quantize_scope():
    """Context in which Keras can deserialize QAT-wrapped models (and our custom layers)."""
    try:
        from converters.core.tfenv import tfmot
    except ImportError:  # pragma: no cover - tfmot is part of the [train] extra
        return contextlib.nullcontext()
    return tfmot.quantization.keras.quantize_scope({**custom_objects(), "OutputQuantizeConfig": OutputQuantizeConfig})


def _output_config_base():
    from converters.core.tfenv import tfmot

    return tfmot.quantization.keras.QuantizeConfig


class OutputQuantizeConfig(_output_config_base()):
    """QAT config for weightless custom layers (hard-swish/sigmoid): fake-quantize the output only."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        from converters.core.tfenv import tfmot

        return [tfmot.quantization.keras.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                                           narrow_range=False)]

    def get_config(self):
        return {}


def qat_model(model: keras.Model) -> keras.Model:
    """Wrap a float functional model for quantization-aware training (tfmot default 8-bit scheme)."""
    from converters.core.tfenv import tfmot

    qk = tfmot.quantization.keras

    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry_mod,
    )

    registry = registry_mod.Default8BitQuantizeRegistry()

    def annotate(layer):
        if registry.supports(layer):
            return qk.quantize_annotate_layer(layer)
        if not layer.weights:  # HardSwish, HardSigmoid, Multiply: quantize the output like TFLite will
            return qk.quantize_annotate_layer(layer, quantize_config=OutputQuantizeConfig())
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has weights but no 8-bit QAT config")

    def clone(layer):
        if isinstance(layer, keras.layers.InputLayer):
            return layer.__class__.from_config(layer.get_config())
        return annotate(layer.__class__.from_config(layer.get_config()))

    annotated = keras.models.clone_model(model, clone_function=clone)
    annotated.set_weights(model.get_weights())
    with quantize_scope():
        return qk.quantize_apply(annotated)


def representative_dataset(images, input_size: int, count: int = 400, seed: int = 0):
    """Calibration generator over real training faces: ``[1, S, S, 3]`` float32 RGB 0..255.

    ``images``: ``[N, h, w]`` uint8 gray crops, resized exactly as the runtime resizes them
    (:func:`converters.core.pixels.runtime_inputs`), so activation ranges are set on the
    pixels the shipped model will see. The first sample has one pixel set to 0 and one to 255
    so the input range (and hence the uint8 input quantization) is exactly 0..255, the raw
    pixel values every consumer feeds.
    """
    import numpy as np

    from converters.core.pixels import runtime_inputs

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(images), size=min(count, len(images)), replace=False)
    pixels = runtime_inputs(np.asarray(images)[pick], input_size).astype(np.float32)

    def gen():
        for i, x in enumerate(pixels):
            x = x[None].copy()
            if i == 0:
                x[0, 0, 0, :], x[0, -1, -1, :] = 0.0, 255.0
            yield [x]

    return gen


def pin_input_range(model: keras.Model, low: float = 0.0, high: float = 255.0) -> int:
    """Set the QAT input quantizer's range to the raw pixel range (in place); returns how many were set.

    QAT learns the input range as a moving average of batch min/max (e.g. 0..241), which would
    give the exported uint8 input a scale other than 1 and break the contract that consumers feed
    raw pixel values. Pinning it to 0..255 makes the input quantization scale 1, zero point 0.
    """
    count = 0
    for layer in model.layers:
        if type(layer).__name__ != "QuantizeLayer":
            continue
        for var in layer.weights:
            leaf = var.name.split("/")[-1]
            if leaf.endswith("min:0"):
                var.assign(tf.fill(tf.shape(var), tf.cast(low, var.dtype)))
                count += 1
            elif leaf.endswith("max:0"):
                var.assign(tf.fill(tf.shape(var), tf.cast(high, var.dtype)))
    return count


def to_tflite(model: keras.Model, representative=None, int8: bool = True, io_dtype: str = "uint8") -> bytes:
    """Convert to ``.tflite`` bytes: float32, or full-integer INT8 with ``io_dtype`` (uint8/int8) I/O.

    Works for float models (post-training quantization, needs ``representative``) and for QAT
    models from :func:`qat_model` (their fake-quant ranges are used; ``representative`` covers
    any tensor QAT did not observe).
    """
    pin_input_range(model)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        if representative is None:
            raise ValueError("full-integer conversion needs a representative dataset of real faces")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        dtype = {"uint8": tf.uint8, "int8": tf.int8}[io_dtype]
        converter.inference_input_type = dtype
        converter.inference_output_type = dtype
    return converter.convert()
