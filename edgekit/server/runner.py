"""Runs batch job items from the :class:`~edgekit.server.store.JobStore` in a process pool.

Each pool process builds :class:`edgekit.batch.BatchWorker` objects from the stored options and
loads the models once. The runner thread claims pending items, runs them, and records each
item's manifest records after its outputs were written (see :mod:`edgekit.server.store` for why
that makes the outputs exactly-once). A pool process that dies (a decoder crash, the OOM killer)
breaks only the items it held, and a crash counts only against the item that caused it: when the
pool held several items, none is blamed; they go back without a counted try and are then run one
at a time (alone in the pool), so a crash is charged to the one item that was running. An item is
retried up to :data:`MAX_ATTEMPTS` crashes, then recorded as failed; a new pool takes over. Pool
processes die with the server (``PR_SET_PDEATHSIG`` on Linux), so a ``kill -9`` of the server
leaves no process still writing.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import multiprocessing
import os
import re
import signal
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from .store import JobStore

log = logging.getLogger("edgekit.server")

#: Tries of one item whose pool process died before the item is recorded as failed.
MAX_ATTEMPTS = 3
#: Name of the temporary files :func:`edgekit.paths.temporary_output` makes (``.<name>.XXXXXXXX.tmp<suffix>``).
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def _die_with_parent() -> None:
    """Pool process initializer: ask Linux to SIGKILL this process when the server dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)
    except (OSError, AttributeError):  # pragma: no cover - other platforms: workers exit on the broken pipe
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C / SIGTERM handling belongs to the server


#: This pool process's BatchWorkers by their options (least recently used dropped past :data:`MAX_WORKERS`).
_WORKERS: "OrderedDict[str, Any]" = OrderedDict()
MAX_WORKERS = 4


def run_task(worker_json: str, task_json: str) -> List[dict]:
    """Pool process entry: one item -> its manifest records (paths in errors shown relative)."""
    from ..batch import BatchTask, BatchWorker

    worker = _WORKERS.get(worker_json)
    if worker is None:
        config = json.loads(worker_json)
        task, pipeline = config.pop("task"), config.pop("pipeline")
        worker = _WORKERS[worker_json] = BatchWorker(task, **config, **pipeline)
        while len(_WORKERS) > MAX_WORKERS:
            _WORKERS.popitem(last=False)
    else:
        _WORKERS.move_to_end(worker_json)
    task = BatchTask.from_json(task_json)
    records = worker.run(task)
    for record in records:  # the server's own folders are not the client's business
        if isinstance(record.get("error"), str):
            record["error"] = record["error"].replace(task.source, task.rel)
    return records


def sweep_temporaries(folder: Path) -> int:
    """Remove the temporary files a killed writer left in a job's output folder (only the
    server writes there, and only while the job runs); returns how many."""
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.rglob(".*"):
        if path.is_file() and not path.is_symlink() and _TEMP_NAME.match(path.name):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


