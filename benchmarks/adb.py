"""Android benchmark over ADB: ``python -m benchmarks.adb --benchmark-binary PATH [options]``.

For every connected device (``adb devices -l``; ``--serial`` picks some): records the device
(model, SoC / board platform, Android version, ABI, CPU clusters, thermal status before and
after), pushes the ``.tflite`` files and TFLite's ``benchmark_model`` binary into
``/data/local/tmp/edgekit_bench``, runs it per model with ``--num_threads``, ``--use_xnnpack``,
``--use_gpu``, ``--use_nnapi``, warm-up and run counts, optionally pinned to the big cores with
``taskset``, pulls and parses each log, repeats N times, and removes everything it pushed.

``benchmark_model`` is not shipped here: download TensorFlow's prebuilt nightly
``android_aarch64_benchmark_model`` (https://www.tensorflow.org/lite/performance/measurement)
or build it with ``bazel build -c opt --config=android_arm64
//tensorflow/lite/tools/benchmark:benchmark_model`` (see docs/benchmarks.md).

During each run the battery's ``current_now`` / ``voltage_now`` / ``status`` are sampled on the
phone (:mod:`benchmarks.battery`; units detected, screen and charging state recorded), giving mJ
per inference when the phone runs on battery; a charging phone gets the reason and the Wi-Fi ADB
recipe instead of numbers. ``--no-battery`` turns the sampling off.

One report per device, ``benchmarks/results/adb_<serial>.{json,md,png}``, in the schema every
harness shares (:mod:`benchmarks.report`); raw logs are kept beside it. A device that cannot be
used (unauthorized, offline, push failure, binary that cannot execute) is reported and the
others go on; a crash or a delegate that rejects a model fails that run only. Ctrl-C keeps the
results so far, marked ``interrupted``.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import models as model_files
from .adbclient import Adb, quote
from .battery import BATTERY_DIR, BatteryMonitor
from .chart import write_chart, write_energy_chart
from .collect import Collector, sigterm_as_interrupt
from .errors import BenchmarkError, DeviceError, RunError, ToolOutputError
from .parsers import adb as adb_parsers
from .parsers import benchmark_model as bm
from .ratios import keep_computable, model_ratios
from .report import FRAME_BUDGET_MS, ROOT, Measurement, Target, build_report, package_versions, write_report

DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi")
REMOTE_DIR = "/data/local/tmp/edgekit_bench"
ELF_MAGIC = b"\x7fELF"
EM_AARCH64 = 183
_NOT_EXECUTABLE = re.compile(r"permission denied|not executable|exec format error|can't execute|cannot execute|"
                             r"inaccessible or not found|no such file or directory|CANNOT LINK EXECUTABLE", re.I)
_CRASH = re.compile(r"segmentation fault|aborted|fatal signal|SIGSEGV|SIGABRT|SIGBUS|illegal instruction", re.I)


@dataclass
class AdbConfig:
    binary: Path
    serials: List[str] = field(default_factory=list)
    threads: List[int] = field(default_factory=lambda: [1, 2, 4])
    delegates: List[str] = field(default_factory=lambda: ["xnnpack", "cpu", "gpu", "nnapi"])
    warmup_runs: int = 20
    num_runs: int = 100
    repeats: int = 3
    taskset: Optional[str] = None  # hex mask, or "big"
    remote_dir: str = REMOTE_DIR
    keep_remote: bool = False
    timeout_s: float = 600.0
    extra_args: List[str] = field(default_factory=list)
    battery: bool = True
    battery_dir: str = BATTERY_DIR
    battery_interval_s: float = 0.1
    battery_idle_s: float = 30.0

    def to_dict(self) -> Dict[str, Any]:
        return {"benchmark_binary": str(self.binary),
                "benchmark_binary_sha256": model_files.registry.sha256_file(self.binary),
                "threads": self.threads, "delegates": self.delegates,
                "warmup_runs": self.warmup_runs, "num_runs": self.num_runs, "repeats": self.repeats,
                "taskset": self.taskset or "none", "remote_dir": self.remote_dir, "extra_args": self.extra_args,
                "battery": {"dir": self.battery_dir, "interval_s": self.battery_interval_s,
                            "idle_s": self.battery_idle_s}
                if self.battery else "off"}


def delegate_flags(delegate: str) -> List[str]:
    """``benchmark_model`` flags for one configuration. GPU/NNAPI leave ``--use_xnnpack`` unset so
    the nodes they cannot take run on the runtime's default CPU path, as in an app."""
    if delegate not in DELEGATES:
        raise ValueError(f"unsupported delegate {delegate!r} (valid: {', '.join(DELEGATES)})")
    flags = [f"--use_gpu={'true' if delegate == 'gpu' else 'false'}",
             f"--use_nnapi={'true' if delegate == 'nnapi' else 'false'}"]
    if delegate in ("cpu", "xnnpack"):
        flags.append(f"--use_xnnpack={'true' if delegate == 'xnnpack' else 'false'}")
    return flags


