"""Host benchmark of edgekit: ``python -m benchmarks.host`` (``make bench``); ``--quick`` for a smoke run.

On a 640x480 frame with one real face (the embedded astronaut photo), measures:

- **whole pipeline** (detect + align + classify, ``Pipeline.process``) for every emotion model
  found (shipped + the toolchain's float/pruned/INT8 variants), 1/2/4 threads and both running
  modes (``mode`` param): ``image`` (photos, ``process(frame)``: flip averaging and the detector
  refinements of image mode on) and ``video`` (streams, ``process(frame, timestamp_ms)`` at 30 fps: off);
  per-stage p50/p95, frames/s; PASS/FAIL against the 15 ms/frame budget (p95);
- **each model separately** (BlazeFace short/full range, emotion variants, caption decoder
  variants): one ``invoke()`` p50/p95 with 1/2/4 threads, XNNPACK on and off, load time, size;
- **cold start** in fresh processes: pipeline (import + load + first frame, peak RSS) and each
  model (import LiteRT + load + first invoke, peak RSS and the model's share of it);
- **captions**: one ``Captioner.generate`` call per caption model variant (``source="model"``,
  measurement ``caption.generate`` with ``source: model``), and the same calls with the default
  ``source="library"`` (authored lines, no model loaded; ``source: library``);
- **ratios** measured in the same run: pruned/unpruned and INT8/float (latency, size, pipeline),
  image/video mode for the shipped emotion model.

Writes ``benchmarks/results/<stem>.{json,md,png}`` (schema: :mod:`benchmarks.report`) with the
machine described (CPU, cores, versions, git SHA, load average and the CPU share other
processes used: a busy machine is flagged). Missing model variants are listed as skipped.
Numbers depend on the machine and its load: this is a report, not a test.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

import edgekit
from edgekit.assets import demo_photo
from edgekit.errors import ConfigError

from . import coldstart, invoke, models as model_files
from .chart import write_chart
from .collect import Collector, sigterm_as_interrupt
from .machine import ContentionMonitor
from .ratios import keep_computable, model_ratios
from .report import (FRAME_BUDGET_MS, ROOT, Measurement, Ratio, Target, build_report, host_device, package_versions,
                     write_report)

FRAME_SIZE = (640, 480)
SHIPPED_EMOTION = "emotion/shipped"
#: Running modes the pipeline is measured in: photos (``process(frame)``) and streams
#: (``process(frame, timestamp_ms)``; live streams run the same per-frame work on a worker thread).
MODES = ("image", "video")
#: Frame rate of the video-mode timestamps.
STREAM_FPS = 30.0
#: Detector options that differ between running modes, in ``PipelineOptions.detector_options``.
MODE_REFINEMENTS = ("flip_average", "close_up", "luma_keypoints", "small_faces")
VERSIONS = ("edgekit", "numpy", "opencv-contrib-python", "ai-edge-litert", "tflite-runtime", "Pillow", "matplotlib")


@dataclass
class HostConfig:
    frames: int = 300
    warmup: int = 30
    model_runs: int = 200
    model_warmup: int = 20
    threads: List[int] = field(default_factory=lambda: [1, 2, 4])
    running_modes: List[str] = field(default_factory=lambda: list(MODES))
    xnnpack: List[bool] = field(default_factory=lambda: [True, False])
    cold_runs: int = 5
    caption_runs: int = 20
    emotion_dir: Path = model_files.DEFAULT_EMOTION_DIR
    caption_dirs: Tuple[Path, ...] = model_files.DEFAULT_CAPTION_DIRS
    extra_models: List[Tuple[str, Path]] = field(default_factory=list)
    toolchain_variants: bool = True
    families: Tuple[str, ...] = model_files.FAMILIES

    @classmethod
    def quick(cls, **overrides: Any) -> "HostConfig":
        """A smoke run for tests: few frames/runs, 1 thread, one cold start, two captions."""
        base = dict(frames=20, warmup=3, model_runs=20, model_warmup=3, threads=[1], cold_runs=1, caption_runs=2)
        return cls(**{**base, **overrides})

    def to_dict(self) -> Dict[str, Any]:
        return {"frames": self.frames, "warmup": self.warmup, "model_runs": self.model_runs,
                "model_warmup": self.model_warmup, "threads": self.threads,
                "running_modes": self.running_modes,
                "xnnpack": ["on" if x else "off" for x in self.xnnpack], "cold_runs": self.cold_runs,
                "caption_runs": self.caption_runs}


def make_frame() -> np.ndarray:
    """640x480 BGR frame with one face: the astronaut photo scaled to 640 wide, top 480 rows."""
    photo = edgekit.load_image(demo_photo())
    return np.ascontiguousarray(cv2.resize(photo, (FRAME_SIZE[0], FRAME_SIZE[0]), interpolation=cv2.INTER_AREA)
                                [: FRAME_SIZE[1]])


def mode_refinements(mode: str) -> List[str]:
    """The per-face options on in ``mode`` among :data:`MODE_REFINEMENTS` (the classifier's flip
    averaging, the detector's refinements), read from ``edgekit.PipelineOptions`` (what the
    pipeline does, not what this file assumes)."""
    opts = edgekit.PipelineOptions(running_mode=mode)
    parts = {"flip_average": opts.emotion_options}
    return [name for name in MODE_REFINEMENTS if getattr(parts.get(name, opts.detector_options), name)]


def mode_label(mode: str) -> str:
    """``photos (image mode: flip averaging + close-up + luma keypoints)`` / ``streams (video mode)``: the kind of
    input a mode is for and the per-face refinements it turns on."""
    on = [name.replace("_", " ").replace("close up", "close-up").replace("flip average", "flip averaging")
          for name in mode_refinements(mode)
          if name != "small_faces"]  # small_faces only acts when the whole frame finds no face
    kind = "photos" if mode == "image" else "streams"
    return f"{kind} ({mode} mode{': ' + ' + '.join(on) if on else ''})"


def steady_state(emotion: model_files.ModelFile, frame: np.ndarray, threads: int, frames: int,
                 warmup: int, mode: str = "image") -> List[Measurement]:
    """Per-stage latencies and throughput of ``Pipeline.process`` on the same frame, in ``mode``:
    ``"image"`` calls ``process(frame)``, ``"video"`` ``process(frame, timestamp_ms)`` with
    timestamps :data:`STREAM_FPS` apart (tracking and smoothing included, ``pipeline.track``)."""
    if mode not in MODES:
        raise ConfigError("unknown running mode", f"mode={mode!r}", f"use one of {', '.join(MODES)}")
    names = ["detect", "align", "classify", "detect_align_classify", "process"] + (["track"] if mode == "video" else [])
    stages: Dict[str, List[float]] = {k: [] for k in names}
    clock = itertools.count()
    with edgekit.Pipeline(emotion_model=str(emotion.path), num_threads=threads, running_mode=mode) as pipe:
        def run() -> Any:
            return pipe.process(frame, next(clock) * 1e3 / STREAM_FPS) if mode == "video" else pipe.process(frame)

        for _ in range(warmup):
            run()
        start = time.perf_counter()
        for _ in range(frames):
            result = run()
            if len(result.faces) != 1:
                raise RuntimeError(f"benchmark frame should hold exactly one face, found {len(result.faces)}")
            t = result.timings
            stages["detect"].append(t.detect_ms)
            stages["align"].append(t.align_ms)
            stages["classify"].append(t.classify_ms)
            stages["detect_align_classify"].append(t.detect_ms + t.align_ms + t.classify_ms)
            stages["process"].append(t.total_ms)
            if mode == "video":
                stages["track"].append(t.track_ms)
        elapsed = time.perf_counter() - start
    params = {"emotion": emotion.key, "threads": threads, "mode": mode}
    out = [Measurement.from_samples(f"pipeline.{name}", "ms", v, **params) for name, v in stages.items()]
    out.append(Measurement.single("pipeline.throughput", "frames/s", frames / elapsed, **params))
    return out


def _caption_calls(captioner: Any, runs: int) -> Tuple[List[float], int]:
    """Wall times (ms) of ``runs`` ``generate(n=1)`` calls and how many fell back to the library."""
    times, fallbacks = [], 0
    emotions = ("happiness", "sadness", "surprise", "anger")
    for i in range(runs):
        start = time.perf_counter()
        caption = captioner.generate(emotions[i % len(emotions)], lang="zh" if i % 2 else "en", n=1, seed=i)[0]
        times.append((time.perf_counter() - start) * 1e3)
        fallbacks += caption.fallback_reason is not None
    return times, fallbacks


def caption_generation(model: model_files.ModelFile, runs: int, threads: int = 1) -> List[Measurement]:
    """Wall time of ``Captioner.generate(n=1)`` with ``source="model"`` (sampling + checks,
    library fallback included)."""
    from edgekit.captioning.captioner import Captioner, bundled_paths

    captioner = Captioner(model.path, bundled_paths()[1], num_threads=threads, seed=0, source="model")
    times, fallbacks = _caption_calls(captioner, runs)
    params = {"model": model.key, "threads": threads, "source": "model"}
    return [Measurement.from_samples("caption.generate", "ms", times, **params),
            Measurement.single("caption.library_fallback_share", "fraction", fallbacks / runs, **params)]


def caption_library(runs: int) -> List[Measurement]:
    """Wall time of ``Captioner.generate(n=1)`` with the default ``source="library"`` (a library
    line picked; no model loaded), and of creating that Captioner."""
    from edgekit.captioning.captioner import Captioner

    start = time.perf_counter()
    captioner = Captioner(seed=0)
    created_ms = (time.perf_counter() - start) * 1e3
    times, _ = _caption_calls(captioner, runs)
    return [Measurement.from_samples("caption.generate", "ms", times, source="library"),
            Measurement.single("caption.captioner_created", "ms", created_ms, source="library")]


def _same_file_notes(config_models: Dict[str, Any]) -> List[str]:
    notes = []
    for family in ("emotion", "caption"):
        shipped = config_models.get(f"{family}/shipped")
        twins = [k for k, v in config_models.items()
                 if shipped and k != f"{family}/shipped" and v["sha256"] == shipped["sha256"]]
        if twins:
            notes.append(f"{family}/shipped is the same file (sha256) as {', '.join(twins)}.")
    return notes


def run_benchmarks(cfg: HostConfig, collector: Collector, progress: bool = True) -> Dict[str, Any]:
    """Run everything into ``collector`` (errors recorded per step); returns the run's config dict.

    Raises KeyboardInterrupt after recording it (the caller writes the partial report).
    """
    from tqdm import tqdm

    found = model_files.discover(cfg.emotion_dir, cfg.caption_dirs, cfg.extra_models, families=cfg.families,
                                 include_toolchain=cfg.toolchain_variants)
    collector.skipped += found.skipped
    collector.errors += found.errors
    frame = make_frame()
    config: Dict[str, Any] = {"frame_size": list(FRAME_SIZE), "frame": "astronaut photo scaled to 640x640, top 640x480",
                              "detector_model": "short_range", **cfg.to_dict(),
                              "pipeline_modes": {mode: mode_refinements(mode) for mode in cfg.running_modes},
                              "models": model_files.inventory(found.models)}
    collector.notes += _same_file_notes(config["models"])
    emotions = found.family("emotion")
    steps = (len(found.models) * len(cfg.threads) * len(cfg.xnnpack)
             + len(emotions) * (len(cfg.threads) * len(cfg.running_modes) + 1)
             + len(found.models) + len(found.family("caption")) + ("caption" in cfg.families))
    bar = tqdm(total=steps, desc="benchmarks.host", unit="step", file=sys.stderr, disable=not progress)
    maker = invoke.InputMaker(frame)
    try:
        for emotion in emotions:
            for n in cfg.threads:
                for mode in cfg.running_modes:  # both modes back to back: the image/video ratio sees the same load
                    with collector.step(f"pipeline with {emotion.key}, {n} thread(s), {mode} mode"):
                        collector.add(steady_state(emotion, frame, n, cfg.frames, cfg.warmup, mode))
                    bar.update(1)
        for model in found.models:
            collector.add([invoke.size(model)])
            for use_xnnpack in cfg.xnnpack:
                for n in cfg.threads:
                    what = f"{model.key} invoke, {n} thread(s), XNNPACK {'on' if use_xnnpack else 'off'}"
                    with collector.step(what):
                        try:
                            collector.add(invoke.bench_config(model, maker, n, use_xnnpack, cfg.model_warmup,
                                                              cfg.model_runs))
                        except invoke.XnnpackRefused as exc:
                            collector.skipped.append({"what": what, "reason": str(exc)})
                    bar.update(1)
        with tempfile.TemporaryDirectory() as tmp:
            frame_path = Path(tmp) / "frame.png"
            cv2.imwrite(str(frame_path), frame)
            for emotion in emotions:
                with collector.step(f"pipeline cold start with {emotion.key}"):
                    collector.add(coldstart.pipeline_cold_start(str(emotion.path), frame_path, cfg.cold_runs,
                                                                emotion=emotion.key))
                bar.update(1)
        for model in found.models:
            with collector.step(f"{model.key} cold start"):
                collector.add(coldstart.model_cold_start(model.key, model.path, cfg.cold_runs))
            bar.update(1)
        for model in found.family("caption"):
            with collector.step(f"{model.key} caption generation"):
                collector.add(caption_generation(model, cfg.caption_runs))
            bar.update(1)
        if "caption" in cfg.families:
            with collector.step("library caption source"):
                collector.add(caption_library(cfg.caption_runs))
            bar.update(1)
    finally:
        bar.close()
    return config


def targets(measurements: Sequence[Measurement], modes: Sequence[str] = MODES) -> List[Target]:
    """The 15 ms/frame budget for every pipeline configuration measured, the 3 ms target per running
    mode (``modes``: both are judged, whether measured or not), plus the runtime's own targets."""
    out = []
    for m in measurements:
        if m.name == "pipeline.process":
            e, n, mode = m.params["emotion"], m.params["threads"], m.params.get("mode")
            out.append(Target(f"{FRAME_BUDGET_MS:g} ms/frame budget (p95): {e}, {n} thread{'s' if n > 1 else ''}"
                              + (f", {mode} mode" if mode else ""), "pipeline.process", "p95", FRAME_BUDGET_MS,
                              {"emotion": e, "threads": n, **({"mode": mode} if mode else {})}))
    out += [Target(f"detect+align+classify p50 <= 3 ms, 1 thread, shipped emotion model: {mode_label(mode)}",
                   "pipeline.detect_align_classify", "p50", 3.0,
                   {"threads": 1, "emotion": SHIPPED_EMOTION, "mode": mode}) for mode in modes]
    out += [
        Target("cold start (import + load + first frame), median, shipped emotion model", "cold_start.in_process",
               "p50",
               0.5, {"emotion": SHIPPED_EMOTION}),
        Target("no TensorFlow/MediaPipe import at run time", "cold_start.forbidden_modules_imported", "value", 0,
               {"emotion": SHIPPED_EMOTION}),
    ]
    return out


