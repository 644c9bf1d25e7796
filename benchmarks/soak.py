"""Soak test: ``python -m benchmarks.soak`` pushes >= 50,000 frames through one video-mode
``Pipeline`` and reports memory and latency over the run.

Frames are 640x480 with one real face (the bundled astronaut photo), shifted by a few pixels and
brightened/darkened a little from frame to frame; every ``--gap-every`` frames a short run of
empty frames makes the face's track expire and a new one start, so tracker state is churned too.

Reports resident memory (RSS, from /proc) at start, after loading the models, after warm-up,
after every window and at the end (target: growth after warm-up <= 5 MB), and the latency of
``Pipeline.process`` per window of ``--window`` frames (p50/p95) to show drift within the run.
Writes ``benchmarks/results/soak.json`` and ``soak.md`` (host, versions, git SHA and load average
from :mod:`benchmarks.report`). Not a test: the numbers depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import cv2
import numpy as np

from . import report as rep

FRAME_SIZE = (640, 480)
RSS_GROWTH_LIMIT_MB = 5.0
P50_DRIFT_LIMIT_PCT = 20.0
VERSIONS = ("edgekit", "numpy", "opencv-contrib-python", "ai-edge-litert", "Pillow")


def rss_mb() -> float:
    """Resident set size of this process in MB (VmRSS from /proc; peak RSS where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if platform.system() == "Darwin" else peak / 1024.0


def load_average() -> Optional[List[float]]:
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None


def base_frame() -> np.ndarray:
    """640x480 BGR frame with one face: the astronaut photo scaled to 640 wide, top 480 rows."""
    import edgekit
    from edgekit.assets import demo_photo

    photo = edgekit.load_image(demo_photo())
    width, height = FRAME_SIZE
    return np.ascontiguousarray(cv2.resize(photo, (width, width), interpolation=cv2.INTER_AREA)[:height])


class FrameSource:
    """Frame ``i``: the base frame shifted by up to +-3 px and brightened by up to +-8 levels,
    written into one preallocated buffer (the harness itself allocates nothing per frame)."""

    def __init__(self, base: np.ndarray, gap_every: int, gap_length: int) -> None:
        self.base, self.gap_every, self.gap_length = base, gap_every, gap_length
        self.buffer = np.empty_like(base)
        self.blank = np.full_like(base, 90)
        self._shift = np.float32([[1, 0, 0], [0, 1, 0]])

    def has_face(self, i: int) -> bool:
        return not (self.gap_every and i % self.gap_every >= self.gap_every - self.gap_length)

    def __call__(self, i: int) -> np.ndarray:
        if not self.has_face(i):
            return self.blank
        self._shift[0, 2], self._shift[1, 2] = (i % 7) - 3, (i // 7 % 5) - 2
        cv2.warpAffine(self.base, self._shift, FRAME_SIZE, dst=self.buffer, borderMode=cv2.BORDER_REPLICATE)
        delta = (i % 17) - 8
        if delta > 0:
            cv2.add(self.buffer, delta, dst=self.buffer)
        elif delta < 0:
            cv2.subtract(self.buffer, -delta, dst=self.buffer)
        return self.buffer


def soak(frames: int, window: int, warmup: int, threads: int, gap_every: int, gap_length: int,
         progress: bool = True) -> Dict[str, Any]:
    """Run the soak; returns the raw results (RSS points, per-window latencies and face counts)."""
    import edgekit
    from tqdm import tqdm

    rss = {"start": rss_mb()}
    source = FrameSource(base_frame(), gap_every, gap_length)
    pipe = edgekit.Pipeline(running_mode="video", num_threads=threads)
    rss["models_loaded"] = rss_mb()
    interval = 1000.0 / 30.0
    for i in range(warmup):
        pipe.process(source(i), timestamp_ms=i * interval)
    rss["after_warmup"] = rss_mb()
    windows: List[Dict[str, Any]] = []
    latencies = np.empty(window, dtype=np.float64)
    found = expected = 0
    track_ids = set()
    with tqdm(total=frames, unit="frame", desc="soak", disable=not progress, mininterval=5.0) as bar:
        for start in range(0, frames, window):
            count = min(window, frames - start)
            for k in range(count):
                i = warmup + start + k
                frame = source(i)
                t0 = time.perf_counter()
                result = pipe.process(frame, timestamp_ms=i * interval)
                latencies[k] = (time.perf_counter() - t0) * 1e3
                if source.has_face(i):
                    expected += 1
                    found += len(result.faces) == 1
                track_ids.update(f.track_id for f in result.faces)
            bar.update(count)
            windows.append({"first_frame": start, "frames": count, "latencies_ms": latencies[:count].copy(),
                            "rss_mb": rss_mb(), "load_avg": load_average()})
    rss["end"] = rss_mb()
    pipe.close()
    return {"rss": rss, "windows": windows, "faces_found": found, "face_frames": expected,
            "tracks_started": len(track_ids)}


def build(raw: Dict[str, Any], args: argparse.Namespace, load_start: Optional[List[float]],
          wall_s: float) -> Dict[str, Any]:
    rss, windows = raw["rss"], raw["windows"]
    ms: List[rep.Measurement] = [rep.Measurement.single("rss", "MB", value, point=point)
                                 for point, value in rss.items()]
    for n, w in enumerate(windows):
        ms.append(rep.Measurement.from_samples("soak.process", "ms", w["latencies_ms"], window=n,
                                               frames=f"{w['first_frame']}-{w['first_frame'] + w['frames'] - 1}"))
        ms.append(rep.Measurement.single("rss", "MB", w["rss_mb"], point=f"after window {n}"))
    first = float(np.percentile(windows[0]["latencies_ms"], 50))
    last = float(np.percentile(windows[-1]["latencies_ms"], 50))
    all_latencies = np.concatenate([w["latencies_ms"] for w in windows])
    ms += [
        rep.Measurement.single("rss.growth_after_warmup", "MB", rss["end"] - rss["after_warmup"]),
        rep.Measurement.single("soak.process.p50_drift", "%", 100.0 * (last - first) / first),
        rep.Measurement.from_samples("soak.process", "ms", all_latencies, window="all"),
        rep.Measurement.single("faces_found_ratio", "ratio", raw["faces_found"] / max(raw["face_frames"], 1)),
        rep.Measurement.single("frames", "count", int(sum(w["frames"] for w in windows))),
        rep.Measurement.single("wall_time", "s", wall_s),
    ]
    targets = [
        rep.Target(f"RSS growth after warm-up <= {RSS_GROWTH_LIMIT_MB} MB", "rss.growth_after_warmup", "value",
                   RSS_GROWTH_LIMIT_MB),
        rep.Target(f"p50 latency, last window vs first, <= +{P50_DRIFT_LIMIT_PCT}%", "soak.process.p50_drift", "value",
                   P50_DRIFT_LIMIT_PCT),
    ]
    config = {"frames": args.frames, "window": args.window, "warmup": args.warmup, "threads": args.threads,
              "frame_size": f"{FRAME_SIZE[0]}x{FRAME_SIZE[1]}", "running_mode": "video",
              "gap": f"{args.gap_length} empty frames every {args.gap_every}", "nice": os.nice(0),
              "load_avg_at_start": load_start, "load_avg_at_end": load_average(),
              "tracks_started": raw["tracks_started"]}
    notes = [
        "Latency drift is judged within this run (first vs last window, same process, same load).",
        "Load average per window is in the JSON (windows); a background job sharing the CPU shows up there.",
    ]
    doc = rep.build_report("soak", rep.host_device(), rep.package_versions(list(VERSIONS)), config, ms, targets, notes)
    doc["windows"] = [{"window": n, "first_frame": w["first_frame"], "frames": w["frames"],
                       "rss_mb": round(w["rss_mb"], 2),
                       "p50_ms": round(float(np.percentile(w["latencies_ms"], 50)), 3),
                       "p95_ms": round(float(np.percentile(w["latencies_ms"], 95)), 3), "load_avg": w["load_avg"]}
                      for n, w in enumerate(windows)]
    return doc


def write(doc: Dict[str, Any], out_dir: Path, stem: str = "soak") -> List[Path]:
    """``<stem>.json`` + ``<stem>.md`` (Markdown from :func:`benchmarks.report.to_markdown` plus the
    per-window table)."""
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    table = ["", "## Per window", "", "| window | frames | p50 ms | p95 ms | RSS MB | load avg (1/5/15 min) |",
             "|---|---|---|---|---|---|"]
    table += [f"| {w['window']} | {w['first_frame']}-{w['first_frame'] + w['frames'] - 1} | {w['p50_ms']} "
              f"| {w['p95_ms']} | "
              f"{w['rss_mb']} | {', '.join(map(str, w['load_avg'] or []))} |" for w in doc["windows"]]
    md_path.write_text(rep.to_markdown(doc) + "\n".join(table) + "\n", encoding="utf-8")
    return [json_path, md_path]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=50_000, help="frames after warm-up (default: %(default)s)")
    parser.add_argument("--window", type=int, default=5_000, help="frames per latency window (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=1_000,
                        help="warm-up frames before the baseline (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="LiteRT threads (default: %(default)s)")
    parser.add_argument("--gap-every", type=int, default=1_000, help="a run of empty frames every N frames, 0 = never")
    parser.add_argument("--gap-length", type=int, default=30, help="length of each empty run (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=rep.ROOT / "benchmarks" / "results", help="output folder")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    load_start = load_average()
    t0 = time.perf_counter()
    raw = soak(args.frames, args.window, args.warmup, args.threads, args.gap_every, args.gap_length,
               not args.no_progress)
    doc = build(raw, args, load_start, time.perf_counter() - t0)
    for path in write(doc, args.out):
        print(f"wrote {path}")
    for t in doc["targets"]:
        print(f"{'PASS' if t['passed'] else 'FAIL'}: {t['description']}: {t['value']:.2f} {t['unit']}")
    return 0 if all(t["passed"] for t in doc["targets"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
