"""Where ``POST /v1/analyze``'s time goes over the in-process call, bounded and on 127.0.0.1 only.

    python -m benchmarks.server_overhead                          # 200 rounds, about a minute
    python -m benchmarks.server_overhead --tree /tmp/old --tree .  # A/B: servers from two source trees
    python -m benchmarks.server_overhead --tree /tmp/old --tree . --c4-rounds 6   # and throughput at c4

Each round, one after the other on the same photo (so all see the same background load):

- ``in-process``: decode + ``edgekit.analyze`` + JSON, what the endpoint computes;
- ``analyze``: ``POST /v1/analyze`` to each server (one keep-alive connection each, result cache
  off), and the ``total_ms`` the server reports (decode + analysis in its worker thread), so
  ``analyze - total_ms`` is everything around the work: HTTP, routing, threadpool hops, JSON;
- ``healthz``: ``GET /healthz`` (an HTTP round trip with no work: the floor of any request).

With ``--c4-rounds N``, then N rounds of 200 ``/v1/analyze`` requests at concurrency 4 to each
server (``benchmarks.server_load.load``), the server order rotating each round: photos/s per server.

Prints medians, the median of the paired differences and p25-p75, as JSON. The machine's load
matters: quote the numbers with it (``uptime``) and compare only rows of one run.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from server_support import free_port, make_photos, wait_ready  # noqa: E402

from benchmarks.server_load import Client, load, percentile  # noqa: E402


def start(tree: Path, port: int, data: Path) -> subprocess.Popen:
    """``edgekit serve`` from source tree ``tree`` (its ``edgekit`` package first on the path)."""
    cmd = [sys.executable, "-m", "edgekit", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data), "--cache-mb", "0", "--log-level", "warning"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)


def summary(values: List[float]) -> Dict[str, float]:
    ms = [v * 1e3 for v in values]
    return {"p50": round(percentile(ms, 0.5), 3), "p25": round(percentile(ms, 0.25), 3),
            "p75": round(percentile(ms, 0.75), 3)}


def run(trees: Sequence[Path], rounds: int, memes: int = 0, c4_rounds: int = 0) -> Dict[str, object]:
    import edgekit
    from edgekit.server.media import decode

    with tempfile.TemporaryDirectory(prefix="edgekit-overhead-") as tmp:
        photos = [p.read_bytes() for p in make_photos(Path(tmp) / "photos", 50, size=512, fmt="jpg")]
        servers = []
        try:
            for i, tree in enumerate(trees):
                port = free_port()
                proc = start(tree, port, Path(tmp) / f"data{i}")
                servers.append((tree, port, proc))
            for _, port, proc in servers:
                wait_ready(port, proc)
            clients = [Client(port) for _, port, _ in servers]
            for data in photos[:5]:  # warm: models, connections, the thread pool
                edgekit.analyze(decode(data, "warm", 40_000_000))
                for c in clients:
                    c.request("POST", "/v1/analyze", data, {"Content-Type": "image/jpeg"})
            for i in range(memes):  # a server that made memes before (as in benchmarks.server_load)
                for c in clients:
                    c.request("POST", "/v1/meme?lang=en", photos[i % len(photos)], {"Content-Type": "image/jpeg"})
            local: List[float] = []
            rows: List[Dict[str, List[float]]] = [{"analyze": [], "inside": [], "healthz": [], "diff": []}
                                                  for _ in servers]
            for i in range(rounds):
                data = photos[(i * 13 + 5) % len(photos)]
                started = time.perf_counter()
                faces = edgekit.analyze(decode(data, "photo", 40_000_000))
                json.dumps({"faces": [f.to_dict() for f in faces]}, ensure_ascii=False)
                local.append(time.perf_counter() - started)
                for k in (range(len(clients)) if i % 2 == 0 else reversed(range(len(clients)))):
                    c, row = clients[k], rows[k]
                    started = time.perf_counter()
                    status, body = c.request("POST", "/v1/analyze", data, {"Content-Type": "image/jpeg"})
                    took = time.perf_counter() - started
                    assert status == 200, body[:200]
                    row["analyze"].append(took)
                    row["inside"].append(took - json.loads(body)["total_ms"] / 1e3)
                    row["diff"].append(took - local[-1])
                    started = time.perf_counter()
                    status, _ = c.request("GET", "/healthz")
                    row["healthz"].append(time.perf_counter() - started)
            for c in clients:
                c.close()
            walls: List[List[float]] = [[] for _ in servers]
            for r in range(c4_rounds):
                for k in [(r + j) % len(servers) for j in range(len(servers))]:
                    res = load(servers[k][1], "/v1/analyze", photos, 4, 200)
                    assert res["ok"] == 200, res
                    walls[k].append(res["wall_s"])
        finally:
            for _, _, proc in servers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
    out: Dict[str, object] = {"rounds": rounds, "memes_before": memes, "load_avg": os.getloadavg(),
                              "in_process_ms": summary(local)}
    for i, ((tree, _, _), row) in enumerate(zip(servers, rows)):
        out[f"server {i + 1}: {tree}"] = {"analyze_ms": summary(row["analyze"]),
                                          "overhead_over_in_process_ms": summary(row["diff"]),
                                          "around_the_work_ms": summary(row["inside"]),
                                          "healthz_ms": summary(row["healthz"])}
        if c4_rounds:
            out[f"server {i + 1}: {tree}"]["c4_photos_s"] = round(200 * c4_rounds / sum(walls[i]), 2)
            out[f"server {i + 1}: {tree}"]["c4_photos_s_per_round"] = [round(200 / w, 1) for w in walls[i]]
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--tree", action="append", default=[],
                   help="source tree to serve from (repeatable; default: this one)")
    p.add_argument("--memes", type=int, default=0, help="memes each server makes before the rounds")
    p.add_argument("--c4-rounds", type=int, default=0, help="rounds of 200 requests at concurrency 4 per server")
    args = p.parse_args(argv)
    trees = [Path(t).resolve() for t in args.tree] or [ROOT]
    print(json.dumps(run(trees, args.rounds, args.memes, args.c4_rounds), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
