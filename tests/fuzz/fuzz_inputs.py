"""Fixed-budget fuzzing of edgekit's public inputs (not part of the default test run).

    python tests/fuzz/fuzz_inputs.py --minutes 5              # every target, round robin
    python tests/fuzz/fuzz_inputs.py --minutes 2 --target image_file --seed 7

Runs the hypothesis targets of ``tests/fuzz/targets.py`` with fresh random examples (the test
suite runs the same targets briefly and derandomized) until the budget is spent. A crash (any
exception other than a typed edgekit error, or a broken invariant) is shrunk by hypothesis and
written to ``out/fuzz/crash-<target>-<seed>.txt`` with the falsifying example and traceback; the
run goes on with the other targets and exits 1. Turn every crash into a regression test
(``tests/reliability/test_reliability_regressions.py``).

Writes a summary (examples per target, outcomes, crashes, host/versions/git) to
``benchmarks/results/fuzz.json`` and ``fuzz.md`` unless ``--no-report``.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
sys.path[:0] = [str(TESTS), str(ROOT)]

from fuzz.targets import BY_NAME, TARGETS, FuzzTarget, run_target  # noqa: E402

COMMAND = "python tests/fuzz/fuzz_inputs.py"
#: (counter key, measurement name) reported per target.
COLUMNS = (("examples", "examples"), ("accepted", "calls_accepted"), ("refused", "calls_refused"),
           ("known bug (skipped)", "known_bug_skipped"), ("crashes", "crashes"))


def fuzz(targets: List[FuzzTarget], minutes: float, seed: int, batch: int, crash_dir: Path) -> Dict[str, Any]:
    """Round-robin over ``targets`` in batches of ``batch`` examples until ``minutes`` have passed."""
    rng = random.Random(seed)
    deadline = time.monotonic() + minutes * 60
    stats = {t.name: Counter() for t in targets}
    seconds = {t.name: 0.0 for t in targets}
    crashes: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edgekit-fuzz-") as tmp:
        while time.monotonic() < deadline:
            for target in targets:
                if time.monotonic() >= deadline:
                    break
                batch_seed = rng.getrandbits(32)
                start = time.monotonic()
                try:
                    stats[target.name].update(run_target(target, Path(tmp), max_examples=batch, derandomize=False,
                                                         seed=batch_seed))
                except Exception as exc:  # a crash: keep it, go on with the others
                    crashes.append(record_crash(target, batch_seed, exc, crash_dir))
                    stats[target.name]["crashes"] += 1
                seconds[target.name] += time.monotonic() - start
    return {"stats": stats, "seconds": seconds, "crashes": crashes}


def record_crash(target: FuzzTarget, seed: int, exc: BaseException, crash_dir: Path) -> Dict[str, Any]:
    """Write the shrunk falsifying example (hypothesis adds it to the exception's notes) and the
    traceback to a file; returns a summary."""
    crash_dir.mkdir(parents=True, exist_ok=True)
    path = crash_dir / f"crash-{target.name}-{seed}.txt"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    path.write_text(f"target: {target.name} ({target.api})\n"
                    f"reproduce: {COMMAND} --target {target.name} --seed-batch {seed}\n\n{text}", encoding="utf-8")
    print(f"CRASH in {target.name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} -> {path}",
          flush=True)
    return {"target": target.name, "seed": seed, "error": f"{type(exc).__name__}: {str(exc)[:300]}", "file": str(path)}


def write_summary(result: Dict[str, Any], args: argparse.Namespace, targets: List[FuzzTarget],
                  out_dir: Path) -> List[Path]:
    """``fuzz.json`` + ``fuzz.md`` with the host, versions and git SHA of :mod:`benchmarks.report`."""
    from benchmarks import report as rep

    ms = []
    for t in targets:
        counts = result["stats"][t.name]
        for key, name in COLUMNS:
            ms.append(rep.Measurement.single(f"fuzz.{name}", "count", counts.get(key, 0), target=t.name))
        ms.append(rep.Measurement.single("fuzz.time", "s", result["seconds"][t.name], target=t.name))
    ms.append(rep.Measurement.single("fuzz.examples", "count",
                                     sum(c.get("examples", 0) for c in result["stats"].values()),
                                     target="all"))
    targets_check = [rep.Target("crashes found (all targets)", "fuzz.crashes.total", "value", 0)]
    ms.append(rep.Measurement.single("fuzz.crashes.total", "count", len(result["crashes"])))
    config = {"minutes": args.minutes, "seed": args.seed, "batch": args.batch,
              "targets": ", ".join(t.name for t in targets),
              "apis": "; ".join(f"{t.name}: {t.api}" for t in targets)}
    notes = [f"crash: {c['target']}: {c['error']}" for c in result["crashes"]] or ["no crash found"]
    doc = rep.build_report("fuzz", rep.host_device(), rep.package_versions(["edgekit", "hypothesis", "numpy", "Pillow",
                                                                               "opencv-contrib-python",
                                                                            "ai-edge-litert"]),
                           config, ms, targets_check, notes)
    doc["crashes"] = result["crashes"]
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "fuzz.json", out_dir / "fuzz.md"
    json_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    markdown = rep.to_markdown(doc).replace("`python -m benchmarks.fuzz`", f"`{COMMAND} --minutes {args.minutes:g}`")
    table = ["", "## Per target", "", "Calls: public API calls made by the checks (an example may make several).", "",
             "| target | drives | " + " | ".join(name.replace("_", " ") for _, name in COLUMNS) + " | seconds |",
             "|---|---|" + "---|" * (len(COLUMNS) + 1)]
    for t in targets:
        counts = result["stats"][t.name]
        table.append(f"| {t.name} | {t.api} | " + " | ".join(str(counts.get(key, 0)) for key, _ in COLUMNS)
                     + f" | {result['seconds'][t.name]:.0f} |")
    md_path.write_text(markdown + "\n".join(table) + "\n", encoding="utf-8")
    return [json_path, md_path]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="time budget (default: %(default)s)")
    parser.add_argument("--target", action="append", choices=sorted(BY_NAME), help="only these targets (repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="master seed (default: from the clock, printed)")
    parser.add_argument("--seed-batch", type=int, default=None, help="replay one batch seed (from a crash file)")
    parser.add_argument("--batch", type=int, default=100, help="examples per target per round (default: %(default)s)")
    parser.add_argument("--crash-dir", type=Path, default=ROOT / "out" / "fuzz", help="where crash reports go")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="summary folder")
    parser.add_argument("--no-report", action="store_true", help="do not write the summary")
    args = parser.parse_args(argv)
    targets = [BY_NAME[name] for name in args.target] if args.target else list(TARGETS)
    if args.seed_batch is not None:
        with tempfile.TemporaryDirectory() as tmp:
            for t in targets:
                print(t.name,
                      dict(run_target(t, Path(tmp), max_examples=args.batch, derandomize=False, seed=args.seed_batch)))
        return 0
    args.seed = args.seed if args.seed is not None else int(time.time())
    print(f"fuzzing {', '.join(t.name for t in targets)} for {args.minutes:g} min (seed {args.seed})", flush=True)
    result = fuzz(targets, args.minutes, args.seed, args.batch, args.crash_dir)
    for name, counts in result["stats"].items():
        print(f"{name}: {dict(counts)} in {result['seconds'][name]:.0f} s")
    if not args.no_report:
        for path in write_summary(result, args, targets, args.out):
            print(f"wrote {path}")
    print(f"{len(result['crashes'])} crash(es)")
    return 1 if result["crashes"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
