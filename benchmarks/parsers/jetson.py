"""Parsers of ``nvpmodel -q`` and ``jetson_clocks --show`` (Jetson power mode and clock state)."""
from __future__ import annotations

import re
from typing import Any, Dict, List

from ..errors import ToolOutputError
from . import numbered_lines

_POWER_MODE = re.compile(r"^\s*NV Power Mode\s*:\s*(?P<name>\S.*?)\s*$")
_FAN_MODE = re.compile(r"^\s*NV Fan Mode\s*:\s*(?P<name>\S.*?)\s*$")
_SOC = re.compile(r"^\s*SOC family\s*:\s*(?P<soc>\S+)\s+Machine\s*:\s*(?P<machine>.+?)\s*$")
_ONLINE = re.compile(r"^\s*Online CPUs\s*:\s*(?P<cpus>\S+)\s*$")
_CPU = re.compile(r"^\s*cpu(?P<cpu>\d+)\s*:\s*(?P<fields>.*)$")
_UNIT = re.compile(r"^\s*(?P<unit>GPU|EMC|DLA\d*_\w+|PVA\d*_\w+)\s*:?\s+(?P<fields>(?:\w+=\S+\s*)+)$")
_KV = re.compile(r"(\w+)=(\S+)")
_INT = re.compile(r"-?[0-9]+")  # ASCII digits only: str.isdigit() also accepts e.g. "①", which int() rejects
#: Fields that must be integers (frequencies, online flags).
_NUMERIC = re.compile(r"(Min|Max|Current)Freq|Online")


def parse_nvpmodel(text: str, source: str = "nvpmodel -q") -> Dict[str, Any]:
    """``{"power_mode": "MAXN", "mode_id": 0, "fan_mode": "quiet"|None, "warnings": [...]}``.

    The mode id is the integer printed on the line after ``NV Power Mode:``.
    """
    out: Dict[str, Any] = {"power_mode": None, "mode_id": None, "fan_mode": None, "warnings": []}
    lines = list(numbered_lines(text))
    for i, (number, line) in enumerate(lines):
        if "WARN" in line or "ERROR" in line:
            out["warnings"].append(line.strip())
        fan = _FAN_MODE.match(line)
        if fan:
            out["fan_mode"] = fan["name"]
        m = _POWER_MODE.match(line)
        if not m:
            continue
        out["power_mode"] = m["name"]
        nxt = next(((n, l) for n, l in lines[i + 1:] if l.strip()), None)
        if nxt is not None:
            if not _INT.fullmatch(nxt[1].strip()):
                raise ToolOutputError("expected the power mode id (an integer) after 'NV Power Mode:'", source, nxt[0], nxt[1])
            out["mode_id"] = int(nxt[1].strip())
    if out["power_mode"] is None:
        first = lines[0] if lines else (1, "")
        raise ToolOutputError("no 'NV Power Mode:' line (is this nvpmodel -q output?)", source, first[0], first[1])
    return out


def _fields(text: str, source: str, number: int, line: str) -> Dict[str, Any]:
    values: Dict[str, Any] = {}
    for key, value in _KV.findall(text):
        if _INT.fullmatch(value):
            values[key] = int(value)
        elif _NUMERIC.fullmatch(key):
            raise ToolOutputError(f"{key} is not an integer ({value!r})", source, number, line)
        else:
            values[key] = value
    if not values:
        raise ToolOutputError("expected key=value fields", source, number, line)
    return values


def parse_jetson_clocks(text: str, source: str = "jetson_clocks --show") -> Dict[str, Any]:
    """SoC, per-CPU governor/min/max/current frequency (kHz), GPU/EMC/DLA/PVA frequencies (Hz),
    power mode, and ``clocks_locked``: every online CPU and the GPU run with MinFreq == MaxFreq
    (what ``jetson_clocks`` sets)."""
    out: Dict[str, Any] = {"soc": None, "machine": None, "online_cpus": None, "cpus": {}, "units": {}, "power_mode": None}
    for number, line in numbered_lines(text):
        if not line.strip():
            continue
        if (m := _SOC.match(line)):
            out["soc"], out["machine"] = m["soc"], m["machine"]
        elif (m := _ONLINE.match(line)):
            out["online_cpus"] = m["cpus"]
        elif (m := _CPU.match(line)):
            out["cpus"][int(m["cpu"])] = _fields(m["fields"].split("IdleStates")[0], source, number, line)
        elif (m := _UNIT.match(line)):
            out["units"][m["unit"]] = _fields(m["fields"], source, number, line)
        elif (m := _POWER_MODE.match(line)):
            out["power_mode"] = m["name"]
    if not out["cpus"]:
        raise ToolOutputError("no 'cpuN: Online=... MinFreq=... MaxFreq=...' lines (is this jetson_clocks --show output?)",
                              source, 1, text.splitlines()[0] if text.strip() else "")
    online: List[Dict[str, Any]] = [c for c in out["cpus"].values() if c.get("Online", 1) == 1]
    gpu = out["units"].get("GPU", {})
    cpu_locked = bool(online) and all(c.get("MinFreq") == c.get("MaxFreq") for c in online)
    gpu_locked = bool(gpu) and gpu.get("MinFreq") == gpu.get("MaxFreq")
    out["cpu_clocks_locked"], out["gpu_clocks_locked"] = cpu_locked, gpu_locked if gpu else None
    out["clocks_locked"] = cpu_locked and (gpu_locked if gpu else True)
    return out
