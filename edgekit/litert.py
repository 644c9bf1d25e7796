"""Thin layer over the LiteRT interpreter: loading with clear errors, tensor specs, (de)quantization.

The interpreter comes from ``ai_edge_litert`` (the LiteRT wheel); ``tflite_runtime`` is used when
only that is installed (older Jetson/ARM images). TensorFlow is never imported.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from .errors import ModelError
from .options import MAX_THREADS, THREADS  # noqa: F401  (MAX_THREADS: re-exported)
from .paths import read_regular

#: Bytes 4..8 of every TFLite flatbuffer (its file identifier).
TFLITE_IDENTIFIER = b"TFL3"


def interpreter_module() -> Any:
    """The LiteRT ``interpreter`` module: ``ai_edge_litert``'s, else ``tflite_runtime``'s."""
    try:
        from ai_edge_litert import interpreter as module
    except ImportError:
        try:
            from tflite_runtime import interpreter as module  # type: ignore[no-redef]
        except ImportError:
            raise ModelError(f"no LiteRT interpreter is installed for {_platform_name()}",
                             hint=_litert_options()) from None
    return module


def _platform_name() -> str:
    import platform

    return f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"


def _litert_options() -> str:
    """What to install where, as the wheel's markers choose (docs: README's platform matrix)."""
    import platform

    if platform.system() == "Linux" and platform.machine() in ("aarch64", "arm64"):
        return ("on Linux aarch64 ai-edge-litert has wheels for Python 3.9-3.12 only: use one of those Pythons "
                "(pip install 'ai-edge-litert>=1.4,<2'), or install tflite-runtime, or build LiteRT from source")
    return ("pip install 'ai-edge-litert>=2,<3' (wheels: Linux x86_64, macOS arm64, Windows x86_64, Python 3.10-3.14); "
            "elsewhere install tflite-runtime or build LiteRT from source")


#: Largest .tflite file edgekit reads (bundled models are 1-40 MB); guards against reading a huge
#: or endless file by mistake.
MAX_MODEL_BYTES = 1 << 30


def read_model_bytes(model_path: Union[str, os.PathLike], missing_hint: str = "") -> bytes:
    """The bytes of ``model_path`` (a regular file of at most :data:`MAX_MODEL_BYTES`); ModelError otherwise."""
    hint = missing_hint or "check the path, or list bundled models with `edgekit models`"
    return read_regular(model_path, MAX_MODEL_BYTES, "model file", ModelError, hint, missing="model file not found")


def check_flatbuffer(content: bytes, subject: object) -> bytes:
    """``content`` when it carries the ``TFL3`` flatbuffer identifier; ModelError naming ``subject`` otherwise."""
    if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
        raise ModelError(
            "not a TFLite model (missing the TFL3 flatbuffer identifier)",
            subject=subject,
            hint="pass a .tflite file produced by the TFLite/LiteRT converter",
        )
    return content


def read_tflite(model_path: Union[str, os.PathLike], missing_hint: str = "") -> bytes:
    """The bytes of ``model_path`` after checking it is a regular file holding a TFLite flatbuffer."""
    return check_flatbuffer(read_model_bytes(model_path, missing_hint), Path(model_path))


def check_tflite_file(model_path: Union[str, os.PathLike]) -> Path:
    """``model_path`` as a Path after :func:`read_tflite`'s checks (missing, not a file, not TFLite)."""
    read_tflite(model_path)
    return Path(model_path)




class DelegateFallbackWarning(RuntimeWarning):
    """XNNPACK refused a model's graph, so LiteRT's (slower) built-in kernels run it."""


def is_delegate_failure(exc: Exception) -> bool:
    """Whether a LiteRT load error is XNNPACK refusing the graph (the built-in kernels can still run it)."""
    text = str(exc)
    return "XNNPACK" in text.upper() and ("Delegate" in text or "delegate" in text)


def allocate(content: bytes, num_threads: int, delegates: bool = True) -> Any:
    """A LiteRT ``Interpreter`` for the checked model bytes with tensors allocated;
    ``delegates=False`` runs the built-in kernels only (no XNNPACK). LiteRT's own errors pass through."""
    module = interpreter_module()
    kwargs: Dict[str, Any] = {}
    if not delegates:
        kwargs["experimental_op_resolver_type"] = module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = module.Interpreter(model_content=content, num_threads=num_threads, **kwargs)
    with _quiet_first_delegate_log():
        interpreter.allocate_tensors()
    return interpreter


