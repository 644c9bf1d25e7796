"""Parsers of ``adb`` outputs: ``adb devices -l``, ``getprop``, ``dumpsys thermalservice``, cpufreq lists."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ..errors import ToolOutputError
from . import NUMBER, number, numbered_lines

#: ``adb devices`` states (https://developer.android.com/tools/adb#devicestatus and adb's sources).
DEVICE_STATES = ("device", "offline", "unauthorized", "authorizing", "recovery", "rescue", "sideload", "bootloader",
                 "connecting", "host", "no permissions", "unknown")
#: ``PowerManager.THERMAL_STATUS_*`` values printed by ``dumpsys thermalservice``.
THERMAL_STATUS = {0: "none", 1: "light", 2: "moderate", 3: "severe", 4: "critical", 5: "emergency", 6: "shutdown"}

_ATTRIBUTE = re.compile(r"^([a-z_]+):(\S+)$")
_GETPROP = re.compile(r"^\[(?P<key>[^\]]+)\]:\s*\[(?P<value>.*)\]\s*$")
_THERMAL_STATUS = re.compile(r"^\s*Thermal Status:\s*(?P<status>-?\d+)\s*$")
_TEMPERATURE = re.compile(rf"Temperature\{{mValue=(?P<value>{NUMBER}), mType=(?P<type>-?\d+), "
                          r"mName=(?P<name>[^,]+), mStatus=(?P<status>-?\d+)")
_CPUFREQ = re.compile(r"^\s*/sys/devices/system/cpu/cpu(?P<cpu>\d+)/cpufreq/cpuinfo_max_freq\s+(?P<khz>\d+)\s*$")


@dataclass
class AdbDevice:
    """One row of ``adb devices -l``: serial, state and the ``key:value`` attributes."""

    serial: str
    state: str
    attributes: Dict[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.state == "device"


def parse_devices(text: str, source: str = "adb devices -l") -> List[AdbDevice]:
    """Rows of ``adb devices -l``; the header and ``* daemon ...`` lines are skipped."""
    devices = []
    for line_no, line in numbered_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("*") or stripped.startswith("List of devices"):
            continue
        # "no permissions (user in plugdev group; ...)" is a state with spaces: split on 2+ spaces/tabs first.
        parts = re.split(r"\t| {2,}", stripped, maxsplit=1)
        if len(parts) != 2:
            parts = stripped.split(None, 1)
        if len(parts) != 2:
            raise ToolOutputError("device line without a state", source, line_no, line)
        serial, rest = parts[0], parts[1].strip()
        state = next((s for s in DEVICE_STATES if rest == s or rest.startswith(s + " ") or rest.startswith(s + " (")),
                     None)
        if state is None:
            raise ToolOutputError("unknown device state", source, line_no, line)
        attrs = dict(m.groups() for m in map(_ATTRIBUTE.match, rest[len(state):].split()) if m)
        devices.append(AdbDevice(serial, state, attrs))
    return devices


def parse_getprop(text: str) -> Dict[str, str]:
    """``[key]: [value]`` lines of ``adb shell getprop`` (other lines, e.g. wrapped values, are skipped)."""
    props = {}
    for _, line in numbered_lines(text):
        m = _GETPROP.match(line)
        if m:
            props[m["key"]] = m["value"]
    return props


def parse_thermal(text: str, source: str = "dumpsys thermalservice") -> Dict[str, object]:
    """Thermal status (0..6 and its name) and current temperatures from ``dumpsys thermalservice``.

    Android < 10 has no thermal service: status is None then, with ``available`` False.
    """
    status: Optional[int] = None
    temps: Dict[str, float] = {}
    in_current = False
    for line_no, line in numbered_lines(text):
        m = _THERMAL_STATUS.match(line)
        if m:
            status = int(m["status"])
            if status not in THERMAL_STATUS:
                raise ToolOutputError("unknown thermal status", source, line_no, line)
            continue
        if line.strip().startswith(("Current temperatures", "Current HAL temperatures")):
            in_current = True
        elif line.strip().startswith(("Cached temperatures", "Current cooling devices",
                                      "Temperature static thresholds")):
            in_current = False
        t = _TEMPERATURE.search(line)
        if t and (in_current or t["name"].strip() not in temps):
            temps[t["name"].strip()] = number(t["value"], "temperature", source, line_no, line)
    return {"available": status is not None, "status": status,
            "status_name": THERMAL_STATUS.get(status) if status is not None else None, "temperatures_c": temps}


def parse_cpu_max_freqs(text: str, source: str = "cpuinfo_max_freq") -> Dict[int, int]:
    """``<path> <kHz>`` lines (from the harness's shell loop) -> ``{cpu index: max kHz}``."""
    freqs = {}
    for line_no, line in numbered_lines(text):
        if not line.strip():
            continue
        m = _CPUFREQ.match(line)
        if not m:
            raise ToolOutputError("expected '<cpuN cpuinfo_max_freq path> <kHz>'", source, line_no, line)
        freqs[int(m["cpu"])] = int(m["khz"])
    return freqs


def big_core_mask(max_freqs: Dict[int, int]) -> Optional[str]:
    """Hex ``taskset`` mask of every core outside the slowest cluster (None without data).

    On big.LITTLE / DynamIQ SoCs (e.g. Snapdragon 8 Gen 2: 1 prime + 4 big + 3 little) these are
    the prime and big cores; a single-cluster SoC gives all cores.
    """
    if not max_freqs:
        return None
    slowest = min(max_freqs.values())
    fast = [cpu for cpu, khz in max_freqs.items() if khz > slowest] or list(max_freqs)
    return format(sum(1 << cpu for cpu in fast), "x")
