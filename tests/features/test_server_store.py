"""The SQLite job store's resume logic, and a batch that survives ``kill -9`` of the server and
completes with every photo processed exactly once after a restart (real ``edgekit serve``
processes on 127.0.0.1)."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from edgekit.batch import BatchWorker, run_local
from edgekit.server.runner import sweep_temporaries
from edgekit.server.store import JobConflict, JobStore
from server_support import (finish_after_restart, free_port, get_json, make_photos, post_json, start_server,
                            temporaries, wait_ready)


def child_pids(pid: int):
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def tasks(n: int):
    return [json.dumps({"index": i}) for i in range(n)]


def test_claim_finish_once_recover_and_cancel(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    store.create("a" * 32, {"task": "meme"}, "/r", "/o", tasks(5))
    store.create("b" * 32, {"task": "analyze"}, "/r", "/o", tasks(2))
    assert store.queue_depth() == 7 and store.active_jobs() == 2
    claimed = store.claim(3)
    assert [(j[0][0], j[1]) for j in claimed] == [("a", 0), ("a", 1), ("a", 2)]  # oldest job first, in order
    assert store.job("a" * 32)["state"] == "running"
    ok = [{"source": "x", "ok": True, "output": "x.png"}]
    assert store.finish("a" * 32, 0, ok) is False
    store.finish("a" * 32, 0, ok + ok)  # a second finish of a finished item changes nothing
    assert list(store.records("a" * 32)) == ok
    store.close()

    # a crash: items 1 and 2 were running; a new store (new server process) puts them back
    store = JobStore(tmp_path / "jobs.sqlite")
    assert store.recover() == 2
    job = store.job("a" * 32)
    assert job["state"] == "queued" and job["counts"] == {"pending": 4, "running": 0, "done": 1, "failed": 0,
                                                          "cancelled": 0}
    again = store.claim(10)
    assert [(j[0][0], j[1]) for j in again][:4] == [("a", 1), ("a", 2), ("a", 3), ("a", 4)]
    assert store.attempts("a" * 32, 1) == 2
    failed = [{"source": "y", "ok": False, "error": "bad", "output": None}]
    for _, idx, _, _ in again[:4]:
        finished = store.finish("a" * 32, idx, ok if idx % 2 else failed)
    assert finished is True and store.job("a" * 32)["state"] == "done"
    assert store.job("a" * 32)["counts"]["failed"] == 2
    with pytest.raises(JobConflict, match="already done"):
        store.cancel("a" * 32)
    # cancel: pending items are dropped, a running one still finishes and is recorded
    store.release("b" * 32, 1)
    job = store.cancel("b" * 32)
    assert job["state"] == "cancelled" and job["counts"]["cancelled"] == 1 and job["counts"]["running"] == 1
    store.finish("b" * 32, 0, ok)
    assert store.job("b" * 32)["state"] == "cancelled" and store.claim(5) == []
    with pytest.raises(JobConflict, match="already cancelled"):
        store.cancel("b" * 32)
    with pytest.raises(KeyError):
        store.cancel("c" * 32)


def test_sweep_removes_only_writer_temporaries(tmp_path):
    (tmp_path / "sub").mkdir()
    keep = [tmp_path / "a.png", tmp_path / ".hidden.png", tmp_path / "sub" / "b.jpg"]
    gone = [tmp_path / ".a.png.abc123_x.tmp.png", tmp_path / "sub" / ".b.jpg.ZZZZZZZZ.tmp.jpg"]
    for p in keep + gone:
        p.write_bytes(b"x")
    assert sweep_temporaries(tmp_path) == 2
    assert all(p.exists() for p in keep) and not any(p.exists() for p in gone)


@pytest.mark.slow
def test_batch_survives_kill_9_and_completes_exactly_once(tmp_path):
    photos = tmp_path / "photos"
    make_photos(photos, 48, size=192)
    (photos / "zz_broken.png").write_bytes(b"\x89PNG broken")
    port, data = free_port(), tmp_path / "data"
    proc = start_server(port, data, roots=[photos])
    try:
        wait_ready(port, proc)
        job = post_json(port, "/v1/batches",
                        {"task": "meme", "folder": str(photos), "options": {"lang": "en", "seed": 11}})
        job_id = job["id"]
        while True:  # kill -9 once some, not all, photos are done
            counts = get_json(port, f"/v1/batches/{job_id}")["counts"]
            if counts["done"] >= 6:
                break
            assert proc.poll() is None
            time.sleep(0.02)
        children = child_pids(proc.pid)
        assert children, "the batch pool should be running"
        os.kill(proc.pid, signal.SIGKILL)  # the server only: its pool processes must die with it
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{c}").exists() and not zombie(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        outlived = [c for c in children if Path(f"/proc/{c}").exists() and not zombie(c)]
        assert not outlived, "a pool process outlived the server"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert counts["pending"] > 0, "the job finished before the kill; nothing was tested"

    job, records = finish_after_restart(port, data, job_id, roots=[photos])
    assert job["counts"] == {"pending": 0, "running": 0, "done": 48, "failed": 1, "cancelled": 0}
    sources = [r["source"] for r in records]
    assert len(records) == 49 and len(set(sources)) == 49  # every photo once, none twice
    out = data / "jobs" / job_id / "out"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted([r["output"] for r in records if r["ok"]] + ["manifest.jsonl"])
    assert temporaries(out) == []  # no half-written file left
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert manifest == records
    # a redone photo is the same meme a single uninterrupted run makes
    ref = run_local(BatchWorker("meme", lang="en", seed=11), photos, tmp_path / "ref")
    expected = [r for recs in ref.records for r in recs]
    for rec in expected:
        if rec.get("error"):
            rec["error"] = rec["error"].replace(str(photos) + "/", "")
    assert records == expected
    assert all((out / r["output"]).read_bytes() == (tmp_path / "ref" / r["output"]).read_bytes()
               for r in expected if r["ok"])


def _crashing_worker_init() -> None:
    """Pool initializer of the crash test: ``run_task`` kills its process on a photo named crash*."""
    import edgekit.server.runner as runner

    runner._die_with_parent()
    real = runner.run_task

    def run_task(worker_json: str, task_json: str):
        if json.loads(task_json)["rel"].startswith("crash"):
            os._exit(3)  # as a decoder segfault or the OOM killer would
        return real(worker_json, task_json)

    runner.run_task = run_task  # the pool unpickles run_task by name, after this initializer


def test_a_crashing_photo_fails_alone_not_its_neighbours(tmp_path):
    import concurrent.futures as cf
    import multiprocessing

    from edgekit.server.runner import MAX_ATTEMPTS, JobRunner

    class CrashRunner(JobRunner):
        def _new_pool(self):
            return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                          initializer=_crashing_worker_init)

    photos = tmp_path / "photos"
    paths = make_photos(photos, 4, size=96)
    paths[1].rename(photos / "crash.png")
    files = sorted(photos.iterdir())  # crash.png first, then photo_0000, photo_0002, photo_0003
    worker = BatchWorker("analyze")
    out = tmp_path / "out"
    store = JobStore(tmp_path / "jobs.sqlite")
    job_id = "c" * 32
    store.create(job_id, worker.config, str(photos), str(out),
                 [t.to_json() for t in worker.plan(files, photos, out)])
    finished = []
    runner = CrashRunner(store, workers=1, on_finished=finished.append)
    runner.start()
    try:
        deadline = time.monotonic() + 240
        while store.job(job_id)["state"] != "done":
            assert time.monotonic() < deadline, store.job(job_id)
            time.sleep(0.1)
    finally:
        runner.stop(1)
    records = {r["source"]: r for r in store.records(job_id)}
    assert store.job(job_id)["counts"] == {"pending": 0, "running": 0, "done": 3, "failed": 1, "cancelled": 0}, records
    assert records["crash.png"]["error_type"] == "WorkerCrash"
    assert all(records[f"photo_000{i}.png"]["ok"] for i in (0, 2, 3)), records
    assert runner.pool_restarts >= MAX_ATTEMPTS and finished == [job_id]
    store.close()


def test_recover_completes_a_job_whose_manifest_was_never_written(tmp_path):
    from edgekit.batch import write_manifest
    from edgekit.server.runner import JobRunner

    out = tmp_path / "out"
    store = JobStore(tmp_path / "jobs.sqlite")
    store.create("d" * 32, {"task": "analyze"}, "/r", str(out / ("d" * 32)), tasks(2))
    store.create("e" * 32, {"task": "analyze"}, "/r", str(out / ("e" * 32)), tasks(1))
    ok = [{"source": "x", "ok": True, "output": None}]
    store.claim(3)
    store.finish("d" * 32, 0, ok)
    store.finish("d" * 32, 1, ok)  # done; the server dies before it writes the manifest
    # the last item's record committed, the job's own update not yet (a crash between the two)
    store._tx([("UPDATE items SET state='done', records=? WHERE job_id=?", (json.dumps(ok), "e" * 32))])
    assert store.job("e" * 32)["state"] == "running"
    store.close()

    store = JobStore(tmp_path / "jobs.sqlite")
    written = []

    def on_finished(job_id):
        written.append(job_id)
        write_manifest(out / job_id, [list(store.records(job_id))])

    runner = JobRunner(store, on_finished=on_finished)
    runner.start()
    runner.stop(0)
    assert store.job("e" * 32)["state"] == "done"
    assert sorted(written) == ["d" * 32, "e" * 32]
    assert (out / ("d" * 32) / "manifest.jsonl").read_text().count("\n") == 2
    runner = JobRunner(store, on_finished=on_finished)  # the next start: nothing left to write
    runner.start()
    runner.stop(0)
    assert len(written) == 2