def runs_for(cfg: AdbConfig) -> List[Tuple[str, int]]:
    """(delegate, threads) pairs: CPU paths with every thread count; GPU/NNAPI once, with the first
    thread count (it only sizes the CPU fallback)."""
    pairs = []
    for d in cfg.delegates:
        pairs += [(d, n) for n in (cfg.threads if d in ("cpu", "xnnpack") else cfg.threads[:1])]
    return pairs


def check_binary(path: Path) -> Optional[str]:
    """Check the local binary before any device is touched: raises when it is missing or not an
    ELF executable; returns a warning when it is not aarch64, else None."""
    if not path.is_file():
        raise BenchmarkError("benchmark_model binary not found", subject=path,
                             hint="download TensorFlow's android_aarch64_benchmark_model or build it with bazel "
                                  "(see docs/benchmarks.md), then pass --benchmark-binary PATH")
    head = path.read_bytes()[:20]
    if head[:4] != ELF_MAGIC:
        raise BenchmarkError("is not an ELF executable (an Android benchmark_model binary is)", subject=path,
                             hint="pass the android_aarch64 benchmark_model binary, not an APK or a script")
    machine = int.from_bytes(head[18:20], "little")
    if machine != EM_AARCH64:
        return f"{path} is not an aarch64 (arm64-v8a) ELF (e_machine={machine}): it may not run on the phone"
    return None


def remote_name(key: str) -> str:
    return key.replace("/", "__") + ".tflite"


def _latency_stats(s: bm.RunStats) -> Dict[str, Optional[float]]:
    ms = lambda v: None if v is None else v / 1e3  # noqa: E731 - microseconds -> milliseconds
    return {"n": s.count, "mean": ms(s.avg), "std": ms(s.std), "min": ms(s.min), "max": ms(s.max), "first": ms(s.first),
            "p5": ms(s.p5), "p50": ms(s.median), "p95": ms(s.p95)}


def run_measurements(out: bm.BenchmarkModelOutput, params: Dict[str, Any]) -> List[Measurement]:
    """Measurements of one parsed, successful run (times in ms, memory in MB)."""
    ms = []
    if out.inference is not None:
        ms.append(Measurement.from_stats("model.latency", "ms", _latency_stats(out.inference), **params))
    for name, value in (("model.init", out.init_us), ("model.first_inference", out.first_inference_us),
                        ("model.warmup_avg", out.warmup_avg_us)):
        if value is not None:
            ms.append(Measurement.single(name, "ms", value / 1e3, **params))
    footprint = {"form": out.memory_form} if out.memory_form else {}
    for name, value, extra in (("model.memory_init", out.memory_init_mb, footprint),
                               ("model.memory_overall", out.memory_overall_mb, footprint),
                               ("model.memory_peak", out.memory_peak_mb, {})):
        if value is not None:
            ms.append(Measurement.single(name, "MB", value, **params, **extra))
    for d in out.delegations:
        ms.append(Measurement.single("model.delegated_nodes", "nodes", d.replaced, **params, kernel=d.kernel,
                                     of_nodes=d.total, partitions=d.partitions))
    return ms


