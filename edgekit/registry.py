"""Model registry: ``edgekit/models/manifest.json`` is the single list of models edgekit can load.

- ``"models"``: files bundled in ``edgekit/models/`` (the emotion classifier). Every load checks the
  file's sha256 against its entry. Entries are written only by :func:`register_model` (the
  training toolchain calls it after exporting) and their companion files by
  :func:`register_companion`, so there is one writer of the format.
- ``"external"``: MediaPipe's BlazeFace / face-mesh ``.tflite`` files (Apache-2.0), packaged in
  ``edgekit/models/third_party/`` from the pinned ``mediapipe==0.10.21`` wheel archive at build
  time (``python -m converters.thirdparty``; never committed), and sha256-checked like the rest.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from .errors import ConfigError, ModelError, ModelIntegrityError
from .paths import read_regular, write_output

if TYPE_CHECKING:
    import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / "models"
MANIFEST_PATH = MODELS_DIR / "manifest.json"
SCHEMA = 1

PathLike = Union[str, os.PathLike]

_write_lock = threading.Lock()


@dataclass(frozen=True)
class InputSpec:
    """What a model's input tensor expects: size, channels, color order, dtype and value range
    (``color="gray"`` with 3 channels means luma copied into all three; :meth:`convert`)."""

    height: int
    width: int
    channels: int = 3
    color: str = "rgb"  # "rgb", "bgr" or "gray"
    dtype: str = "uint8"
    range: Tuple[float, float] = (0.0, 255.0)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "InputSpec":
        return cls(
            height=int(d["height"]),
            width=int(d["width"]),
            channels=int(d.get("channels", 3)),
            color=str(d.get("color", "rgb" if int(d.get("channels", 3)) == 3 else "gray")),
            dtype=str(d.get("dtype", "uint8")),
            range=tuple(float(v) for v in d.get("range", (0, 255))),  # type: ignore[arg-type]
        )

    def convert(self, bgr: "np.ndarray") -> "np.ndarray":
        """A BGR uint8 image in this input's colour layout (HxW for 1 channel, HxWx3 otherwise)."""
        import cv2

        if self.color == "gray" or self.channels == 1:
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            return gray if self.channels == 1 else cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if self.color == "rgb" else bgr

    def to_dict(self) -> Dict[str, Any]:
        return {
            "height": self.height,
            "width": self.width,
            "channels": self.channels,
            "color": self.color,
            "dtype": self.dtype,
            "range": [_num(v) for v in self.range],
        }


@dataclass(frozen=True)
class ModelInfo:
    """One ``"models"`` entry of the manifest, with its resolved ``path``."""

    name: str
    file: str
    path: Path
    bytes: int
    sha256: str
    task: str
    input: Optional[InputSpec]
    labels: Tuple[str, ...]
    produced_by: str
    report: str
    description: str

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "path": str(self.path),
            "bytes": self.bytes,
            "sha256": self.sha256,
            "task": self.task,
            "input": self.input.to_dict() if self.input else None,
            "labels": list(self.labels),
            "produced_by": self.produced_by,
            "report": self.report,
            "description": self.description,
        }


def _num(v: float) -> Union[int, float]:
    return int(v) if float(v).is_integer() else float(v)


# ------------------------------------------------------------------------------------ manifest


def is_model_path(model: PathLike) -> bool:
    """True when ``model`` names a ``.tflite`` file rather than a manifest entry.

    Only what clearly is a path counts as one: a path object, or a string ending in ``.tflite`` or
    containing a separator. A bare name (``"emotion"``) is always a manifest name, even when a file
    of that name exists in the working directory (pass ``./emotion`` to load such a file).
    """
    if isinstance(model, os.PathLike):
        return True
    return model.endswith(".tflite") or os.sep in model or "/" in model or bool(os.altsep and os.altsep in model)


