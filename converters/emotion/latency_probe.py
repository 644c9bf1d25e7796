"""What a bigger input or network would cost: INT8 latency of the toolchain's own MobileNetV3.

Accuracy probes on a GPU (``python -m converters.emotion.teacher probe``) say which network
and input size reach a target; this measures their price here. Each configuration is built
with :mod:`converters.core.mobilenet` (all-ReLU, as shipped), pruned like the shipped model,
converted to full-integer INT8 with real faces as calibration data, and timed with one thread,
interleaved with the others in the same run. The weights are untrained: dense INT8 kernels take
the same time whatever the values, so latency is what this measures, not accuracy.

    python -m converters.emotion.latency_probe --data ../shared/data/ferplus
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from converters.core.cli import run

REPORT_DIR = Path("reports/emotion_teacher")


def build_pair(variant: str, size: int, fraction: float, divisor: int, images,
               workdir: Path) -> Dict[str, Tuple[Path, int]]:
    """``{"unpruned" | "pruned": (INT8 .tflite path, MACs)}`` of MobileNetV3-``variant`` at ``size`` px."""
    from converters.core import pruning, quantize
    from converters.core.mobilenet import build_model, custom_objects, mobilenet_v3_spec

    model = build_model(mobilenet_v3_spec(variant, 1.0, size, activation="relu"))
    thin, _ = pruning.prune(model, fraction, divisor, custom_objects=custom_objects())
    rep = quantize.representative_dataset(images, size, 200, 0)
    built = {}
    for tag, m in (("unpruned", model), ("pruned", thin)):
        path = workdir / f"{variant}_{size}_{tag}.tflite"
        path.write_bytes(quantize.to_tflite(m, rep, int8=True))
        built[tag] = (path, pruning.count_macs(m))
    return built


def measure(variants: Sequence[str], sizes: Sequence[int], images, fraction: float = 0.3, divisor: int = 8,
            rounds: int = 10, runs: int = 100) -> List[dict]:
    """One row per (variant, size): MACs, file bytes and 1-thread INT8 median latency, unpruned and pruned."""
    from converters.emotion.evaluate import TFLiteRunner, interleaved_latency

    with tempfile.TemporaryDirectory() as tmp:
        built = {(v, s): build_pair(v, s, fraction, divisor, images, Path(tmp)) for v in variants for s in sizes}
        runners = {f"{v}_{s}_{tag}": TFLiteRunner(pair[tag][0], num_threads=1)
                   for (v, s), pair in built.items() for tag in ("unpruned", "pruned")}
        latency = interleaved_latency(runners, rounds=rounds, runs=runs)
        rows = []
        for (v, s), pair in built.items():
            row = {"variant": v, "input_size": s, "prune_fraction": fraction, "prune_divisor": divisor}
            for tag in ("unpruned", "pruned"):
                path, macs = pair[tag]
                row[tag] = {"macs": macs, "file_bytes": path.stat().st_size,
                            "median_ms": latency[f"{v}_{s}_{tag}"]["median_ms"],
                            "p90_ms": latency[f"{v}_{s}_{tag}"]["p90_ms"],
                            "xnnpack_partitions": runners[f"{v}_{s}_{tag}"].delegate_partitions()}
            row["pruned_vs_unpruned"] = row["pruned"]["median_ms"] / row["unpruned"]["median_ms"]
            rows.append(row)
    return rows


def markdown(rows: List[dict], host: dict, command: str, accuracy: Dict[str, float]) -> str:
    lines = ["# INT8 latency of MobileNetV3 by input size (toolchain's own model, untrained weights)", "",
             f"`{command}` on {host['cpu']} x{host['cpu_count']} (git {host['git_sha']}, {host['date_utc']}): "
             "full-integer INT8, LiteRT with XNNPACK, 1 thread, all models interleaved in one run (median of "
             "pooled rounds). Validation accuracy is from the GPU probes (PyTorch twins with the published "
             "hard-swish, float, unpruned, ~100 epochs; see probe_*.md), where one was run.", "",
             "| network | input | MACs unpruned / pruned | INT8 ms unpruned | INT8 ms pruned (30%, multiples of 8) | "
             "pruned/unpruned | file pruned | GPU-probe accuracy |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        u, p = r["unpruned"], r["pruned"]
        acc = accuracy.get(f"{r['variant']}_{r['input_size']}")
        lines.append(f"| MobileNetV3-{r['variant'].capitalize()} | {r['input_size']} | {u['macs'] / 1e6:.1f} M / "
                     f"{p['macs'] / 1e6:.1f} M | {u['median_ms']:.3f} | {p['median_ms']:.3f} | "
                     f"{r['pruned_vs_unpruned']:.3f} | {p['file_bytes'] / 1e6:.2f} MB | "
                     f"{'-' if acc is None else f'{100 * acc:.2f}%'} |")
    return "\n".join(lines + [""])


def probe_accuracies(report_dir: Path) -> Dict[str, float]:
    """``{"small_96": acc, ...}``: the best GPU-probe validation accuracy per network and input size."""
    best: Dict[str, float] = {}
    for path in sorted(report_dir.glob("probe_*.json")):
        for row in json.loads(path.read_text())["variants"].values():
            cfg = {**json.loads(path.read_text())["base"], **row["changes"]}
            if cfg["arch"].startswith("mobilenet_v3_") and row["val_acc"] is not None:
                key = f"{cfg['arch'].rsplit('_', 1)[-1]}_{cfg['input_size']}"
                best[key] = max(best.get(key, 0.0), row["val_acc"])
    return best


def _main(args: argparse.Namespace) -> None:
    from converters.emotion import data
    from converters.core.report import host_info

    _, val = data.load_splits(Path(args.data))
    rows = measure(args.variants, args.sizes, val.images, divisor=args.divisor, rounds=args.rounds)
    host = host_info()
    command = "python -m converters.emotion.latency_probe " + " ".join(sys.argv[1:] if args.argv is None else args.argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latency_by_input.json").write_text(
        json.dumps({"host": host, "command": command, "rows": rows}, indent=1) + "\n")
    (out / "latency_by_input.md").write_text(markdown(rows, host, command, probe_accuracies(out)))
    print((out / "latency_by_input.md").read_text())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m converters.emotion.latency_probe",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="FER+ root (validation faces calibrate the INT8 conversion)")
    parser.add_argument("--variants", nargs="+", default=["small", "large"], choices=["small", "large"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 80, 96, 128])
    parser.add_argument("--divisor", type=int, default=8, help="pruning keeps multiples of this many channels")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", default=str(REPORT_DIR))
    parser.set_defaults(func=_main)
    return parser


def main(argv=None) -> int:
    return run(build_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
