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
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from .collect import Collector
from .errors import ToolOutputError
from .host import add_arguments, run_and_write
from .parsers import jetson as jetson_parsers
from .parsers import trtexec as trtexec_parser
from .report import Measurement
from .tegrastats import TegrastatsSampler, parse_lines, summarize


def _run_tool(args: Sequence[str], timeout: float = 30) -> Dict[str, Any]:
    """``{"available": True, "output": text}`` or ``{"available": False, "reason": ...}``."""
    path = shutil.which(args[0])
    if path is None:
        return {"available": False, "reason": f"{args[0]} not found on PATH"}
    try:
        proc = subprocess.run([path, *args[1:]], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"available": False, "reason": f"{args[0]} failed: {exc}"}
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        hint = " (it needs root: run with sudo -E)" if "root" in output.lower() or "permission" in output.lower() else ""
        return {"available": False, "reason": f"`{' '.join(args)}` exited with {proc.returncode}{hint}: "
                                              f"{output.strip().splitlines()[-1] if output.strip() else ''}"}
    return {"available": True, "output": output}


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
        result = _run_tool(args)
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
        out.append(Measurement.from_stats("trtexec.gpu_compute_time", "ms", {"mean": avg["gpu"], "n": avg["runs"]}, **params))
        out.append(Measurement.from_stats("trtexec.latency", "ms", {"mean": avg["host"], "n": avg["runs"]}, **params))
    return out


def run_trtexec(onnx: Path, precision: str, iterations: int, log_path: Path) -> List[Measurement]:
    if not onnx.is_file():
        raise FileNotFoundError(f"{onnx}: ONNX file not found (export it first, see jetson/README.md)")
    trtexec = shutil.which("trtexec") or next((p for p in ("/usr/src/tensorrt/bin/trtexec",) if Path(p).is_file()), None)
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
    p.add_argument("--tegrastats-interval", type=int, default=500, help="tegrastats sampling interval, ms (default: 500)")
    p.add_argument("--trtexec-onnx", type=Path, action="append", default=[], metavar="MODEL.onnx",
                   help="also run TensorRT's trtexec on this ONNX file (repeatable)")
    p.add_argument("--trt-precision", choices=("fp16", "int8", "fp32"), default="fp16", help="trtexec precision (default: fp16)")
    p.add_argument("--trt-iterations", type=int, default=500, help="trtexec --iterations (default: 500)")
    args = p.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