def ratios(threads: Sequence[int]) -> List[Ratio]:
    first = min(threads)
    specs = model_ratios("model.latency", "p50", {"threads": first, "xnnpack": True})
    specs += model_ratios("model.latency", "p50", {"threads": first, "xnnpack": False})
    specs += model_ratios("model.size", "value", {})
    specs += model_ratios("pipeline.process", "p50", {"threads": first, "mode": "image"}, param="emotion")
    specs.append(Ratio("image / video mode (photos / streams), shipped emotion model", "pipeline.detect_align_classify",
                       "p50", {"mode": "image"}, {"mode": "video"}, {"emotion": SHIPPED_EMOTION, "threads": first}))
    specs += [Ratio(f"XNNPACK on / off: {key}", "model.latency", "p50", {"xnnpack": True}, {"xnnpack": False},
                    {"model": key, "threads": first}) for key in ("detector/short_range_fp32", SHIPPED_EMOTION,
                                                                  "caption/shipped")]
    return specs


NOTES = [
    "pipeline.* stage times come from edgekit.StageTimings; pipeline.process is the whole process() call (input "
    "validation and result construction included; tracking and smoothing too in video mode, pipeline.track). "
    "The frame budget is checked on its p95.",
    "model.latency is one interpreter invoke() on realistic inputs (letterboxed frame, aligned face crop); "
    "xnnpack=False loads the model with OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES.",
    "cold_start.in_process = import edgekit + Pipeline() (sha256 check + load) + first frame (PNG decode included), "
    "inside a fresh interpreter; cold_start.process_wall adds interpreter start-up. pipeline.peak_rss is that "
    "process's peak RSS (VmHWM) after 31 frames. model.peak_rss / model.rss_delta: "
    "a fresh process that imports LiteRT, "
    "loads one model and invokes it once; rss_delta = peak RSS minus RSS after the import.",
    "Thread counts above the number of usable cores oversubscribe the CPU: expect them to be slower, not faster.",
]


