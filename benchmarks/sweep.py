"""Power-mode (DVFS) sweep on a Jetson: latency, power and energy per frame for every nvpmodel mode.

For each mode listed by ``nvpmodel -p --verbose`` (the current one first; modes expected to need a
reboot are skipped unless asked), with ``jetson_clocks`` off and on:

1. switch and read back (:class:`benchmarks.powermodes.PowerModes`): a mode or clock setting that
   did not take effect is reported as an error and the sweep goes on with the next one;
2. start tegrastats and wait (at most ``wait_s``) for its first line, settle, then an **idle
   baseline** (``idle_s``, 30 s by default) with nothing running;
3. each **workload** (the whole pipeline, then each model's ``invoke()``) for ``load_s`` seconds
   after a warm-up, while the rails are sampled (INA3221 at ``interval_s``, >= 10 Hz; tegrastats
   rails, every 50 ms, when no INA3221 file is readable) and tegrastats records temperatures and
   clocks.

A window (idle or load) lasts at least its duration and until each running sampler has delivered
its minimum inside it (3 INA3221 ticks; 1 tegrastats line, 3 when tegrastats is the power source),
at most ``wait_s`` longer: with the default durations this never extends a window, with the
tests' tens of milliseconds it keeps a slow sampler start from emptying one.

Per workload and setting: p50/p95 latency, frames (or inferences) per second, mean power per rail
and in total, mJ per frame gross and above idle, frames per joule, temperatures, and with locked
clocks the share of samples where a clock ran below its locked value (throttling). The original
mode and clocks are restored at the end, also after Ctrl-C or an error; whether that worked is
reported (``device.restored``: the nvpmodel mode read back, and the online cores, governor and
MinFreq/MaxFreq of every CPU and of GPU/EMC/... that ``jetson_clocks --show`` printed before the
sweep, compared with what it prints after the restore). Clocks already locked when the sweep
starts are detected and said in the report's notes. Durations are parameters so tests run in
milliseconds.
"""
from __future__ import annotations

import bisect
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .collect import Collector
from .energy import MIN_READINGS, Measurability, energy_measurements, mean_power
from .powermodes import PowerModes
from .powermon import MIN_RATE_HZ, RailSampler, Trace, discover, expected_rails, tegrastats_trace, total_rail
from .report import FRAME_BUDGET_MS, Measurement, Target
from .tegrastats import TegrastatsSampler, parse_timed, summarize

#: Fewest readings per window (share of sampler ticks) for an energy number to be reported.
MIN_COVERAGE = 0.8
#: A clock below this share of its locked value counts as throttled.
THROTTLE_MARGIN = 0.97


@dataclass
class SweepConfig:
    idle_s: float = 30.0
    settle_s: float = 5.0
    load_s: float = 20.0
    warmup: int = 20
    interval_s: float = 0.05
    #: 50 ms: tegrastats is the power source when no INA3221 file is readable, and the rate floor is 10 Hz.
    tegrastats_interval_ms: int = 50
    #: Longest wait for tegrastats' first line, and for a window's minimum samples past its duration.
    wait_s: float = 5.0
    modes: Optional[List[int]] = None
    include_reboot_modes: bool = False
    clocks: Tuple[str, ...] = ("off", "on")
    sysfs_base: Path = Path("/")
    board: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return {"idle_s": self.idle_s, "settle_s": self.settle_s, "load_s": self.load_s, "warmup": self.warmup,
                "power_interval_ms": round(self.interval_s * 1e3, 1),
                "tegrastats_interval_ms": self.tegrastats_interval_ms,
                "sample_wait_s": self.wait_s,
                "modes": self.modes or "all", "include_reboot_modes": self.include_reboot_modes,
                "jetson_clocks": list(self.clocks)}


@dataclass
class Workload:
    """One thing to run under load. ``open()`` loads it (outside the measured window) and returns
    ``(step, close)``: ``step()`` runs one frame / inference and returns its latency in ms."""

    label: str
    item: str  # "frame" or "inference"
    latency_name: str  # "pipeline.process" or "model.latency"
    rate_name: str  # "pipeline.throughput" or "model.throughput"
    params: Dict[str, Any]
    open: Callable[[], Tuple[Callable[[], float], Callable[[], None]]]


