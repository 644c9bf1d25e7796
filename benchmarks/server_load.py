"""Load and fault tests of ``edgekit serve``, on 127.0.0.1 only, bounded in requests and time.

    python -m benchmarks.server_load                       # everything, 10-minute memory run last
    python -m benchmarks.server_load --soak-seconds 60     # shorter memory run
    python -m benchmarks.server_load --quick               # smoke run (few requests, 100-photo batch, no soak)
    python -m benchmarks.server_load --memory-only         # the 10-minute memory run alone -> server_memory.*
    python -m benchmarks.server_load --latency-only        # baselines, latency table, three targets -> server_latency.*

Measures, against a real ``edgekit serve`` subprocess (one process, one batch worker):

1. the in-process baseline: the same decode + ``edgekit.analyze`` the endpoint runs, one call at a
   time;
2. ``POST /v1/analyze`` and ``POST /v1/meme`` at concurrency 1/4/16 (threads, one keep-alive
   connection each, every request a different photo so the result cache never answers), against
   the server's default limits (``--max-concurrent 2``, ``--max-queued 8``): p50/p95 latency,
   throughput, errors, and ``503 Busy`` answers apart: a Busy request is sent again after its
   ``Retry-After``, at most ``--busy-retries`` times, then counts as rejected (see :func:`load`);
   overhead = median of paired (in-process, server) differences at concurrency 1; throughput at
   concurrency 4 against the CLI in paired rounds of the same photos (:func:`paired_throughput`):
   the real ``edgekit analyze ROUND_FOLDER --out FILE`` subprocess (its start-up measured in the
   same round), ``/v1/analyze``, and the CLI's loop in-process; the target is judged on the
   stricter CLI reading (with or without its start-up);
3. malformed and oversized requests: each must get its 4xx and the server must stay healthy;
4. a batch of N photos (default 1,000) from a ``--root`` folder: the server is ``kill -9``-ed
   mid-way, restarted, and the job must complete with every photo exactly once, no temp file;
5. last, the memory run: concurrency 4, analyze and meme requests mixed, for ``--soak-seconds``;
   the server's RSS is sampled every 5 s. The baseline is the RSS when ``/readyz`` first answers
   200, i.e. after the server's warm-up (``edgekit.server.app.warm_up_requests``), before any load.

Results: ``benchmarks/results/server.json`` and ``server.md``; ``--memory-only`` runs step 5 alone
and writes ``server_memory.json`` and ``server_memory.md`` (RSS curve, load average), leaving the
latency results alone; ``--latency-only`` runs steps 1-2 alone and writes ``server_latency.json``
and ``server_latency.md`` with three targets (overhead at concurrency 1, throughput at 4 against
the CLI, 0 errors: :func:`latency_targets`). Test photos are the bundled
astronaut, scaled, cropped and flipped (``tests/server_support.py``); nothing from ../shared.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from server_support import free_port, make_photos, start_server, temporaries, wait_ready  # noqa: E402

HOST = "127.0.0.1"  # never anything else


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_mb(pid: int) -> Dict[str, float]:
    """RSS split into anonymous and file-backed pages, and PSS (a page mapped several times, such as
    a font file opened at several sizes, counts once), in MB."""
    status = {line.split(":")[0]: line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
              if line.startswith(("VmRSS", "RssAnon", "RssFile"))}
    pss = next((int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                if line.startswith("Pss:")), 0)
    return {"rss": round(int(status["VmRSS"]) / 1024, 2), "anon": round(int(status["RssAnon"]) / 1024, 2),
            "file": round(int(status["RssFile"]) / 1024, 2), "pss": round(pss / 1024, 2)}


def tree_rss_mb(pid: int) -> float:
    """RSS of the server and its children (the batch pool)."""
    total = rss_mb(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += rss_mb(int(child))
            except OSError:
                pass
    return total


class Client:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=120)

    def request(self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None
                ) -> Tuple[int, bytes]:
        status, _, data = self.exchange(method, path, body, headers)
        return status, data

    def exchange(self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None
                 ) -> Tuple[int, Dict[str, str], bytes]:
        """One request: status, response headers (lower-case names), body. A connection the server
        closed is reopened once (the server may close one whose body it refused unread)."""
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


BUSY_RETRIES = 5  # a request answered 503 Busy is sent again at most this many times, then counts as rejected
RETRY_AFTER_CAP_S = 30.0  # a Retry-After longer than this is not waited for (the request counts as rejected)


def is_busy(status: int, body: bytes) -> bool:
    """The server's admission refusal (``503`` with error type ``Busy``), as opposed to any other 503
    (not ready, draining), which is an error."""
    if status != 503:
        return False
    try:
        return json.loads(body)["error"]["type"] == "Busy"
    except (ValueError, KeyError, TypeError):
        return False


def retry_after_s(headers: Dict[str, str], default: float = 1.0) -> float:
    """``Retry-After`` in seconds (the server sends an integer; an HTTP date or junk gives ``default``)."""
    value = headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def valid_answer(path: str, headers: Dict[str, str], body: bytes) -> bool:
    """A 200 whose body is what the endpoint promises: analysis JSON with a ``faces`` list, or an image."""
    if path.startswith("/v1/analyze"):
        try:
            return isinstance(json.loads(body).get("faces"), list)
        except (ValueError, AttributeError):
            return False
    if path.startswith("/v1/meme"):
        magic = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"RIFF")
        return headers.get("content-type", "").startswith("image/") and body.startswith(magic)
    return True


def load(port: int, path: str, photos: List[bytes], concurrency: int, requests: int,
         busy_retries: int = BUSY_RETRIES, seed: int = 0) -> Dict[str, Any]:
    """``requests`` POSTs of distinct photos with ``concurrency`` threads (a closed loop: each thread
    sends its next request when the last one is answered).

    Each request ends in one of three outcomes: ``ok`` (200 with a valid body), ``rejected_busy``
    (503 Busy, then sent again after ``Retry-After`` plus up to 10 % jitter, at most ``busy_retries``
    times; still Busy after that) or ``errors`` (anything else: another status, a timeout or a
    dropped connection, a 200 with a wrong body). Latency is measured from the first try to the
    final answer, so it includes the retry waits; p50/p95 and the throughput are those of the ok
    requests. ``busy_answers`` counts every 503 Busy seen, ``retried_ok`` the requests that needed a
    retry and then succeeded."""
    import random

    latencies: List[float] = []
    statuses: Dict[int, int] = {}
    counts = {"ok": 0, "errors": 0, "rejected_busy": 0, "busy_answers": 0, "retried_ok": 0}
    waited = [0.0]
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker(k: int) -> None:
        client = Client(port)
        rng = random.Random(seed * 1000 + k)
        try:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                body = photos[i % len(photos)]
                started = time.perf_counter()
                busy = 0
                while True:
                    try:
                        status, headers, data = client.exchange("POST", path, body, {"Content-Type": "image/jpeg"})
                    except (OSError, http.client.HTTPException):  # timeout, dropped, truncated, garbled
                        status, headers, data = 0, {}, b""
                    if not is_busy(status, data):
                        break
                    busy += 1
                    wait = retry_after_s(headers)
                    if busy > busy_retries or wait > RETRY_AFTER_CAP_S:
                        break
                    wait *= 1 + 0.1 * rng.random()
                    with lock:
                        waited[0] += wait
                    time.sleep(wait)
                took = time.perf_counter() - started
                outcome = ("rejected_busy" if is_busy(status, data)
                           else "ok" if status == 200 and valid_answer(path, headers, data) else "errors")
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    counts[outcome] += 1
                    counts["busy_answers"] += busy
                    if outcome == "ok":
                        latencies.append(took)
                        counts["retried_ok"] += busy > 0
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"path": path, "concurrency": concurrency, "requests": requests, **counts,
            "busy_retries_max": busy_retries, "retry_wait_s": round(waited[0], 2), "statuses": statuses,
            "p50_ms": round(percentile(latencies, 0.5) * 1e3, 2), "p95_ms": round(percentile(latencies, 0.95) * 1e3, 2),
            "throughput_rps": round(counts["ok"] / wall, 2), "wall_s": round(wall, 2),
            "load1_start": round(load_start, 2), "load1_end": round(os.getloadavg()[0], 2)}


def in_process_baseline(photos: List[bytes], n: int) -> Dict[str, Any]:
    """The endpoint's work without HTTP: decode the bytes, analyze, serialise (one at a time)."""
    import edgekit
    from edgekit.server.media import decode

    for data in photos[:5]:
        edgekit.analyze(decode(data, "warm", 40_000_000))
    times = []
    for i in range(n):
        data = photos[(i + 7) % len(photos)]
        started = time.perf_counter()
        faces = edgekit.analyze(decode(data, "photo", 40_000_000))
        json.dumps({"faces": [f.to_dict() for f in faces]})
        times.append(time.perf_counter() - started)
    return {"requests": n, "p50_ms": round(percentile(times, 0.5) * 1e3, 3),
            "p95_ms": round(percentile(times, 0.95) * 1e3, 3),
            "throughput_rps": round(n / sum(times), 2)}