def first_line(exc: Exception) -> str:
    """The first line of an exception's message (its type name when the message is empty)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def make_interpreter(model: Any, num_threads: int = 1) -> Any:
    """Load a model into a LiteRT ``Interpreter`` with tensors allocated.

    The XNNPACK delegate runs the graph when it accepts it; when it refuses (e.g. an INT8 op
    whose requantization scale it does not support), the built-in kernels run it instead and a
    :class:`DelegateFallbackWarning` says so: same results, slower.

    Args:
        model: a :class:`edgekit.registry.ModelFile` (bytes already read and sha256-checked: they
            are loaded as they are, the path is not opened again) or the path of a ``.tflite`` file.
        num_threads: CPU threads the interpreter may use (>= 1).

    Raises:
        ConfigError: ``num_threads`` is not an integer in [1, MAX_THREADS].
        ModelError: the file is missing, truncated or not a TFLite model.
    """
    THREADS("num_threads", num_threads)
    content = getattr(model, "content", None)
    path = Path(getattr(model, "path", model))
    if content is None:
        content = read_tflite(path)
    try:
        try:
            return allocate(content, num_threads, delegates=True)
        except (ValueError, RuntimeError) as exc:
            if not is_delegate_failure(exc):
                raise
            interpreter = allocate(content, num_threads, delegates=False)
            warnings.warn(f"{path}: XNNPACK refused this graph ({first_line(exc)}); LiteRT's built-in kernels run it "
                          "instead (same results, slower)", DelegateFallbackWarning, stacklevel=2)
            return interpreter
    except (ValueError, RuntimeError) as exc:
        raise ModelError(
            f"LiteRT cannot load this model ({first_line(exc)})",
            subject=path,
            hint="the file is truncated or corrupt: re-export or re-install it",
        ) from None


class LiteRTModel:
    """The lifecycle every model wrapper shares: one interpreter (:meth:`_load`), used by one
    thread at a time (``with self._use:`` around each run; a second thread gets
    ConcurrentUseError), :meth:`close` (later calls raise ConfigError) and the context manager."""

    _interpreter: Any = None

    def _load(self, model: Any, num_threads: int) -> Any:
        """Open ``model`` (a checked ModelFile or a path); returns the interpreter."""
        from .exclusive import ExclusiveUse

        self._interpreter = make_interpreter(model, num_threads)
        self._use = ExclusiveUse(type(self).__name__)
        return self._interpreter

    def close(self) -> None:
        """Release the interpreter; later calls raise ConfigError."""
        self._use.close()
        self._interpreter = None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_delegate_log_lock = threading.Lock()
_delegate_log_done = False


@contextlib.contextmanager
def _quiet_first_delegate_log():
    """Keep LiteRT's once-per-process ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``
    off stderr (no environment variable silences it). It is printed by native code during the
    first ``allocate_tensors`` of the process, so only that call runs with file descriptor 2
    pointed at /dev/null; every later call, and every other error path, is untouched."""
    global _delegate_log_done
    if _delegate_log_done:
        yield
        return
    with _delegate_log_lock:
        if _delegate_log_done:
            yield
            return
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable fd 2 (embedded interpreters): nothing to hide
            _delegate_log_done = True
            yield
            return
        try:
            with open(os.devnull, "wb") as devnull:
                os.dup2(devnull.fileno(), 2)
                try:
                    yield
                finally:
                    os.dup2(saved, 2)
        finally:
            os.close(saved)
            _delegate_log_done = True


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape, dtype and per-tensor quantization of one interpreter tensor.

    ``scale == 0`` means the tensor is not quantized (float).
    """

    name: str
    index: int
    shape: Tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int

    @classmethod
    def from_detail(cls, detail: Dict[str, Any]) -> "TensorSpec":
        scale, zero_point = detail.get("quantization", (0.0, 0))
        return cls(
            name=str(detail["name"]),
            index=int(detail["index"]),
            shape=tuple(int(d) for d in detail["shape"]),
            dtype=np.dtype(detail["dtype"]),
            scale=float(scale),
            zero_point=int(zero_point),
        )

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and self.dtype.kind in "iu"


