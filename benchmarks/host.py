"""Host benchmark of the edgekit runtime: ``python -m benchmarks.host [--model PATH]``.

Measures, on a 640x480 frame with one face (built from the embedded astronaut photo):

- steady state, with 1 and 2 LiteRT threads: per-stage latency (detect, align, classify, their
  sum per frame, and the whole ``Pipeline.process`` call) as p50/p95, and frames per second;
- cold start, in fresh subprocesses: ``import edgekit`` + loading the models + the first frame
  (decoded from a PNG file), median of ``--cold-runs`` runs, recording whether TensorFlow or
  MediaPipe got imported (they must not be).

Writes ``benchmarks/results/host.json`` and ``host.md`` (schema: :mod:`benchmarks.report`) and
prints PASS/FAIL for the targets. Not a test: numbers depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import cv2
import numpy as np

import edgekit
from edgekit.assets import demo_photo
from edgekit.registry import sha256_file

from .report import ROOT, Measurement, Target, build_report, host_device, package_versions, write_report

FRAME_SIZE = (640, 480)
TARGETS = [
    Target("detect+align+classify p50, 1 thread", "pipeline.detect_align_classify", "p50", 3.0, {"threads": 1}),
    Target("cold start (import + load + first frame), median", "cold_start.in_process", "p50", 0.5),
    Target("no TensorFlow/MediaPipe import at run time", "cold_start.forbidden_modules_imported", "value", 0),
]
FORBIDDEN_MODULES = ("tensorflow", "tf_keras", "mediapipe")

#: Runs in a fresh interpreter: argv = emotion model, frame path. Prints one JSON line.
COLD_START_CHILD = f"""
import json, sys, time
t0 = time.perf_counter()
import edgekit
Pipeline = edgekit.Pipeline  # the lazy public names load here
t_import = time.perf_counter()
pipe = Pipeline(emotion_model=sys.argv[1], num_threads=1)
t_load = time.perf_counter()
result = pipe.process(sys.argv[2])
t_first = time.perf_counter()
print(json.dumps({{"import_s": t_import - t0, "load_s": t_load - t_import, "first_frame_s": t_first - t_load,
                  "total_s": t_first - t0, "faces": len(result.faces),
                  "forbidden_imported": sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN_MODULES!r})}}))
