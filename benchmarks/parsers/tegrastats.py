"""Parser of NVIDIA Jetson ``tegrastats`` lines (L4T 28 .. JetPack 6).

One line per sample, fields in any order, e.g.::

    RAM 1708/3956MB (lfb 164x4MB) SWAP 0/1978MB (cached 0MB) CPU [9%@1479,4%@1479,off,off]
        EMC_FREQ 3%@1600 GR3D_FREQ 0%@921 PLL@30C GPU@31.5C PMIC@100C POM_5V_IN 2510/2510 POM_5V_GPU 41/41
    08-04-2022 10:23:53 RAM 2426/30536MB (lfb 6818x4MB) SWAP 0/15268MB (cached 0MB) CPU [1%@729,0%@729]
        EMC_FREQ 0%@2133 GR3D_FREQ 0%@[305,305] CV0@-256C CPU@44.531C VDD_GPU_SOC 2396mW/2396mW
        VIN_SYS_5V0 3225mW/3225mW

- CPU cores: ``load%@MHz``, ``load%`` or ``off`` (an offline core, kept as None);
- GPU: ``GR3D_FREQ 0%``, ``0%@921`` and ``0%@[305,305]`` (one frequency per GPC);
- temperatures ``name@44.5C``; ``-256C`` means the sensor is absent (kept as None);
- power rails ``NAME cur/avg`` in mW, with (JetPack 5+) or without the ``mW`` unit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..errors import ToolOutputError
from . import numbered_lines

#: Temperature reported by tegrastats for a thermal zone without a sensor.
NO_SENSOR_C = -256.0

_TIMESTAMP = re.compile(r"^\s*(?P<ts>\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2})\s+")
_RAM = re.compile(r"\bRAM (?P<used>\d+)/(?P<total>\d+)MB(?: \(lfb (?P<lfb>[^)]*)\))?")
_SWAP = re.compile(r"\bSWAP (?P<used>\d+)/(?P<total>\d+)MB(?: \(cached (?P<cached>\d+)MB\))?")
_IRAM = re.compile(r"\bIRAM \d+/\d+kB ?\(lfb \d+kB\)")
_CPU = re.compile(r"\bCPU \[(?P<cores>[^\]]*)\]", re.I)
_CORE = re.compile(r"^(?P<load>\d+)%(?:@(?P<mhz>\d+))?$")
_GR3D = re.compile(r"\bGR3D_FREQ (?P<load>\d+)%(?:@(?:\[(?P<gpcs>[\d,]*)\]|(?P<mhz>\d+)))?")
_EMC = re.compile(r"\bEMC_FREQ (?P<load>\d+)%(?:@(?P<mhz>\d+))?")
_TEMP = re.compile(r"\b(?P<name>[A-Za-z][\w]*)@(?P<value>-?\d+(?:\.\d+)?)C\b")
_POWER = re.compile(r"\b(?P<name>[A-Z][A-Z0-9_]*) (?P<cur>\d+)(?:mW)?/(?P<avg>\d+)(?:mW)?(?=\s|$)")


@dataclass
class CpuCore:
    load_pct: float
    freq_mhz: Optional[float]


@dataclass
class TegrastatsSample:
    """One parsed line. ``cpu`` has None for offline cores, ``temperatures_c`` None for absent sensors."""

    ram_used_mb: float
    ram_total_mb: float
    timestamp: Optional[str] = None
    swap_used_mb: Optional[float] = None
    swap_total_mb: Optional[float] = None
    cpu: List[Optional[CpuCore]] = field(default_factory=list)
    gpu_load_pct: Optional[float] = None
    gpu_freq_mhz: List[float] = field(default_factory=list)
    emc_load_pct: Optional[float] = None
    temperatures_c: Dict[str, Optional[float]] = field(default_factory=dict)
    #: rail -> (current mW, running average mW)
    power_mw: Dict[str, Tuple[float, float]] = field(default_factory=dict)

    @property
    def cpu_online(self) -> List[CpuCore]:
        return [c for c in self.cpu if c is not None]


def parse_line(line: str, source: str = "tegrastats", line_number: int = 1) -> TegrastatsSample:
    """Parse one tegrastats line; a line without a valid ``RAM used/totalMB`` field is malformed."""
    text = line.rstrip("\r\n")
    ts = _TIMESTAMP.match(text)
    ram = _RAM.search(text)
    if not ram:
        raise ToolOutputError("not a tegrastats line (no 'RAM used/totalMB' field)", source, line_number, line)
    sample = TegrastatsSample(ram_used_mb=float(ram["used"]), ram_total_mb=float(ram["total"]),
                              timestamp=ts["ts"] if ts else None)
    rest = text[ts.end():] if ts else text
    swap = _SWAP.search(rest)
    if swap:
        sample.swap_used_mb, sample.swap_total_mb = float(swap["used"]), float(swap["total"])
    cpu = _CPU.search(rest)
    if cpu:
        sample.cpu = [_core(tok.strip(), source, line_number, line) for tok in cpu["cores"].split(",") if tok.strip()]
    gpu = _GR3D.search(rest)
    if gpu:
        sample.gpu_load_pct = float(gpu["load"])
        freqs = gpu["gpcs"].split(",") if gpu["gpcs"] else [gpu["mhz"]] if gpu["mhz"] else []
        sample.gpu_freq_mhz = [float(f) for f in freqs if f]
    emc = _EMC.search(rest)
    if emc:
        sample.emc_load_pct = float(emc["load"])
    # Measured fields removed before the generic temperature / power patterns run over the rest.
    for regex in (_RAM, _SWAP, _IRAM, _CPU, _GR3D, _EMC):
        rest = regex.sub(" ", rest)
    for m in _TEMP.finditer(rest):
        value = float(m["value"])
        sample.temperatures_c[m["name"]] = None if value == NO_SENSOR_C else value
    for m in _POWER.finditer(rest):
        sample.power_mw[m["name"]] = (float(m["cur"]), float(m["avg"]))
    return sample


def _core(token: str, source: str, number: int, line: str) -> Optional[CpuCore]:
    if token.lower() == "off":
        return None
    m = _CORE.match(token)
    if not m:
        raise ToolOutputError(f"malformed CPU core entry {token!r} (expected load%@MHz, load% or off)", source, number,
                              line)
    return CpuCore(float(m["load"]), float(m["mhz"]) if m["mhz"] else None)


def parse(text: str, source: str = "tegrastats") -> List[TegrastatsSample]:
    """Every non-empty line of a tegrastats log."""
    return [parse_line(line, source, number) for number, line in numbered_lines(text) if line.strip()]
