"""Battery power sampled on an Android phone during each ``benchmark_model`` run, and mJ per inference.

A background loop in the same ``adb shell`` as the benchmark appends, every ``interval_s``, the
uptime and ``current_now`` / ``voltage_now`` / ``status`` of ``/sys/class/power_supply/battery``
to a log on the phone (shell built-ins only, no process per sample but ``sleep``); ``START`` /
``END`` uptimes bracket the benchmark. The log is pulled with the benchmark's own. Each variable is
cleared before its read, so a read that fails (permission denied, sensor gone) is logged as ``?``
and counted, never replaced by the previous value; a run with more than 20% failed reads gets no
number, fewer are left out and said.

Units: the kernel ABI (Documentation/ABI/testing/sysfs-class-power) says microamps and
microvolts, negative current while discharging; vendors differ (mA / mV, positive while
discharging). Voltage is identified by range (a phone battery sits at 2.5-10 V), current by
magnitude (>= 20,000 is uA; 20..20,000 is mA, since as uA it would be under 20 mA, less than a
phone running a benchmark draws), and the discharge sign from the readings while the kernel says
``Discharging``. The magnitude rule only holds under load (a screen-off phone idles near 15 mA,
15,000 uA), so units and sign are decided **once per device**, from the first load run that gives
a usable log, and applied to every run and to the idle baseline (analysed once they are known).
A mean power outside 5 mW - 30 W is not a phone's: that run gets no number.

Energy is only meaningful on battery: while a charger is connected the battery current is the
charger's minus the phone's. A run is measured only if every sample says ``Discharging`` and
``dumpsys battery`` lists no power source; otherwise the report says why and how to measure
(:data:`WIFI_ADB`). mJ per inference = mean power in the run (init and first inference left out)
x the run's mean latency, gross and above an idle baseline taken before the runs.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .energy import Measurability, energy_measurements
from .errors import BenchmarkError, ToolOutputError
from .parsers import battery as parser
from .parsers import to_float
from .report import Measurement

BATTERY_DIR = "/sys/class/power_supply/battery"
STATE_SPLIT = "---EDGEKIT-STATE---"
#: The measurement recipe printed whenever a phone was charging.
WIFI_ADB = ("measure on battery over Wi-Fi ADB: with the cable in, `adb tcpip 5555`, note the phone's IP "
            "(Settings > About > Status), `adb connect IP:5555`, unplug the cable, check `adb devices -l`, run "
            "`python -m benchmarks.adb --serial IP:5555 ...` (Android 11+: Developer options > Wireless debugging, "
            "`adb pair IP:PORT` then `adb connect`). `dumpsys battery unplug` does not help: it only freezes what "
            "Android reports, the charger keeps charging.")
MIN_CURRENT_UA = 20000
#: Share of failed reads (or nonsense voltages) in a run above which it gets no number.
MAX_BAD_SHARE = 0.2
#: Mean battery power (mW) a phone can draw; outside it the units or the sensor are wrong.
PLAUSIBLE_MW = (5.0, 30000.0)


def detect_voltage_unit(values: Sequence[int]) -> Tuple[Optional[str], str]:
    """``("uV"|"mV"|None, why)`` from the median reading (a phone battery sits at 2.5-10 V)."""
    med = float(np.median(np.abs(values))) if len(values) else 0.0
    if 2.5e6 <= med <= 1e7:
        return "uV", f"voltage_now median {med:.0f}: microvolts (kernel ABI)"
    if 2500 <= med <= 10000:
        return "mV", f"voltage_now median {med:.0f}: millivolts (vendor convention)"
    return None, f"voltage_now median {med:.0f} is neither 2.5-10 V in uV nor in mV: nonsense, no power computed"


def detect_current_unit(values: Sequence[int]) -> Tuple[Optional[str], str]:
    """``("uA"|"mA"|None, why)`` from the median magnitude (see the module docstring)."""
    med = float(np.median(np.abs(values))) if len(values) else 0.0
    if med == 0:
        return None, "current_now reads 0: this fuel gauge does not report the instantaneous current"
    if med >= MIN_CURRENT_UA:
        return "uA", f"current_now median |{med:.0f}|: microamps (kernel ABI)"
    if med >= 20:
        return "mA", (f"current_now median |{med:.0f}|: milliamps (as microamps it would be under 20 mA, less than a "
                      "phone running a benchmark draws)")
    return None, f"current_now median |{med:.0f}| is under 20 in any unit: nonsense, no power computed"


@dataclass
class Units:
    """Units and discharge sign of one device's fuel gauge, and the run they were decided from."""

    voltage: str  # "uV" or "mV"
    current: str  # "uA" or "mA"
    sign: float  # -1: negative while discharging (kernel ABI); +1: positive (vendor convention)
    why: str
    source: str

    @property
    def discharge_sign(self) -> str:
        return "negative (kernel ABI)" if self.sign < 0 else "positive (vendor convention)"