def combine_repeats(per_repeat: Sequence[Measurement], params: Dict[str, Any]) -> Optional[Measurement]:
    """``model.latency`` over all repeats: p50 = median of the repeats' medians (their averages when
    the tool printed no percentiles), mean of averages, extreme min/max, worst p95, total n."""
    stats = [m.stats for m in per_repeat if m.name == "model.latency"]
    if not stats:
        return None
    centre = [s.get("p50", s["mean"]) for s in stats]
    combined = {"p50": float(np.median(centre)), "mean": float(np.mean([s["mean"] for s in stats])),
                "min": min(s["min"] for s in stats), "max": max(s["max"] for s in stats),
                "n": sum(int(s["n"]) for s in stats),
                "p95": max(s["p95"] for s in stats) if all("p95" in s for s in stats) else None}
    return Measurement.from_stats("model.latency", "ms", combined, **params, repeats=len(stats))


def combine_energy(per_repeat: Sequence[Measurement], params: Dict[str, Any], repeats: int) -> List[Measurement]:
    """Median over the repeats of each energy / power figure, only when every repeat has it (else the
    per-repeat rows stand alone); ``params`` are the combined latency's, so the rows join in the report."""
    out = []
    keys = list(dict.fromkeys((m.name, m.unit, m.params.get("basis")) for m in per_repeat
                              if m.name.startswith(("energy.", "power."))))
    for name, unit, basis in keys:
        values = [m.stats["value"] for m in per_repeat if m.name == name and m.params.get("basis") == basis]
        if len(values) == repeats:
            extra = {"basis": basis} if basis else {"phase": "load", "of": "battery"} if name == "power.total" else {}
            out.append(Measurement.single(name, unit, float(np.median(values)), **params, **extra))
    return out


def classify_failure(status: int, text: str, out: Optional[bm.BenchmarkModelOutput]) -> Optional[BenchmarkError]:
    """The error a finished run represents (None: a good run). DeviceError = stop this device."""
    tail = [line.strip().rstrip(".") for line in text.splitlines() if line.strip()]
    last = tail[-1] if tail else f"exit status {status}"
    if status in (126, 127) or (status != 0 and _NOT_EXECUTABLE.search(text)):
        line = next((l for l in tail if _NOT_EXECUTABLE.search(l)), last)
        return DeviceError(f"benchmark_model cannot execute on this device: {line}",
                           hint="push the android_aarch64 build (an arm64-v8a ELF with its libraries); "
                                "see docs/benchmarks.md")
    if status >= 128 or _CRASH.search(text):
        sig = f"signal {status - 128}" if status > 128 else f"exit status {status}"
        return RunError(f"benchmark_model crashed ({sig}): {last}",
                        hint="see the raw log; try another delegate or a newer benchmark_model build")
    if out is not None and out.rejected:
        r = out.rejected[0]
        return RunError(f"{r['delegate']} delegate rejected the model: {r['line'].rstrip('.')}",
                        hint="this delegate cannot run this model on this device; its numbers are not reported")
    if status != 0 or out is None or out.failed or not out.complete or out.inference is None:
        err = out.errors[-1].rstrip(".") if out is not None and out.errors else last
        return RunError(f"benchmark_model failed (exit status {status}): {err}", hint="see the raw log")
    return None


