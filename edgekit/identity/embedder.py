"""``FaceEmbedder``: the INT8 face-embedding ``.tflite`` on LiteRT (aligned crop -> unit vector).

Model contract: one input ``[1, S, S, 3]`` raw RGB 0..255 (uint8; int8/float32 and 1-channel
gray also accepted), one output ``[1, D]`` embedding. The manifest entry (``task: identity``)
carries ``identity.threshold`` (cosine similarity at or above which two faces are the same
person, chosen on held-out people by the toolchain) and ``identity.flip_average`` (average the
embeddings of the crop and its mirror image, as the threshold was measured).
"""
from __future__ import annotations

import os
from typing import Any, Dict, Tuple, Union

import numpy as np

from .. import litert, registry
from ..errors import ConfigError, InputError, ModelError, describe
from ..options import CreateFromOptions, options_from
from ..registry import InputSpec
from ..task_options import SIMILARITY, FaceEmbedderOptions
from ..validate import check

DEFAULT_MODEL = FaceEmbedderOptions.model
PRODUCE_HINT = ("train and export one with `python -m converters.identity all --data ../shared/data/lfw` "
                "(it registers the model in edgekit/models/manifest.json), or pass the path of an identity .tflite")


def _manifest_entry(model: Union[str, os.PathLike]) -> Tuple[registry.ModelFile, Dict[str, Any]]:
    """(the checked model file, raw manifest entry or {}) for a manifest name or a ``.tflite`` path."""
    loaded = registry.load_model(model, produce_hint=PRODUCE_HINT)
    entry = registry.load_manifest()["models"].get(loaded.info.name, {}) if loaded.info else {}
    return loaded, entry


class FaceEmbedder(CreateFromOptions, litert.LiteRTModel):
    """Embeds aligned face crops into L2-normalised vectors.

    ``FaceEmbedder(options)``, ``FaceEmbedder(**fields)`` or ``FaceEmbedder("model name or path",
    **fields)``; the fields (``model``, ``num_threads``, ``threshold``: default the manifest's)
    are :class:`FaceEmbedderOptions`'. Not thread-safe: use one embedder per thread.
    """

    OPTIONS = FaceEmbedderOptions

    def __init__(self, options: Union[FaceEmbedderOptions, str, "os.PathLike[str]", None] = None,
                 **kwargs: Any) -> None:
        self.options = opts = options_from(FaceEmbedderOptions, options, kwargs)
        model, num_threads, threshold = opts.model, opts.num_threads, opts.threshold
        loaded, entry = _manifest_entry(model)
        self.model_path, self.sha256 = loaded.path, loaded.sha256
        settings = entry.get("identity", {}) if entry.get("task") == "identity" else {}
        self.settings: Dict[str, Any] = dict(settings)  # the manifest's identity settings (threshold, margin, ...)
        self._load(loaded, num_threads)
        inputs, outputs = litert.input_specs(self._interpreter), litert.output_specs(self._interpreter)
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[0] != 1 or inputs[0].shape[3] not in (1, 3):
            raise ModelError(f"inputs {[list(s.shape) for s in inputs]} are not one [1, S, S, 1|3] image",
                             self.model_path, PRODUCE_HINT)
        if len(outputs) != 1 or int(np.prod(outputs[0].shape)) != outputs[0].shape[-1]:
            raise ModelError(f"outputs {[list(s.shape) for s in outputs]} are not one [1, D] embedding",
                             self.model_path, PRODUCE_HINT)
        self._input, self._output = inputs[0], outputs[0]
        _, height, width, channels = self._input.shape
        self.input_spec = InputSpec(height, width, channels, "rgb" if channels == 3 else "gray", self._input.dtype.name)
        self.dim = int(self._output.shape[-1])
        self._flip_average = bool(settings.get("flip_average", False))
        # with flip averaging, the crop and its mirror image in one batch-2 invoke where the model allows it
        self._views_batched = self._flip_average and litert.resize_batch(self._interpreter, self._input, 2)
        chosen = threshold if threshold is not None else settings.get("threshold")
        if chosen is None:
            raise ConfigError("this model has no verification threshold in the manifest", f"model {os.fspath(model)}",
                              "pass threshold=<cosine similarity>, or load the bundled 'identity' model")
        check("threshold", chosen, SIMILARITY)  # the manifest's value
        self.threshold = float(chosen)

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray:
        """Unit-length float32 embedding of a crop in the model's format (``input_spec``)."""
        crop = self._checked(crop)
        if not self._flip_average:
            return self._unit(self._run(crop[None])).astype(np.float32)
        plain, mirrored = self._views(crop)  # the mean direction of the two views
        return self._unit(plain + mirrored).astype(np.float32)

    @property
    def flip_average(self) -> bool:
        """Whether an embedding is the mean direction of the crop's and its mirror image's (the
        manifest's ``identity.flip_average``, as the threshold was measured)."""
        return self._flip_average

    def embed_views(self, crop: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Unit embeddings (float64) of an aligned crop in the model's format and of its mirror
        image, whatever :attr:`flip_average` says (one batch-2 invoke when flip averaging is on)."""
        return self._views(self._checked(crop))

    def _checked(self, crop: np.ndarray) -> np.ndarray:
        """``crop`` as ``(H, W, C)``, or InputError when it is not an aligned crop in the model's format."""
        spec = self.input_spec
        expected = (spec.height, spec.width, spec.channels)
        if not isinstance(crop, np.ndarray) or crop.dtype != np.uint8 or not (
                crop.shape == expected or (spec.channels == 1 and crop.shape == expected[:2])):
            raise InputError(f"aligned crop must be uint8 with shape {expected} ({spec.color})", describe(crop),
                             "align it with FaceAligner(identifier.input_spec, IDENTITY_TEMPLATE), "
                             "or call FaceIdentifier.embed()")
        return crop.reshape(expected)

    def _views(self, crop: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        plain, mirrored = litert.mirror_views(self._run, crop[None], self._views_batched)
        return self._unit(plain), self._unit(mirrored)

    def _unit(self, vector: np.ndarray) -> np.ndarray:
        norm = float(np.linalg.norm(vector))
        if not np.isfinite(norm) or norm < 1e-12:
            raise ModelError("the model returned a zero or non-finite embedding", self.model_path, PRODUCE_HINT)
        return vector / norm

    def _run(self, x: np.ndarray) -> np.ndarray:
        """The model's raw output for a batch of crops ``x`` (as many as the input takes), flattened."""
        if self._input.dtype != np.uint8 or self._input.scale not in (0.0, 1.0) or self._input.zero_point != 0:
            x = litert.quantize(x.astype(np.float32), self._input)
        with self._use:
            self._interpreter.set_tensor(self._input.index, np.ascontiguousarray(x))
            self._interpreter.invoke()
            out = self._interpreter.get_tensor(self._output.index)
        return litert.dequantize(out, self._output).reshape(-1).astype(np.float64)


    def __repr__(self) -> str:
        return (f"FaceEmbedder({str(self.model_path)!r}, input={self.input_spec}, dim={self.dim}, "
                f"threshold={self.threshold})")


__all__ = ["DEFAULT_MODEL", "FaceEmbedder", "FaceEmbedderOptions"]