def resize_batch(interpreter: Any, spec: TensorSpec, batch: int) -> bool:
    """Give the input ``spec`` a batch of ``batch`` and re-allocate, so that one invoke runs several
    views of a crop (a crop and its mirror image: the same numbers as two invokes, less time).
    True when every output now has that batch too; otherwise (a model with a fixed batch of 1,
    a delegate that cannot re-prepare) the input is put back to batch 1 and False is returned."""
    try:
        interpreter.resize_tensor_input(spec.index, [batch, *spec.shape[1:]])
        interpreter.allocate_tensors()
        if all(int(o["shape"][0]) == batch for o in interpreter.get_output_details()):
            return True
    except (ValueError, RuntimeError):
        pass
    interpreter.resize_tensor_input(spec.index, list(spec.shape))
    interpreter.allocate_tensors()
    return False


def mirror_views(run: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                 batched: bool) -> Tuple[np.ndarray, np.ndarray]:
    """``run``'s flat outputs for the ``[1, H, W, C]`` batch ``x`` and for its mirror image: one
    call on both stacked when the interpreter takes a batch of 2 (``batched``, see
    :func:`resize_batch`), else two calls."""
    mirrored = x[:, :, ::-1]
    if batched:
        both = run(np.concatenate([x, mirrored])).reshape(2, -1)
        return both[0], both[1]
    return run(x), run(mirrored)


def input_specs(interpreter: Any) -> List[TensorSpec]:
    return [TensorSpec.from_detail(d) for d in interpreter.get_input_details()]


def output_specs(interpreter: Any) -> List[TensorSpec]:
    return [TensorSpec.from_detail(d) for d in interpreter.get_output_details()]


def quantize(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Real values -> ``spec.dtype`` with the tensor's own scale/zero point (identity cast if float)."""
    values = np.asarray(values)
    if not spec.quantized:
        return values.astype(spec.dtype, copy=False)
    info = np.iinfo(spec.dtype)
    q = np.rint(values.astype(np.float32) / spec.scale + spec.zero_point)
    return np.clip(q, info.min, info.max).astype(spec.dtype)


def dequantize(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """``spec.dtype`` values -> float32 real values with the tensor's own scale/zero point."""
    values = np.asarray(values)
    if not spec.quantized:
        return values.astype(np.float32, copy=False)
    return (values.astype(np.float32) - spec.zero_point) * np.float32(spec.scale)


def associated_files(model: Any) -> Dict[str, bytes]:
    """Files packed into a ``.tflite`` by the TFLite metadata writer (name -> content).

    ``model``: a path, or a :class:`edgekit.registry.ModelFile` (its checked bytes are used). A
    model with metadata is the flatbuffer followed by a zip archive of its associated files
    (label files, vocabularies), so ``zipfile`` reads them without the metadata schema. Returns
    an empty dict for models without associated files.
    """
    content = getattr(model, "content", None)
    subject = getattr(model, "path", model)
    data = content if content is not None else Path(subject).read_bytes()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise ModelError(f"associated files are unreadable ({exc})", subject=subject,
                         hint="re-export the model with its metadata") from None


def read_label_lines(content: bytes) -> List[str]:
    """Non-empty, stripped lines of a label file (UTF-8)."""
    return [line.strip() for line in content.decode("utf-8").splitlines() if line.strip()]


def find_labels(model: Any, count: Optional[int] = None) -> Optional[List[str]]:
    """Labels from the model's associated label file, or None when it has none.

    ``model``: a path or a :class:`edgekit.registry.ModelFile`. Picks the associated ``.txt`` file
    whose name mentions "label" (else the only ``.txt``); when ``count`` is given only files with
    exactly that many lines qualify.
    """
    texts = {name: read_label_lines(content) for name, content in associated_files(model).items()
             if name.lower().endswith(".txt")}
    if count is not None:
        texts = {name: lines for name, lines in texts.items() if len(lines) == count}
    preferred = [name for name in sorted(texts) if "label" in name.lower()] or sorted(texts)
    return texts[preferred[0]] if preferred else None
