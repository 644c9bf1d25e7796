"""Parsers of Jetson power-mode tools: ``nvpmodel -q`` / ``-p --verbose`` / ``-m``, ``/etc/nvpmodel.conf``
and ``jetson_clocks --show``."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

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
                raise ToolOutputError("expected the power mode id (an integer) after 'NV Power Mode:'", source, nxt[0],
                                      nxt[1])
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
    out: Dict[str, Any] = {"soc": None, "machine": None, "online_cpus": None, "cpus": {}, "units": {},
                           "power_mode": None}
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
        raise ToolOutputError("no 'cpuN: Online=... MinFreq=... MaxFreq=...' lines "
                              "(is this jetson_clocks --show output?)",
                              source, 1, text.splitlines()[0] if text.strip() else "")
    online: List[Dict[str, Any]] = [c for c in out["cpus"].values() if c.get("Online", 1) == 1]
    gpu = out["units"].get("GPU", {})
    cpu_locked = bool(online) and all(c.get("MinFreq") == c.get("MaxFreq") for c in online)
    gpu_locked = bool(gpu) and gpu.get("MinFreq") == gpu.get("MaxFreq")
    out["cpu_clocks_locked"], out["gpu_clocks_locked"] = cpu_locked, gpu_locked if gpu else None
    out["clocks_locked"] = cpu_locked and (gpu_locked if gpu else True)
    return out


_POWER_MODEL_LINE = re.compile(r"POWER_MODEL:\s*ID=(?P<id>\S+)\s+NAME=(?P<name>\S+)")
_CONFIG_FILE = re.compile(r"Config file:\s*(?P<path>\S+)")
_CONF_MODE = re.compile(r"^<\s*POWER_MODEL\s+ID=(?P<id>\S+)\s+NAME=(?P<name>\S+)\s*>$")
_CONF_BLOCK = re.compile(r"^<\s*(?P<kind>\w+)\b.*>$")
_CONF_SETTING = re.compile(r"^(?P<param>[A-Z][A-Z0-9_]*)\s+(?P<arg>[A-Z][A-Z0-9_]*)\s+(?P<value>-?[0-9]+)$")
#: Conf values that mean "no cap" (nvpmodel writes the hardware maximum).
_NO_CAP = (-1, 2**31 - 1, 2**63 - 1)
#: Parameters whose change needs a reboot on the boards where it has been reported (see docs/benchmarks.md).
REBOOT_PARAMS = ("CPU_ONLINE", "TPC_POWER_GATING", "FBP_POWER_GATING")
_REBOOT_REQUIRED = re.compile(r"reboot required", re.I)


def parse_nvpmodel_modes(text: str, source: str = "nvpmodel -p --verbose") -> Dict[str, Any]:
    """``{"modes": [{"id": 0, "name": "MAXN"}, ...], "config_file": "/etc/nvpmodel.conf"|None}`` from
    the ``NVPM VERB: POWER_MODEL: ID=<n> NAME=<name>`` lines of ``nvpmodel -p --verbose``."""
    modes: List[Dict[str, Any]] = []
    config_file = None
    for number, line in numbered_lines(text):
        if (c := _CONFIG_FILE.search(line)) and config_file is None:
            config_file = c["path"]
        m = _POWER_MODEL_LINE.search(line)
        if not m:
            continue
        if not _INT.fullmatch(m["id"]):
            raise ToolOutputError("power mode ID is not an integer", source, number, line)
        mode_id = int(m["id"])
        if any(x["id"] == mode_id for x in modes):
            raise ToolOutputError(f"power mode ID {mode_id} listed twice", source, number, line)
        modes.append({"id": mode_id, "name": m["name"]})
    if not modes:
        first = next(numbered_lines(text), (1, ""))
        raise ToolOutputError("no 'POWER_MODEL: ID=<n> NAME=<name>' line (is this nvpmodel -p --verbose output?)",
                              source, first[0], first[1])
    return {"modes": modes, "config_file": config_file}


def parse_nvpmodel_conf(text: str, source: str = "/etc/nvpmodel.conf") -> Dict[int, Dict[str, Any]]:
    """Per mode id: ``name``, ``settings`` (``{(PARAM, ARG): int}``), ``cpu_online`` (``{core: 0|1}``),
    ``cpu_max_khz`` (the lowest finite CPU ``MAX_FREQ`` cap, kHz) and ``gpu_max_hz`` (``GPU MAX_FREQ``, Hz);
    a cap of -1 or INT_MAX means "hardware maximum" and is None. ``PARAM`` definition blocks are skipped."""
    modes: Dict[int, Dict[str, Any]] = {}
    current: Optional[Dict[str, Any]] = None
    for number, raw in numbered_lines(text):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if (m := _CONF_MODE.match(line)):
            if not _INT.fullmatch(m["id"]):
                raise ToolOutputError("power mode ID is not an integer", source, number, raw)
            current = {"name": m["name"], "settings": {}}
            modes[int(m["id"])] = current
        elif _CONF_BLOCK.match(line):
            current = None  # PARAM definitions, PM_CONFIG, FAN_CONFIG...
        elif current is not None and (s := _CONF_SETTING.match(line)):
            current["settings"][(s["param"], s["arg"])] = int(s["value"])
    if not modes:
        first = next(numbered_lines(text), (1, ""))
        raise ToolOutputError("no '< POWER_MODEL ID=<n> NAME=<name> >' block (is this an nvpmodel.conf?)",
                              source, first[0], first[1])
    for mode in modes.values():
        settings = mode["settings"]
        mode["cpu_online"] = {int(arg.split("_")[-1]): v for (p, arg), v in settings.items()
                              if p == "CPU_ONLINE" and _INT.fullmatch(arg.split("_")[-1])}
        cpu_caps = [v for (p, arg), v in settings.items()
                    if p.startswith("CPU_") and p != "CPU_ONLINE" and arg == "MAX_FREQ" and v not in _NO_CAP]
        gpu = settings.get(("GPU", "MAX_FREQ"))
        mode["cpu_max_khz"] = min(cpu_caps) if cpu_caps else None
        mode["gpu_max_hz"] = gpu if gpu is not None and gpu not in _NO_CAP else None
    return modes


def reboot_change(conf: Dict[int, Dict[str, Any]], current_id: int, target_id: int) -> Optional[str]:
    """Why switching ``current_id`` -> ``target_id`` is expected to need a reboot (None: not expected):
    the set of online CPU cores or a GPU power-gating mask changes. A prediction only: nvpmodel's own
    answer when asked (``Reboot required for changing to this power mode``) is what the sweep records."""
    if current_id not in conf or target_id not in conf:
        return None
    a, b = conf[current_id], conf[target_id]
    online = lambda m: sorted(c for c, v in m["cpu_online"].items() if v)  # noqa: E731
    if a["cpu_online"] and b["cpu_online"] and online(a) != online(b):
        return f"online CPU cores change from {len(online(a))} to {len(online(b))}"
    for key in sorted(set(a["settings"]) | set(b["settings"])):
        if key[0] in REBOOT_PARAMS[1:] and a["settings"].get(key) != b["settings"].get(key):
            return f"{key[0]} changes ({a['settings'].get(key)} -> {b['settings'].get(key)})"
    return None


def nvpmodel_set_outcome(text: str) -> Dict[str, Any]:
    """What ``nvpmodel -m N`` said: ``reboot_required`` (it asked to reboot; the sweep always declines)
    and its ``NVPM ERROR`` lines."""
    lines = [l.strip() for _, l in numbered_lines(text) if l.strip()]
    return {"reboot_required": any(_REBOOT_REQUIRED.search(l) for l in lines),
            "errors": [l for l in lines if "ERROR" in l]}
