"""The one timing loop behind the toolchain reports' latency numbers."""
from __future__ import annotations

import time
from typing import Callable, List


def time_calls(fn: Callable[[], object], runs: int, warmup: int = 0) -> List[float]:
    """Milliseconds of each of ``runs`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return times
