"""Jetson benchmark: ``python -m benchmarks.jetson`` (or ``jetson/run.sh``) on the board itself.

Runs the host harness (:mod:`benchmarks.host`: whole pipeline, each model, 1/2/4 threads,
XNNPACK on/off, cold start, memory) with LiteRT on the Jetson CPU, and adds:

- the power/clock state: ``nvpmodel -q`` (power mode) and ``jetson_clocks --show`` (whether the
  clocks are locked at their maximum), the board model and L4T release;
- ``tegrastats`` sampled during the LiteRT benchmark (RAM, CPU load per core, GPU load and
  frequency, temperatures, power rails), summarised as ``tegrastats.*`` measurements, raw log kept;
- optionally TensorRT: ``--trtexec-onnx model.onnx`` runs ``trtexec`` on each ONNX file
  (``--trt-precision fp16|int8|fp32``) and records its latency / GPU compute / throughput lines.

Writes ``benchmarks/results/jetson.{json,md,png}`` in the shared schema. Tools that are missing
or need root are recorded as unavailable, not faked. See jetson/README.md.

``--sweep-nvpmodel`` runs the power-mode sweep instead (:mod:`benchmarks.sweep`): every nvpmodel
mode x jetson_clocks off/on, an idle baseline, then the pipeline and each model under load with
the INA3221 rails sampled; latency, power, mJ per frame and frames per joule per mode; writes
``benchmarks/results/jetson_sweep.{json,md,png}`` (``jetson_sweep_modes_<ids>.*`` with ``--modes``)
and restores the original mode and clocks.
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from . import invoke, models as model_files
from .chart import write_energy_chart
from .collect import Collector, sigterm_as_interrupt
from .errors import ToolOutputError
from .host import VERSIONS, add_arguments, config_from_args, make_frame, print_summary, run_and_write
from .powermodes import PowerModes
from .parsers import jetson as jetson_parsers
from .parsers import trtexec as trtexec_parser
from .report import Measurement, build_report, host_device, package_versions, write_report
from .sweep import Sweep, SweepConfig, model_workload, pipeline_workload, sweep_targets
from .tegrastats import TegrastatsSampler, parse_lines, summarize
from .tools import run_tool


def _read(path: str) -> Optional[str]:
    try:
        return Path(path).read_text(errors="replace").replace("\x00", "").strip()
    except OSError:
        return None


def jetson_facts(collector: Collector) -> Dict[str, Any]:
    """Board, L4T release, power mode and clock state (parse errors go to ``collector``)."""
    release = (_read("/etc/nv_tegra_release") or "").splitlines()
    facts: Dict[str, Any] = {"kind": "jetson", "board": _read("/proc/device-tree/model"),
                             "l4t_release": release[0].lstrip("# ") if release else None}
    for key, args, parse in (("nvpmodel", ["nvpmodel", "-q"], jetson_parsers.parse_nvpmodel),
                             ("jetson_clocks", ["jetson_clocks", "--show"], jetson_parsers.parse_jetson_clocks)):
        result = run_tool(args)
        if not result["available"]:
            facts[key] = {"available": False, "reason": result["reason"]}
            continue
        try:
            facts[key] = {"available": True, **parse(result["output"], " ".join(args))}
        except ToolOutputError as exc:
            facts[key] = {"available": False, "reason": str(exc)}
            collector.errors.append({"what": key, "error": str(exc)})
    clocks = facts.get("jetson_clocks", {})
    if clocks.get("available") and not clocks.get("clocks_locked"):
        collector.notes.append("jetson_clocks is not active (CPU/GPU MinFreq < MaxFreq): latencies vary with DVFS; "
                               "run `sudo jetson_clocks` first for stable numbers.")
    return facts


def trtexec_measurements(onnx: Path, precision: str, text: str, source: str) -> List[Measurement]:
    """``trtexec.*`` measurements from one trtexec log (ms; throughput in inferences/s)."""
    parsed = trtexec_parser.parse(text, source)
    if parsed["passed"] is False:
        raise RuntimeError(f"trtexec reported FAILED for {onnx} (see {source})")
    params = {"model": onnx.stem, "precision": precision}
    out = []
    if parsed["throughput_qps"] is not None:
        out.append(Measurement.single("trtexec.throughput", "qps", parsed["throughput_qps"], **params))
    for metric, stats in parsed["metrics"].items():
        out.append(Measurement.from_stats(f"trtexec.{metric}", "ms", dict(stats), **params))
    for avg in parsed["averages"]:  # TensorRT 7
        out.append(Measurement.from_stats("trtexec.gpu_compute_time", "ms", {"mean": avg["gpu"], "n": avg["runs"]},
                                          **params))
        out.append(Measurement.from_stats("trtexec.latency", "ms", {"mean": avg["host"], "n": avg["runs"]}, **params))
    return out


def run_trtexec(onnx: Path, precision: str, iterations: int, log_path: Path) -> List[Measurement]:
    if not onnx.is_file():
        raise FileNotFoundError(f"{onnx}: ONNX file not found (export it first, see jetson/README.md)")
    trtexec = shutil.which("trtexec") or next((p for p in ("/usr/src/tensorrt/bin/trtexec",) if Path(p).is_file()),
                                              None)
    if trtexec is None:
        raise FileNotFoundError("trtexec not found on PATH or in /usr/src/tensorrt/bin (install TensorRT from JetPack)")
    args = [trtexec, f"--onnx={onnx}", f"--iterations={iterations}", "--warmUp=500", "--avgRuns=100"]
    if precision != "fp32":
        args.append(f"--{precision}")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    log_path.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"trtexec exited with {proc.returncode} for {onnx} (see {log_path})")
    return trtexec_measurements(onnx, precision, log_path.read_text(), str(log_path))


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.jetson", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.add_argument("--tegrastats-interval", type=int, default=500,
                   help="tegrastats sampling interval, ms (default: 500)")
    p.add_argument("--trtexec-onnx", type=Path, action="append", default=[], metavar="MODEL.onnx",
                   help="also run TensorRT's trtexec on this ONNX file (repeatable)")
    p.add_argument("--trt-precision", choices=("fp16", "int8", "fp32"), default="fp16",
                   help="trtexec precision (default: fp16)")
    p.add_argument("--trt-iterations", type=int, default=500, help="trtexec --iterations (default: 500)")
    add_sweep_arguments(p)
    args = p.parse_args(argv)
    if args.sweep_nvpmodel:
        return sweep_main(args)
    stem = "jetson_quick" if args.quick else "jetson"
    holder: Dict[str, Any] = {}

    @contextlib.contextmanager
    def around(collector: Collector) -> Iterator[None]:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        holder["facts"] = jetson_facts(collector)
        sampler = TegrastatsSampler(args.tegrastats_interval, args.out_dir / f"{stem}_tegrastats.log")
        try:
            with sampler:
                yield
        finally:
            if sampler.error:
                collector.skipped.append({"what": "tegrastats", "reason": sampler.error})
            samples, errors = parse_lines(sampler.lines, str(sampler.log_path))
            measurements, notes = summarize(samples)
            collector.add(measurements)
            collector.errors += errors
            collector.notes += notes
        for onnx in args.trtexec_onnx:
            with collector.step(f"trtexec {onnx} ({args.trt_precision})"):
                collector.add(run_trtexec(onnx, args.trt_precision, args.trt_iterations,
                                          args.out_dir / f"{stem}_trtexec_{onnx.stem}.log"))

    return run_and_write("jetson", args, device_info=lambda: holder.get("facts", {"kind": "jetson"}), around=around)


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("power-mode sweep (--sweep-nvpmodel; needs root: SUDO=1 jetson/run.sh)")
    g.add_argument("--sweep-nvpmodel", action="store_true", help="sweep every nvpmodel mode x jetson_clocks off/on and "
                                                                 "measure latency, power and energy per frame")
    g.add_argument("--modes", type=int, nargs="+", metavar="ID",
                   help="only these nvpmodel mode IDs (default: all listed)")
    g.add_argument("--include-reboot-modes", action="store_true",
                   help="also try modes expected to need a reboot (nvpmodel's reboot prompt is always declined)")
    g.add_argument("--clocks", choices=("off", "on", "both"), default="both",
                   help="jetson_clocks settings (default: both)")
    g.add_argument("--idle-s", type=float, help="idle baseline per setting, s (default: 30; --quick: 3)")
    g.add_argument("--load-s", type=float, help="measured load per workload and setting, s (default: 20; --quick: 3)")
    g.add_argument("--settle-s", type=float, help="wait after a mode/clock change, s (default: 5; --quick: 1)")
    g.add_argument("--warmup", type=int, help="untimed frames/invokes before each load (default: 20; --quick: 3)")
    g.add_argument("--power-interval-ms", type=float, default=50.0,
                   help="INA3221 sampling interval, ms (default: 50 = 20 Hz)")
    g.add_argument("--sysfs-root", type=Path, default=Path("/"), help=argparse.SUPPRESS)  # a fake tree in tests


def sweep_config(args: argparse.Namespace, board: Optional[str]) -> SweepConfig:
    quick = {"idle_s": 3.0, "load_s": 3.0, "settle_s": 1.0, "warmup": 3} if args.quick else {}
    cfg = SweepConfig(**quick, interval_s=args.power_interval_ms / 1e3, modes=args.modes,
                      include_reboot_modes=args.include_reboot_modes, sysfs_base=args.sysfs_root, board=board,
                      clocks=("off", "on") if args.clocks == "both" else (args.clocks,))
    for name in ("idle_s", "load_s", "settle_s", "warmup"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    if min(cfg.idle_s, cfg.load_s, cfg.settle_s, cfg.warmup) < 0 or cfg.load_s == 0:
        raise SystemExit("error: --idle-s, --settle-s and --warmup must be >= 0, --load-s > 0")
    if not 0 < cfg.interval_s <= 0.1:
        raise SystemExit("error: --power-interval-ms must be in (0, 100]: the sweep samples power at >= 10 Hz")
    return cfg


SWEEP_NOTES = [
    "Each setting: settle, an idle baseline with nothing running, then each workload for --load-s seconds after "
    "a warm-up. power.total is the module-input rail (VDD_IN / POM_5V_IN) or, on boards without one, the sum of "
    "the monitored rails; energy.per_frame = mean power x time per frame (gross) and (mean - idle) x time per "
    "frame (above idle); frames_per_joule = 1000 / gross mJ. The carrier board, fan and peripherals are outside "
    "the module rails.",
    "Modes switch with nvpmodel -m (reboot prompts declined) and are read back (nvpmodel -q, jetson_clocks --show "
    "against /etc/nvpmodel.conf's caps); a setting that did not take effect is an error entry, not a row.",
]


def sweep_main(args: argparse.Namespace) -> int:
    """``--sweep-nvpmodel``: run the sweep, write ``jetson_sweep[_modes_<ids>][_quick].{json,md,png}``."""
    cfg_host = config_from_args(args)
    sigterm_as_interrupt()
    collector = Collector()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    # a partial sweep (e.g. a reboot-only mode measured after booting into it) never overwrites the full one
    stem = ("jetson_sweep" + ("_modes_" + "_".join(map(str, args.modes)) if args.modes else "")
            + ("_quick" if args.quick else ""))
    facts = jetson_facts(collector)
    cfg = sweep_config(args, facts.get("board"))
    found = model_files.discover(cfg_host.emotion_dir, cfg_host.caption_dirs, cfg_host.extra_models,
                                 families=cfg_host.families, include_toolchain=cfg_host.toolchain_variants)
    collector.skipped += found.skipped
    collector.errors += found.errors
    threads = cfg_host.threads[0]
    frame = make_frame()
    emotions = found.family("emotion")
    workloads = [pipeline_workload(e.key, e.path, frame, threads) for e in emotions[:1]]
    maker = invoke.InputMaker(frame)
    workloads += [model_workload(m, maker, threads) for m in found.models]
    sweep = Sweep(cfg, PowerModes(clocks_file=args.out_dir / f"{stem}_clocks.conf"), workloads, collector)
    try:
        sweep.run()
    except KeyboardInterrupt:
        collector.interrupted = True
    device = {**host_device(), **facts, **sweep.device}
    config = {**cfg.to_dict(), "threads": threads, "workloads": [w.label for w in workloads],
              "models": model_files.inventory(found.models)}
    report = build_report("jetson", device, package_versions(list(VERSIONS)), config, collector.measurements,
                          sweep_targets(collector.measurements), SWEEP_NOTES + collector.notes,
                          energy=sweep.energy.to_dict(), **collector.sections())
    if write_energy_chart(report, args.out_dir / f"{stem}.png"):
        report["artifacts"]["chart"] = f"{stem}.png"
    paths = write_report(report, args.out_dir, stem)
    print_summary(report, paths)
    if collector.interrupted:
        return 130
    return 1 if collector.errors else 0


if __name__ == "__main__":
    sys.exit(main())