def paired_overhead(port: int, photos: List[bytes], n: int) -> Dict[str, Any]:
    """The same photo in-process and through ``/v1/analyze``, alternately, so both see the same
    background load: p50 of each and the median of the per-photo differences."""
    import edgekit
    from edgekit.server.media import decode

    client = Client(port)
    local, served, diffs = [], [], []
    for i in range(n):
        data = photos[(i * 13 + 5) % len(photos)]
        started = time.perf_counter()
        faces = edgekit.analyze(decode(data, "photo", 40_000_000))
        json.dumps({"faces": [f.to_dict() for f in faces]})
        a = time.perf_counter() - started
        started = time.perf_counter()
        status, _ = client.request("POST", "/v1/analyze", data, {"Content-Type": "image/jpeg"})
        b = time.perf_counter() - started
        assert status == 200, status
        local.append(a)
        served.append(b)
        diffs.append(b - a)
    client.close()
    return {"requests": n, "in_process_p50_ms": round(percentile(local, 0.5) * 1e3, 2),
            "server_p50_ms": round(percentile(served, 0.5) * 1e3, 2),
            "overhead_p50_ms": round(percentile(diffs, 0.5) * 1e3, 2),
            "overhead_ms_p25_p75": [round(percentile(diffs, 0.25) * 1e3, 2), round(percentile(diffs, 0.75) * 1e3, 2)]}