class DeviceBench:
    """Benchmarks one device into ``collector``."""

    def __init__(self, adb: Adb, serial: str, cfg: AdbConfig, models: Sequence[model_files.ModelFile],
                 collector: Collector, logs_dir: Path) -> None:
        self.adb, self.serial, self.cfg, self.models, self.collector = adb, serial, cfg, models, collector
        self.logs_dir = logs_dir
        self.info: Dict[str, Any] = {"kind": "android", "serial": serial}
        self.battery = (BatteryMonitor(cfg.battery_dir, cfg.battery_interval_s, cfg.battery_idle_s, cfg.timeout_s)
                        if cfg.battery else None)

    def describe(self) -> None:
        self.info.update(self.adb.properties(self.serial))
        name = " ".join(filter(None, [self.info.get("manufacturer"), self.info.get("model")]))
        self.info["name"] = name or self.serial
        freqs = self.adb.cpu_max_freqs(self.serial)
        self.info["cpu_count"] = len(freqs) or None
        self.info["cpu_max_mhz"] = [round(freqs[c] / 1000) for c in sorted(freqs)]
        self.info["big_core_mask"] = adb_parsers.big_core_mask(freqs)
        self.info["thermal_before"] = self.adb.thermal(self.serial)
        if self.battery is not None:
            self.info["battery"] = self.battery.probe(self.adb, self.serial)

    def affinity(self) -> Optional[str]:
        if self.cfg.taskset == "big":
            return self.info.get("big_core_mask")
        return self.cfg.taskset

    def setup(self) -> None:
        remote = self.cfg.remote_dir
        self.adb.shell(self.serial, f"mkdir -p {quote(remote)}")
        self.adb.push(self.serial, self.cfg.binary, f"{remote}/benchmark_model")
        self.adb.shell(self.serial, f"chmod 755 {quote(remote + '/benchmark_model')}")
        for m in self.models:
            self.adb.push(self.serial, m.path, f"{remote}/{remote_name(m.key)}")

    def cleanup(self) -> None:
        if self.cfg.keep_remote:
            return
        try:
            self.adb.shell(self.serial, f"rm -rf {quote(self.cfg.remote_dir)}", timeout=60)
        except BenchmarkError as exc:
            self.collector.notes.append(f"cleanup of {self.cfg.remote_dir} failed ({exc}); remove it by hand")

    def run_once(self, model: model_files.ModelFile, delegate: str, threads: int, repeat: int
                 ) -> Tuple[int, str, Path, Optional[Tuple[Dict[str, Any], Optional[str], str]]]:
        """Exit status, log text and path of one run, and with battery sampling ``(state before the
        run, sampler log text or None, its path)``."""
        remote = self.cfg.remote_dir
        tag = f"{remote_name(model.key)[:-7]}_{delegate}_t{threads}_r{repeat}"
        remote_log = f"{remote}/{tag}.log"
        args = [f"{remote}/benchmark_model", f"--graph={remote}/{remote_name(model.key)}", f"--num_threads={threads}",
                *delegate_flags(delegate), f"--warmup_runs={self.cfg.warmup_runs}", f"--num_runs={self.cfg.num_runs}",
                "--report_peak_memory_footprint=true", *self.cfg.extra_args]
        mask = self.affinity()
        command = " ".join(quote(a) for a in args)
        if mask:
            command = f"taskset {quote(mask)} {command}"
        command = f"{command} > {quote(remote_log)} 2>&1"
        label = command[:60] + "..."
        sampled = self.battery is not None and self.battery.available
        if sampled:
            state = self.battery.state(self.adb, self.serial)
            command = self.battery.wrap(command, f"{remote}/{tag}.power")
        status, _ = self.adb.shell_status(self.serial, command, timeout=self.cfg.timeout_s, what=label)
        local = self.logs_dir / f"{tag}.log"
        self.adb.pull(self.serial, remote_log, local)
        power = None
        if sampled:
            power_local = self.logs_dir / f"{tag}.power"
            try:
                self.adb.pull(self.serial, f"{remote}/{tag}.power", power_local)
                power = (state, power_local.read_text(errors="replace"), str(power_local))
            except DeviceError:
                power = (state, None, str(power_local))
        return status, local.read_text(errors="replace"), local, power

    def bench(self) -> None:
        mask = self.affinity() or "none"
        if self.battery is not None and self.battery.available:
            self.battery.idle(self.adb, self.serial, self.cfg.remote_dir, self.logs_dir)
        for model in self.models:
            for delegate, threads in runs_for(self.cfg):
                params = {"model": model.key, "threads": threads, "delegate": delegate, "affinity": mask}
                per_repeat: List[Measurement] = []
                for repeat in range(1, self.cfg.repeats + 1):
                    what = f"{model.key}, {delegate}, {threads} thread(s), repeat {repeat}"
                    result = self._one(model, delegate, threads, repeat, what, {**params, "repeat": repeat})
                    if result is None:
                        break  # a failed configuration is not repeated
                    per_repeat += result
                combined = combine_repeats(per_repeat, {**params, "repeat": "all"})
                if combined is not None:
                    self.collector.add([combined])
                    self.collector.add(combine_energy(per_repeat, combined.params, combined.params["repeats"]))

    def _one(self, model: model_files.ModelFile, delegate: str, threads: int, repeat: int, what: str,
             params: Dict[str, Any]) -> Optional[List[Measurement]]:
        status, text, log, power = self.run_once(model, delegate, threads, repeat)
        try:
            out = bm.parse(text, source=str(log))
        except ToolOutputError as exc:
            self.collector.errors.append({"what": what, "error": str(exc)})
            return None
        failure = classify_failure(status, text, out)
        if isinstance(failure, DeviceError):
            raise failure
        if failure is not None:
            self.collector.errors.append({"what": what, "error": f"{failure} (log: {log})"})
            return None
        if out.partial_delegation and repeat == 1:
            parts = [f"{d.replaced} of {d.total} nodes to {d.kernel}" for d in out.delegations if d.partial]
            parts += [f"{d['name']} delegate executes the graph partially ({d['kernels']} delegate kernels)"
                      for d in out.delegates if d["executed"] == "partially"]
            self.collector.notes.append(f"partial delegation for {model.key} with {delegate}: {'; '.join(parts)}; "
                                        "the other nodes ran on the CPU")
        measurements = run_measurements(out, params)
        if power is not None:
            skip_s = ((out.init_us or 0) + (out.first_inference_us or 0)) / 1e6
            latency = out.inference.avg / 1e3 if out.inference is not None and out.inference.avg else None
            measurements += self.battery.measure(what, power[1], power[2], power[0], skip_s, latency, params)
        self.collector.add(measurements)
        return measurements


