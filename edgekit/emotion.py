"""``EmotionClassifier``: the INT8 emotion ``.tflite`` on LiteRT.

Model contract (docs/ARCHITECTURE.md): one input ``[1, H, W, 3]`` of raw RGB pixel values 0..255
(uint8; int8 and float32 also accepted, ``[1, H, W, 1]`` means gray), one output of
``len(labels)`` probabilities. Shapes, dtypes and quantization parameters are read from the
model; nothing about them is hard-coded here.

Labels come from, in order: the label file packed in the model's TFLite metadata (a ``.tflite``
with metadata is also a zip archive), a sidecar ``<model stem>.labels.txt``, the manifest entry.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Optional, Tuple, Union

import cv2
import numpy as np

from . import litert, registry
from .errors import InputError, ModelError, describe
from .imageio import ImageSource, load_image
from .options import CreateFromOptions, options_from
from .paths import read_regular
from .registry import InputSpec, ModelInfo
from .results import EmotionResult
from .task_options import EmotionClassifierOptions

DEFAULT_MODEL = EmotionClassifierOptions.model
PRODUCE_HINT = (
    "train and export one with the toolchain (`python -m converters.emotion --help`; it registers the "
    "model in edgekit/models/manifest.json), or pass the path of an emotion .tflite"
)
_INPUT_DTYPES = (np.uint8, np.int8, np.float32)


class EmotionClassifier(CreateFromOptions, litert.LiteRTModel):
    """Classifies the facial expression of one face crop into ``labels``.

    ``EmotionClassifier(options)``, ``EmotionClassifier(**fields)``, ``EmotionClassifier(options,
    **overrides)`` or ``EmotionClassifier("model name or .tflite path", **fields)``; the fields
    (``model``, ``num_threads``, ``flip_average``) are :class:`EmotionClassifierOptions`'.

    Attributes:
        options: the :class:`EmotionClassifierOptions` it was built with.
        labels: class names in output order.
        input_spec: input height/width/channels/color/dtype/range (read from the model).
        input_size: ``(width, height)`` of the model input.
        model_path: the loaded file.

    Not thread-safe: use one classifier per thread.
    """

    OPTIONS = EmotionClassifierOptions

    def __init__(self, options: Union[EmotionClassifierOptions, str, "os.PathLike[str]", None] = None,
                 **kwargs: Any) -> None:
        self.options = opts = options_from(EmotionClassifierOptions, options, kwargs)
        start = time.perf_counter()
        loaded = registry.load_model(opts.model, produce_hint=PRODUCE_HINT)
        self.model_path, info = loaded.path, loaded.info
        self._load(loaded, opts.num_threads)
        inputs, outputs = litert.input_specs(self._interpreter), litert.output_specs(self._interpreter)
        self._input = _check_input(inputs, self.model_path)
        self._output = _check_output(outputs, self.model_path)
        num_classes = int(np.prod(self._output.shape))
        self.labels: Tuple[str, ...] = _labels(loaded, info, num_classes)
        _, height, width, channels = self._input.shape
        _check_manifest_input(info, (height, width, channels), self.model_path)
        self._flip_average = opts.flip_average
        # the crop and its mirror image in one batch-2 invoke where the model allows it, else two invokes
        self._views_batched = self._flip_average and litert.resize_batch(self._interpreter, self._input, 2)
        color = "gray" if channels == 1 else (
            info.input.color if info and info.input and info.input.channels == 3 else "rgb")
        value_range = info.input.range if info and info.input else (0.0, 255.0)
        self.input_spec = InputSpec(height, width, channels, color, self._input.dtype.name, tuple(value_range))
        # uint8 pixels go in unchanged when the input takes raw 0..255 uint8 with an identity
        # quantization (the model contract): no per-call float round trip.
        self._raw_uint8_input = (self._input.dtype == np.uint8 and tuple(value_range) == (0.0, 255.0)
                                 and self._input.zero_point == 0 and self._input.scale in (0.0, 1.0))
        #: Seconds spent verifying and loading the model.
        self.load_seconds = time.perf_counter() - start

    @property
    def flip_average(self) -> bool:
        """Whether probabilities are the mean of the crop's and its mirror image's (set at construction)."""
        return self._flip_average

    @property
    def input_size(self) -> Tuple[int, int]:
        """Model input ``(width, height)``."""
        return self.input_spec.width, self.input_spec.height

    def predict(self, face_image: ImageSource) -> EmotionResult:
        """Classify an already-cropped face of any size (BGR/gray array or path, see
        :func:`edgekit.imageio.load_image`); it is converted to the model's color order and
        resized to :attr:`input_size`."""
        name = None if isinstance(face_image, (str, os.PathLike)) else f"face image {describe(face_image)}"
        bgr = load_image(face_image, name=name)
        return self._run(fit_to_input(self.input_spec.convert(bgr), *self.input_size))

    def predict_aligned(self, crop: np.ndarray) -> EmotionResult:
        """Classify a crop already in the model's format (e.g. from :class:`edgekit.FaceAligner`):
        uint8, ``input_spec`` color order, exactly ``H x W`` (x channels). Nothing is resized."""
        return self._run(crop)

    def predict_probs(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities (float32, ``len(labels)``) for a crop in the model's format (see
        :meth:`predict_aligned`)."""
        spec = self.input_spec
        expected = (spec.height, spec.width, spec.channels)
        ok_shape = isinstance(pixels, np.ndarray) and (
            pixels.shape == expected or (spec.channels == 1 and pixels.shape == expected[:2]))
        if not ok_shape or pixels.dtype != np.uint8:
            raise InputError(
                f"aligned crop must be uint8 with shape {expected} ({spec.color})",
                subject=describe(pixels),
                hint="use FaceAligner.for_classifier(classifier), or predict() for crops of any size",
            )
        x = pixels.reshape(1, spec.height, spec.width, spec.channels)
        with self._use:  # both views in one exclusive section
            if not self._flip_average:
                return self._invoke(x)
            plain, mirrored = litert.mirror_views(self._invoke, x, self._views_batched)
            return (plain + mirrored) * np.float32(0.5)

    def _invoke(self, x: np.ndarray) -> np.ndarray:
        spec = self.input_spec
        if not (self._raw_uint8_input and x.dtype == np.uint8):
            x = x.astype(np.float32)
            lo, hi = spec.range
            if (lo, hi) != (0.0, 255.0):
                x = x * np.float32((hi - lo) / 255.0) + np.float32(lo)
            x = litert.quantize(x, self._input)
        self._interpreter.set_tensor(self._input.index, np.ascontiguousarray(x))  # inside predict_probs' _use
        self._interpreter.invoke()
        out = self._interpreter.get_tensor(self._output.index)
        return litert.dequantize(out, self._output).reshape(-1).copy()


    def _run(self, pixels: np.ndarray) -> EmotionResult:
        return EmotionResult.from_probs(self.labels, self.predict_probs(pixels))

    def __repr__(self) -> str:
        return f"EmotionClassifier({str(self.model_path)!r}, input={self.input_spec}, labels={list(self.labels)})"