def cli_run(inputs: Path, out: Path) -> float:
    """Seconds of ``python -m edgekit analyze INPUTS --out OUT`` as a user runs it (a new process)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "edgekit", "analyze", str(inputs), "--out", str(out)], check=True,
                   capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def paired_throughput(port: int, paths: List[Path], photos: List[bytes], work: Path, rounds: int, per_round: int,
                      concurrency: int = 4) -> Dict[str, Any]:
    """Rounds of the same ``per_round`` photos three ways, in an order that rotates each round, so all
    three see the same background load: the real CLI (``python -m edgekit analyze ROUND_FOLDER --out
    FILE``, a subprocess, and just before it the same command on one photo: its start-up), the
    server (``/v1/analyze`` at ``concurrency``) and the CLI's loop in this process (``load_image`` +
    ``Pipeline.process`` + JSON, one at a time: no start-up, no output file). The CLI's steady rate
    excludes its start-up: (n - 1) photos in (folder run - one-photo run) seconds."""
    from edgekit.imageio import load_image
    from edgekit.pipeline import Pipeline

    pipe = Pipeline()
    for p in paths[:3]:
        pipe.process(load_image(p))
    secs: Dict[str, List[float]] = {"cli": [], "cli_startup": [], "server": [], "loop": []}
    for r in range(rounds):
        chosen = [(r * per_round + i) % len(paths) for i in range(per_round)]
        folder = work / f"round_{r}"
        folder.mkdir()
        for i in chosen:
            os.link(paths[i], folder / paths[i].name)
        for step in ("cli", "server", "loop")[r % 3:] + ("cli", "server", "loop")[:r % 3]:
            if step == "cli":
                secs["cli_startup"].append(cli_run(sorted(folder.iterdir())[0], work / f"round_{r}_one.jsonl"))
                secs["cli"].append(cli_run(folder, work / f"round_{r}.jsonl"))
                assert len((work / f"round_{r}.jsonl").read_text().splitlines()) == per_round
            elif step == "server":
                res = load(port, "/v1/analyze", [photos[i] for i in chosen], concurrency, per_round)
                assert res["ok"] == per_round, res
                secs["server"].append(res["wall_s"])
            else:
                started = time.perf_counter()
                for i in chosen:
                    json.dumps(pipe.process(load_image(paths[i])).to_dict())
                secs["loop"].append(time.perf_counter() - started)
    pipe.close()
    steady = [c - s for c, s in zip(secs["cli"], secs["cli_startup"])]
    rate = {"server": rounds * per_round / sum(secs["server"]), "cli": rounds * per_round / sum(secs["cli"]),
            "cli_steady": rounds * (per_round - 1) / sum(steady), "loop": rounds * per_round / sum(secs["loop"])}
    per = {"cli": [c / s for c, s in zip(secs["cli"], secs["server"])],
           "cli_steady": [c / s * per_round / (per_round - 1) for c, s in zip(steady, secs["server"])],
           "loop": [c / s for c, s in zip(secs["loop"], secs["server"])]}
    return {"rounds": rounds, "photos_per_round": per_round, "concurrency": concurrency,
            "server_rps": round(rate["server"], 2), "cli_photos_s": round(rate["cli"], 2),
            "cli_steady_photos_s": round(rate["cli_steady"], 2), "cli_loop_photos_s": round(rate["loop"], 2),
            "cli_startup_s_median": round(statistics.median(secs["cli_startup"]), 3),
            **{f"ratio_vs_{k}_pct": round(100 * rate["server"] / rate[k], 1) for k in ("cli", "cli_steady", "loop")},
            **{f"ratio_vs_{k}_pct_per_round": [round(100 * x, 1) for x in v] for k, v in per.items()},
            "seconds": {k: [round(x, 3) for x in v] for k, v in secs.items()}}


def bad_requests(port: int, max_body: int) -> List[Dict[str, Any]]:
    import io

    from PIL import Image

    bomb = io.BytesIO()
    Image.new("L", (12_000, 12_000)).save(bomb, "PNG")  # 144 MP from a ~150 KB file
    cases = [
        ("not an image", "/v1/analyze", b"hello", "image/jpeg", 400),
        ("empty body", "/v1/analyze", b"", "image/jpeg", 400),
        ("EPS under an image type", "/v1/analyze", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 1 1\n", "image/png",
         400),
        ("decompression bomb (12000x12000 PNG)", "/v1/analyze", bomb.getvalue(), "image/png", 413),
        ("body over the limit", "/v1/analyze", b"\0" * (max_body + 1), "image/jpeg", 413),
        ("unknown option", "/v1/meme?colour=red", b"x", "image/jpeg", 400),
        ("JSON to an image endpoint", "/v1/analyze", b"{}", "application/json", 415),
        ("malformed JSON", "/v1/captions", b"{", "application/json", 400),
        ("batch folder outside the root", "/v1/batches", json.dumps({"folder": "/etc"}).encode(), "application/json",
         403),
        ("batch URL", "/v1/batches", json.dumps({"paths": ["http://127.0.0.1/x.jpg"]}).encode(), "application/json",
         400),
        ("unknown job", "/v1/batches/" + "0" * 32, None, None, 404),
    ]
    out = []
    client = Client(port)
    for name, path, body, ctype, want in cases:
        method = "GET" if body is None else "POST"
        try:
            status, data = client.request(method, path, body, {"Content-Type": ctype} if ctype else {})
        except (OSError, http.client.HTTPException) as exc:
            status, data = 0, f"{type(exc).__name__}: {exc}".encode()
        try:
            message = json.loads(data)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = data[:200].decode("utf-8", "replace")
        out.append({"case": name, "expected": want, "status": status,
                    "ok": status == want and "Traceback" not in message,
                    "message": message[:160]})
    client.close()
    return out


def get_json(port: int, path: str) -> Any:
    client = Client(port)
    try:
        status, data = client.request("GET", path)
        return json.loads(data)
    finally:
        client.close()


def kill9_batch(work: Path, n: int, kill_fraction: float) -> Dict[str, Any]:
    photos = work / "batch_photos"
    make_photos(photos, n, size=192, fmt="jpg")
    data = work / "kill9_data"
    port = free_port()
    proc = start_server(port, data, roots=[photos])
    wait_ready(port, proc)
    client = Client(port)
    status, body = client.request("POST", "/v1/batches", json.dumps({"task": "meme", "folder": str(photos),
                                                                        "options": {"lang": "en", "seed": 5}}).encode(),
                                  {"Content-Type": "application/json"})
    client.close()
    assert status == 202, body
    job_id = json.loads(body)["id"]
    started = time.perf_counter()
    while True:
        job = get_json(port, f"/v1/batches/{job_id}")
        if job["counts"]["done"] + job["counts"]["failed"] >= n * kill_fraction:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = job["counts"]
    before_s = time.perf_counter() - started
    restart = time.perf_counter()
    proc = start_server(port, data, roots=[photos])
    ready_s = wait_ready(port, proc)
    while (job := get_json(port, f"/v1/batches/{job_id}"))["state"] != "done":
        time.sleep(0.25)
    after_s = time.perf_counter() - restart
    client = Client(port)
    _, manifest = client.request("GET", f"/v1/batches/{job_id}/manifest")
    client.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    records = [json.loads(line) for line in manifest.decode().splitlines()]
    out_dir = data / "jobs" / job_id / "out"
    files = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*")
                   if p.is_file() and p.name != "manifest.jsonl")
    outputs = sorted(r["output"] for r in records if r["ok"])
    sources = [r["source"] for r in records]
    return {"photos": n, "killed_after_s": round(before_s, 1), "counts_at_kill": killed_at,
            "restart_ready_s": round(ready_s, 1), "finish_after_restart_s": round(after_s, 1),
            "final_counts": job["counts"],
            "records": len(records), "distinct_sources": len(set(sources)), "ok_records": len(outputs),
            "output_files": len(files), "outputs_match_manifest": files == outputs,
            "temporary_files_left": len(temporaries(out_dir)),
            "exactly_once": (len(records) == n and len(set(sources)) == n and files == outputs
                             and not temporaries(out_dir))}


def soak(port: int, pid: int, photos: List[bytes], seconds: float, concurrency: int = 4) -> Dict[str, Any]:
    """The memory run. Call it as soon as the server is ready: the RSS then, before any request,
    is the baseline (``rss_mb_ready``); ``growth_mb_from_ready`` is the target's number."""
    ready = memory_mb(pid)
    load_ready = os.getloadavg()
    stop = time.monotonic() + seconds
    samples: List[Tuple[float, float, float]] = []
    detail: List[Dict[str, float]] = []
    counts = {"requests": 0, "errors": 0}
    lock = threading.Lock()

    def worker(k: int) -> None:
        client = Client(port)
        i = k
        while time.monotonic() < stop:
            path = "/v1/meme?lang=en" if i % 4 == 0 else "/v1/analyze"
            try:
                status, _ = client.request("POST", path, photos[i % len(photos)], {"Content-Type": "image/jpeg"})
            except (OSError, http.client.HTTPException):
                status = 0
            with lock:
                counts["requests"] += 1
                counts["errors"] += status != 200
            i += concurrency
        client.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    started = time.monotonic()
    for t in threads:
        t.start()
    def sample() -> None:
        t = round(time.monotonic() - started, 1)
        samples.append((t, round(rss_mb(pid), 2), round(tree_rss_mb(pid), 2)))
        detail.append({"t": t, **memory_mb(pid), "load1": round(os.getloadavg()[0], 2)})

    while time.monotonic() < stop:
        sample()
        time.sleep(5)
    for t in threads:
        t.join()
    sample()
    warm = [s for s in samples if s[0] >= 60] or samples
    loads = [d["load1"] for d in detail]
    return {"seconds": seconds, "concurrency": concurrency, **counts, "rss_mb_ready": ready["rss"],
            "memory_mb_ready": ready, "memory_mb_end": {k: v for k, v in detail[-1].items() if k not in ("t", "load1")},
            "rss_mb_start": samples[0][1], "rss_mb_after_60s": warm[0][1], "rss_mb_end": samples[-1][1],
            "rss_mb_max": max(s[1] for s in samples),
            "growth_mb_from_ready": round(samples[-1][1] - ready["rss"], 2),
            "max_growth_mb_from_ready": round(max(s[1] for s in samples) - ready["rss"], 2),
            "growth_mb_whole_run": round(samples[-1][1] - samples[0][1], 2),
            "growth_mb_after_60s": round(samples[-1][1] - warm[0][1], 2),
            "loadavg_at_ready": [round(x, 2) for x in load_ready],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "load1_median": round(statistics.median(loads), 2), "load1_max": max(loads),
            "samples": samples, "memory_samples": detail}