@dataclass
class _Window:
    workload: Workload
    t0: float
    t1: float
    latencies: List[float] = field(default_factory=list)


class Sweep:
    """Runs the sweep into ``collector``; :attr:`energy` says what was measurable, :attr:`device` the
    modes found and the restore outcome."""

    def __init__(self, cfg: SweepConfig, modes: PowerModes, workloads: Sequence[Workload], collector: Collector,
                 sleep: Callable[[float], None] = time.sleep, tegrastats: str = "tegrastats") -> None:
        self.cfg, self.pm, self.workloads, self.collector = cfg, modes, list(workloads), collector
        self.sleep = sleep
        self.tegrastats = tegrastats
        self.energy = Measurability()
        self.device: Dict[str, Any] = {}
        self.locked_before = False
        self.rails, rail_problems = discover(cfg.sysfs_base)
        for problem in rail_problems:
            self.energy.no(f"INA3221: {problem}")
        if self.rails:
            names = [r.name for r in self.rails]
            self.energy.source = f"INA3221 power monitors ({', '.join(names)}), every {cfg.interval_s * 1e3:g} ms"
            missing = [r for r in expected_rails(cfg.board) if r not in names]
            if missing:
                self.energy.no(f"rail(s) {', '.join(missing)} expected on {cfg.board} were not found")
        else:
            self.energy.source = (f"tegrastats rails every {cfg.tegrastats_interval_ms} ms (fallback: no readable "
                                  "INA3221 rail)")

    # ------------------------------------------------------------------ top level
    def run(self) -> None:
        """The whole sweep; restores the original mode and clocks however it ends."""
        original = self.pm.query()
        self.device["nvpmodel_before"] = original
        if not original.get("available"):
            self.collector.skipped.append({"what": "nvpmodel sweep",
                                           "reason": f"nvpmodel unavailable: {original['reason']}"})
            self.energy.no(f"power modes: nvpmodel unavailable ({original['reason']})")
            return
        listed = self.pm.modes()
        if not listed.get("available"):
            self.collector.skipped.append({"what": "nvpmodel sweep",
                                           "reason": f"cannot list the modes: {listed['reason']}"})
            return
        if self.pm.conf_problem:
            self.energy.no(self.pm.conf_problem)
        self.device["nvpmodel_modes"] = listed["modes"]
        clocks_before = self.pm.clocks()
        self.device["jetson_clocks_before"] = clocks_before
        self.locked_before = bool(clocks_before.get("available") and clocks_before.get("clocks_locked"))
        if self.locked_before:
            self.collector.notes.append(
                "The clocks were already locked (jetson_clocks had been run) when the sweep started: that locked state "
                "is what jetson_clocks --store saved and what the sweep restores at the end. A jetson_clocks off "
                "setting is measured only where nvpmodel -m unlocked the clocks, and skipped (with this reason) where "
                "they stayed locked. For a full sweep start from unlocked clocks (reboot; no LOCK_CLOCKS=1).")
        stored = self.pm.store_clocks() if self.pm.clocks_file else {"available": False, "reason": "no clocks file"}
        if not stored["available"]:
            self.energy.no(f"jetson_clocks on: the original clocks could not be saved ({stored['reason']}), so they "
                           "are never locked by this run")
        try:
            for mode in self._plan(listed["modes"], original["mode_id"]):
                self._mode(mode, stored["available"])
        finally:
            self.device["restored"] = self._restore(original, clocks_before, stored["available"])

    def _plan(self, modes: List[Dict[str, Any]], current: int) -> List[Dict[str, Any]]:
        wanted = self.cfg.modes
        if wanted:
            unknown = sorted(set(wanted) - {m["id"] for m in modes})
            for mode_id in unknown:
                self.collector.errors.append({"what": f"nvpmodel mode {mode_id}",
                                              "error": f"not listed by nvpmodel -p --verbose (modes: "
                                                       f"{', '.join(str(m['id']) for m in modes)})"})
            modes = [m for m in modes if m["id"] in wanted]
        plan = sorted(modes, key=lambda m: m["id"] != current)  # the current mode first: no switch needed
        out = []
        for mode in plan:
            expected = self.pm.reboot_expected(current, mode["id"]) if mode["id"] != current else None
            if expected and not self.cfg.include_reboot_modes:
                self.collector.skipped.append({
                    "what": f"nvpmodel mode {mode['id']} ({mode['name']})",
                    "reason": f"expected to need a reboot ({expected}); --include-reboot-modes asks nvpmodel (the "
                              f"reboot is declined), or boot into it (`sudo nvpmodel -m {mode['id']}`, reboot) and run "
                              f"--sweep-nvpmodel --modes {mode['id']}"})
                continue
            out.append(mode)
        return out

    def _mode(self, mode: Dict[str, Any], can_lock: bool) -> None:
        what = f"nvpmodel mode {mode['id']} ({mode['name']})"
        if can_lock:
            self.pm.restore_clocks()  # unlock before switching: the mode's own limits apply
        switch = self.pm.switch(mode["id"])
        if not switch.ok:
            if switch.reboot_required:
                self.collector.skipped.append({"what": what, "reason": switch.reason or "needs a reboot"})
            else:
                self.collector.errors.append({"what": what, "error": switch.reason or "did not take effect"})
            return
        for state in self.cfg.clocks:
            if state == "on" and not can_lock:
                self.collector.skipped.append({
                    "what": f"{what}, jetson_clocks on",
                    "reason": "the original clocks could not be saved (jetson_clocks --store)"})
                continue
            clocks = self.pm.set_clocks(state == "on")
            still_locked = clocks.readback.get("clocks", {}).get("clocks_locked")
            if not clocks.ok and state == "off" and self.locked_before and still_locked:
                self.collector.skipped.append({
                    "what": f"{what}, jetson_clocks off",
                    "reason": "the clocks were locked before the sweep started and are still locked after nvpmodel -m "
                              "(the saved state to return to is locked): "
                              "start the sweep with unlocked clocks (reboot)"})
                continue
            if not clocks.ok:
                self.collector.errors.append({"what": f"{what}, jetson_clocks {state}", "error": clocks.reason or ""})
                continue
            self._setting({"nvpmodel": mode["name"], "mode_id": mode["id"], "jetson_clocks": state},
                          clocks.readback.get("clocks", {}))

    # ------------------------------------------------------------------ one setting
    def _setting(self, setting: Dict[str, Any], clocks: Dict[str, Any]) -> None:
        windows: List[_Window] = []
        sampler = RailSampler(self.rails, self.cfg.interval_s) if self.rails else None
        tegra = TegrastatsSampler(self.cfg.tegrastats_interval_ms, executable=self.tegrastats)
        with (sampler or contextlib.nullcontext()), tegra:
            if tegra.running and not tegra.wait_lines(float("-inf"), 1, self.cfg.wait_s):
                self.energy.no(f"tegrastats printed no line within {self.cfg.wait_s:g} s of starting "
                               f"({_describe(setting)}): temperatures, clocks and fallback power may be missing")
            self.sleep(self.cfg.settle_s)
            idle0 = time.monotonic()
            self.sleep(self.cfg.idle_s)
            deadline = time.monotonic() + self.cfg.wait_s
            while not self._enough(idle0, sampler, tegra) and time.monotonic() < deadline:
                time.sleep(0.005)
            idle = (idle0, time.monotonic())
            for workload in self.workloads:
                with self.collector.step(f"{workload.label}, {_describe(setting)}"):
                    windows.append(self._load(workload, sampler, tegra))
        if tegra.error:
            self.energy.no(f"temperatures and clocks: {tegra.error}")
        samples, times, errors = parse_timed(tegra.lines, tegra.times, "tegrastats")
        self.collector.errors += errors
        trace = sampler.trace if sampler is not None else tegrastats_trace(times, samples)
        if sampler is None and not trace.readings:
            self.energy.no("power: no INA3221 rail and no tegrastats rail could be read, so no energy number exists")
        idle_mw = self._power(trace, idle, setting, "idle")
        for w in windows:
            self._workload_results(w, trace, idle_mw, setting, samples, times, clocks)

    def _enough(self, t0: float, sampler: Optional[RailSampler], tegra: TegrastatsSampler) -> bool:
        """Whether every running sampler delivered its minimum since ``t0`` (see the module docstring)."""
        if sampler is not None:
            ticks = sampler.trace.ticks
            if len(ticks) - bisect.bisect_left(ticks, t0) < MIN_READINGS:
                return False
        if tegra.running and tegra.count_since(t0) < (1 if sampler is not None else MIN_READINGS):
            return False
        return True

    def _load(self, workload: Workload, sampler: Optional[RailSampler], tegra: TegrastatsSampler) -> _Window:
        step, close = workload.open()
        try:
            for _ in range(self.cfg.warmup):
                step()
            window = _Window(workload, time.monotonic(), 0.0)
            while True:
                window.latencies.append(step())
                elapsed = time.monotonic() - window.t0
                if elapsed >= self.cfg.load_s and (self._enough(window.t0, sampler, tegra)
                                                   or elapsed >= self.cfg.load_s + self.cfg.wait_s):
                    break
            window.t1 = time.monotonic()
        finally:
            close()
        return window

    # ------------------------------------------------------------------ results
    def _power(self, trace: Trace, span: Tuple[float, float], params: Dict[str, Any], phase: str) -> Optional[float]:
        """``power.rail`` per rail and ``power.total`` over ``span``; returns the total mean mW
        (None: not measurable)."""
        if not trace.readings:
            return None
        window = trace.window(*span)
        for rail, values in window.items():
            if values:
                self.collector.add([Measurement.from_samples("power.rail", "mW", values, **params, rail=rail,
                                                             phase=phase)])
        rate = trace.rate_hz(*span)
        if rate is not None:
            self.collector.add([Measurement.single("power.sample_rate", "Hz", rate, **params, phase=phase)])
            if rate < MIN_RATE_HZ:
                self.energy.no(f"power sampled at {rate:.1f} Hz during {_describe(params)} {phase} "
                               f"(< {MIN_RATE_HZ:g} Hz): "
                               "short bursts are missed")
        total, of, problem = _total(trace, span)
        if problem:
            self.energy.no(f"{_describe(params)}, {phase}: {problem}")
            return None
        self.collector.add([Measurement.from_samples("power.total", "mW", total, **params, phase=phase, of=of)])
        return mean_power(total)

    def _workload_results(self, w: _Window, trace: Trace, idle_mw: Optional[float], setting: Dict[str, Any],
                          samples: List[Any], times: List[float], clocks: Dict[str, Any]) -> None:
        params = {**w.workload.params, **setting}
        elapsed = w.t1 - w.t0
        self.collector.add([Measurement.from_samples(w.workload.latency_name, "ms", w.latencies, **params),
                            Measurement.single(w.workload.rate_name, f"{w.workload.item}s/s",
                                               len(w.latencies) / elapsed,
                                               **params)])
        load_mw = self._power(trace, (w.t0, w.t1), params, "load")
        if load_mw is not None:
            energy, problems = energy_measurements(load_mw, idle_mw, elapsed / len(w.latencies), w.workload.item,
                                                   **params)
            self.collector.add(energy)
            for p in problems:
                self.energy.no(f"{w.workload.label}, {_describe(setting)}: {p}")
            if energy:
                self.energy.yes(f"mJ per {w.workload.item} (gross{'' if idle_mw is None else ' and above idle'}) for "
                                f"{_describe(setting)}")
        inside = [s for s, t in zip(samples, times) if w.t0 <= t <= w.t1]
        for m in summarize(inside)[0]:
            if m.name in ("tegrastats.temperature", "tegrastats.gpu_freq", "tegrastats.cpu_load"):
                m.params.update(params)
                self.collector.add([m])
        if inside:
            self.energy.yes("temperatures (tegrastats)")
        self._throttling(inside, params, clocks)

    def _throttling(self, samples: List[Any], params: Dict[str, Any], clocks: Dict[str, Any]) -> None:
        if params["jetson_clocks"] != "on":
            self.energy.no("throttling with jetson_clocks off: DVFS lowers the clocks by itself, so a throttled clock "
                           "cannot be told apart (see the jetson_clocks on rows)")
            return
        if not samples or not clocks.get("available"):
            self.energy.no("throttling: no tegrastats clocks or no clock read-back")
            return
        online = [c for c in clocks["cpus"].values() if c.get("Online", 1) == 1 and "MaxFreq" in c]
        cpu_mhz = min(c["MaxFreq"] for c in online) / 1e3 if online else None
        gpu_hz = clocks["units"].get("GPU", {}).get("MaxFreq")
        gpu_mhz = gpu_hz / 1e6 if gpu_hz else None

        def throttled(s: Any) -> bool:
            cores = [c.freq_mhz for c in s.cpu_online if c.freq_mhz is not None]
            cpu_low = cpu_mhz is not None and cores and min(cores) < THROTTLE_MARGIN * cpu_mhz
            gpu_low = gpu_mhz is not None and s.gpu_freq_mhz and max(s.gpu_freq_mhz) < THROTTLE_MARGIN * gpu_mhz
            return bool(cpu_low or gpu_low)

        share = sum(throttled(s) for s in samples) / len(samples)
        self.collector.add([Measurement.single("throttle.share", "fraction", share, **params)])
        self.energy.yes("throttling with jetson_clocks on (share of tegrastats samples below the locked clocks)")

    # ------------------------------------------------------------------ restore
    def _restore(self, original: Dict[str, Any], clocks_before: Dict[str, Any], stored: bool) -> Dict[str, Any]:
        out: Dict[str, Any] = {"nvpmodel": None, "jetson_clocks": None}
        now = self.pm.query()
        if not now.get("available") or now["mode_id"] != original["mode_id"]:
            switch = self.pm.switch(original["mode_id"])
            out["nvpmodel"] = "restored" if switch.ok else f"NOT restored: {switch.reason}"
        else:
            out["nvpmodel"] = "unchanged"
        if stored:
            result = self.pm.restore_clocks()
            after = self.pm.clocks()
            if not result["available"]:
                out["jetson_clocks"] = f"NOT restored: {result.get('reason')}"
            elif not clocks_before.get("available") or not after.get("available"):
                why = clocks_before.get("reason") if not clocks_before.get("available") else after.get("reason")
                out["jetson_clocks"] = f"NOT verified: jetson_clocks --show could not be compared ({why})"
            else:
                diffs = clock_differences(clocks_before, after)
                out["jetson_clocks"] = ("restored" if not diffs else
                                        f"NOT restored: the clocks read back differently ({_first(diffs)})")
        else:
            out["jetson_clocks"] = "never changed (not saved, so never locked)"
        for key, state in out.items():
            if state and state.startswith("NOT"):
                fix = (f"sudo nvpmodel -m {original['mode_id']}" if key == "nvpmodel"
                       else "sudo jetson_clocks --restore (or reboot)")
                self.collector.errors.append({"what": f"restoring {key}", "error": f"{state}; run `{fix}`"})
        return out