def targets(measurements: Sequence[Measurement], detector: str, emotion: str) -> Tuple[List[Measurement], List[Target]]:
    """``frame.models_latency`` (detector + emotion p50 per configuration) and its 15 ms target."""
    extra, tgts = [], []
    for det in (m for m in measurements if m.name == "model.latency" and m.params.get("model") == detector
                and m.params.get("repeat") == "all"):
        common = {k: det.params[k] for k in ("threads", "delegate", "affinity")}
        emo = next((m for m in measurements
                    if m.matches("model.latency", {"model": emotion, "repeat": "all", **common})), None)
        if emo is None:
            continue
        extra.append(Measurement.single("frame.models_latency", "ms", det.stats["p50"] + emo.stats["p50"], **common))
        tgts.append(Target(f"{detector} + {emotion} inference p50 <= {FRAME_BUDGET_MS:g} ms: {common['delegate']}, "
                           f"{common['threads']} thread(s)", "frame.models_latency", "value", FRAME_BUDGET_MS, common))
    return extra, tgts


NOTES = [
    "model.latency comes from benchmark_model's own statistics (microseconds, converted to ms); repeat=all "
    "combines the repeats: p50 = median of the repeats' medians (of their averages when the tool printed no "
    "percentiles), min/max over all runs, p95 = worst repeat.",
    "frame.models_latency adds the detector's and the emotion model's p50: model inference only, without the "
    "camera frame conversion, letterboxing, alignment and decoding an app also does.",
    "GPU/NNAPI run once per model with the first --threads value (it only sizes the CPU fallback); a delegate "
    "that rejects a model, or leaves the graph to the CPU, gives an error entry and no numbers.",
]