"""


def make_frame() -> np.ndarray:
    """640x480 BGR frame with one face: the astronaut photo scaled to 640 wide, top 480 rows."""
    photo = edgekit.load_image(demo_photo())
    return np.ascontiguousarray(cv2.resize(photo, (FRAME_SIZE[0], FRAME_SIZE[0]), interpolation=cv2.INTER_AREA)
                                [: FRAME_SIZE[1]])


def steady_state(model: str, frame: np.ndarray, threads: int, frames: int, warmup: int) -> List[Measurement]:
    """Per-stage latencies and throughput of ``Pipeline.process`` on the same frame."""
    stages: Dict[str, List[float]] = {k: [] for k in ("detect", "align", "classify", "detect_align_classify", "process")}
    with edgekit.Pipeline(emotion_model=model, num_threads=threads) as pipe:
        for _ in range(warmup):
            pipe.process(frame)
        start = time.perf_counter()
        for _ in range(frames):
            result = pipe.process(frame)
            if len(result.faces) != 1:
                raise RuntimeError(f"benchmark frame should hold exactly one face, found {len(result.faces)}")
            t = result.timings
            stages["detect"].append(t.detect_ms)
            stages["align"].append(t.align_ms)
            stages["classify"].append(t.classify_ms)
            stages["detect_align_classify"].append(t.detect_ms + t.align_ms + t.classify_ms)
            stages["process"].append(t.total_ms)
        elapsed = time.perf_counter() - start
    out = [Measurement.from_samples(f"pipeline.{name}", "ms", v, threads=threads) for name, v in stages.items()]
    out.append(Measurement.single("pipeline.throughput", "frames/s", frames / elapsed, threads=threads))
    return out


def cold_start(model: str, frame_path: Path, runs: int) -> List[Measurement]:
    """Median over ``runs`` fresh interpreters of import + load + first frame."""
    records, walls = [], []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", COLD_START_CHILD, model, str(frame_path)], env=env,
                              capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - t0)
        records.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    forbidden = sorted({m for r in records for m in r["forbidden_imported"]})
    out = [Measurement.from_samples(f"cold_start.{key}", "s", [r[f"{key}_s"] for r in records])
           for key in ("import", "load", "first_frame")]
    out.append(Measurement.from_samples("cold_start.in_process", "s", [r["total_s"] for r in records]))
    out.append(Measurement.from_samples("cold_start.process_wall", "s", walls))
    out.append(Measurement.single("cold_start.forbidden_modules_imported", "modules", len(forbidden),
                                  checked=",".join(FORBIDDEN_MODULES)))
    return out


def describe_model(model: str) -> Dict[str, Any]:
    clf = edgekit.EmotionClassifier(model)
    return {"emotion_model": str(clf.model_path), "emotion_model_sha256": sha256_file(clf.model_path),
            "emotion_model_bundled": model == "emotion", "emotion_input": clf.input_spec.to_dict()}


def run(model: str, frames: int, warmup: int, threads: Sequence[int], cold_runs: int, out_dir: Path) -> Dict[str, Any]:
    frame = make_frame()
    config: Dict[str, Any] = {"frame_size": list(FRAME_SIZE), "frame": "astronaut photo scaled to 640x640, top 640x480",
                              "detector_model": "short_range", "frames": frames, "warmup": warmup,
                              "threads": list(threads), "cold_start_runs": cold_runs, **describe_model(model)}
    measurements: List[Measurement] = []
    for n in threads:
        measurements += steady_state(model, frame, n, frames, warmup)
    with tempfile.TemporaryDirectory() as tmp:
        frame_path = Path(tmp) / "frame.png"
        cv2.imwrite(str(frame_path), frame)
        measurements += cold_start(model, frame_path, cold_runs)
    notes = ["Stage times come from edgekit.StageTimings; pipeline.process is the whole process() call "
             "(includes input validation and result construction).",
             "cold_start.in_process = import edgekit + Pipeline() (model sha256 check + load) + first frame "
             "(PNG decode included), measured inside the child; cold_start.process_wall adds interpreter "
             "start-up. cold_start.forbidden_modules_imported counts TensorFlow/tf_keras/MediaPipe modules "
             "found in sys.modules after the first frame (over all runs)."]
    if not config["emotion_model_bundled"]:
        notes.append(f"Emotion model is {config['emotion_model']}, not the bundled 'emotion' model: "
                     "classify timings depend on the model.")
    device = host_device()
    if device.get("load_avg_1_5_15") and device["load_avg_1_5_15"][0] > 0.5 * (device["cpu_usable"] or 1):
        notes.append(f"The machine was busy during the run (1-min load average {device['load_avg_1_5_15'][0]} on "
                     f"{device['cpu_usable']} usable cores): latencies are pessimistic.")
    versions = package_versions(["edgekit", "numpy", "opencv-contrib-python", "ai-edge-litert", "Pillow"])
    report = build_report("host", device, versions, config, measurements, TARGETS, notes)
    json_path, md_path = write_report(report, out_dir, "host")
    report["_paths"] = [str(json_path), str(md_path)]
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.host", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="emotion", help="emotion model: bundled name or .tflite path (default: emotion)")
    p.add_argument("--frames", type=int, default=300, help="timed frames per thread setting (default: 300)")
    p.add_argument("--warmup", type=int, default=30, help="untimed frames first (default: 30)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    p.add_argument("--cold-runs", type=int, default=7, help="fresh-process cold starts (default: 7)")
    p.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results", help="output folder")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = p.parse_args(argv)
    try:
        report = run(args.model, args.frames, args.warmup, args.threads, args.cold_runs, args.out_dir)
    except edgekit.EdgekitError as exc:  # e.g. the bundled emotion model is not there yet: use --model
        print(f"benchmarks.host: error: {exc}", file=sys.stderr)
        return 1
    for m in report["measurements"]:
        stats = m["stats"]
        shown = f"p50 {stats['p50']:.3f} p95 {stats['p95']:.3f}" if "p50" in stats else f"{stats['value']:.1f}"
        params = f" ({', '.join(f'{k}={v}' for k, v in m['params'].items())})" if m["params"] else ""
        print(f"{m['name']}{params}: {shown} {m['unit']}")
    for t in report["targets"]:
        print(f"{'PASS' if t['passed'] else 'FAIL'}: {t['description']}: {t['value']} {t['unit']} (limit {t['limit']})")
    print("wrote " + ", ".join(report["_paths"]))
    return 1 if args.strict and not all(t["passed"] for t in report["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