def load_manifest(manifest_path: Optional[PathLike] = None) -> Dict[str, Any]:
    """Parsed manifest (``{"schema", "models", "external"}``); a missing file reads as empty."""
    path = Path(manifest_path) if manifest_path else MANIFEST_PATH
    if not path.is_file():
        return {"schema": SCHEMA, "models": {}, "external": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model manifest is unreadable ({exc})", subject=path, hint="restore it from git") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ModelError(f"unsupported manifest schema {data.get('schema') if isinstance(data, dict) else None!r}",
                         subject=path, hint=f"this edgekit reads schema {SCHEMA}; restore the file from git")
    data.setdefault("models", {})
    data.setdefault("external", {})
    return data


def sha256_file(path: PathLike) -> str:
    """Hex sha256 of a file's bytes (read now: never cached, so a changed file is always seen)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelFile:
    """A model read once: the bytes that were hashed are the bytes LiteRT loads (no re-open of
    the path between the check and the load)."""

    path: Path
    content: bytes = field(repr=False)
    sha256: str
    info: Optional["ModelInfo"] = None  # the manifest entry (by name, or matched by sha256 for a path)


def _read_checked(path: Path, expected: Optional[str], fix: str) -> ModelFile:
    from . import litert  # local import: LiteRT's module only, never the interpreter wheel here

    content = litert.read_model_bytes(path, missing_hint=fix)
    actual = hashlib.sha256(content).hexdigest()
    if expected is not None and actual != expected:
        raise ModelIntegrityError(f"sha256 mismatch: manifest expects {expected}, file has {actual}", subject=path,
                                  hint=fix)
    return ModelFile(path, litert.check_flatbuffer(content, path), actual)


def _entry_info(name: str, entry: Dict[str, Any], base: Path) -> ModelInfo:
    return ModelInfo(
        name=name,
        file=str(entry["file"]),
        path=base / entry["file"],
        bytes=int(entry.get("bytes", 0)),
        sha256=str(entry["sha256"]),
        task=str(entry.get("task", "")),
        input=InputSpec.from_dict(entry["input"]) if entry.get("input") else None,
        labels=tuple(entry.get("labels", ())),
        produced_by=str(entry.get("produced_by", "")),
        report=str(entry.get("report", "")),
        description=str(entry.get("description", "")),
    )


def list_models(manifest_path: Optional[PathLike] = None) -> List[ModelInfo]:
    """Every bundled model of the manifest (not verified: use :func:`model_path` to load one)."""
    path = Path(manifest_path) if manifest_path else MANIFEST_PATH
    models = load_manifest(path)["models"]
    return [_entry_info(name, entry, path.parent) for name, entry in sorted(models.items())]


def _shown(name: str) -> str:
    """``repr(name)``, shortened for names too long to print whole."""
    return repr(name) if len(name) <= 80 else repr(name[:60]) + f"... ({len(name)} characters)"


def model_info(name: str, manifest_path: Optional[PathLike] = None) -> ModelInfo:
    """Manifest entry of bundled model ``name``; unknown names raise :class:`ConfigError`."""
    infos = {info.name: info for info in list_models(manifest_path)}
    if name not in infos:
        valid = ", ".join(sorted(infos)) or "none: no model is registered yet"
        raise ConfigError(f"unknown model name {_shown(name)} (valid names: {valid})",
                          hint="pass a registered name or a .tflite path")
    return infos[name]


def model_path(name: str, manifest_path: Optional[PathLike] = None) -> Path:
    """Path of bundled model ``name`` after checking its sha256 against the manifest.

    Raises:
        ConfigError: ``name`` is not in the manifest (the message lists valid names).
        ModelError: the file is missing.
        ModelIntegrityError: the file's sha256 differs from the manifest's.
    """
    info = model_info(name, manifest_path)
    return _read_checked(info.path, info.sha256, _fix(info)).path


def _fix(info: ModelInfo) -> str:
    """What restores a bundled file of ``info``: a reinstall, or the command that produced it."""
    return f"reinstall edgekit, or regenerate it with `{info.produced_by}`" if info.produced_by else "reinstall edgekit"


def load_model(model: PathLike, manifest_path: Optional[PathLike] = None, produce_hint: str = "") -> ModelFile:
    """The one resolver: a manifest name or a ``.tflite`` path -> its bytes, sha256 and manifest entry.

    A name is looked up in the manifest and its bytes checked against the entry's sha256; a path
    (see :func:`is_model_path`) is read as is and matched to a manifest entry by sha256, if any.

    Raises:
        ConfigError: ``model`` is neither a string nor a path, or an unknown name (valid names listed).
        ModelError: no model registered yet, the file is missing, unreadable or not a TFLite model.
        ModelIntegrityError: a named model's bytes differ from the manifest's sha256.
    """
    if not isinstance(model, (str, os.PathLike)):
        raise ConfigError(f"model must be a manifest name or a .tflite path, got {type(model).__name__}",
                          hint=produce_hint or "pass a registered name (see `edgekit models`) or a .tflite path")
    infos = list_models(manifest_path)
    if is_model_path(model):
        loaded = _read_checked(Path(model), None, "check the path, or list bundled models with `edgekit models`")
        return replace(loaded, info=next((info for info in infos if info.sha256 == loaded.sha256), None))
    known = {info.name: info for info in infos}
    if not known:
        raise ModelError(f"no bundled model named {model!r}: the model manifest lists no model yet",
                         subject=Path(manifest_path) if manifest_path else MANIFEST_PATH, hint=produce_hint)
    info = known.get(str(model))
    if info is None:
        raise ConfigError(f"unknown model name {_shown(str(model))} (valid names: {', '.join(sorted(known))})",
                          hint=f"pass a registered name or a .tflite path; {produce_hint}" if produce_hint
                          else "pass a registered name or a .tflite path")
    return replace(_read_checked(info.path, info.sha256, _fix(info)), info=info)


def companion_files(name: str, manifest_path: Optional[PathLike] = None) -> Dict[str, Dict[str, Any]]:
    """Files a bundled model needs besides its ``.tflite`` (manifest sub-entries with ``file`` and
    ``sha256``, e.g. the caption model's ``tokenizer``): key -> entry."""
    entry = load_manifest(manifest_path)["models"].get(name, {})
    return {key: value for key, value in sorted(entry.items())
            if isinstance(value, dict) and "file" in value and "sha256" in value}


def load_companion(name: str, key: str, manifest_path: Optional[PathLike] = None) -> Tuple[Path, bytes]:
    """Path and bytes of companion file ``key`` of bundled model ``name``, sha256-checked on the
    bytes returned (read once, like :func:`load_model`).

    Raises:
        ModelError: the manifest has no such companion, or the file is missing or unreadable.
        ModelIntegrityError: its bytes differ from the manifest's sha256.
    """
    info = model_info(name, manifest_path)
    entry = companion_files(name, manifest_path).get(key)
    fix = _fix(info)
    if entry is None:
        raise ModelError(f"the manifest entry of {name!r} has no {key!r} file",
                         subject=Path(manifest_path or MANIFEST_PATH), hint=fix)
    path = info.path.parent / str(entry["file"])
    from . import litert  # local import, as in _read_checked

    content = read_regular(path, litert.MAX_MODEL_BYTES, f"{key} file", ModelError, fix,
                           missing=f"{key} file not found")
    actual = hashlib.sha256(content).hexdigest()
    if actual != entry["sha256"]:
        raise ModelIntegrityError(f"sha256 mismatch: manifest expects {entry['sha256']}, file has {actual}",
                                  subject=path, hint=fix)
    return path, content


def register_model(name: str, tflite_path: PathLike, *, manifest_path: Optional[PathLike] = None,
                   **fields: Any) -> ModelInfo:
    """Write or update the manifest entry of ``name`` for ``tflite_path`` (no file is copied).

    ``tflite_path`` must already lie in the manifest's directory (``edgekit/models/``) so it
    ships in the wheel. ``sha256``, ``bytes`` and ``file`` are computed here; other ``fields``
    (``task``, ``input`` as a dict or :class:`InputSpec`, ``labels``, ``produced_by``, ``report``,
    ``description``, ...) replace the entry's previous values. When the model's bytes change, its
    companion files (sub-entries with ``file`` and ``sha256``, such as the emotion model's ``cam``)
    are dropped unless ``fields`` passes them again: they were built from the old model, and a new
    one must be built and registered (:func:`register_companion`). The manifest is rewritten
    atomically (temporary file + ``os.replace``).
    """
    manifest_file = Path(manifest_path) if manifest_path else MANIFEST_PATH
    model_file = Path(tflite_path).resolve()
    base = manifest_file.parent.resolve()
    if model_file.parent != base:
        raise ConfigError(
            f"model file is not in the manifest directory {base}",
            subject=tflite_path,
            hint="write the exported .tflite into edgekit/models/ first, then register it",
        )
    for key in ("sha256", "bytes", "file"):
        if key in fields:
            raise ConfigError(f"register_model computes {key!r} itself", subject=key, hint="do not pass it")
    if fields.get("input", "inspect") is not None:  # input=None: a non-image model (e.g. the caption GPT)
        spec, labels = inspect_model(model_file)
        fields.setdefault("input", spec)
        if labels and "labels" not in fields:
            fields["labels"] = labels
    if isinstance(fields.get("input"), InputSpec):
        fields["input"] = fields["input"].to_dict()
    if "labels" in fields:
        fields["labels"] = [str(label) for label in fields["labels"]]
    with _write_lock:
        manifest = load_manifest(manifest_file)
        entry = dict(manifest["models"].get(name, {}))
        digest = sha256_file(model_file)
        if entry.get("sha256") != digest:  # a new model: companions built from the old one no longer fit
            entry = {key: value for key, value in entry.items() if not _is_companion(value)}
        entry.update(file=model_file.name, sha256=digest, bytes=model_file.stat().st_size)
        entry.update(fields)
        manifest["models"][name] = entry
        write_manifest(manifest, manifest_file)
    return _entry_info(name, entry, base)


def _is_companion(value: Any) -> bool:
    return isinstance(value, dict) and "file" in value and "sha256" in value


def register_companion(name: str, key: str, path: PathLike, *, manifest_path: Optional[PathLike] = None,
                       **fields: Any) -> Dict[str, Any]:
    """Write companion file ``key`` (e.g. ``"cam"``) of the registered model ``name``: the sub-entry
    ``{"file", "sha256", "bytes", "model_sha256", **fields}`` (``produced_by``, ``description``, ...),
    replacing the previous one; the model's own fields are left alone. ``model_sha256`` is the model
    entry's sha256 now: the model the companion was built for (:func:`register_model` drops the
    companion when the model changes). ``path`` must already lie in the manifest's directory.
    Returns the sub-entry written.

    Raises:
        ConfigError: ``path`` is outside the manifest directory, ``key`` names one of the entry's
            own fields, or ``fields`` passes a computed one.
        ModelError: ``name`` has no manifest entry yet (register the model first).
    """
    manifest_file = Path(manifest_path) if manifest_path else MANIFEST_PATH
    companion = Path(path).resolve()
    base = manifest_file.parent.resolve()
    if companion.parent != base:
        raise ConfigError(f"companion file is not in the manifest directory {base}", subject=path,
                          hint="copy it into edgekit/models/ first, then register it")
    if key in {f.name for f in ModelInfo.__dataclass_fields__.values()} | {"bytes", "input"}:
        raise ConfigError(f"{key!r} is a field of the model entry, not a companion name", subject=key,
                          hint="pick another key (e.g. 'cam')")
    for computed in ("sha256", "bytes", "file", "model_sha256"):
        if computed in fields:
            raise ConfigError(f"register_companion computes {computed!r} itself", subject=computed,
                              hint="do not pass it")
    with _write_lock:
        manifest = load_manifest(manifest_file)
        entry = manifest["models"].get(name)
        if entry is None:
            raise ModelError(f"no manifest entry named {name!r} to add a {key!r} file to", subject=manifest_file,
                             hint="register the model first (register_model)")
        sub = {"file": companion.name, "sha256": sha256_file(companion), "bytes": companion.stat().st_size,
               "model_sha256": entry["sha256"], **fields}
        manifest["models"][name] = {**entry, key: sub}
        write_manifest(manifest, manifest_file)
    return sub


def inspect_model(tflite_path: PathLike) -> Tuple[InputSpec, List[str]]:
    """Input spec and metadata labels read from a ``.tflite`` (image models [1, H, W, C] only).

    ``color`` is "rgb" for 3 channels (the emotion model contract) and "gray" for 1.
    """
    from . import litert  # local import: only writers and loaders of new models need LiteRT

    interpreter = litert.make_interpreter(tflite_path)
    inp = litert.input_specs(interpreter)[0]
    out = litert.output_specs(interpreter)[0]
    if len(inp.shape) != 4 or inp.shape[0] != 1 or inp.shape[3] not in (1, 3):
        raise ModelError(f"input tensor shape {list(inp.shape)} is not [1, H, W, 1|3]", subject=tflite_path,
                         hint="export the model with one NHWC image input")
    channels = inp.shape[3]
    spec = InputSpec(height=inp.shape[1], width=inp.shape[2], channels=channels,
                     color="rgb" if channels == 3 else "gray",
                     dtype=inp.dtype.name, range=(0.0, 255.0))
    labels = litert.find_labels(tflite_path, count=int(out.shape[-1])) or []
    return spec, labels


def write_manifest(manifest: Dict[str, Any], manifest_path: Optional[PathLike] = None) -> None:
    """Atomically replace the manifest file with ``manifest`` (sorted keys, 2-space indent)."""
    path = Path(manifest_path) if manifest_path else MANIFEST_PATH
    data = copy.deepcopy(manifest)
    data["schema"] = SCHEMA
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    # 0644: the manifest is package data everyone reads
    write_output(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), mode=0o644, durable=True)