def bench_device(adb: Adb, serial: str, cfg: AdbConfig, found: model_files.ModelSet,
                 out_dir: Path) -> Tuple[Dict[str, Any], bool]:
    """Benchmark one device and write its report; returns (report, interrupted)."""
    collector = Collector(skipped=list(found.skipped), errors=list(found.errors))
    logs_dir = out_dir / f"adb_{_safe(serial)}_logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    bench = DeviceBench(adb, serial, cfg, found.models, collector, logs_dir)
    interrupted = False
    try:
        with collector.step(f"device {serial}"):
            bench.describe()
            try:
                bench.setup()
                bench.bench()
            finally:
                bench.cleanup()
                if "thermal_before" in bench.info:
                    with collector.step(f"device {serial} thermal status after the run"):
                        bench.info["thermal_after"] = adb.thermal(serial)
    except KeyboardInterrupt:
        interrupted = True
    extra, tgts = targets(collector.measurements, "detector/short_range_fp32", "emotion/shipped")
    collector.add(extra)
    config = {**cfg.to_dict(), "models": model_files.inventory(found.models), "logs": str(logs_dir)}
    first = {"threads": cfg.threads[0], "delegate": cfg.delegates[0], "repeat": "all"}
    energy = bench.battery.energy.to_dict() if bench.battery is not None else None
    report = build_report("adb", bench.info, package_versions(["edgekit"]), config, collector.measurements, tgts,
                          NOTES + collector.notes, ratios=model_ratios("model.latency", "p50", first),
                          energy=energy, **collector.sections())
    report["ratios"] = keep_computable(report["ratios"], lambda r: False)
    stem = f"adb_{_safe(serial)}"
    if write_chart(report, out_dir / f"{stem}.png"):
        report["artifacts"]["chart"] = f"{stem}.png"
    if write_energy_chart(report, out_dir / f"{stem}_energy.png"):
        report["artifacts"]["energy_chart"] = f"{stem}_energy.png"
    report["_paths"] = [str(p) for p in write_report(report, out_dir, stem)]
    return report, interrupted