#: The memory run's target: 0 errors and at most this much RSS growth from ready to the end (MB).
MEMORY_GROWTH_LIMIT_MB = 20.0


def memory_target(soak_result: Dict[str, Any]) -> Dict[str, Any]:
    """The memory run's verdict from a :func:`soak` result: met when it had 0 errors and the RSS at
    the end is at most :data:`MEMORY_GROWTH_LIMIT_MB` above the RSS at ready."""
    errors, growth = soak_result["errors"], soak_result["growth_mb_from_ready"]
    return {"errors": errors, "growth_mb_from_ready": growth,
            "met": errors == 0 and growth <= MEMORY_GROWTH_LIMIT_MB}


def latency_targets(result: Dict[str, Any]) -> Dict[str, Any]:
    """The latency run's targets: overhead at c1, throughput at c4 against the CLI, errors."""
    pt = result["paired_throughput"]
    overhead = result["paired_overhead"]["overhead_p50_ms"]
    errors = sum(r["errors"] for r in result["load"])
    strict = min(pt["ratio_vs_cli_pct"], pt["ratio_vs_cli_steady_pct"])  # the stricter CLI reading judges
    return {"analyze_overhead_p50_ms": overhead, "overhead_met": overhead <= 3.0,
            "c4_vs_cli_pct": strict, "c4_vs_cli_wall_pct": pt["ratio_vs_cli_pct"],
            "c4_vs_cli_steady_pct": pt["ratio_vs_cli_steady_pct"], "c4_vs_cli_loop_pct": pt["ratio_vs_loop_pct"],
            "throughput_met": strict >= 80.0,
            "load_errors": errors, "load_rejected_busy": sum(r["rejected_busy"] for r in result["load"]),
            "errors_met": errors == 0}


