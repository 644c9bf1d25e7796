"""Per-model latency on LiteRT: one ``invoke()`` timed, with 1..N threads and XNNPACK on or off.

XNNPACK is LiteRT's default CPU delegate; ``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``
(``ai_edge_litert.interpreter``, also in ``tflite_runtime`` >= 2.7) loads the model without it,
so the built-in kernels run. Inputs are realistic, not zeros, where it matters: the detector
gets the letterboxed benchmark frame, the emotion model the aligned face crop in its own input
format; other inputs (the caption decoder's token, position and caches) are zeros.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from edgekit import litert
from edgekit.errors import ModelError

from .models import ModelFile
from .report import Measurement


class XnnpackRefused(ModelError):
    """The model loads, but not with XNNPACK: a configuration to skip, not an error."""


def open_interpreter(path: Path, threads: int, xnnpack: bool) -> Any:
    """Interpreter with tensors allocated; ``xnnpack=False`` disables the default delegates."""
    content = litert.read_tflite(path)
    try:
        return litert.allocate(content, threads, delegates=xnnpack)
    except (ValueError, RuntimeError) as exc:
        if xnnpack and litert.is_delegate_failure(exc):
            raise XnnpackRefused(f"XNNPACK refused this graph ({litert.first_line(exc)})", subject=path,
                                 hint="measured with XNNPACK off only, as edgekit runs it") from None
        raise ModelError(f"LiteRT cannot load this model ({litert.first_line(exc)})", subject=path,
                         hint="re-export it") from None


class InputMaker:
    """Builds the input tensors of a model from the benchmark frame (see the module docstring)."""

    def __init__(self, frame_bgr: np.ndarray) -> None:
        self.frame = frame_bgr
        self._face = None
        self._detector_tensors: Dict[str, np.ndarray] = {}

    def _detection(self) -> Any:
        if self._face is None:
            from edgekit.detection import FaceDetector

            with FaceDetector(model="short_range") as detector:
                faces = detector.detect(self.frame)
            if not faces:
                raise RuntimeError("the benchmark frame has no detectable face")
            self._face = faces[0]
        return self._face

    def inputs(self, model: ModelFile, interpreter: Any) -> Dict[int, np.ndarray]:
        details = interpreter.get_input_details()
        tensors = {int(d["index"]): np.zeros(d["shape"], d["dtype"]) for d in details}
        spec = litert.TensorSpec.from_detail(details[0])
        if model.family == "detector" and model.detector_option:
            tensors[spec.index] = litert.quantize(self._letterboxed(model.detector_option), spec)
        elif model.family == "emotion" and len(details) == 1 and len(spec.shape) == 4:
            tensors[spec.index] = self._face_crop(spec)
        return tensors

    def _letterboxed(self, option: str) -> np.ndarray:
        if option not in self._detector_tensors:
            from edgekit.detection import FaceDetector

            with FaceDetector(model=option) as detector:
                self._detector_tensors[option] = detector.preprocess(self.frame)[0]
        return self._detector_tensors[option]

    def _face_crop(self, spec: litert.TensorSpec) -> np.ndarray:
        from edgekit.alignment import FaceAligner
        from edgekit.registry import InputSpec

        _, height, width, channels = spec.shape
        aligner = FaceAligner(InputSpec(height, width, channels, "rgb" if channels == 3 else "gray"))
        crop = aligner.align(self.frame, self._detection()).image.reshape(spec.shape)
        if spec.dtype == np.uint8 and spec.scale in (0.0, 1.0) and spec.zero_point == 0:
            return crop  # the model contract: raw 0..255 pixels
        return litert.quantize(crop.astype(np.float32), spec)


def time_invokes(interpreter: Any, inputs: Dict[int, np.ndarray], warmup: int, runs: int) -> List[float]:
    """Milliseconds of each of ``runs`` ``invoke()`` calls after ``warmup`` untimed ones."""
    for index, value in inputs.items():
        interpreter.set_tensor(index, value)
    for _ in range(warmup):
        interpreter.invoke()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def bench_config(model: ModelFile, maker: InputMaker, threads: int, xnnpack: bool, warmup: int,
                 runs: int) -> List[Measurement]:
    """``model.load`` (ms) and ``model.latency`` (ms per invoke) for one threads x XNNPACK setting."""
    start = time.perf_counter()
    interpreter = open_interpreter(model.path, threads, xnnpack)
    load_ms = (time.perf_counter() - start) * 1e3
    samples = time_invokes(interpreter, maker.inputs(model, interpreter), warmup, runs)
    params = {"model": model.key, "threads": threads, "xnnpack": xnnpack}
    return [Measurement.single("model.load", "ms", load_ms, **params),
            Measurement.from_samples("model.latency", "ms", samples, **params)]


def size(model: ModelFile) -> Measurement:
    return Measurement.single("model.size", "MB", model.path.stat().st_size / 1e6, model=model.key)