def fit_to_input(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """The resize :meth:`EmotionClassifier.predict` applies to a face crop (uint8 in, uint8 out):
    ``INTER_AREA`` when shrinking, ``INTER_LINEAR`` when enlarging, nothing when the size fits.
    The toolchain evaluates its models on exactly these pixels."""
    if pixels.shape[:2] == (height, width):
        return pixels
    shrink = pixels.shape[0] > height or pixels.shape[1] > width
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _check_input(inputs: list, path: Path) -> litert.TensorSpec:
    if len(inputs) != 1:
        raise ModelError(f"model has {len(inputs)} inputs, expected 1 image input", subject=path, hint=PRODUCE_HINT)
    spec = inputs[0]
    if len(spec.shape) != 4 or spec.shape[0] != 1 or spec.shape[3] not in (1, 3) or min(spec.shape) < 1:
        raise ModelError(f"input shape {list(spec.shape)} is not [1, H, W, 1|3]", subject=path,
                         hint="export the model with one NHWC image input")
    if spec.dtype not in _INPUT_DTYPES:
        raise ModelError(f"input dtype {spec.dtype} is not uint8, int8 or float32", subject=path, hint=PRODUCE_HINT)
    return spec


def _check_manifest_input(info: Optional[ModelInfo], shape: Tuple[int, int, int], path: Path) -> None:
    """The model's input (H, W, C) must be the one its manifest entry records."""
    spec = info.input if info else None
    if spec is not None and (spec.height, spec.width, spec.channels) != shape:
        raise ModelError(
            f"input shape {list(shape)} (HxWxC) differs from the manifest's "
            f"[{spec.height}, {spec.width}, {spec.channels}] for {info.name!r}",
            subject=path,
            hint="restore the model file and manifest together "
                 f"(reinstall edgekit or run `{info.produced_by or PRODUCE_HINT}`)",
        )


def _check_output(outputs: list, path: Path) -> litert.TensorSpec:
    if len(outputs) != 1:
        raise ModelError(f"model has {len(outputs)} outputs, expected 1 probability vector", subject=path,
                         hint=PRODUCE_HINT)
    spec = outputs[0]
    if int(np.prod(spec.shape)) != spec.shape[-1]:
        raise ModelError(f"output shape {list(spec.shape)} is not [1, num_classes]", subject=path, hint=PRODUCE_HINT)
    return spec


def _labels(model: registry.ModelFile, info: Optional[ModelInfo], count: int) -> Tuple[str, ...]:
    path = model.path
    sidecar = path.with_name(path.stem + ".labels.txt")
    sources: list[Tuple[str, Any]] = [
        ("its TFLite metadata", lambda: litert.find_labels(model, count) or litert.find_labels(model)),
        (str(sidecar), lambda: litert.read_label_lines(read_regular(sidecar, 1 << 20, "label file", ModelError))
         if sidecar.is_file() else None),
        ("the model manifest", lambda: list(info.labels) if info and info.labels else None),
    ]
    for source, read in sources:
        labels = read()
        if labels:
            if len(labels) != count:
                raise ModelError(
                    f"output has {count} values but the labels from {source} have {len(labels)}",
                    subject=path,
                    hint="re-export the model with one label per output",
                )
            return tuple(labels)
    raise ModelError(
        "no labels found (no label file in its metadata, no sidecar, no manifest entry)",
        subject=path,
        hint=f"export it with TFLite metadata or write one label per line to {sidecar}",
    )