LOAD_HEADER = ["| endpoint | concurrency | requests | ok | errors | rejected (busy) | retried, then ok | p50 ms "
               "| p95 ms | ok req/s | load 1 min |", "|---|---|---|---|---|---|---|---|---|---|---|"]


def load_rows(rows: List[Dict[str, Any]]) -> List[str]:
    return [f"| `{r['path']}` | {r['concurrency']} | {r['requests']} | {r['ok']} | {r['errors']} | "
            f"{r['rejected_busy']} | {r['retried_ok']} | {r['p50_ms']} | {r['p95_ms']} | {r['throughput_rps']} "
            f"| {r['load1_start']} → {r['load1_end']} |" for r in rows]


def finish_latency_only(result: Dict[str, Any], out_dir: Path) -> int:
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = latency_targets(result)
    (out_dir / "server_latency.json").write_text(json.dumps(result, indent=1) + "\n")
    write_latency_markdown(result, out_dir / "server_latency.md")
    print(json.dumps(result["targets"]), flush=True)
    return 0


def throughput_text(pt: Dict[str, Any], t: Dict[str, Any]) -> Tuple[str, str]:
    """The throughput target's row (Markdown) and the sentence on the paired rounds."""
    row = (f"| throughput at concurrency 4 ≥ 80% of the CLI's (judged on the stricter CLI reading) "
           f"| {t['c4_vs_cli_pct']}%: server {pt['server_rps']} photos/s vs the CLI's "
           f"{pt['cli_steady_photos_s']} photos/s without its start-up (per round "
           f"{pt['ratio_vs_cli_steady_pct_per_round']}); with start-up {t['c4_vs_cli_wall_pct']}% "
           f"(CLI {pt['cli_photos_s']} photos/s); the CLI's loop in-process {t['c4_vs_cli_loop_pct']}% "
           f"({pt['cli_loop_photos_s']} photos/s) | {t['throughput_met']} |")
    text = (f"Throughput, paired: {pt['rounds']} rounds of the same {pt['photos_per_round']} photos three ways, the "
            "order rotating each round: the CLI as a user runs it (`python -m edgekit analyze ROUND_FOLDER --out "
            "FILE`, a new process each round; its start-up measured in the same round as the same command on one "
            f"photo: median {pt['cli_startup_s_median']} s), `/v1/analyze` at concurrency {pt['concurrency']}, and "
            "the CLI's loop in the benchmark process (`load_image` + `Pipeline.process` + JSON: no start-up, no "
            "output file). Server vs CLI with start-up, per round: "
            f"{pt['ratio_vs_cli_pct_per_round']}; vs the loop: {pt['ratio_vs_loop_pct_per_round']}.")
    return row, text