def clock_differences(before: Dict[str, Any], after: Dict[str, Any]) -> List[str]:
    """What differs between two parsed ``jetson_clocks --show``: online flag, governor and MinFreq/MaxFreq of
    every CPU, MinFreq/MaxFreq/FreqOverride of GPU, EMC, DLA, PVA (current frequencies are not settings)."""
    diffs = []
    for cpu, b in sorted(before["cpus"].items()):
        a = after["cpus"].get(cpu)
        if a is None:
            diffs.append(f"cpu{cpu} no longer listed")
            continue
        diffs += [f"cpu{cpu} {key} {b[key]} -> {a.get(key)}" for key in ("Online", "Governor", "MinFreq", "MaxFreq")
                  if key in b and a.get(key) != b[key]]
    for unit, b in before["units"].items():
        a = after["units"].get(unit, {})
        diffs += [f"{unit} {key} {b[key]} -> {a.get(key)}" for key in ("MinFreq", "MaxFreq", "FreqOverride")
                  if key in b and a.get(key) != b[key]]
    return diffs


def _first(items: List[str], n: int = 4) -> str:
    return "; ".join(items[:n]) + (f"; and {len(items) - n} more" if len(items) > n else "")


def _total(trace: Trace, span: Tuple[float, float]) -> Tuple[List[float], str, Optional[str]]:
    """Total power readings over ``span``: the module-input rail, else the per-tick sum of all rails;
    the name of what was summed; and why it cannot be used (too many readings missing/dropped)."""
    ticks = [t for t in trace.ticks if span[0] <= t <= span[1]]
    rail = total_rail(list(trace.readings))
    if rail is not None:
        values = [mw for t, mw in trace.readings[rail] if span[0] <= t <= span[1]]
        rails, of = [rail], rail
    else:
        by_tick: Dict[float, List[float]] = {}
        for pairs in trace.readings.values():
            for t, mw in pairs:
                if span[0] <= t <= span[1]:
                    by_tick.setdefault(t, []).append(mw)
        n = len(trace.readings)
        values = [sum(v) for v in by_tick.values() if len(v) == n]
        rails, of = list(trace.readings), "sum of monitored rails (no module-input rail on this board)"
    if not ticks or len(values) < MIN_COVERAGE * len(ticks) or len(values) < 3:
        why = [trace.lost[r] for r in rails if r in trace.lost]
        why += [f"{r}: {trace.dropped_in(r)} nonsense reading(s) dropped, e.g. {trace.dropped[r][-1]}"
                for r in rails if trace.dropped_in(r)]
        return [], of, (f"only {len(values)} usable power readings of {len(ticks)} samples "
                        f"({'; '.join(why) or 'too short a window'}): no energy number")
    return values, of, None


