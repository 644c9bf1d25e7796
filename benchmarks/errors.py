"""Errors of the benchmark harnesses, in edgekit's format ("<subject>: <reason>. <hint>").

The harnesses print them as one ``benchmarks.<harness>: error: ...`` line and exit non-zero;
a failure that concerns one model, delegate or device is recorded in the report instead and
the other runs go on.
"""
from __future__ import annotations

from edgekit.errors import EdgekitError


class BenchmarkError(EdgekitError):
    """Base class of the errors raised by :mod:`benchmarks`."""


class ToolOutputError(BenchmarkError):
    """Output of an external tool (benchmark_model, adb, tegrastats, trtexec...) that cannot be parsed.

    ``subject`` is ``"<source>:<line number>"`` so the message names the offending line.
    """

    def __init__(self, reason: str, source: str, line_number: int, line: str) -> None:
        self.line_number = line_number
        self.line = line
        super().__init__(f"{reason}: {line.strip()[:200]!r}", subject=f"{source}:{line_number}",
                         hint="the tool's output format is not one this parser knows; "
                              "please report it with the raw log")


class AdbError(BenchmarkError):
    """adb itself is missing or cannot talk to any device."""


class DeviceError(BenchmarkError):
    """One device cannot be benchmarked (unauthorized, offline, push failed, binary unusable)."""


class RunError(BenchmarkError):
    """One benchmark run failed (crash, delegate rejected the model); other runs go on."""
