"""Parsers of Android battery and screen state: ``dumpsys battery``, ``dumpsys power`` (screen lines)
and the battery sampler's log written on the phone by :mod:`benchmarks.battery`.

``dumpsys battery`` prints ``Current Battery Service state:`` then ``key: value`` lines (AOSP
``BatteryService.dumpInternal``): ``AC powered``, ``USB powered``, ``Wireless powered``, ``Dock
powered`` (Android 13+), ``status`` (``BatteryManager.BATTERY_STATUS_*``: 1 unknown, 2 charging,
3 discharging, 4 not charging, 5 full), ``level``, ``scale``, ``voltage`` (mV), ``temperature``
(tenths of a degree C); vendors add lines (Samsung: ``current now``). After ``dumpsys battery
unplug`` / ``set`` the state is frozen and the dump says ``(UPDATES STOPPED -- use 'reset' to
restart)``: what it reports then is not the hardware's.

The sampler log has ``START <uptime>`` / ``END <uptime>`` marks and one ``S <uptime> <current_now>
<voltage_now> <status>`` line per sample; a field whose file could not be read in that sample
(permission denied, sensor gone) is printed as ``?``, so a failed read is counted, never mistaken
for the previous value.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ..errors import ToolOutputError
from . import NUMBER, number, numbered_lines

#: ``BatteryManager.BATTERY_STATUS_*``.
BATTERY_STATUS = {1: "unknown", 2: "charging", 3: "discharging", 4: "not charging", 5: "full"}
_KEY_VALUE = re.compile(r"^\s*(?P<key>[A-Za-z][\w ]*?)\s*:\s*(?P<value>.*?)\s*$")
_SOURCES = {"AC powered": "ac", "USB powered": "usb", "Wireless powered": "wireless", "Dock powered": "dock"}
_DISPLAY = re.compile(r"Display Power: state=(?P<state>\w+)")
_WAKEFULNESS = re.compile(r"mWakefulness=(?P<state>\w+)")
_SAMPLE = re.compile(rf"^S (?P<t>{NUMBER}) (?P<current>-?[0-9]+|\?) (?P<voltage>-?[0-9]+|\?) (?P<status>.+?)\s*$")
_MARK = re.compile(rf"^(?P<mark>START|END) (?P<t>{NUMBER})\s*$")


def parse_dumpsys_battery(text: str, source: str = "dumpsys battery") -> Dict[str, Any]:
    """Power sources, status, level, voltage (mV), temperature (C), ``updates_stopped`` and ``plugged``
    (any power source online, or status charging/full)."""
    lines = list(numbered_lines(text))
    if not any(l.strip().startswith("Current Battery Service state") for _, l in lines):
        first = lines[0] if lines else (1, "")
        raise ToolOutputError("no 'Current Battery Service state:' header (is this dumpsys battery output?)",
                              source, first[0], first[1])
    out: Dict[str, Any] = {"sources": {}, "status": None, "status_name": None, "level": None, "voltage_mv": None,
                           "temperature_c": None, "updates_stopped": False}
    for number_, line in lines:
        if "UPDATES STOPPED" in line:
            out["updates_stopped"] = True
            continue
        m = _KEY_VALUE.match(line)
        if not m:
            continue
        key, value = m["key"], m["value"]
        if key in _SOURCES:
            if value not in ("true", "false"):
                raise ToolOutputError(f"{key} is neither true nor false", source, number_, line)
            out["sources"][_SOURCES[key]] = value == "true"
        elif key == "status":
            if not re.fullmatch(r"[0-9]+", value) or int(value) not in BATTERY_STATUS:
                raise ToolOutputError("unknown battery status", source, number_, line)
            out["status"], out["status_name"] = int(value), BATTERY_STATUS[int(value)]
        elif key == "level":
            out["level"] = number(value, "battery level", source, number_, line)
        elif key == "voltage":
            out["voltage_mv"] = number(value, "battery voltage", source, number_, line)
        elif key == "temperature":
            out["temperature_c"] = number(value, "battery temperature", source, number_, line) / 10
    out["plugged"] = any(out["sources"].values()) or out["status"] in (2, 5)
    return out


def parse_screen(text: str) -> Dict[str, Optional[str]]:
    """``{"display": "ON"|"OFF"|"DOZE"|..., "wakefulness": "Awake"|"Asleep"|...}`` from ``dumpsys power``
    (None where the line is absent); ``screen`` is ``"on"``, ``"off"`` or None (unknown)."""
    display = _DISPLAY.search(text)
    wake = _WAKEFULNESS.search(text)
    out: Dict[str, Optional[str]] = {"display": display["state"] if display else None,
                                     "wakefulness": wake["state"] if wake else None}
    if out["display"] is not None:
        out["screen"] = "on" if out["display"] == "ON" else "off"
    elif out["wakefulness"] is not None:
        out["screen"] = "on" if out["wakefulness"] == "Awake" else "off"
    else:
        out["screen"] = None
    return out


@dataclass
class BatteryLog:
    """The sampler's log: ``START``/``END`` uptimes (s) and raw samples ``(uptime s, current_now,
    voltage_now, status)`` as the kernel printed them (units not yet known); ``failed`` the samples in
    which a file could not be read ``(uptime s, "current_now, status")``; ``problems`` the lines that
    are none of these (e.g. ``Permission denied`` from the shell)."""

    start: Optional[float] = None
    end: Optional[float] = None
    samples: List[Tuple[float, int, int, str]] = field(default_factory=list)
    failed: List[Tuple[float, str]] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)


def parse_battery_log(text: str, source: str = "battery log") -> BatteryLog:
    log = BatteryLog()
    for number_, line in numbered_lines(text):
        if not line.strip():
            continue
        if (m := _MARK.match(line)):
            setattr(log, m["mark"].lower(), number(m["t"], "uptime", source, number_, line))
        elif (s := _SAMPLE.match(line)):
            t = number(s["t"], "uptime", source, number_, line)
            unread = [name for name, key in (("current_now", "current"), ("voltage_now", "voltage"),
                                             ("status", "status"))
                      if s[key] == "?"]
            if unread:
                log.failed.append((t, ", ".join(unread)))
            else:
                log.samples.append((t, int(s["current"]), int(s["voltage"]), s["status"]))
        else:
            log.problems.append(line.strip())
    return log
