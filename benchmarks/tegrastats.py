"""``tegrastats`` sampling during a benchmark, and its summary as report measurements.

:class:`TegrastatsSampler` runs ``tegrastats --interval MS`` in the background, keeps every line
(also written to a log file beside the report), and :func:`summarize` turns the parsed samples
into ``tegrastats.*`` measurements: RAM used, mean CPU load of the online cores, cores online,
GPU load and frequency, EMC load, each temperature sensor (absent ones, ``-256C``, are left out
and named in a note) and each power rail (current mW).
"""
from __future__ import annotations

import bisect
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import ToolOutputError
from .parsers import tegrastats as parser
from .report import Measurement


class TegrastatsSampler:
    """Context manager: ``with TegrastatsSampler(500, log) as s: ...``; then ``s.lines`` (and ``s.times``)."""

    def __init__(self, interval_ms: int = 500, log_path: Optional[Path] = None, executable: str = "tegrastats") -> None:
        self.interval_ms = interval_ms
        self.log_path = log_path
        self.executable = executable
        self.lines: List[str] = []
        #: time.monotonic() at which each line arrived (the lines' own timestamps have 1 s resolution).
        self.times: List[float] = []
        self.error: Optional[str] = None
        self._proc: Optional[subprocess.Popen] = None
        self._reader: Optional[threading.Thread] = None

    def __enter__(self) -> "TegrastatsSampler":
        path = shutil.which(self.executable)
        if path is None:
            self.error = f"{self.executable} not found on PATH (it ships with L4T / JetPack in /usr/bin)"
            return self
        self._proc = subprocess.Popen([path, "--interval", str(self.interval_ms)], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.strip():
                self.times.append(time.monotonic())
                self.lines.append(line.rstrip("\n"))

    @property
    def running(self) -> bool:
        """True while tegrastats runs and its output is being read."""
        return self._reader is not None and self._reader.is_alive()

    def count_since(self, t: float) -> int:
        """Lines that arrived at or after ``t`` (``time.monotonic()``)."""
        return len(self.times) - bisect.bisect_left(self.times, t)

    def wait_lines(self, since: float, count: int, timeout: float, poll_s: float = 0.005) -> bool:
        """Wait until ``count`` lines arrived at or after ``since``; False after ``timeout`` s or when
        tegrastats is not running (missing, exited)."""
        deadline = time.monotonic() + timeout
        while self.count_since(since) < count:
            if not self.running or time.monotonic() >= deadline:
                return self.count_since(since) >= count
            time.sleep(poll_s)
        return True

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._reader is not None:
                self._reader.join(timeout=5)
        if self.log_path is not None and self.lines:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text("\n".join(self.lines) + "\n")


def parse_lines(lines: Sequence[str], source: str) -> Tuple[List[parser.TegrastatsSample], List[Dict[str, str]]]:
    """Samples of the good lines and one error entry (naming the line) per malformed line."""
    samples, _, errors = parse_timed(lines, range(len(lines)), source)
    return samples, errors


def parse_timed(lines: Sequence[str], times: Sequence[float], source: str
                ) -> Tuple[List[parser.TegrastatsSample], List[float], List[Dict[str, str]]]:
    """:func:`parse_lines` keeping each good line's arrival time."""
    samples, kept, errors = [], [], []
    for number, (line, t) in enumerate(zip(lines, times), start=1):
        try:
            samples.append(parser.parse_line(line, source, number))
            kept.append(t)
        except ToolOutputError as exc:
            errors.append({"what": "tegrastats", "error": str(exc)})
    return samples, kept, errors


def summarize(samples: Sequence[parser.TegrastatsSample]) -> Tuple[List[Measurement], List[str]]:
    """``tegrastats.*`` measurements over the samples and notes (absent sensors, offline cores)."""
    if not samples:
        return [], []
    out = [Measurement.from_samples("tegrastats.ram_used", "MB", [s.ram_used_mb for s in samples],
                                    total_mb=samples[0].ram_total_mb)]
    online = [s.cpu_online for s in samples if s.cpu]
    if online:
        loads = [np.mean([c.load_pct for c in cores]) if cores else 0.0 for cores in online]
        out.append(Measurement.from_samples("tegrastats.cpu_load", "%", loads, of="online cores, mean"))
        out.append(Measurement.from_samples("tegrastats.cpu_online_cores", "cores", [len(c) for c in online],
                                            of_cores=len(samples[-1].cpu)))
    for name, unit, values in (("tegrastats.gpu_load", "%", [s.gpu_load_pct for s in samples]),
                               ("tegrastats.gpu_freq", "MHz",
                                [max(s.gpu_freq_mhz) if s.gpu_freq_mhz else None for s in samples]),
                               ("tegrastats.emc_load", "%", [s.emc_load_pct for s in samples])):
        present = [v for v in values if v is not None]
        if present:
            out.append(Measurement.from_samples(name, unit, present))
    notes = []
    sensors = list(dict.fromkeys(k for s in samples for k in s.temperatures_c))
    absent = [k for k in sensors if all(s.temperatures_c.get(k) is None for s in samples)]
    for sensor in sensors:
        values = [s.temperatures_c[sensor] for s in samples if s.temperatures_c.get(sensor) is not None]
        if values:
            out.append(Measurement.from_samples("tegrastats.temperature", "C", values, sensor=sensor))
    if absent:
        notes.append(f"tegrastats reports -256C (no sensor) for {', '.join(absent)}: left out.")
    rails = list(dict.fromkeys(k for s in samples for k in s.power_mw))
    for rail in rails:
        out.append(Measurement.from_samples("tegrastats.power", "mW",
                                            [s.power_mw[rail][0] for s in samples if rail in s.power_mw],
                                            rail=rail))
    offline = sorted({i for s in samples for i, c in enumerate(s.cpu) if c is None})
    if offline:
        notes.append(f"CPU core(s) {', '.join(map(str, offline))} were offline in some tegrastats samples "
                     "(nvpmodel mode with fewer cores).")
    return out, notes
