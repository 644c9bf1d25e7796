"""Operating ``edgekit serve``: one server per data dir (lock), the ``--batch-videos`` flag,
outputs fsynced before the job store records them, and SIGTERM within the grace period with a
long batch item and a slow upload in flight (real server processes on 127.0.0.1 only)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server_support import (ROOT, finish_after_restart, free_port, get_json, make_photos, post_json, start_server,
                            temporaries, wait_ready)


def stop(proc: subprocess.Popen) -> None:
    """Kill a server this test started (its process group: the batch pool too) if it still runs."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


# ---------------------------------------------------------------------------------- data dir lock

def test_the_data_dir_lock_is_exclusive_and_names_its_holder(tmp_path):
    from edgekit.errors import InputError
    from edgekit.server.lock import DataDirLock

    first = DataDirLock(tmp_path).acquire()
    with pytest.raises(InputError, match=rf"{tmp_path}: is in use by another edgekit server \(pid {os.getpid()}\)"):
        DataDirLock(tmp_path).acquire()  # flock: a second open file description conflicts, in any process
    first.release()
    again = DataDirLock(tmp_path).acquire()
    assert (tmp_path / "server.lock").read_text().strip() == str(os.getpid())
    again.release()


def test_a_second_server_on_the_same_data_dir_exits_with_one_line(tmp_path):
    port, data = free_port(), tmp_path / "data"
    first = start_server(port, data)
    try:
        wait_ready(port, first)
        second = subprocess.run([sys.executable, "-m", "edgekit", "serve", "--port", str(free_port()), "--data-dir",
                                 str(data)], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert lines == [f"edgekit: error: {data.resolve()}: is in use by another edgekit server (pid {first.pid}). "
                         "stop that server first, or give this one its own --data-dir"], second.stderr
        assert get_json(port, "/readyz")["status"] == "ready"  # the first one is untouched
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
        stop(first)
    # the lock goes with its process: the next server on that folder starts
    third = start_server(port, data)
    try:
        wait_ready(port, third)
    finally:
        stop(third)


# ---------------------------------------------------------------------------------- --batch-videos

@pytest.mark.parametrize("argv, env, expected", [
    ([], None, False),
    (["--batch-videos"], None, True),
    ([], "1", True),  # the environment variable is the fallback
    (["--no-batch-videos"], "1", False),  # the flag wins over it
])
def test_batch_videos_flag_with_the_environment_as_fallback(monkeypatch, tmp_path, argv, env, expected):
    import edgekit.server.run as run
    from edgekit.cli import build_parser, main
    from edgekit.server.config import BATCH_VIDEOS_ENV

    seen = []
    monkeypatch.setattr(run, "serve", lambda config, **kw: seen.append(config))
    monkeypatch.setattr(run, "check_extra", lambda: None)
    if env is None:
        monkeypatch.delenv(BATCH_VIDEOS_ENV, raising=False)
    else:
        monkeypatch.setenv(BATCH_VIDEOS_ENV, env)
    assert main(["serve", "--data-dir", str(tmp_path), *argv]) == 0
    assert seen[0].batch_videos is expected
    serve_help = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()
    assert "--batch-videos" in serve_help and "EDGEKIT_SERVER_BATCH_VIDEOS" in serve_help


# ---------------------------------------------------------------------------------- durable outputs

def test_outputs_are_fsynced_before_the_store_records_them_done(monkeypatch, tmp_path):
    """The server's runner, in process (a thread pool stands in for its process pool so the probes
    below see the writes): every output's bytes and its folder are fsynced before ``finish``
    records the item done, and the manifest is fsynced too."""
    import concurrent.futures as cf

    from edgekit.server.config import ServerConfig
    from edgekit.server.runner import JobRunner

    events = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(JobRunner, "_new_pool", lambda self: cf.ThreadPoolExecutor(max_workers=1))
    photos = tmp_path / "photos"
    make_photos(photos, 3, size=128)
    (photos / "zz_broken.png").write_bytes(b"not a png")
    config = ServerConfig(data_dir=tmp_path / "data", roots=(photos,), warmup=False).check()
    pytest.importorskip("fastapi", reason="the server tests need the 'server' extra")
    from fastapi.testclient import TestClient

    from edgekit.server.app import create_app

    with TestClient(create_app(config)) as client:
        state = client.app.state
        real_finish = state.store.finish

        def finish(job_id, idx, records):
            events.append(("finish", [r["output"] for r in records if r.get("ok")]))
            return real_finish(job_id, idx, records)

        monkeypatch.setattr(state.store, "finish", finish)
        r = client.post("/v1/batches", json={"task": "meme", "folder": str(photos), "options": {"text": "hi"}})
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 180
        while client.get(r.headers["location"]).json()["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        out = Path(state.store.job(r.json()["id"])["out_dir"])
    finishes = [i for i, e in enumerate(events) if e[0] == "finish"]
    # three photos with one output each and the broken one with none, in whatever order the items finished
    assert sorted(len(events[i][1]) for i in finishes) == [0, 1, 1, 1], [events[i] for i in finishes]
    for i in finishes:
        for output in events[i][1]:
            name = Path(output).name
            synced = [j for j, (kind, path) in enumerate(events[:i])
                      if kind == "fsync" and Path(path).name.startswith(f".{name}.")]
            folder = [j for j, (kind, path) in enumerate(events[:i]) if kind == "fsync" and path == str(out.resolve())]
            assert synced and folder and synced[-1] < folder[-1] < i, (output, events)  # bytes, then the rename
    assert any(kind == "fsync" and Path(path).name.startswith(".manifest.jsonl.") for kind, path in events)
    assert r.json()["options"]["durable"] is True  # the server's own option: a client cannot turn it off


# ---------------------------------------------------------------------------------- SIGTERM

@pytest.mark.slow
def test_sigterm_checkpoints_a_long_item_and_exits_within_the_grace(tmp_path):
    """A batch item that runs far longer than --grace and a client stuck in the middle of an
    upload: the server stops both within one grace period from the signal (not one after the
    other), puts the item back in the queue, and after a restart the job completes with every
    photo once and no temporary file."""
    grace = 4.0
    photos = tmp_path / "photos"
    paths = make_photos(photos, 6, size=128)
    paths[2].rename(photos / "photo_0002_slow.png")
    port, data = free_port(), tmp_path / "data"
    proc = start_server(port, data, roots=[photos], extra=["--grace", str(grace)], slow_items=True)
    upload = None
    try:
        wait_ready(port, proc)
        job_id = post_json(port, "/v1/batches", {"task": "meme", "folder": str(photos),
                                                 "options": {"lang": "en", "seed": 3}})["id"]
        deadline = time.monotonic() + 180
        while (counts := get_json(port, f"/v1/batches/{job_id}")["counts"])["done"] < 2:
            assert time.monotonic() < deadline and proc.poll() is None, counts
            time.sleep(0.1)
        time.sleep(1.0)
        counts = get_json(port, f"/v1/batches/{job_id}")["counts"]
        assert counts["done"] == 2 and counts["running"] >= 1, counts  # the slow photo holds the pool
        upload = socket.create_connection(("127.0.0.1", port), timeout=30)
        upload.sendall(b"POST /v1/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                       b"Content-Length: 100000\r\n\r\n\x89PNG\r\n")  # ... and never the rest
        time.sleep(0.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        took = time.monotonic() - started
    finally:
        if upload is not None:
            upload.close()
        stop(proc)
    assert proc.returncode in (0, -signal.SIGTERM), proc.stdout.read() if proc.stdout else ""
    assert took < grace + 2.5, f"exited {took:.1f} s after SIGTERM (grace {grace} s)"

    # no slow items now: the checkpointed one is redone
    job, records = finish_after_restart(port, data, job_id, roots=[photos])
    assert job["counts"] == {"pending": 0, "running": 0, "done": 6, "failed": 0, "cancelled": 0}
    sources = [r["source"] for r in records]
    assert sorted(sources) == sorted(p.name for p in photos.iterdir()) and len(set(sources)) == 6
    out = data / "jobs" / job_id / "out"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted([r["output"] for r in records] + ["manifest.jsonl"]) and temporaries(out) == []
