"""Jetson power modes and clocks: list, switch, lock, read back, restore (``nvpmodel``, ``jetson_clocks``).

Every switch is checked by reading the state back, because a switch can fail silently: some
Orin NX / Orin Nano modes need a reboot (``nvpmodel -m`` then asks ``DO YOU WANT TO REBOOT NOW?``;
this module always answers ``no``, so ``nvpmodel -q`` keeps the old mode), and a mode can be
reported while the clocks still follow the previous one. :meth:`PowerModes.switch` returns a
:class:`Switch` that says whether the mode took effect and, if not, why.

Tools run through an injectable ``runner`` (:data:`benchmarks.tools.Runner`), so tests use fake
``nvpmodel`` / ``jetson_clocks`` scripts or plain functions; both tools need root to change state.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from .errors import ToolOutputError
from .parsers import jetson as parsers
from .tools import Runner, default_runner

#: Answer to nvpmodel's reboot prompt: the harness never reboots the board.
DECLINE_REBOOT = "no\n"
#: Relative difference between a mode's frequency cap and the read-back maximum that counts as "not applied".
CAP_TOLERANCE = 0.05


@dataclass
class Switch:
    """Outcome of one switch: ``ok``; else ``reboot_required`` or ``reason`` (one sentence)."""

    ok: bool
    reason: Optional[str] = None
    reboot_required: bool = False
    readback: Dict[str, Any] = field(default_factory=dict)


def _read_text(path: str) -> str:
    return Path(path).read_text(errors="replace")


class PowerModes:
    """``nvpmodel`` and ``jetson_clocks`` for one board. ``read_file`` reads ``/etc/nvpmodel.conf``."""

    def __init__(self, runner: Runner = default_runner, read_file: Callable[[str], str] = _read_text,
                 clocks_file: Optional[Path] = None) -> None:
        self.runner = runner
        self.read_file = read_file
        self.clocks_file = clocks_file
        self.conf: Dict[int, Dict[str, Any]] = {}
        self.conf_problem: Optional[str] = None

    # ------------------------------------------------------------------ reading
    def query(self) -> Dict[str, Any]:
        """``nvpmodel -q``: ``{"available": True, "power_mode": ..., "mode_id": ...}`` or the reason."""
        return self._parsed(["nvpmodel", "-q"], parsers.parse_nvpmodel)

    def clocks(self) -> Dict[str, Any]:
        """``jetson_clocks --show`` parsed, or ``{"available": False, "reason": ...}`` (it needs root)."""
        return self._parsed(["jetson_clocks", "--show"], parsers.parse_jetson_clocks)

    def modes(self) -> Dict[str, Any]:
        """``nvpmodel -p --verbose``: the modes, and the conf file it names parsed into :attr:`conf`."""
        listed = self._parsed(["nvpmodel", "-p", "--verbose"], parsers.parse_nvpmodel_modes)
        if listed.get("available"):
            path = listed.get("config_file") or "/etc/nvpmodel.conf"
            try:
                self.conf = parsers.parse_nvpmodel_conf(self.read_file(path), path)
            except (OSError, ToolOutputError) as exc:
                self.conf_problem = f"{path} unreadable ({exc}): reboot needs are not predicted, clock caps not checked"
        return listed

    def _parsed(self, args: List[str], parse: Callable[[str, str], Dict[str, Any]]) -> Dict[str, Any]:
        result = self.runner(args, None)
        if not result["available"]:
            return {"available": False, "reason": result["reason"]}
        try:
            return {"available": True, **parse(result["output"], " ".join(args))}
        except ToolOutputError as exc:
            return {"available": False, "reason": str(exc)}

    def reboot_expected(self, current_id: int, target_id: int) -> Optional[str]:
        return parsers.reboot_change(self.conf, current_id, target_id)

    # ------------------------------------------------------------------ changing
    def switch(self, mode_id: int) -> Switch:
        """``nvpmodel -m ID`` (declining any reboot), then ``nvpmodel -q`` and the clocks read back."""
        result = self.runner(["nvpmodel", "-m", str(mode_id)], DECLINE_REBOOT)
        outcome = parsers.nvpmodel_set_outcome(result.get("output", ""))
        query = self.query()
        if outcome["reboot_required"]:
            return Switch(False, f"nvpmodel says mode {mode_id} needs a reboot (declined; the board keeps "
                                 f"{_mode_name(query)})", reboot_required=True, readback={"nvpmodel": query})
        if not query.get("available"):
            return Switch(False, f"cannot read the mode back: {query['reason']}")
        if query["mode_id"] != mode_id:
            why = result["reason"] if not result["available"] else "; ".join(outcome["errors"]) or "no error printed"
            return Switch(False, f"mode {mode_id} did not take effect: nvpmodel -q still reports {_mode_name(query)} "
                                 f"({why})", readback={"nvpmodel": query})
        clocks = self.clocks()
        problem = self.cap_problem(mode_id, clocks)
        if problem:
            return Switch(False, f"mode {mode_id} did not take effect: {problem}",
                          readback={"nvpmodel": query, "clocks": clocks})
        return Switch(True, readback={"nvpmodel": query, "clocks": clocks})

    def cap_problem(self, mode_id: int, clocks: Dict[str, Any]) -> Optional[str]:
        """Where the read-back clocks contradict the mode's conf (online cores, CPU/GPU caps); None if they agree
        or cannot be compared."""
        mode = self.conf.get(mode_id)
        if mode is None or not clocks.get("available"):
            return None
        online = [c for c in clocks["cpus"].values() if c.get("Online", 1) == 1]
        want_online = sum(1 for v in mode["cpu_online"].values() if v)
        if mode["cpu_online"] and want_online != len(online):
            return f"{len(online)} CPU cores online, the mode sets {want_online}"
        cpu_max = min((c["MaxFreq"] for c in online if "MaxFreq" in c), default=None)
        if mode["cpu_max_khz"] and cpu_max is not None and _off(cpu_max, mode["cpu_max_khz"]):
            return f"CPU max frequency reads {cpu_max} kHz, the mode caps it at {mode['cpu_max_khz']} kHz"
        gpu_max = clocks["units"].get("GPU", {}).get("MaxFreq")
        if mode["gpu_max_hz"] and gpu_max is not None and _off(gpu_max, mode["gpu_max_hz"]):
            return f"GPU max frequency reads {gpu_max} Hz, the mode caps it at {mode['gpu_max_hz']} Hz"
        return None

    def store_clocks(self) -> Dict[str, Any]:
        """``jetson_clocks --store FILE``: saves the current clocks for :meth:`restore_clocks`."""
        return self.runner(["jetson_clocks", "--store", str(self.clocks_file)], None)

    def restore_clocks(self) -> Dict[str, Any]:
        return self.runner(["jetson_clocks", "--restore", str(self.clocks_file)], None)

    def set_clocks(self, locked: bool) -> Switch:
        """Lock the clocks (``jetson_clocks``) or, with ``locked=False``, only check that they are not locked
        (the sweep unlocks by restoring the stored state before it switches modes); either way the
        read-back ``clocks_locked`` must match."""
        if locked:
            result = self.runner(["jetson_clocks"], None)
            if not result["available"]:
                return Switch(False, f"jetson_clocks failed: {result['reason']}")
        clocks = self.clocks()
        if not clocks.get("available"):
            return Switch(False, f"cannot read the clocks back: {clocks['reason']}")
        if clocks["clocks_locked"] != locked:
            state = "locked" if clocks["clocks_locked"] else "not locked"
            return Switch(False, f"jetson_clocks {'on' if locked else 'off'} did not take effect: the clocks read back "
                                 f"{state} (CPU locked: {clocks['cpu_clocks_locked']}, "
                                 f"GPU locked: {clocks['gpu_clocks_locked']})",
                          readback={"clocks": clocks})
        return Switch(True, readback={"clocks": clocks})


def _off(readback: float, cap: float) -> bool:
    return abs(readback - cap) > CAP_TOLERANCE * cap


def _mode_name(query: Dict[str, Any]) -> str:
    if not query.get("available"):
        return "an unknown mode"
    return f"{query['power_mode']} (ID {query['mode_id']})"