class JobRunner:
    """A thread feeding a process pool from the store."""

    def __init__(self, store: JobStore, workers: int = 1, on_finished: Optional[Callable[[str], None]] = None,
                 on_item: Optional[Callable[[str, float, bool], None]] = None) -> None:
        self.store = store
        self.workers = workers
        self.on_finished = on_finished
        self.on_item = on_item
        self._pool: Optional[cf.ProcessPoolExecutor] = None
        self._inflight: Dict[cf.Future, Tuple[str, int, float]] = {}
        self._swept: Set[str] = set()
        #: items a pool crash may have been caused by: each is run alone until it finishes
        self._suspects: List[Tuple[str, int]] = []
        self._stop = threading.Event()
        self._draining = threading.Event()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.items_done = 0
        self.pool_restarts = 0

    # ----------------------------------------------------------------------------- lifecycle

    def start(self) -> int:
        """Recover the store (running items back to pending) and start the runner thread."""
        redo = self.store.recover()
        if self.on_finished is not None:  # a job whose last item finished just before a crash
            from ..meme.batch import MANIFEST_NAME

            for job_id, out_dir in self.store.finished_jobs():
                if not (Path(out_dir) / MANIFEST_NAME).exists():
                    self.on_finished(job_id)
        self._thread = threading.Thread(target=self._loop, name="edgekit-batch-runner", daemon=True)
        self._thread.start()
        return redo

    def wake(self) -> None:
        self._wake.set()

    def drain(self) -> None:
        """Take no new item; running ones go on (and are recorded when they finish). Safe to call
        from a signal handler (it only sets events)."""
        self._draining.set()
        self._wake.set()

    def stop(self, grace_s: float) -> Dict[str, int]:
        """Stop taking items; give running items ``grace_s`` seconds to finish (recorded), put the
        rest back to pending for the next start; stop the pool (its processes are killed: an item
        they were still running is redone, from scratch, at the next start)."""
        self.drain()
        deadline = time.monotonic() + max(0.0, grace_s)
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)  # it wakes every 0.5 s
        released = 0
        for future, (job_id, idx, _) in list(self._inflight.items()):
            self.store.release(job_id, idx, refund=True)
            released += 1
        self._inflight.clear()
        self._shutdown_pool()
        return {"released": released}

    def _shutdown_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:  # items still running were released: their work is redone later
            if proc.is_alive():
                proc.kill()
        for proc in processes:
            proc.join(timeout=5)

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        # spawn: the server has threads (event loop, thread pool); forking them is unsafe
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_die_with_parent)

    # ----------------------------------------------------------------------------- loop

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._draining.is_set():
                    self._fill()
                if self._inflight:
                    done, _ = cf.wait(list(self._inflight), timeout=0.5, return_when=cf.FIRST_COMPLETED)
                    for future in done:
                        self._collect(future)
                else:
                    self._wake.wait(0.5)
                    self._wake.clear()
            except Exception:  # noqa: BLE001 - the runner must survive anything; logged
                log.exception("batch runner error")
                time.sleep(0.5)

    def _fill(self) -> None:
        if self._suspects:  # isolation: a suspect alone in the pool, so a crash is its own
            if self._inflight:
                return
            claimed = []
            while self._suspects and not claimed:
                item = self.store.claim_item(*self._suspects.pop(0))
                claimed = [item] if item is not None else []
        else:
            room = 2 * self.workers - len(self._inflight)  # one queued behind each busy process
            if room <= 0:
                return
            claimed = self.store.claim(room)
        for job_id, idx, task_json, worker_json in claimed:
            if job_id not in self._swept:
                job = self.store.job(job_id)
                if job is not None:
                    sweep_temporaries(Path(job["out_dir"]))
                self._swept.add(job_id)
            if self._pool is None:
                self._pool = self._new_pool()
            future = self._pool.submit(run_task, worker_json, task_json)
            self._inflight[future] = (job_id, idx, time.perf_counter())

    def _collect(self, future: cf.Future) -> None:
        if future not in self._inflight:  # already handled by _pool_died (same cf.wait round)
            return
        try:
            records = future.result()
        except cf.process.BrokenProcessPool:
            self._pool_died()
            return
        except Exception as exc:  # noqa: BLE001 - a bug in one item must not stop the job
            job_id, idx, _ = self._inflight[future]
            log.exception("batch item %s/%d failed", job_id, idx)
            records = [{"source": self._rel(job_id, idx), "output": None, "ok": False,
                        "error": f"internal error ({type(exc).__name__}); see the server log",
                        "error_type": "InternalError"}]
        self._record(future, records)

    def _record(self, future: cf.Future, records: List[dict]) -> None:
        job_id, idx, started = self._inflight.pop(future)
        finished = self.store.finish(job_id, idx, records)
        self.items_done += 1
        if self.on_item is not None:
            self.on_item(job_id, time.perf_counter() - started, any(r.get("ok") for r in records))
        if finished and self.on_finished is not None:
            self.on_finished(job_id)

    def _rel(self, job_id: str, idx: int) -> str:
        from ..batch import BatchTask

        with self.store._lock:
            row = self.store._db.execute("SELECT task FROM items WHERE job_id=? AND idx=?", (job_id, idx)).fetchone()
        return BatchTask.from_json(row[0]).rel if row else str(idx)

    def _pool_died(self) -> None:
        """The pool is broken. Items it finished are recorded. One item left: it crashed the pool
        (retried alone, failed after MAX_ATTEMPTS). Several: any of them may have, so none is
        blamed; they go back without a counted try and run one at a time. A new pool follows."""
        self.pool_restarts += 1
        self._shutdown_pool()
        lost: List[Tuple[str, int]] = []
        for future, (job_id, idx, _) in list(self._inflight.items()):
            if future.done() and not future.cancelled() and future.exception() is None:
                self._record(future, future.result())
            else:
                self._inflight.pop(future)
                lost.append((job_id, idx))
        if len(lost) == 1:
            self._retry_or_fail(*lost[0], "the worker process stopped (crashed or was killed) on this input")
        else:
            for job_id, idx in lost:
                self.store.release(job_id, idx, refund=True)
                self._suspects.append((job_id, idx))
            self._wake.set()

    def _retry_or_fail(self, job_id: str, idx: int, reason: str) -> None:
        if self.store.attempts(job_id, idx) >= MAX_ATTEMPTS:
            record = {"source": self._rel(job_id, idx), "output": None, "ok": False,
                      "error": f"{self._rel(job_id, idx)}: {reason} {MAX_ATTEMPTS} times", "error_type": "WorkerCrash"}
            if self.store.finish(job_id, idx, [record]) and self.on_finished is not None:
                self.on_finished(job_id)
        else:
            self.store.release(job_id, idx)
            self._suspects.insert(0, (job_id, idx))  # its retry runs alone too
        self._wake.set()

    @property
    def running(self) -> int:
        return len(self._inflight)
