"""The batch job store: one SQLite file (standard library ``sqlite3``), durable at every commit.

Tables: ``jobs`` (one row per job: state, worker options, folders) and ``items`` (one row per
input: its planned :class:`edgekit.batch.BatchTask`, state and manifest records).

Item states: ``pending`` -> ``running`` (claimed by the runner) -> ``done`` / ``failed`` (records
kept), or ``cancelled``. An item becomes ``done`` once only (the update requires ``running``), and
only after its outputs were written atomically under their planned names; so after a crash
(:meth:`JobStore.recover` puts ``running`` items back to ``pending``) the item is done again,
overwriting the same files: every input is processed exactly once in the results, none twice.

Job states: ``queued`` -> ``running`` -> ``done``; ``cancelled`` (pending items dropped).
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    state TEXT NOT NULL,
    worker TEXT NOT NULL,
    root TEXT,
    out_dir TEXT NOT NULL,
    total INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    idx INTEGER NOT NULL,
    task TEXT NOT NULL,
    state TEXT NOT NULL,
    records TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL,
    PRIMARY KEY (job_id, idx)
);
CREATE INDEX IF NOT EXISTS items_state ON items(state, job_id, idx);
"""

ACTIVE_JOB_STATES = ("queued", "running")
FINAL_ITEM_STATES = ("done", "failed", "cancelled")


class JobConflict(Exception):
    """An operation the job's state does not allow (e.g. cancelling a finished job)."""


