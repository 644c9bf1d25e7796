"""Parsers for the text output of the tools the device harnesses drive.

- :mod:`.benchmark_model`: TFLite's ``benchmark_model`` (timings, stats, memory, delegation);
- :mod:`.adb`: ``adb devices -l``, ``getprop``, ``dumpsys thermalservice``, cpufreq listings;
- :mod:`.tegrastats`: Jetson ``tegrastats`` lines;
- :mod:`.jetson`: ``nvpmodel -q`` / ``-p --verbose`` / ``-m``, ``/etc/nvpmodel.conf`` and ``jetson_clocks --show``;
- :mod:`.battery`: Android ``dumpsys battery``, the screen lines of ``dumpsys power`` and the
  battery sampler's log (:mod:`benchmarks.battery`);
- :mod:`.trtexec`: TensorRT ``trtexec`` performance summaries.

Every parser takes the text and a ``source`` name and raises
:class:`benchmarks.errors.ToolOutputError` naming ``source:line`` for malformed lines.
"""
from __future__ import annotations

import math
import re
from typing import Iterator, Tuple

#: One number as C++ streams and Python print them: integers, decimals, scientific notation, nan/inf.
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_NUMBER_RE = re.compile(rf"^(?:{NUMBER})$", re.IGNORECASE)


def to_float(text: str) -> float:
    """``float(text)`` for a string matching :data:`NUMBER` with a finite value (ValueError otherwise)."""
    if not _NUMBER_RE.match(text.strip()):
        raise ValueError(f"not a number: {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


def number(text: str, what: str, source: str, line_number: int, line: str) -> float:
    """:func:`to_float`, raising :class:`~benchmarks.errors.ToolOutputError` naming the line."""
    from ..errors import ToolOutputError

    try:
        return to_float(text)
    except ValueError:
        raise ToolOutputError(f"{what} is not a finite number", source, line_number, line) from None


def numbered_lines(text: str) -> Iterator[Tuple[int, str]]:
    """``(line number from 1, line without CR/LF)``: adb shell output may carry ``\\r\\n``."""
    for number, line in enumerate(text.splitlines(), start=1):
        yield number, line.rstrip("\r")