def _safe(serial: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", serial)


def select_devices(adb: Adb, serials: Sequence[str]) -> Tuple[List[str], List[Dict[str, str]]]:
    """Usable serials and error entries for the unusable ones; raises when none is usable."""
    devices = adb.devices()
    if not devices:
        raise DeviceError("no Android device connected", subject="adb devices -l",
                          hint="connect a phone with USB debugging enabled (Settings > Developer options) "
                               "or `adb connect HOST:PORT`, then check `adb devices -l`")
    listed = {d.serial: d for d in devices}
    unknown = [s for s in serials if s not in listed]
    if unknown:
        raise DeviceError(f"device(s) {', '.join(unknown)} not connected (connected: {', '.join(listed)})",
                          subject="--serial", hint="pick serials from `adb devices -l`")
    wanted = [listed[s] for s in serials] if serials else devices
    problems = [{"what": f"device {d.serial}", "error": str(DeviceError(
        f"device is {d.state}", subject=d.serial, hint=_hint(d.state)))} for d in wanted if not d.usable]
    usable = [d.serial for d in wanted if d.usable]
    if not usable:
        raise DeviceError("no usable device: " + "; ".join(p["error"] for p in problems), subject="adb devices -l",
                          hint="fix the device state(s) above and run again")
    return usable, problems


def _hint(state: str) -> str:
    from .adbclient import _STATE_HINTS

    return _STATE_HINTS.get(state, "check the device and `adb devices -l`")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.adb", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark-binary", type=Path, required=True, metavar="PATH",
                   help="TFLite benchmark_model built for android_aarch64 (see docs/benchmarks.md)")
    p.add_argument("--serial", action="append", default=[], help="device serial (repeatable; default: every device)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4], help="--num_threads values (default: 1 2 4)")
    p.add_argument("--delegates", nargs="+", default=["xnnpack", "cpu", "gpu", "nnapi"], metavar="D",
                   help=f"configurations among {', '.join(DELEGATES)} (default: xnnpack cpu gpu nnapi)")
    p.add_argument("--warmup-runs", type=int, default=20, help="benchmark_model --warmup_runs (default: 20)")
    p.add_argument("--num-runs", type=int, default=100, help="benchmark_model --num_runs (default: 100)")
    p.add_argument("--repeats", type=int, default=3, help="runs of each configuration (default: 3)")
    p.add_argument("--taskset", metavar="MASK|big",
                   help="pin to CPUs with `taskset MASK` (hex), or 'big' for the cores "
                        "outside the slowest cluster (from cpuinfo_max_freq)")
    p.add_argument("--models-dir", type=Path, default=model_files.DEFAULT_EMOTION_DIR,
                   help="emotion toolchain variants folder")
    p.add_argument("--model", action="append", default=[], metavar="KEY=PATH",
                   help="add or replace a model (see benchmarks.host)")
    p.add_argument("--no-variants", action="store_true", help="only shipped models and --model files")
    p.add_argument("--families", nargs="+", default=["detector", "emotion"], choices=model_files.FAMILIES,
                   help="model families to run (default: detector emotion, the per-frame models; caption: see "
                        "docs/benchmarks.md, benchmark_model's random integer inputs overflow the decoder's context)")
    p.add_argument("--adb", help="adb executable (default: adb on PATH)")
    p.add_argument("--remote-dir", default=REMOTE_DIR,
                   help=f"device folder (default: {REMOTE_DIR}; removed afterwards)")
    p.add_argument("--keep-remote", action="store_true", help="leave the pushed files on the device")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per benchmark_model run (default: 600)")
    p.add_argument("--extra-arg", action="append", default=[],
                   help="extra benchmark_model flag, e.g. --extra-arg=--use_caching=true")
    p.add_argument("--no-battery", action="store_true", help="do not sample the battery during the runs")
    p.add_argument("--battery-dir", default=BATTERY_DIR, help=f"power_supply folder to sample (default: {BATTERY_DIR})")
    p.add_argument("--battery-interval", type=float, default=0.1, help="battery sampling interval, s (default: 0.1)")
    p.add_argument("--battery-idle", type=float, default=30.0, help="idle baseline before the runs, s (default: 30)")
    p.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results", help="output folder")
    args = p.parse_args(argv)
    bad = [d for d in args.delegates if d not in DELEGATES]
    if bad:
        p.error(f"unsupported delegate(s) {', '.join(bad)} (valid: {', '.join(DELEGATES)})")
    if args.taskset and args.taskset != "big" and not re.fullmatch(r"(0x)?[0-9a-fA-F]+", args.taskset):
        p.error(f"--taskset {args.taskset!r} is neither a hex CPU mask (e.g. f0) nor 'big'")
    if not 0 < args.battery_interval <= 10 or args.battery_idle < 0:
        p.error("--battery-interval must be in (0, 10] s and --battery-idle >= 0")
    if min(args.threads + [args.num_runs, args.repeats]) < 1 or args.warmup_runs < 0:
        p.error("--threads, --num-runs and --repeats must be >= 1, --warmup-runs >= 0")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    sigterm_as_interrupt()
    try:
        extra = [model_files.parse_model_arg(text) for text in args.model]
    except ValueError as exc:
        print(f"benchmarks.adb: error: --model: {exc}", file=sys.stderr)
        return 2
    cfg = AdbConfig(binary=args.benchmark_binary, serials=args.serial, threads=args.threads, delegates=args.delegates,
                    warmup_runs=args.warmup_runs, num_runs=args.num_runs, repeats=args.repeats, taskset=args.taskset,
                    remote_dir=args.remote_dir, keep_remote=args.keep_remote, timeout_s=args.timeout,
                    extra_args=args.extra_arg, battery=not args.no_battery, battery_dir=args.battery_dir,
                    battery_interval_s=args.battery_interval, battery_idle_s=args.battery_idle)
    try:
        warning = check_binary(cfg.binary)
        if warning:
            print(f"benchmarks.adb: warning: {warning}", file=sys.stderr)
        found = model_files.discover(args.models_dir, model_files.DEFAULT_CAPTION_DIRS, extra, families=args.families,
                                     include_toolchain=not args.no_variants)
        adb = Adb.locate(args.adb)
        serials, problems = select_devices(adb, cfg.serials)
    except BenchmarkError as exc:
        print(f"benchmarks.adb: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    for problem in problems:
        print(f"benchmarks.adb: error: {problem['error']}", file=sys.stderr)
    exit_code = 1 if problems or found.errors else 0
    for serial in serials:
        started = time.monotonic()
        report, interrupted = bench_device(adb, serial, cfg, found, args.out_dir)
        for e in report["errors"]:
            print(f"benchmarks.adb: error: {serial}: {e['what']}: {e['error']}", file=sys.stderr)
        for t in report["targets"]:
            print(f"{serial}: {'PASS' if t['passed'] else 'FAIL'}: {t['description']}: {t['value']:.3f} ms")
        print(f"{serial}: status {report['status']} after {time.monotonic() - started:.0f} s; "
              f"wrote {', '.join(report['_paths'])}")
        if interrupted:
            return 130
        exit_code = exit_code or (1 if report["errors"] else 0)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
