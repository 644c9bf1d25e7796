"""Collects a harness's results step by step so that one failing step, or an interrupted run,
never loses what was already measured.

``with collector.step("emotion/float_fp32 pipeline"): ...`` records an edgekit/tool error as an
``errors`` entry and goes on; Ctrl-C (or SIGTERM, see :func:`sigterm_as_interrupt`) marks the
run ``interrupted`` and re-raises so the harness stops and writes the partial report.
"""
from __future__ import annotations

import contextlib
import signal
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Tuple, Type

from edgekit.errors import EdgekitError

from .report import Measurement

#: Exceptions one step may raise without stopping the run (bad model, tool failure, crash of a child).
STEP_ERRORS: Tuple[Type[BaseException], ...] = (EdgekitError, RuntimeError, OSError, ValueError)


@dataclass
class Collector:
    measurements: List[Measurement] = field(default_factory=list)
    skipped: List[Dict[str, str]] = field(default_factory=list)
    errors: List[Dict[str, str]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    interrupted: bool = False

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[None]:
        try:
            yield
        except KeyboardInterrupt:
            self.interrupted = True
            self.errors.append({"what": what, "error": "interrupted (Ctrl-C / SIGTERM) during this step: it and every "
                                                       "later step are missing from this report"})
            raise
        except STEP_ERRORS as exc:
            error = str(exc) if isinstance(exc, EdgekitError) else f"{type(exc).__name__}: {exc}"
            self.errors.append({"what": what, "error": error})

    def add(self, items: List[Measurement]) -> None:
        self.measurements.extend(items)

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        if not self.measurements:
            return "failed"
        return "partial" if self.errors else "complete"

    def sections(self) -> Dict[str, Any]:
        """Keyword arguments for :func:`benchmarks.report.build_report`."""
        return {"skipped": self.skipped, "errors": self.errors, "status": self.status}


def sigterm_as_interrupt() -> None:
    """Make SIGTERM (e.g. ``timeout``, a CI cancel) behave like Ctrl-C so partial results get written."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    with contextlib.suppress(ValueError):  # not in the main thread: leave the default
        signal.signal(signal.SIGTERM, handler)
