"""Cold starts in fresh interpreters (``sys.executable -c``), with each process's peak memory.

- pipeline: ``import edgekit`` + ``Pipeline()`` (sha256 check + model loads) + the first frame
  (PNG decode included), then ``WARM_FRAMES`` more frames; peak RSS of that process; whether
  TensorFlow / MediaPipe got imported (they must not be);
- model: import the LiteRT interpreter + load one ``.tflite`` + the first ``invoke()``; RSS after
  the import and peak RSS, so the model's own memory shows as the difference.

Peak RSS is ``VmHWM`` from ``/proc/self/status`` (``ru_maxrss`` where there is no /proc; on Linux
``ru_maxrss`` is inherited over fork + exec and would report the parent's peak).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .report import ROOT, Measurement

FORBIDDEN_MODULES = ("tensorflow", "tf_keras", "mediapipe")
WARM_FRAMES = 30

_RSS = """
def _status_mb(field):
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None
def _rss_mb():
    return _status_mb("VmRSS")
def _peak_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork + exec, so a child would report
    # the parent's peak.
    peak = _status_mb("VmHWM")
    if peak is None:
        import resource, sys
        unit = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit
    return peak
"""

#: argv: emotion model, frame path, threads. Prints one JSON line.
PIPELINE_CHILD = _RSS + f"""
import json, sys, time
t0 = time.perf_counter()
import edgekit
Pipeline = edgekit.Pipeline  # the lazy public names load here
t_import = time.perf_counter()
pipe = Pipeline(emotion_model=sys.argv[1], num_threads=int(sys.argv[3]))
t_load = time.perf_counter()
result = pipe.process(sys.argv[2])
t_first = time.perf_counter()
frame = edgekit.load_image(sys.argv[2])
for _ in range({WARM_FRAMES}):
    pipe.process(frame)
print(json.dumps({{"import_s": t_import - t0, "load_s": t_load - t_import, "first_frame_s": t_first - t_load,
                  "total_s": t_first - t0, "faces": len(result.faces), "peak_rss_mb": _peak_mb(),
                  "forbidden_imported": sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN_MODULES!r})}}))
"""

#: argv: model path, threads. Prints one JSON line.
MODEL_CHILD = _RSS + """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
try:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
except ImportError:
    from tflite_runtime.interpreter import Interpreter, OpResolverType
t_import = time.perf_counter()
rss_import = _rss_mb()
try:
    it = Interpreter(model_path=sys.argv[1], num_threads=int(sys.argv[2]))
    it.allocate_tensors()
except RuntimeError as exc:  # XNNPACK refused the graph: the built-in kernels run it, as in edgekit.litert
    if "XNNPACK" not in str(exc).upper():
        raise
    it = Interpreter(model_path=sys.argv[1], num_threads=int(sys.argv[2]),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
t_load = time.perf_counter()
for d in it.get_input_details():
    it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
it.invoke()
t_first = time.perf_counter()
print(json.dumps({"import_s": t_import - t0, "load_s": t_load - t_import, "first_invoke_s": t_first - t_load,
                  "total_s": t_first - t0, "rss_after_import_mb": rss_import, "peak_rss_mb": _peak_mb()}))
"""


def _child(script: str, args: Sequence[str]) -> Dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"cold-start child exited with {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pipeline_cold_start(model: str, frame_path: Path, runs: int, threads: int = 1,
                        **params: Any) -> List[Measurement]:
    """Median over ``runs`` fresh interpreters of import + load + first frame, and peak RSS."""
    records, walls = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        records.append(_child(PIPELINE_CHILD, [model, str(frame_path), str(threads)]))
        walls.append(time.perf_counter() - t0)
    forbidden = sorted({m for r in records for m in r["forbidden_imported"]})
    p = dict(params, threads=threads)
    out = [Measurement.from_samples(f"cold_start.{key}", "s", [r[f"{key}_s"] for r in records], **p)
           for key in ("import", "load", "first_frame")]
    out.append(Measurement.from_samples("cold_start.in_process", "s", [r["total_s"] for r in records], **p))
    out.append(Measurement.from_samples("cold_start.process_wall", "s", walls, **p))
    out.append(Measurement.single("pipeline.peak_rss", "MB", max(r["peak_rss_mb"] for r in records), **p,
                                  after_frames=1 + WARM_FRAMES))
    out.append(Measurement.single("cold_start.forbidden_modules_imported", "modules", len(forbidden), **p,
                                  checked=",".join(FORBIDDEN_MODULES)))
    return out


def model_cold_start(key: str, path: Path, runs: int, threads: int = 1) -> List[Measurement]:
    """Import LiteRT + load + first invoke in fresh interpreters; peak RSS and the model's share of it."""
    records = [_child(MODEL_CHILD, [str(path), str(threads)]) for _ in range(runs)]
    params = {"model": key, "threads": threads}
    out = [Measurement.from_samples("model.cold_start", "s", [r["total_s"] for r in records], **params),
           Measurement.from_samples("model.cold_load", "ms", [1e3 * r["load_s"] for r in records], **params),
           Measurement.from_samples("model.first_invoke", "ms", [1e3 * r["first_invoke_s"] for r in records], **params),
           Measurement.single("model.peak_rss", "MB", max(r["peak_rss_mb"] for r in records), **params)]
    deltas: List[Optional[float]] = [r["peak_rss_mb"] - r["rss_after_import_mb"] for r in records
                                     if r.get("rss_after_import_mb") is not None]
    if deltas:
        out.append(Measurement.single("model.rss_delta", "MB", max(deltas), **params))
    return out
