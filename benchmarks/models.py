"""Which ``.tflite`` files a benchmark run covers: shipped models, toolchain variants, user additions.

Every model has a key ``<family>/<variant>``:

- ``detector/short_range_fp32``, ``detector/full_range_fp32``: MediaPipe BlazeFace (float only;
  there is no pruned or INT8 BlazeFace);
- ``emotion/shipped`` (``edgekit/models``) and the toolchain's variants
  ``emotion/{float_fp32,float_int8_ptq,pruned_fp32,pruned_int8_ptq,pruned_int8_qat}``, written by
  ``python -m converters.emotion all`` to ``<out>/tflite/<variant>.tflite``, where ``<out>`` is the
  ``--out`` of the command that produced the shipped model (its manifest ``produced_by``;
  ``runs/emotion`` by default), so the variants benchmarked are the shipped model's siblings;
- ``caption/shipped`` and ``caption/{float_fp32,pruned_fp32,pruned_int8}``, written by
  ``python -m converters.caption all`` to ``build/caption/`` (``runs/caption/`` is searched too).

A toolchain variant that is not on disk is *skipped* (listed in the report with the command
that produces it), never replaced by another file. A model the user names explicitly
(``--model KEY=PATH``) that is missing or unloadable is an *error*.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from edgekit import registry
from edgekit.errors import EdgekitError

from .report import ROOT

FAMILIES = ("detector", "emotion", "caption")
EMOTION_VARIANTS = ("float_fp32", "float_int8_ptq", "pruned_fp32", "pruned_int8_ptq", "pruned_int8_qat")
CAPTION_FILES = {"float_fp32": "caption_float.tflite", "pruned_fp32": "caption_pruned_float.tflite",
                 "pruned_int8": "caption_pruned_int8.tflite"}
DETECTORS = {"short_range_fp32": ("face_short_range", "short_range"),
             "full_range_fp32": ("face_full_range", "full_range")}


def shipped_emotion_run_dir(manifest_path: Optional[Path] = None) -> Path:
    """``<out>/tflite`` of the toolchain run that produced the shipped emotion model: the ``--out``
    in its manifest ``produced_by`` command (``runs/emotion``, the toolchain's default, without one)."""
    import shlex

    try:
        words = shlex.split(registry.model_info("emotion", manifest_path).produced_by or "")
    except (EdgekitError, ValueError):
        words = []
    out = next((b for a, b in zip(words, words[1:]) if a == "--out"), "runs/emotion")
    return ROOT / out / "tflite"


DEFAULT_EMOTION_DIR = shipped_emotion_run_dir()
DEFAULT_CAPTION_DIRS = (ROOT / "build" / "caption", ROOT / "runs" / "caption")
EMOTION_COMMAND = "python -m converters.emotion all --data ../shared/data/ferplus"
CAPTION_COMMAND = "python -m converters.caption all"


@dataclass(frozen=True)
class ModelFile:
    """One model to benchmark."""

    key: str
    path: Path
    origin: str  # "shipped", "toolchain" or "user"

    @property
    def family(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def variant(self) -> str:
        return self.key.split("/", 1)[1]

    @property
    def detector_option(self) -> Optional[str]:
        """``PipelineOptions.detector_model`` value for a detector key."""
        return DETECTORS[self.variant][1] if self.family == "detector" and self.variant in DETECTORS else None


@dataclass
class ModelSet:
    models: List[ModelFile]
    skipped: List[Dict[str, str]]
    errors: List[Dict[str, str]]

    def family(self, name: str) -> List[ModelFile]:
        return [m for m in self.models if m.family == name]

    def get(self, key: str) -> Optional[ModelFile]:
        return next((m for m in self.models if m.key == key), None)


def parse_model_arg(text: str) -> Tuple[str, Path]:
    """``KEY=PATH`` (``--model``); a KEY without ``family/`` is an emotion variant."""
    key, sep, path = text.partition("=")
    if not sep or not key or not path:
        raise ValueError(f"expected KEY=PATH (e.g. emotion/relu_pruned=/tmp/m.tflite), got {text!r}")
    if "/" not in key:
        key = f"emotion/{key}"
    if key.split("/", 1)[0] not in FAMILIES:
        raise ValueError(f"model family of {key!r} must be one of {', '.join(FAMILIES)}")
    return key, Path(path).expanduser()


def _shipped(skipped: List[Dict[str, str]], families: Sequence[str]) -> List[ModelFile]:
    found = []
    if "detector" in families:
        for variant, (manifest_key, _) in DETECTORS.items():
            try:
                found.append(ModelFile(f"detector/{variant}", registry.third_party_model_path(manifest_key), "shipped"))
            except EdgekitError as exc:
                skipped.append({"what": f"detector/{variant}", "reason": str(exc)})
    for family in ("emotion", "caption"):
        if family not in families:
            continue
        try:
            found.append(ModelFile(f"{family}/shipped", registry.model_path(family), "shipped"))
        except EdgekitError as exc:
            skipped.append({"what": f"{family}/shipped", "reason": str(exc)})
    return found


def _toolchain(emotion_dir: Path, caption_dirs: Sequence[Path], skipped: List[Dict[str, str]],
               families: Sequence[str]) -> List[ModelFile]:
    found = []
    if "emotion" in families:
        for variant in EMOTION_VARIANTS:
            path = emotion_dir / f"{variant}.tflite"
            if path.is_file():
                found.append(ModelFile(f"emotion/{variant}", path, "toolchain"))
            else:
                skipped.append({"what": f"emotion/{variant}",
                                "reason": f"not found at {_rel(path)} (produced by `{EMOTION_COMMAND}`)"})
    if "caption" in families:
        for variant, name in CAPTION_FILES.items():
            path = next((d / name for d in caption_dirs if (d / name).is_file()), None)
            if path is not None:
                found.append(ModelFile(f"caption/{variant}", path, "toolchain"))
            else:
                where = " or ".join(_rel(d / name) for d in caption_dirs)
                skipped.append({"what": f"caption/{variant}",
                                "reason": f"not found at {where} (produced by `{CAPTION_COMMAND}`)"})
    return found


def inventory(models: Iterable[ModelFile]) -> Dict[str, Dict[str, object]]:
    """``{key: {path, origin, bytes, sha256}}`` for the report's config."""
    return {m.key: {"path": _rel(m.path), "origin": m.origin, "bytes": m.path.stat().st_size,
                    "sha256": registry.sha256_file(m.path)} for m in models}


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def discover(emotion_dir: Path = DEFAULT_EMOTION_DIR, caption_dirs: Sequence[Path] = DEFAULT_CAPTION_DIRS,
             extra: Iterable[Tuple[str, Path]] = (), families: Sequence[str] = FAMILIES,
             include_toolchain: bool = True) -> ModelSet:
    """Shipped models + toolchain variants found on disk + user-named files (which replace a
    discovered file with the same key). User files are checked to be TFLite flatbuffers."""
    from edgekit.litert import check_tflite_file

    skipped: List[Dict[str, str]] = []
    errors: List[Dict[str, str]] = []
    models = _shipped(skipped, families)
    if include_toolchain:
        models += _toolchain(Path(emotion_dir), caption_dirs, skipped, families)
    for key, path in extra:
        try:
            check_tflite_file(path)
        except EdgekitError as exc:
            errors.append({"what": key, "error": str(exc)})
            continue
        models = [m for m in models if m.key != key] + [ModelFile(key, path, "user")]
        skipped = [s for s in skipped if s["what"] != key]
    return ModelSet(sorted(models, key=_order), skipped, errors)


def _order(model: ModelFile) -> Tuple[int, int, str]:
    """Families in FAMILIES order; inside one: shipped, the known variants in order, then others."""
    known = ["shipped", *DETECTORS, *EMOTION_VARIANTS, *CAPTION_FILES]
    rank = known.index(model.variant) if model.variant in known else len(known)
    return FAMILIES.index(model.family), rank, model.variant