def _describe(params: Dict[str, Any]) -> str:
    return f"{params.get('nvpmodel')} (mode {params.get('mode_id')}), jetson_clocks {params.get('jetson_clocks')}"


def sweep_targets(measurements: Sequence[Measurement]) -> List[Target]:
    """The 15 ms/frame budget (p95) for the pipeline in every mode and clock setting measured."""
    out = []
    for m in measurements:
        if m.name == "pipeline.process":
            out.append(Target(f"{FRAME_BUDGET_MS:g} ms/frame budget (p95): {_describe(m.params)}", "pipeline.process",
                              "p95", FRAME_BUDGET_MS, dict(m.params)))
    return out


# ---------------------------------------------------------------------- real workloads
def pipeline_workload(emotion_key: str, emotion_path: Path, frame: np.ndarray, threads: int) -> Workload:
    """A sustained stream of frames (video mode, ``host.STREAM_FPS`` timestamps): the per-frame cost a power mode is
    judged on. Photos (image mode) add the keypoint refinements, see ``benchmarks/host.py``."""
    def open_() -> Tuple[Callable[[], float], Callable[[], None]]:
        import itertools

        import edgekit

        from .host import STREAM_FPS

        pipe = edgekit.Pipeline(emotion_model=str(emotion_path), num_threads=threads, running_mode="video")
        clock = itertools.count()
        return (lambda: pipe.process(frame, next(clock) * 1e3 / STREAM_FPS).timings.total_ms), pipe.close

    return Workload(f"pipeline with {emotion_key}", "frame", "pipeline.process", "pipeline.throughput",
                    {"emotion": emotion_key, "threads": threads, "mode": "video"}, open_)


def model_workload(model: Any, maker: Any, threads: int) -> Workload:
    """One ``invoke()`` per step, XNNPACK on, inputs built from the benchmark frame (see :mod:`benchmarks.invoke`)."""
    def open_() -> Tuple[Callable[[], float], Callable[[], None]]:
        from . import invoke

        interpreter = invoke.open_interpreter(model.path, threads, True)
        for index, value in maker.inputs(model, interpreter).items():
            interpreter.set_tensor(index, value)

        def step() -> float:
            start = time.perf_counter()
            interpreter.invoke()
            return (time.perf_counter() - start) * 1e3

        return step, (lambda: None)

    return Workload(f"{model.key} invoke", "inference", "model.latency", "model.throughput",
                    {"model": model.key, "threads": threads, "xnnpack": True}, open_)