# ------------------------------------------------------------------------------ third-party files

#: What fixes a missing third-party file: a source checkout runs the build step, a wheel has them.
THIRD_PARTY_FIX = ("run `python -m converters.thirdparty` in a source checkout (make demo does), "
                   "or reinstall the edgekit wheel, which ships these files")


def third_party_model_path(key: str, manifest_path: Optional[PathLike] = None) -> Path:
    """Path of MediaPipe model ``key`` (manifest ``"external"`` section) after a sha256 check
    (see :func:`load_third_party`, which also returns the checked bytes)."""
    return load_third_party(key, manifest_path).path


def load_third_party(key: str, manifest_path: Optional[PathLike] = None) -> ModelFile:
    """MediaPipe model ``key`` (manifest ``"external"`` section), read once and sha256-checked.

    The files (BlazeFace, face mesh; Apache-2.0) are packaged in ``edgekit/models/third_party/``
    from the pinned ``mediapipe==0.10.21`` wheel archive at build time; the mediapipe library is
    never needed.

    Raises:
        ConfigError: unknown ``key`` (the message lists valid keys).
        ModelError: the file is missing (not built into this checkout or install).
        ModelIntegrityError: the file differs from the one the manifest was written for.
    """
    external = load_manifest(manifest_path)["external"]
    if key not in external:
        raise ConfigError(f"unknown MediaPipe model {key!r} (valid: {', '.join(sorted(external))})",
                          hint="use one of the valid names")
    entry = external[key]
    return _read_checked(MODELS_DIR / entry["file"], entry["sha256"],
                         THIRD_PARTY_FIX)  # package data, wherever the manifest is
