"""The comparisons that show what pruning and INT8 bought, as :class:`benchmarks.report.Ratio` specs.

Both sides of a ratio come from the same run (same machine, same load), so they are comparable
even when absolute numbers are not. Ratios below 1.0 mean the first variant is faster/smaller.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

from .report import Ratio

#: (description, numerator model key, denominator model key)
MODEL_PAIRS: Tuple[Tuple[str, str, str], ...] = (
    ("emotion: pruned / unpruned, FP32", "emotion/pruned_fp32", "emotion/float_fp32"),
    ("emotion: pruned / unpruned, INT8 PTQ", "emotion/pruned_int8_ptq", "emotion/float_int8_ptq"),
    ("emotion: INT8 PTQ / FP32, unpruned", "emotion/float_int8_ptq", "emotion/float_fp32"),
    ("emotion: INT8 PTQ / FP32, pruned", "emotion/pruned_int8_ptq", "emotion/pruned_fp32"),
    ("emotion: INT8 QAT / FP32, pruned", "emotion/pruned_int8_qat", "emotion/pruned_fp32"),
    ("emotion: pruned INT8 QAT / unpruned FP32", "emotion/pruned_int8_qat", "emotion/float_fp32"),
    ("caption: pruned / unpruned, FP32", "caption/pruned_fp32", "caption/float_fp32"),
    ("caption: INT8 / FP32, pruned", "caption/pruned_int8", "caption/pruned_fp32"),
    ("caption: pruned INT8 / unpruned FP32", "caption/pruned_int8", "caption/float_fp32"),
)


def model_ratios(name: str, stat: str, common: Dict[str, Any], param: str = "model",
                 pairs: Sequence[Tuple[str, str, str]] = MODEL_PAIRS) -> List[Ratio]:
    """One ratio per pair on measurement ``name`` whose ``param`` holds the model key (``"emotion"``:
    the pipeline's emotion model, so only the emotion pairs apply)."""
    return [Ratio(desc, name, stat, {param: a}, {param: b}, dict(common))
            for desc, a, b in pairs if param != "emotion" or a.startswith("emotion/")]


def keep_computable(evaluated: List[Dict[str, Any]],
                    keep_missing: Callable[[Dict[str, Any]], bool]) -> List[Dict[str, Any]]:
    """Drop ratios with neither side measured, except those ``keep_missing`` selects (kept as
    "n/a" rows so that a missing variant stays visible)."""
    return [r for r in evaluated if r["numerator_value"] is not None or r["denominator_value"] is not None
            or keep_missing(r)]
