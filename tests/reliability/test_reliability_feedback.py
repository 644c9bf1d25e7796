"""The feedback store survives a process killed mid-write: a writer process records events and
prints an acknowledgement after each ``record()`` returns; it is SIGKILLed at a random moment;
a fresh store then holds every acknowledged event, the file is valid and owner-only, and the
next writer cleans up the dead writer's temp file. Several writers at once lose nothing either."""
from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Set

import edgekit.personalize as personalize

ROOT = Path(__file__).resolve().parents[2]

#: Records events forever (argv: store path, writer name), printing "ACK <id>" after each one.
WRITER = """
import sys
from edgekit.personalize import FeedbackStore
store = FeedbackStore(sys.argv[1])
i = 0
while True:
    text = f"{sys.argv[2]} caption {i} 这波快乐直接拉满"
    event = store.record(("like", "dislike", "used")[i % 3], text, style="anime")
    print("ACK", event.id, flush=True)
    i += 1
"""


def _start_writer(path: Path, name: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), EDGEKIT_DATA_DIR=str(path.parent))
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), name], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _acks_until_killed(proc: subprocess.Popen, acks: int, rng: random.Random) -> List[str]:
    """Read ``acks`` acknowledgements, wait a random fraction of a write, SIGKILL, collect the rest."""
    seen = []
    for line in proc.stdout:
        if line.startswith("ACK "):
            seen.append(line.split()[1])
        if len(seen) >= acks:
            break
    time.sleep(rng.uniform(0.0, 0.01))  # land somewhere inside the next write
    proc.send_signal(signal.SIGKILL)
    rest, err = proc.stdout.read(), proc.stderr.read()  # read() keeps what the line iterator buffered
    proc.wait(timeout=60)
    seen += [line.split()[1] for line in rest.splitlines() if line.startswith("ACK ")]
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    return seen


def _stored_ids(path: Path) -> Set[str]:
    store = personalize.FeedbackStore(path)
    ids = {e.id for e in store.events()}
    assert store.warnings == [], store.warnings  # never "corrupt, rebuilt": the file was always whole
    return ids


def test_killed_writer_loses_no_acknowledged_event(tmp_path):
    path = tmp_path / "data" / "feedback.json"
    path.parent.mkdir()
    rng = random.Random(7)
    acknowledged: Set[str] = set()
    for round_ in range(4):
        proc = _start_writer(path, f"round{round_}")
        acknowledged.update(_acks_until_killed(proc, rng.randint(3, 25), rng))
        stored = _stored_ids(path)
        assert acknowledged <= stored, f"lost acknowledged events: {sorted(acknowledged - stored)[:5]}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    personalize.FeedbackStore(path).like("after the crashes")  # the next writer removes stale temp files
    assert not list(path.parent.glob(f".{path.name}.*.tmp*"))


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "data" / "feedback.json"
    path.parent.mkdir()
    rng = random.Random(11)
    procs = [_start_writer(path, f"writer{k}") for k in range(3)]
    acknowledged = set()
    for proc in procs:
        acknowledged.update(_acks_until_killed(proc, 10, rng))
    stored = _stored_ids(path)
    assert acknowledged <= stored and len(acknowledged) >= 30