def write_latency_markdown(result: Dict[str, Any], path: Path) -> None:
    b, o, pt, t = result["in_process"], result["paired_overhead"], result["paired_throughput"], result["targets"]
    row, text = throughput_text(pt, t)
    loads = [x for r in result["load"] for x in (r["load1_start"], r["load1_end"])]
    lines = ["# edgekit serve: latency and throughput at the default limits", "",
             f"Machine: {result['machine']}, shared (load average {result['loadavg_before'][0]} before the run, "
             f"{result['loadavg_after'][0]} after it, {min(loads)} to {max(loads)} during the load levels; the "
             f"benchmark and the server it starts at nice {result['nice']}). {result['note']}", "",
             f"Command: `{result['command']}`", "",
             f"One server (`--cache-mb 0`: every request computed; defaults otherwise, i.e. `--max-concurrent 2` "
             f"`--max-queued 8`), ready in {result['ready_s']} s, 127.0.0.1, 512-544 px JPEGs, a different photo per "
             "request. Each client thread sends its next request when the last is answered. A `503 Busy` is "
             f"sent again after its `Retry-After` (1 s, plus up to 10 % jitter), at most {result['busy_retries']} "
             "times; latency runs from the first try to the final answer (retry waits included), p50/p95 and "
             "req/s are those of the ok requests. **errors** = anything but a 200 with a valid body or a Busy "
             "(other statuses, timeouts, dropped connections, wrong bodies); **rejected (busy)** = still Busy "
             "after the last retry.", "",
             *LOAD_HEADER, *load_rows(result["load"]), "",
             f"In-process (decode + `edgekit.analyze` + JSON, one at a time): p50 {b['p50_ms']} ms, "
             f"p95 {b['p95_ms']} ms, {b['throughput_rps']} photos/s.", "", text, "",
             "## Targets", "", "| target | measured | met |", "|---|---|---|",
             "| `/v1/analyze` p50 overhead over in-process at concurrency 1 ≤ 3 ms "
             f"| {t['analyze_overhead_p50_ms']} ms (median of {o['requests']} paired differences; "
             f"p25-p75 {o['overhead_ms_p25_p75']}; in-process p50 "
             f"{o['in_process_p50_ms']} ms, server {o['server_p50_ms']} ms) | {t['overhead_met']} |",
             row,
             f"| 0 errors in the latency run | {t['load_errors']} errors of "
             f"{sum(r['requests'] for r in result['load'])} requests ({t['load_rejected_busy']} rejected busy, "
             f"counted apart) | {t['errors_met']} |", ""]
    path.write_text("\n".join(lines) + "\n")


def write_markdown(result: Dict[str, Any], path: Path) -> None:
    b, o, pt = result["in_process"], result["paired_overhead"], result["paired_throughput"]
    lines = ["# edgekit serve: load and fault tests", "",
             f"Machine: {result['machine']}. {result['note']}", "",
             f"Command: `{result['command']}`", "",
             "## Latency and throughput (127.0.0.1, one server process, `--cache-mb 0`: every request computed)", "",
             *LOAD_HEADER, *load_rows(result["load"])]
    t = result["targets"]
    row, text = throughput_text(pt, t)
    lines += ["", f"In-process (decode + `edgekit.analyze` + JSON, one at a time): p50 {b['p50_ms']} ms, "
              f"p95 {b['p95_ms']} ms, {b['throughput_rps']} photos/s.", "", text, "",
              "## Targets", "", "| target | measured | met |", "|---|---|---|",
              f"| `/v1/analyze` p50 overhead over in-process at concurrency 1 ≤ 3 ms "
              f"| {t['analyze_overhead_p50_ms']} ms "
              f"(median of {o['requests']} paired differences; p25-p75 {o['overhead_ms_p25_p75']}; in-process p50 "
              f"{o['in_process_p50_ms']} ms, server {o['server_p50_ms']} ms) | {t['overhead_met']} |",
              row]
    if result.get("soak"):
        s = result["soak"]
        lines.append(f"| 0 errors, RSS growth ≤ {MEMORY_GROWTH_LIMIT_MB:.0f} MB from ready over the memory run "
                     f"({s['seconds']:.0f} s) | {s['errors']} errors of {s['requests']}; RSS {s['rss_mb_ready']} MB "
                     f"at ready → {s['rss_mb_end']} MB (max {s['rss_mb_max']}): {s['growth_mb_from_ready']:+} MB "
                     f"from ready at the end (max {s['max_growth_mb_from_ready']:+} MB) | {t['soak_met']} |")
    k = result["kill9"]
    lines.append(f"| kill -9 batch: {k['photos']} of {k['photos']}, no duplicates, no half-written outputs "
                 f"| {k['records']} records, "
                 f"{k['distinct_sources']} distinct, {k['output_files']} files = manifest: "
                 f"{k['outputs_match_manifest']}, "
                 f"{k['temporary_files_left']} temp files | {k['exactly_once']} |")
    lines += ["", "## kill -9 mid-batch", "",
              f"{k['photos']} photos (192-200 px JPEG, generated English captions, seed 5), one batch worker. "
              f"The server was "
              f"SIGKILLed {k['killed_after_s']} s in, at {k['counts_at_kill']}; the restarted server was ready in "
              f"{k['restart_ready_s']} s, redid the interrupted items and finished in "
              f"{k['finish_after_restart_s']} s: "
              f"{k['final_counts']}.", "", "## Malformed and oversized requests", "",
              "| case | expected | got | message |", "|---|---|---|---|"]
    for c in result["bad_requests"]:
        lines.append(f"| {c['case']} | {c['expected']} | {c['status']} | {c['message'][:110].replace('|', '/')} |")
    lines.append("")
    lines.append(f"Server healthy afterwards: {result['healthy_after_bad_requests']}. Server RSS after the load runs: "
                 f"{result['rss_mb_after_load']} MB (server process), {result['tree_rss_mb_after_load']} MB "
                 f"with its batch pool.")
    if result.get("soak"):
        s = result["soak"]
        lines += ["", "## Memory run", "",
                  f"Concurrency {s['concurrency']}, 3 analyze : 1 meme, {s['requests']} requests in "
                  f"{s['seconds']:.0f} s, {s['errors']} errors. RSS samples (s, server MB, server + pool MB) "
                  f"every 5 s are in server.json."]
    path.write_text("\n".join(lines) + "\n")