class JobStore:
    """Thread-safe access to the job database (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit survives a power cut, not only kill -9
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self, sql_and_args: Sequence[Tuple[str, tuple]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in sql_and_args:
                    self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # ----------------------------------------------------------------------------- jobs

    def create(self, job_id: str, worker: Dict[str, Any], root: Optional[str], out_dir: str,
               tasks: Sequence[str]) -> None:
        """A new queued job with one pending item per task (``BatchTask.to_json()``), in one transaction."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT INTO jobs VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                                 (job_id, now, now, json.dumps(worker), root, out_dir, len(tasks)))
                self._db.executemany(
                    "INSERT INTO items (job_id, idx, task, state, updated) VALUES (?, ?, ?, 'pending', ?)",
                    [(job_id, i, t, now) for i, t in enumerate(tasks)])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def recover(self) -> int:
        """After a start (or a crash): items left ``running`` go back to ``pending``, running jobs to
        ``queued``; returns how many items will be redone."""
        with self._lock:
            n = self._db.execute("SELECT COUNT(*) FROM items WHERE state='running'").fetchone()[0]
            self._tx([("UPDATE items SET state='pending', updated=? WHERE state='running'", (time.time(),)),
                      ("UPDATE jobs SET state='queued' WHERE state='running'", ())])
            for (job_id,) in self._db.execute("SELECT id FROM jobs WHERE state='queued'").fetchall():
                self._maybe_complete(job_id)  # its last item finished just before the crash
            return int(n)

    def finished_jobs(self) -> List[Tuple[str, str]]:
        """``(id, out_dir)`` of every ``done`` job."""
        with self._lock:
            rows = self._db.execute("SELECT id, out_dir FROM jobs WHERE state='done'").fetchall()
            return [(r[0], r[1]) for r in rows]

    def job(self, job_id: str) -> Optional[Dict[str, Any]]:
        """The job's row with its item counts, or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                return None
            counts = dict(self._db.execute("SELECT state, COUNT(*) FROM items WHERE job_id=? GROUP BY state",
                                           (job_id,)).fetchall())
            outputs = self._db.execute(
                "SELECT COALESCE(SUM(json_array_length(records)), 0) FROM items "
                "WHERE job_id=? AND state IN ('done', 'failed')",
                (job_id,)).fetchone()[0]
        job = dict(row)
        job["worker"] = json.loads(job["worker"])
        job["counts"] = {s: int(counts.get(s, 0)) for s in ("pending", "running", "done", "failed", "cancelled")}
        job["records"] = int(outputs)
        return job

    def active_jobs(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')").fetchone()[0])

    def job_states(self) -> Dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
            return {s: int(n) for s, n in rows}

    def queue_depth(self) -> int:
        """Items waiting (pending) in active jobs."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM items WHERE state='pending'").fetchone()[0])

    def cancel(self, job_id: str) -> Dict[str, Any]:
        """Cancel a queued or running job: its pending items are dropped, running ones finish."""
        with self._lock:
            job = self.job(job_id)
            if job is None:
                raise KeyError(job_id)
            if job["state"] not in ACTIVE_JOB_STATES:
                raise JobConflict(f"job is already {job['state']}")
            now = time.time()
            self._tx([("UPDATE items SET state='cancelled', updated=? WHERE job_id=? AND state='pending'",
                       (now, job_id)),
                      ("UPDATE jobs SET state='cancelled', updated=? WHERE id=?", (now, job_id))])
            return self.job(job_id)  # type: ignore[return-value]

    # ----------------------------------------------------------------------------- items

    def claim(self, limit: int) -> List[Tuple[str, int, str, str]]:
        """Up to ``limit`` pending items, oldest job first, marked ``running``: ``(job_id, idx,
        task_json, worker_json)`` each."""
        with self._lock:
            rows = self._db.execute(
                "SELECT i.job_id, i.idx, i.task, j.worker FROM items i JOIN jobs j ON j.id = i.job_id "
                "WHERE i.state='pending' AND j.state IN ('queued', 'running') "
                "ORDER BY j.created, i.job_id, i.idx LIMIT ?",
                (limit,)).fetchall()
            if not rows:
                return []
            now = time.time()
            self._tx([*(("UPDATE items SET state='running', attempts=attempts+1, updated=? WHERE job_id=? AND idx=?",
                         (now, r[0], r[1])) for r in rows),
                      *(("UPDATE jobs SET state='running', updated=? WHERE id=? AND state='queued'", (now, job))
                        for job in {r[0] for r in rows})])
            return [(r[0], int(r[1]), r[2], r[3]) for r in rows]

    def finish(self, job_id: str, idx: int, records: List[dict]) -> bool:
        """Record a finished item (``done``, or ``failed`` when no record is ok). Returns True when
        this finished the whole job. Only a ``running`` item can finish, so it finishes once."""
        state = "done" if any(r.get("ok") for r in records) else "failed"
        now = time.time()
        with self._lock:
            self._tx([("UPDATE items SET state=?, records=?, updated=? WHERE job_id=? AND idx=? AND state='running'",
                       (state, json.dumps(records, ensure_ascii=False), now, job_id, idx))])
            return self._maybe_complete(job_id)

    def release(self, job_id: str, idx: int, refund: bool = False) -> None:
        """Put a running item back to pending (shutdown before it finished, worker lost).
        ``refund``: the try the claim counted does not count (the item was not at fault)."""
        self._tx([(f"UPDATE items SET state='pending', updated=?{', attempts=MAX(attempts-1, 0)' if refund else ''} "
                   "WHERE job_id=? AND idx=? AND state='running'", (time.time(), job_id, idx))])

    def claim_item(self, job_id: str, idx: int) -> Optional[Tuple[str, int, str, str]]:
        """Claim one given item (as :meth:`claim` does) if it is still pending in an active job."""
        with self._lock:
            row = self._db.execute(
                "SELECT i.job_id, i.idx, i.task, j.worker FROM items i JOIN jobs j ON j.id = i.job_id "
                "WHERE i.job_id=? AND i.idx=? AND i.state='pending' AND j.state IN ('queued', 'running')",
                (job_id, idx)).fetchone()
            if row is None:
                return None
            now = time.time()
            self._tx([("UPDATE items SET state='running', attempts=attempts+1, updated=? WHERE job_id=? AND idx=?",
                       (now, job_id, idx)),
                      ("UPDATE jobs SET state='running', updated=? WHERE id=? AND state='queued'", (now, job_id))])
            return (row[0], int(row[1]), row[2], row[3])

    def attempts(self, job_id: str, idx: int) -> int:
        with self._lock:
            row = self._db.execute("SELECT attempts FROM items WHERE job_id=? AND idx=?", (job_id, idx)).fetchone()
            return int(row[0]) if row else 0

    def _maybe_complete(self, job_id: str) -> bool:
        left = self._db.execute("SELECT COUNT(*) FROM items WHERE job_id=? AND state IN ('pending', 'running')",
                                (job_id,)).fetchone()[0]
        if left:
            return False
        cur = self._db.execute("UPDATE jobs SET state='done', updated=? WHERE id=? AND state IN ('queued', 'running')",
                               (time.time(), job_id))
        return cur.rowcount > 0

    def records(self, job_id: str) -> Iterator[dict]:
        """Manifest records of the finished items, in input order."""
        with self._lock:
            rows = self._db.execute("SELECT records FROM items WHERE job_id=? AND records IS NOT NULL ORDER BY idx",
                                    (job_id,)).fetchall()
        for (text,) in rows:
            yield from json.loads(text)

    def output_paths(self, job_id: str) -> List[str]:
        """Relative paths of every output written by the job's finished items."""
        return [r["output"] for r in self.records(job_id) if r.get("ok") and r.get("output")]

    def pending_jobs(self) -> List[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT DISTINCT job_id FROM items WHERE state IN ('pending', 'running')").fetchall()]