def detect_units(window: Sequence[Tuple[float, int, int, str]], source: str) -> Tuple[Optional[Units], str]:
    """Units and sign from one run's samples, or ``(None, why not)``."""
    v_unit, v_why = detect_voltage_unit([s[2] for s in window])
    i_unit, i_why = detect_current_unit([s[1] for s in window])
    if v_unit is None or i_unit is None:
        return None, v_why if v_unit is None else i_why
    sign = -1.0 if np.median([s[1] for s in window]) < 0 else 1.0
    return Units(v_unit, i_unit, sign, f"{v_why}; {i_why}", source), ""


@dataclass
class RunPower:
    """One sampled run: mean power (mW) or the reason it is not measurable, what was seen, and the
    units the power was computed with."""

    mean_mw: Optional[float]
    reason: Optional[str]
    state: Dict[str, Any]
    units: Optional[Units] = None


def analyse(log: parser.BatteryLog, skip_s: float, plugged: Optional[bool], units: Optional[Units] = None,
            source: str = "this run") -> RunPower:
    """Mean battery power over ``[START + skip_s, END]`` of the log, or why there is none. ``units``:
    the device's (see the module docstring); None detects them from this run alone."""
    state: Dict[str, Any] = {"samples": len(log.samples), "statuses": sorted({s[3] for s in log.samples})}
    if log.failed:
        state["failed_reads"] = len(log.failed)
    if log.problems:
        state["problem_lines"], state["first_problem"] = len(log.problems), log.problems[0][:160]
    if not log.samples and (log.problems or log.failed):
        first = log.problems[0] if log.problems else f"{log.failed[0][1]} unreadable"
        return RunPower(None, f"the battery files could not be read during the run ({first[:120]})", state)
    if log.start is None or log.end is None:
        return RunPower(None, "the sampler log has no START/END marks (the run or the connection broke)", state)
    window = [s for s in log.samples if log.start + skip_s <= s[0] <= log.end]
    failed = [f for f in log.failed if log.start + skip_s <= f[0] <= log.end]
    state["window_samples"], state["window_failed_reads"] = len(window), len(failed)
    if plugged:
        return RunPower(None, "plugged in (dumpsys battery lists a power source): " + WIFI_ADB, state)
    if any(s[3] != "Discharging" for s in log.samples):
        changed = len(state["statuses"]) > 1
        return RunPower(None, (f"charging state {'changed during the run' if changed else 'was'} "
                               f"{'/'.join(state['statuses'])} (kernel status), not Discharging: " + WIFI_ADB), state)
    reads = len(window) + len(failed)
    if failed and len(failed) > MAX_BAD_SHARE * reads:
        example = f"; e.g. {log.problems[0][:120]}" if log.problems else ""
        return RunPower(None, f"{len(failed)} of {reads} reads of the battery files failed inside the timed runs "
                              f"({failed[0][1]} unreadable{example}): no power computed", state)
    if len(window) < 3:
        return RunPower(None, f"only {len(window)} battery sample(s) inside the timed runs: raise --num-runs", state)
    own, why = detect_units(window, source)
    if own is None:
        return RunPower(None, why, state)
    if units is None:
        units = own
    elif own.sign != units.sign:
        return RunPower(None, f"current_now is {'negative' if own.sign < 0 else 'positive'} in this run while this "
                              f"device's discharge sign is {units.discharge_sign} (from {units.source}), "
                              "yet the kernel "
                              "says Discharging: no power computed", state)
    elif own.current != units.current:
        state["units_note"] = (f"alone this run's current would read as {own.current}; the device's unit "
                               f"({units.current}, from {units.source}) is used")
    state.update(voltage_unit=units.voltage, current_unit=units.current, units=units.why, units_from=units.source,
                 discharge_sign=units.discharge_sign)
    currents = np.array([s[1] for s in window], dtype=np.float64)
    volts = np.array([s[2] for s in window], dtype=np.float64) / (1e6 if units.voltage == "uV" else 1e3)
    good = (volts >= 2.5) & (volts <= 10.0)  # single nonsense readings are dropped, not averaged in
    state["dropped_samples"] = int((~good).sum())
    if good.sum() < max(3, (1 - MAX_BAD_SHARE) * len(window)):
        return RunPower(None, f"{state['dropped_samples']} of {len(window)} voltage_now readings outside 2.5-10 V: "
                              "no power computed", state)
    currents, volts = currents[good], volts[good]
    state["distinct_current_values"] = int(np.unique(currents).size)
    milliamps = units.sign * currents / (1e3 if units.current == "uA" else 1.0)
    mean_mw = float(np.mean(volts * milliamps))
    low, high = PLAUSIBLE_MW
    if not low <= mean_mw <= high:
        return RunPower(None, f"mean battery power {mean_mw:.0f} mW (current_now in {units.current}, voltage_now in "
                              f"{units.voltage}) is outside the {low:g} mW - {high / 1e3:g} W a phone draws: "
                              "wrong units "
                              "or a broken sensor, no power computed", state)
    return RunPower(mean_mw, None, state, units)