def memory_only(args: argparse.Namespace, argv: List[str]) -> int:
    """The memory run alone, on a fresh server (``--cache-mb 0``), measured from its ready state."""
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    result: Dict[str, Any] = {"command": "python -m benchmarks.server_load " + " ".join(argv), "machine": machine,
                              "nice": os.nice(0), "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="edgekit-mem-") as tmp:
        work = Path(tmp)
        photos = [p.read_bytes() for p in make_photos(work / "photos", 200, size=512, fmt="jpg")]
        port = free_port()
        proc = start_server(port, work / "data", extra=["--cache-mb", "0"])
        try:
            result["ready_s"] = round(wait_ready(port, proc), 2)
            result["readyz"] = get_json(port, "/readyz")
            result["soak"] = soak(port, proc.pid, photos, args.soak_seconds)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    result["target"] = memory_target(result["soak"])
    (out_dir / "server_memory.json").write_text(json.dumps(result, indent=1) + "\n")
    write_memory_markdown(result, out_dir / "server_memory.md")
    print(json.dumps(result["target"]), flush=True)
    return 0


def write_memory_markdown(result: Dict[str, Any], path: Path) -> None:
    s = result["soak"]
    r, e = s["memory_mb_ready"], s["memory_mb_end"]
    lines = ["# edgekit serve: the memory run", "",
             f"Machine: {result['machine']}, shared (load average {result['loadavg_before'][0]} before the run, "
             f"{s['loadavg_at_ready'][0]} at ready, 1-minute load median {s['load1_median']}, max {s['load1_max']} "
             f"during it; the benchmark at nice {result['nice']}). Latency on a loaded machine is not comparable "
             "with server.md, so this run records memory only.", "",
             f"Command: `{result['command']}`", "",
             f"One server (`--cache-mb 0`, defaults otherwise), ready in {result['ready_s']} s (`/readyz`: "
             f"{result['readyz']}). Concurrency {s['concurrency']}, 3 analyze : 1 meme (`lang=en`), 200 distinct "
             f"512-544 px JPEGs, {s['requests']} requests in {s['seconds']:.0f} s, **{s['errors']} errors**.", "",
             "The baseline is the RSS at ready: after the warm-up "
             "(`edgekit.server.app.warm_up_requests`), before the first request.", "",
             "| | RSS MB | anon MB | file MB | PSS MB |", "|---|---|---|---|---|",
             f"| ready | {r['rss']} | {r['anon']} | {r['file']} | {r['pss']} |",
             f"| end | {e['rss']} | {e['anon']} | {e['file']} | {e['pss']} |",
             f"| growth | **{round(e['rss'] - r['rss'], 2):+}** | {round(e['anon'] - r['anon'], 2):+} | "
             f"{round(e['file'] - r['file'], 2):+} | {round(e['pss'] - r['pss'], 2):+} |", "",
             f"Target: 0 errors and RSS growth ≤ {MEMORY_GROWTH_LIMIT_MB:.0f} MB from ready over the run: "
             f"{s['errors']} errors, {s['growth_mb_from_ready']:+} MB at the end "
             f"(max {s['max_growth_mb_from_ready']:+} MB) → "
             f"**{'met' if result['target']['met'] else 'missed'}**.", "",
             "## RSS curve (every 30 s; every 5 s in server_memory.json)", "",
             "| s | RSS MB | from ready | anon | file | PSS | load 1 min |", "|---|---|---|---|---|---|---|"]
    shown = [d for i, d in enumerate(s["memory_samples"]) if i % 6 == 0 or i == len(s["memory_samples"]) - 1]
    for d in shown:
        lines.append(f"| {d['t']:.0f} | {d['rss']} | {round(d['rss'] - r['rss'], 2):+} | {d['anon']} | {d['file']} | "
                     f"{d['pss']} | {d['load1']} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=200, help="requests per endpoint and concurrency level")
    p.add_argument("--concurrency", default="1,4,16")
    p.add_argument("--batch-photos", type=int, default=1000)
    p.add_argument("--soak-seconds", type=float, default=600.0, help="memory run length; 0 skips it")
    p.add_argument("--quick", action="store_true", help="40 requests per level, a 100-photo batch, no memory run")
    p.add_argument("--memory-only", action="store_true",
                   help="the memory run alone (--soak-seconds): server_memory.json/.md, the latency results untouched")
    p.add_argument("--latency-only", action="store_true",
                   help="the in-process/CLI baselines, the latency/throughput table and its three targets "
                        "(overhead, throughput, 0 errors) alone (no bad requests, kill -9 batch or memory run): "
                        "server_latency.json/.md")
    p.add_argument("--busy-retries", type=int, default=BUSY_RETRIES,
                   help="times a request answered 503 Busy is sent again (after Retry-After) before it counts "
                        "as rejected")
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)
    if args.memory_only:
        return memory_only(args, list(argv) if argv is not None else sys.argv[1:])
    if args.quick:
        args.requests, args.batch_photos, args.soak_seconds = 40, 100, 0
    levels = [int(x) for x in args.concurrency.split(",")]
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.server_load " + " ".join(argv if argv is not None else sys.argv[1:])
    result: Dict[str, Any] = {
        "command": command,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "note": "The load client runs on the server's cores, and the machine may run other work (see the load "
                "average), so absolute numbers are pessimistic; compare the rows with each other.",
        "nice": os.nice(0), "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "busy_retries": args.busy_retries}
    with tempfile.TemporaryDirectory(prefix="edgekit-load-") as tmp:
        work = Path(tmp)
        paths = make_photos(work / "photos", max(args.requests, 200), size=512, fmt="jpg")
        photos = [p.read_bytes() for p in paths]
        print(f"{len(photos)} test photos, {statistics.mean(map(len, photos)) / 1024:.0f} KB each", flush=True)
        result["in_process"] = in_process_baseline(photos, args.requests)
        print("in-process", result["in_process"], flush=True)

        port = free_port()
        max_body = 20 * 1024 * 1024
        # --cache-mb 0: every request is computed (the cache would answer repeated photos)
        proc = start_server(port, work / "data", roots=[work / "photos"], extra=["--cache-mb", "0"])
        try:
            result["ready_s"] = round(wait_ready(port, proc), 2)
            result["readyz"] = get_json(port, "/readyz")
            result["rss_mb_ready"] = round(rss_mb(proc.pid), 1)
            result["load"] = []
            for path in ("/v1/analyze", "/v1/meme?lang=en"):
                for level in levels:
                    r = load(port, path, photos, level, args.requests, args.busy_retries, seed=level)
                    result["load"].append(r)
                    print(r, flush=True)
            result["paired_throughput"] = paired_throughput(port, paths, photos, work, 5, max(100, args.requests))
            print("paired throughput", result["paired_throughput"], flush=True)
            result["paired_overhead"] = paired_overhead(port, photos, args.requests)
            print("paired", result["paired_overhead"], flush=True)
            result["rss_mb_after_load"] = round(rss_mb(proc.pid), 1)
            result["tree_rss_mb_after_load"] = round(tree_rss_mb(proc.pid), 1)
            if args.latency_only:
                return finish_latency_only(result, out_dir)
            result["bad_requests"] = bad_requests(port, max_body)
            result["healthy_after_bad_requests"] = get_json(port, "/readyz").get("status") == "ready"
            print("bad requests ok:", all(c["ok"] for c in result["bad_requests"]), flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)

        result["kill9"] = kill9_batch(work, args.batch_photos, 0.4)
        print("kill9", {k: v for k, v in result["kill9"].items()}, flush=True)

        if args.soak_seconds > 0:
            port = free_port()
            proc = start_server(port, work / "soak_data", extra=["--cache-mb", "0"])
            try:
                wait_ready(port, proc)
                result["soak"] = soak(port, proc.pid, photos, args.soak_seconds)
                print("soak", {k: v for k, v in result["soak"].items() if k != "samples"}, flush=True)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)

    result["targets"] = {**latency_targets(result), "kill9_met": result["kill9"]["exactly_once"]}
    if result.get("soak"):
        result["targets"]["soak_met"] = memory_target(result["soak"])["met"]
    (out_dir / "server.json").write_text(json.dumps(result, indent=1) + "\n")
    write_markdown(result, out_dir / "server.md")
    print(json.dumps(result["targets"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
