"""Helpers of the server tests and benchmarks/server_load.py: test photos made from the bundled
astronaut (scaled, cropped, flipped), a free loopback port, and an ``edgekit serve`` subprocess."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]


def astronaut_bgr():
    from edgekit.assets import demo_photo
    from edgekit.imageio import load_image

    return load_image(demo_photo())


def make_photos(folder: Path, n: int, size: int = 256, fmt: str = "png") -> List[Path]:
    """``n`` distinct photos of one face: the astronaut scaled, cropped and flipped differently."""
    import cv2

    base = astronaut_bgr()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        crop = 40 + (i * 7) % 60
        img = base[crop // 2: 512 - crop // 2, crop: 512 - (crop // 3)]
        if i % 2:
            img = img[:, ::-1]
        side = size + (i % 5) * 8
        img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
        path = folder / f"photo_{i:04d}.{fmt}"
        cv2.imwrite(str(path), img)
        paths.append(path)
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: How long a batch item whose name holds "slow" takes in a server started with ``slow_items``.
SLOW_ITEM_S = 120.0


def slow_items_init() -> None:
    """Pool initializer of a ``slow_items`` server: ``run_task`` sleeps :data:`SLOW_ITEM_S` on an
    input whose name holds "slow" (a long item, as a long video would be), then runs it."""
    import edgekit.server.runner as runner

    runner._die_with_parent()
    real = runner.run_task

    def run_task(worker_json: str, task_json: str):
        if "slow" in json.loads(task_json)["rel"]:
            time.sleep(SLOW_ITEM_S)
        return real(worker_json, task_json)

    runner.run_task = run_task  # the pool unpickles run_task by name, after this initializer


def serve_with_slow_items(argv: Sequence[str]) -> None:
    """``edgekit serve ARGV`` whose batch pool processes run :func:`slow_items_init`."""
    import concurrent.futures as cf
    import multiprocessing

    from edgekit.cli import main
    from edgekit.server.runner import JobRunner

    def new_pool(self: JobRunner) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=slow_items_init)

    JobRunner._new_pool = new_pool  # type: ignore[method-assign]
    sys.exit(main(list(argv)))


def start_server(port: int, data_dir: Path, roots: Sequence[Path] = (), extra: Sequence[str] = (),
                 env: Optional[dict] = None, python: str = sys.executable,
                 slow_items: bool = False) -> subprocess.Popen:
    """``edgekit serve`` on 127.0.0.1:``port`` (``slow_items``: see :func:`serve_with_slow_items`)."""
    launcher = (["-c", f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); import server_support; "
                       "server_support.serve_with_slow_items(sys.argv[1:])"] if slow_items else ["-m", "edgekit"])
    cmd = [python, *launcher, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
           "--log-level", "warning", *[a for r in roots for a in ("--root", str(r))], *extra]
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_ready(port: int, proc: Optional[subprocess.Popen] = None, timeout: float = 120.0) -> float:
    """Seconds until /readyz answered 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    output = ""
    if proc is not None and proc.stdout is not None:  # stopped, so that what it said can be read
        proc.kill()
        output = proc.stdout.read()[-3000:]
    raise TimeoutError(f"server on port {port} not ready after {timeout} s: {output}")


def get_json(port: int, path: str, token: Optional[str] = None) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def post_json(port: int, path: str, body: dict, token: Optional[str] = None) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def temporaries(folder: Path) -> List[Path]:
    """Leftover temporary files (edgekit.paths naming) under ``folder``."""
    return [p for p in folder.rglob(".*") if p.is_file() and ".tmp" in p.name]


def finish_after_restart(port: int, data_dir: Path, job_id: str, roots: Sequence[Path] = ()) -> tuple:
    """Start the server again on ``data_dir``, wait until job ``job_id`` is done and return
    ``(job, manifest records)``; the server is stopped (SIGTERM, then its process group killed)."""
    proc = start_server(port, data_dir, roots=roots)
    try:
        wait_ready(port, proc)
        deadline = time.monotonic() + 300
        while (job := get_json(port, f"/v1/batches/{job_id}"))["state"] != "done":
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/batches/{job_id}/manifest") as r:
            records = [json.loads(line) for line in r.read().decode().splitlines()]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    return job, records