def build(harness: str, device: Dict[str, Any], config: Dict[str, Any], collector: Collector, threads: Sequence[int],
          chart_path: Optional[Path] = None) -> Dict[str, Any]:
    """The report (ratios filtered to the computable ones), with the chart written when asked."""
    versions = package_versions(list(VERSIONS))
    tgts = targets(collector.measurements, config.get("running_modes") or MODES)
    report = build_report(harness, device, versions, config, collector.measurements, tgts, NOTES + collector.notes,
                          ratios=ratios(threads), **collector.sections())
    report["ratios"] = keep_computable(  # one n/a row per missing pair: the main quantity only
        report["ratios"], lambda r: r["quantity"] == "model.latency p50" and r["common"].get("xnnpack") is True)
    if chart_path is not None and write_chart(report, chart_path):
        report["artifacts"]["chart"] = chart_path.name
    return report


def print_summary(report: Dict[str, Any], paths: Sequence[Path]) -> None:
    for t in report["targets"]:
        verdict = "n/a " if t["passed"] is None else ("PASS" if t["passed"] else "FAIL")
        print(f"{verdict}: {t['description']}: {t['value']} {t['unit'] or ''} (limit {t['limit']})")
    for r in report["ratios"]:
        if r["value"] is not None:
            print(f"ratio {r['value']:.3f}: {r['description']} [{r['quantity']}, {r['common']}]")
    for s in report["skipped"]:
        print(f"skipped: {s['what']}: {s['reason']}")
    for e in report["errors"]:
        print(f"error: {e['what']}: {e['error']}", file=sys.stderr)
    warning = (report["device"].get("contention") or {}).get("warning")
    if warning:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(f"status: {report['status']}; wrote " + ", ".join(str(p) for p in paths))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared with the Jetson harness."""
    p.add_argument("--quick", action="store_true", help="smoke run: few frames and runs, 1 thread, one cold start")
    p.add_argument("--threads", type=int, nargs="+", help="thread counts (default: 1 2 4)")
    p.add_argument("--running-modes", nargs="+", choices=MODES,
                   help="pipeline running modes: image (photos), video (streams) (default: both)")
    p.add_argument("--xnnpack", choices=("on", "off", "both"), default="both",
                   help="per-model XNNPACK setting(s) (default: both)")
    p.add_argument("--frames", type=int, help="timed pipeline frames per configuration (default: 300)")
    p.add_argument("--model-runs", type=int, help="timed invokes per model configuration (default: 200)")
    p.add_argument("--cold-runs", type=int, help="fresh-process cold starts per model (default: 5)")
    p.add_argument("--models-dir", type=Path, default=model_files.DEFAULT_EMOTION_DIR,
                   help="folder with the emotion toolchain's <variant>.tflite files (default: <out>/tflite of "
                        "the run that produced the shipped model, from its manifest produced_by)")
    p.add_argument("--caption-dir", type=Path, action="append",
                   help="folder with caption_{float,pruned_float,pruned_int8}.tflite "
                        "(default: build/caption, runs/caption)")
    p.add_argument("--model", action="append", default=[], metavar="KEY=PATH",
                   help="add or replace a model, e.g. emotion/relu_pruned=/tmp/m.tflite "
                        "(a KEY without family/ is emotion/KEY)")
    p.add_argument("--no-variants", action="store_true",
                   help="only shipped models and --model files (skip toolchain variants)")
    p.add_argument("--families", nargs="+", choices=model_files.FAMILIES, default=list(model_files.FAMILIES),
                   help="model families to benchmark (default: detector emotion caption); the pipeline needs emotion")
    p.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results", help="output folder")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> HostConfig:
    try:
        extra = [model_files.parse_model_arg(text) for text in args.model]
    except ValueError as exc:
        raise SystemExit(f"error: --model: {exc}") from None
    cfg = HostConfig.quick() if args.quick else HostConfig()
    for name in ("threads", "running_modes", "frames", "model_runs", "cold_runs"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    if any(n < 1 for n in cfg.threads) or min(cfg.frames, cfg.model_runs, cfg.cold_runs) < 1:
        raise SystemExit("error: --threads, --frames, --model-runs and --cold-runs must be >= 1")
    cfg.running_modes = list(dict.fromkeys(cfg.running_modes))
    cfg.xnnpack = {"on": [True], "off": [False], "both": [True, False]}[args.xnnpack]
    named = ([args.models_dir] if args.models_dir != model_files.DEFAULT_EMOTION_DIR else []) + (args.caption_dir or [])
    missing = [str(d) for d in named if not Path(d).is_dir()]
    if missing:  # the default folders may be absent (their variants are listed as skipped); a named one is a mistake
        raise SystemExit(f"error: --models-dir/--caption-dir: no such folder: {', '.join(missing)} "
                         "(name a folder holding the toolchain's .tflite files, or leave the option out)")
    cfg.emotion_dir, cfg.extra_models, cfg.toolchain_variants = args.models_dir, extra, not args.no_variants
    cfg.families = tuple(args.families)
    if args.caption_dir:
        cfg.caption_dirs = tuple(args.caption_dir)
    return cfg


def run_and_write(harness: str, args: argparse.Namespace, device_info: Optional[Callable[[], Dict[str, Any]]] = None,
                  around: Optional[Callable[[Collector], ContextManager[Any]]] = None) -> int:
    """Shared main body of the host and Jetson harnesses: run, build, write, print.

    ``device_info()`` adds device fields; ``around(collector)`` is a context manager wrapped around
    the run (e.g. the Jetson tegrastats sampler, which adds its measurements when it exits).
    """
    cfg = config_from_args(args)
    sigterm_as_interrupt()
    collector = Collector()
    monitor = ContentionMonitor()
    config: Dict[str, Any] = {}
    try:
        with around(collector) if around is not None else contextlib.nullcontext():
            config = run_benchmarks(cfg, collector, progress=not args.no_progress)
    except KeyboardInterrupt:
        collector.interrupted = True
    device = host_device()
    if device_info is not None:
        device.update(device_info())
    device["contention"] = monitor.summary()
    stem = f"{harness}_quick" if args.quick else harness
    report = build(harness, device, config, collector, cfg.threads, args.out_dir / f"{stem}.png")
    paths = write_report(report, args.out_dir, stem)
    print_summary(report, paths)
    if collector.interrupted:
        return 130
    failed = args.strict and any(t["passed"] is False for t in report["targets"])
    return 1 if failed or collector.errors else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.host", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run_and_write("host", p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
