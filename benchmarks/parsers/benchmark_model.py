"""Parser of TFLite's ``benchmark_model`` output (``tensorflow/lite/tools/benchmark``).

Forms handled (with or without an ``INFO:``/``VERBOSE:``/``WARNING:``/``ERROR:`` prefix, CR/LF):

- ``Inference timings in us: Init: 16242, First inference: 360262, Warmup (avg): 304586, Inference (avg): 249684``
- run statistics (``tensorflow::Stat``): ``count=50 first=249042 curr=250889 min=247067 max=254474
  avg=249684 std=1442``, the all-equal form ``count=1 curr=905463``, and with percentiles
  ``... p5=111758 median=112912 p95=125113``; numbers may be in scientific notation (``1.2e+06``).
  The first such line is the warm-up, the second the timed runs; op-profiling tables
  (``Timings (microseconds): count=...``) are not run statistics and are ignored;
- memory, three forms: ``Peak memory footprint (MB): init=4.9 overall=138.8`` (older tools),
  ``Memory footprint delta from the start of the tool (MB): init=3.0 overall=9.0`` and
  ``Overall peak memory footprint (MB) via periodic monitoring: 10.29``;
- delegation: ``Replacing 27 out of 31 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding
  2 partitions ...`` (and the older ``Replacing 31 node(s) with delegate ...``), ``Explicitly
  applied GPU delegate, and the model graph will be partially executed by the delegate w/ 2
  delegate kernels.`` and ``Though GPU delegate is explicitly applied, the model graph will not
  be executed by the delegate.``;
- failures: ``Failed to apply GPU delegate.``, ``Benchmarking failed.``, ``... acceleration is
  unsupported on this platform.``, ``ERROR: ...`` lines.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from ..errors import ToolOutputError
from . import NUMBER, number, numbered_lines

_PREFIX = re.compile(r"^\s*(?:(INFO|VERBOSE|WARNING|WARN|ERROR|FATAL|DEBUG)\s*:\s*)?")
_TIMINGS = re.compile(
    rf"^Inference timings in us:\s*Init:\s*(?P<init>{NUMBER}),\s*First inference:\s*(?P<first>{NUMBER}),"
    rf"\s*Warmup \(avg\):\s*(?P<warmup>{NUMBER}),\s*Inference \(avg\):\s*(?P<inference>{NUMBER})\s*$", re.I)
_STAT_KEY = re.compile(r"(\w+)=(\S+)")
_STAT_KEYS = {"count", "first", "curr", "min", "max", "avg", "std", "p5", "median", "p95"}
_MEM_OLD = re.compile(rf"^Peak memory footprint \(MB\):\s*init=(?P<init>{NUMBER})\s+overall=(?P<overall>{NUMBER})\s*$")
_MEM_DELTA = re.compile(
    rf"^Memory footprint delta from the start of the tool \(MB\):\s*init=(?P<init>{NUMBER})"
    rf"\s+overall=(?P<overall>{NUMBER})\s*$")
_MEM_PEAK = re.compile(rf"^Overall peak memory footprint \(MB\) via periodic monitoring:\s*(?P<peak>{NUMBER})\s*$")
_REPLACING = re.compile(
    r"^Replacing (?P<replaced>\d+)(?: out of (?P<total>\d+))? node\(s\) with delegate \((?P<kernel>[^)]*)\) node"
    r"(?:, yielding (?P<partitions>\d+) partitions)?")
_APPLIED = re.compile(
    r"^(?:Explicitly applied|Applied) (?P<name>.+?) delegate, and the model graph will be "
    r"(?P<how>completely|partially|paritally) executed(?: by the delegate| w/ the delegate)?"
    r"(?: w/ (?P<kernels>\d+) delegate kernels)?")
_NOT_APPLIED = re.compile(r"^Though (?P<name>.+?) delegate is explicitly applied, the model graph will not be executed")
_FAILED_DELEGATE = re.compile(r"^Failed to (?:apply|create) (?P<name>.+?) delegate")
_UNSUPPORTED = re.compile(r"^(?P<name>.+?) acceleration is unsupported on this platform")
_MODEL_SIZE = re.compile(rf"^The input model file size \(MB\):\s*(?P<mb>{NUMBER})")
_INIT_SESSION = re.compile(rf"^Initialized session in (?P<ms>{NUMBER})\s*ms")


@dataclass
class RunStats:
    """One ``tensorflow::Stat`` line, in microseconds (percentiles only from tools that print them)."""

    count: int
    curr: float
    first: Optional[float] = None
    min: Optional[float] = None
    max: Optional[float] = None
    avg: Optional[float] = None
    std: Optional[float] = None
    p5: Optional[float] = None
    median: Optional[float] = None
    p95: Optional[float] = None

    def __post_init__(self) -> None:
        if self.min is None:  # the "all same" form: every run took `curr`
            self.first = self.min = self.max = self.avg = self.curr
            self.std = 0.0


@dataclass
class Delegation:
    """``Replacing N out of M node(s) with delegate (kernel)``; ``total`` is None in the older form."""

    replaced: int
    total: Optional[int]
    kernel: str
    partitions: Optional[int]

    @property
    def partial(self) -> bool:
        return self.total is not None and self.replaced < self.total


@dataclass
class BenchmarkModelOutput:
    """Everything :func:`parse` found; times in microseconds, memory in MB."""

    init_us: Optional[float] = None
    first_inference_us: Optional[float] = None
    warmup_avg_us: Optional[float] = None
    inference_avg_us: Optional[float] = None
    warmup: Optional[RunStats] = None
    inference: Optional[RunStats] = None
    memory_init_mb: Optional[float] = None
    memory_overall_mb: Optional[float] = None
    memory_peak_mb: Optional[float] = None
    memory_form: Optional[str] = None  # "peak_footprint" (older), "footprint_delta" (newer)
    model_size_mb: Optional[float] = None
    delegations: List[Delegation] = field(default_factory=list)
    #: ``{"name": "GPU", "executed": "completely"|"partially"|"not", "kernels": n}`` per delegate statement.
    delegates: List[Dict[str, Any]] = field(default_factory=list)
    #: Delegates that could not be applied, with the line that said so.
    rejected: List[Dict[str, str]] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    failed: bool = False

    @property
    def complete(self) -> bool:
        """The tool got to its final timings line."""
        return self.inference_avg_us is not None

    @property
    def partial_delegation(self) -> bool:
        return any(d.partial for d in self.delegations) or any(d["executed"] == "partially" for d in self.delegates)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _strip(line: str) -> tuple:
    match = _PREFIX.match(line)
    return (match.group(1) or "").upper(), line[match.end():].strip()


def parse_stats(text: str, source: str = "<stats>", line_number: int = 1) -> Optional[RunStats]:
    """One ``count=... first=...`` line (``text`` without log prefix); None for ``count=0`` (no run)."""
    cleaned = text.replace("(all same)", " ")
    values: Dict[str, float] = {}
    for key, value in _STAT_KEY.findall(cleaned):
        if key not in _STAT_KEYS:
            raise ToolOutputError(f"unknown statistic {key!r}", source, line_number, text)
        if key == "count" and not re.fullmatch(r"[0-9]+", value):
            raise ToolOutputError("statistic count is not a run count", source, line_number, text)
        values[key] = number(value, f"statistic {key}", source, line_number, text)
    rest = _STAT_KEY.sub("", cleaned).strip()
    if rest or "count" not in values or ("curr" not in values and values["count"] > 0):
        raise ToolOutputError("malformed run statistics (expected count= curr= [first= min= max= avg= std=])",
                              source, line_number, text)
    count = int(values.pop("count"))
    return RunStats(count=count, **values) if count > 0 else None


def parse(text: str, source: str = "benchmark_model output") -> BenchmarkModelOutput:
    """Parse a whole ``benchmark_model`` log. Malformed timing/stat/memory lines raise
    :class:`ToolOutputError` naming ``source:line``; unknown lines are ignored."""
    out = BenchmarkModelOutput()
    stats: List[Optional[RunStats]] = []
    for line_no, raw in numbered_lines(text):
        level, line = _strip(raw)
        if not line:
            continue
        if level in ("ERROR", "FATAL"):
            out.errors.append(line)
        if line.startswith("count="):
            stats.append(parse_stats(line, source, line_no))
        elif line.startswith("Inference timings in us"):
            m = _TIMINGS.match(line)
            if not m:
                raise ToolOutputError("malformed timings line (expected Init, First inference, Warmup (avg), "
                                      "Inference (avg))", source, line_no, raw)
            out.init_us, out.first_inference_us, out.warmup_avg_us, out.inference_avg_us = (
                number(m[k], f"{k} time", source, line_no, raw) for k in ("init", "first", "warmup", "inference"))
        elif "memory footprint" in line.lower() and "(MB)" in line:
            _memory(out, line, source, line_no, raw)
        elif line.startswith("Replacing ") and "node(s) with delegate" in line:
            m = _REPLACING.match(line)
            if not m:
                raise ToolOutputError("malformed delegation line", source, line_no, raw)
            out.delegations.append(Delegation(int(m["replaced"]), int(m["total"]) if m["total"] else None, m["kernel"],
                                              int(m["partitions"]) if m["partitions"] else None))
        else:
            _statement(out, line, source, line_no, raw)
    if len(stats) > 1:  # the warm-up runs, then the timed runs
        out.warmup, out.inference = stats[0], stats[-1]
    elif stats and out.complete:
        out.inference = stats[0]
    elif stats:  # one stat line and no final timings: only the warm-up finished
        out.warmup = stats[0]
    return out


def _memory(out: BenchmarkModelOutput, line: str, source: str, line_no: int, raw: str) -> None:
    for regex, form in ((_MEM_OLD, "peak_footprint"), (_MEM_DELTA, "footprint_delta")):
        m = regex.match(line)
        if m:
            out.memory_init_mb = number(m["init"], "init memory", source, line_no, raw)
            out.memory_overall_mb = number(m["overall"], "overall memory", source, line_no, raw)
            out.memory_form = form
            return
    m = _MEM_PEAK.match(line)
    if m:
        out.memory_peak_mb = number(m["peak"], "peak memory", source, line_no, raw)
        return
    raise ToolOutputError("malformed memory footprint line", source, line_no, raw)


def _statement(out: BenchmarkModelOutput, line: str, source: str, line_no: int, raw: str) -> None:
    """Delegate statements, failures and model facts (lines that are not measurements)."""
    m = _APPLIED.match(line)
    if m:
        how = "partially" if m["how"] == "paritally" else m["how"]
        out.delegates.append({"name": m["name"], "executed": how,
                              "kernels": int(m["kernels"]) if m["kernels"] else None})
        return
    m = _NOT_APPLIED.match(line)
    if m:
        out.delegates.append({"name": m["name"], "executed": "not", "kernels": 0})
        out.rejected.append({"delegate": m["name"], "line": line})
        return
    m = _FAILED_DELEGATE.match(line) or _UNSUPPORTED.match(line)
    if m:
        out.rejected.append({"delegate": m["name"], "line": line})
        out.failed = out.failed or line.startswith("Failed")
        return
    if line.startswith("Benchmarking failed"):
        out.failed = True
    elif (m := _MODEL_SIZE.match(line)):
        out.model_size_mb = number(m["mb"], "model size", source, line_no, raw)