class BatteryMonitor:
    """Battery sampling for one device: :meth:`probe` once, :meth:`wrap` each command, :meth:`measure` each run."""

    def __init__(self, battery_dir: str = BATTERY_DIR, interval_s: float = 0.1, idle_s: float = 30.0,
                 max_s: float = 3600.0) -> None:
        self.dir, self.interval_s, self.idle_s, self.max_s = battery_dir, interval_s, idle_s, max_s
        self.available = False
        self.energy = Measurability(source=f"battery fuel gauge ({battery_dir}/current_now x voltage_now, "
                                           f"every {interval_s * 1e3:g} ms)")
        self.idle_mw: Optional[float] = None
        #: Units and sign of this device's fuel gauge, decided from the first load run with a usable log.
        self.units: Optional[Units] = None
        self._idle: Optional[Tuple[parser.BatteryLog, Dict[str, Any], Dict[str, Any]]] = None

    # ------------------------------------------------------------------ device side
    def probe(self, adb: Any, serial: str) -> Dict[str, Any]:
        """Can the files be read, and the battery/screen state now. Unavailable is recorded, not raised."""
        files = adb.shell(serial, f"cat {self._q('current_now')} {self._q('voltage_now')} {self._q('status')} 2>&1")
        lines = [l.strip() for l in files.replace("\r", "").splitlines() if l.strip()]
        info: Dict[str, Any] = {"dir": self.dir}
        if len(lines) != 3 or not all(_integer(l) for l in lines[:2]):
            reason = next((l for l in lines if "denied" in l.lower() or "no such" in l.lower()),
                          lines[0] if lines else "no output")
            info["available"] = False
            info["reason"] = f"cannot read {self.dir}/current_now and voltage_now: {reason[:160]}"
            self.energy.no(f"battery power: {info['reason']} (no energy number for this device)")
            return info
        self.available = True
        info["available"] = True
        info.update(self.state(adb, serial))
        return info

    def state(self, adb: Any, serial: str) -> Dict[str, Any]:
        """``dumpsys battery`` (power sources, frozen or not) and the screen (``dumpsys power``), now."""
        text = adb.shell(serial,
                         f"dumpsys battery; echo {STATE_SPLIT}; dumpsys power | grep -E 'Display Power|mWakefulness'")
        battery_text, _, power_text = text.replace("\r", "").partition(STATE_SPLIT)
        try:
            battery = parser.parse_dumpsys_battery(battery_text)
        except ToolOutputError as exc:
            return {"plugged": None, "screen": parser.parse_screen(power_text)["screen"], "battery_error": str(exc)}
        if battery["updates_stopped"]:
            self.energy.no("dumpsys battery is frozen (UPDATES STOPPED: `dumpsys battery unplug`/`set` was used); its "
                           "power-source flags are not the hardware's, the kernel status from the sampler decides")
        return {"plugged": None if battery["updates_stopped"] else battery["plugged"],
                "sources": [k for k, v in battery["sources"].items() if v], "status": battery["status_name"],
                "level": battery["level"], "screen": parser.parse_screen(power_text)["screen"]}

    def wrap(self, command: str, remote_log: str) -> str:
        """``command`` with the sampler around it; the shell's exit status stays the command's."""
        b, p = shlex.quote(self.dir), shlex.quote(remote_log)
        n = int(self.max_s / self.interval_s) + 1
        # c, v, s are cleared before each read: a failed read prints "?" instead of the previous value
        loop = (f"( n=0; while [ $n -lt {n} ]; do c=; v=; s=; read u r < /proc/uptime; read c < $B/current_now; "
                f"read v < $B/voltage_now; read s < $B/status; "
                f"echo \"S $u ${{c:-?}} ${{v:-?}} ${{s:-?}}\"; n=$((n+1)); "
                f"sleep {self.interval_s:g} 2>/dev/null || sleep 1; done ) >> \"$P\" 2>&1 & S=$!; ")
        return (f"B={b}; P={p}; rm -f \"$P\"; {loop}read u r < /proc/uptime; echo \"START $u\" >> \"$P\"; "
                f"{command}; e=$?; read u r < /proc/uptime; echo \"END $u\" >> \"$P\"; kill $S 2>/dev/null; (exit $e)")

    def _q(self, name: str) -> str:
        return shlex.quote(f"{self.dir}/{name}")

    # ------------------------------------------------------------------ results
    def idle(self, adb: Any, serial: str, remote_dir: str, logs_dir: Path) -> None:
        """Idle baseline before the runs (``idle_s`` of nothing but the sampler); analysed once the device's
        units are known (:meth:`measure` of the first usable load run)."""
        remote, local = f"{remote_dir}/idle.power", logs_dir / "idle.power"
        state = self.state(adb, serial)
        try:
            adb.shell_status(serial, self.wrap(f"sleep {self.idle_s:g}", remote), timeout=self.idle_s + 60)
            adb.pull(serial, remote, local)
            log = parser.parse_battery_log(local.read_text(errors="replace"), str(local))
        except (BenchmarkError, OSError) as exc:
            self.energy.no(f"idle baseline: {exc}")
            return
        row = {"what": "idle baseline", "screen": state.get("screen"), "plugged": state.get("plugged"),
               "energy": "not analysed: the units are decided from the first load run with a usable battery log, "
                         "and none had one"}
        self.energy.runs.append(row)
        self._idle = (log, state, row)
        if self.units is not None:
            self._analyse_idle()

    def _analyse_idle(self) -> None:
        if self._idle is None:
            return
        log, state, row = self._idle
        self._idle = None
        power = analyse(log, 0.0, state.get("plugged"), self.units, "idle baseline")
        row.update(power.state)
        row["energy"] = "measured" if power.mean_mw is not None else power.reason
        self._note_failed_reads("idle baseline", power)
        if power.mean_mw is None:
            self.energy.no(f"idle baseline: {power.reason}")
        else:
            self.idle_mw = power.mean_mw
            self.energy.yes(f"idle baseline ({self.idle_s:g} s, screen {state.get('screen') or 'unknown'})")

    def _note_failed_reads(self, what: str, power: RunPower) -> None:
        failed = power.state.get("window_failed_reads")
        if power.mean_mw is not None and failed:
            self.energy.no(f"{what}: {failed} of {failed + power.state['window_samples']} reads of the battery files "
                           "failed and were left out")

    def measure(self, what: str, log_text: Optional[str], source: str, state: Dict[str, Any], skip_s: float,
                latency_ms: Optional[float], params: Dict[str, Any]) -> List[Measurement]:
        """``power.total`` and energy per inference for one run (recorded in :attr:`energy` either way)."""
        row: Dict[str, Any] = {"what": what, "screen": state.get("screen"), "plugged": state.get("plugged")}
        if log_text is None:
            row["energy"] = "no sampler log came back"
            self.energy.runs.append(row)
            return []
        power = analyse(parser.parse_battery_log(log_text, source), skip_s, state.get("plugged"), self.units, what)
        row.update(power.state)
        if self.units is None and power.units is not None:
            self.units = power.units  # once per device: every later run and the idle baseline use them
            self.energy.yes(f"battery units decided once for this device from {what}: {self.units.why}; discharge sign "
                            f"{self.units.discharge_sign}")
            self._analyse_idle()
        self._note_failed_reads(what, power)
        if power.mean_mw is None or latency_ms is None:
            row["energy"] = power.reason or "no latency"
            self.energy.runs.append(row)
            self.energy.no(power.reason or "no latency for a run")
            return []
        out = [Measurement.single("power.total", "mW", power.mean_mw, **params, phase="load", of="battery")]
        energy, problems = energy_measurements(power.mean_mw, self.idle_mw, latency_ms / 1e3, "inference", **params)
        for p in problems:
            self.energy.no(p)
        row["energy"] = "measured"
        self.energy.runs.append(row)
        self.energy.yes(f"mJ per inference on battery, screen {state.get('screen') or 'unknown'} "
                        f"({power.state['units']}; discharge sign {power.state['discharge_sign']})")
        if power.state["distinct_current_values"] == 1:
            self.energy.no(f"{what}: current_now did not change during the run (the fuel gauge updates slower): "
                           "its energy rests on one reading")
        return out + energy


def _integer(text: str) -> bool:
    """Whether ``text`` is a whole number as :func:`benchmarks.parsers.to_float` reads numbers."""
    try:
        return to_float(text).is_integer()
    except ValueError:
        return False
