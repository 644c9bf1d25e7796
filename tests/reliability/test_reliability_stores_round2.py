"""The stores and the data dir under hostile conditions (issue #20, round two; see SECURITY.md,
"Nothing stored unless asked").

- several writers (processes, or objects in one process) of one identity gallery lose no
  enrolment, and readers (a ``Pipeline`` built earlier) see later enrolments (item 4);
- a killed gallery writer's temp file is removed by the next writer (item 11);
- imports are capped (bytes, people, embeddings, events) and bad embeddings are refused naming the
  file and the person; a link to ``/dev/zero`` is refused at once (item 6);
- a FIFO as import file or as store file is refused instead of blocking (item 5);
- a data dir, store file or matplotlib folder that another user could write, or a link where a
  store file belongs, is refused instead of used (item 9).

Checks that would hang or exhaust memory on a broken build run in a child process with a timeout
and an address-space limit, so they fail instead.
"""
from __future__ import annotations

import json
import os
import random
import resource
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import pytest

from edgekit.errors import InputError
from edgekit.identity import gallery as gallery_mod
from edgekit.identity.gallery import Gallery
from edgekit.personalize import FeedbackStore
from edgekit.personalize import store as store_mod
from test_reliability_feedback import _acks_until_killed

ROOT = Path(__file__).resolve().parents[2]
SHA = "0" * 64
DIM = 4
#: A child process that must not take longer than this (s); today's broken code blocks forever.
CHILD_TIMEOUT = 30


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dim)
    return vector / np.linalg.norm(vector)


def gallery_document(people: Dict[str, Sequence[Sequence[float]]], dim: int = DIM) -> bytes:
    people_json = {name: [list(map(float, row)) for row in rows] for name, rows in people.items()}
    return json.dumps({"kind": gallery_mod.KIND, "version": gallery_mod.VERSION, "model_sha256": SHA, "dim": dim,
                       "people": people_json}).encode()


def feedback_document(n_events: int) -> bytes:
    events = [{"action": "like", "text": f"caption {i}", "style": None, "scene": None, "emotion": None, "lang": "en",
               "ts": 1e9 + i, "id": f"id{i}"} for i in range(n_events)]
    return json.dumps({"kind": store_mod.KIND, "version": store_mod.VERSION, "events": events, "folded": None}).encode()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run_child(code: str, *args: str, data_dir: Path) -> subprocess.CompletedProcess:
    """``python -c code args`` with ``EDGEKIT_DATA_DIR=data_dir``, 2 GB of address space and
    :data:`CHILD_TIMEOUT`; a hang fails the test."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), EDGEKIT_DATA_DIR=str(data_dir), OPENBLAS_NUM_THREADS="1")
    try:
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                              timeout=CHILD_TIMEOUT, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"blocked for {CHILD_TIMEOUT} s instead of refusing the file")


#: Prints "REFUSED <error type>: <message>" or "ACCEPTED" for one store call (argv[1] selects it).
PROBE = """
import sys, warnings
from edgekit.errors import EdgekitError
from edgekit.identity.gallery import Gallery
from edgekit.personalize import FeedbackStore
from edgekit.cli import main
call, path = sys.argv[1], sys.argv[2]
calls = {
    "gallery_import": lambda: Gallery("0" * 64, 4, sys.argv[3]).import_(path),
    "feedback_import": lambda: FeedbackStore(sys.argv[3]).import_file(path),
    "gallery_open": lambda: Gallery("0" * 64, 4, path).list(),
    "feedback_events": lambda: FeedbackStore(path).events(),
    "feedback_record": lambda: FeedbackStore(path).like("hello"),
    "cli": lambda: sys.exit(main(sys.argv[3:])),
}
warnings.simplefilter("ignore")
try:
    calls[call]()
except EdgekitError as exc:
    print("REFUSED", type(exc).__name__ + ":", exc)
else:
    print("ACCEPTED")
"""


def probe(call: str, path: Path, *extra: str, data_dir: Path) -> str:
    out = run_child(PROBE, call, str(path), *extra, data_dir=data_dir)
    return out.stdout + out.stderr


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("EDGEKIT_DATA_DIR", str(folder))
    return folder


# ---------------------------------------------------------------------- 4: several gallery writers

#: Enrols argv[3] people (forever when -1) under names "<argv[2]>-<i>", through one Gallery object,
#: after a line on stdin (so that all writers start together); prints "ACK <name>" after each.
GALLERY_WRITER = """
import sys
import numpy as np
from edgekit.identity.gallery import Gallery
gallery = Gallery("0" * 64, 4, sys.argv[1])
count = int(sys.argv[3])
print("READY", flush=True)
sys.stdin.readline()
i = 0
while count < 0 or i < count:
    v = np.random.default_rng(i).normal(size=4)
    gallery.add(f"{sys.argv[2]}-{i}", (v / np.linalg.norm(v))[None])
    print("ACK", f"{sys.argv[2]}-{i}", flush=True)
    i += 1
"""


def start_gallery_writers(path: Path, tags: Sequence[str], count: int) -> List[subprocess.Popen]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), EDGEKIT_DATA_DIR=str(path.parent), OPENBLAS_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-c", GALLERY_WRITER, str(path), tag, str(count)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for tag in tags]
    for proc in procs:
        assert proc.stdout.readline().strip() == "READY", proc.stderr.read()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return procs


def test_parallel_gallery_writers_keep_every_enrolment(data_dir):
    path = data_dir / "identity_gallery.json"
    procs = start_gallery_writers(path, [f"w{k}" for k in range(4)], 25)
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    names = {p.name for p in Gallery(SHA, DIM, path).list()}
    assert names == {f"w{k}-{i}" for k in range(4) for i in range(25)}, f"kept {len(names)} of 100"
    assert not list(data_dir.glob(f".{path.name}.*.tmp*"))


def test_two_face_identifiers_in_one_process_keep_both_enrolments(data_dir):
    from edgekit import FaceIdentifier

    path = data_dir / "gallery.json"
    with FaceIdentifier(gallery_path=path) as a, FaceIdentifier(gallery_path=path) as b:
        dim = a.embedder.dim
        assert a.list() == [] and b.list() == []  # both galleries loaded before either enrols
        a.enroll("Ann", unit(1, dim))
        b.enroll("Bob", unit(2, dim))
        assert [p.name for p in a.list()] == ["Ann", "Bob"]  # a sees b's enrolment
        assert a.identify(unit(2, dim)).name == "Bob"
        b.remove("Ann")
        assert [p.name for p in a.list()] == ["Bob"]
    with FaceIdentifier(gallery_path=path) as fresh:
        assert [p.name for p in fresh.list()] == ["Bob"]


def test_pipeline_built_before_an_enrolment_sees_it(data_dir):
    import edgekit
    from edgekit import FaceIdentifier
    from fuzz import seeds

    face = np.ascontiguousarray(seeds.face_rgb()[..., ::-1])
    path = data_dir / "gallery.json"
    with edgekit.Pipeline(identify=True, gallery_path=path) as pipe:
        assert pipe.process(face).faces[0].identity.name == "unknown"  # the gallery is loaded (empty)
        with FaceIdentifier(gallery_path=path) as ident:
            ident.enroll("Ann", face)
        assert pipe.process(face).faces[0].identity.name == "Ann"


# ---------------------------------------------------------------------- 11: temp files of killed writers

def test_killed_gallery_writer_leaves_no_temp_file(data_dir):
    path = data_dir / "identity_gallery.json"
    rng = random.Random(5)
    acknowledged = set()
    for round_ in range(3):
        (proc,) = start_gallery_writers(path, [f"r{round_}"], -1)
        acknowledged.update(_acks_until_killed(proc, rng.randint(3, 15), rng))
    stale = data_dir / f".{path.name}.k1ll3d00.tmp{path.suffix}"  # what a writer killed inside its write leaves
    stale.write_bytes(b'{"people": {"Ann": [[0.5, 0.5, 0.5, 0.5]]}}')
    gallery = Gallery(SHA, DIM, path)
    assert acknowledged <= {p.name for p in gallery.list()}
    gallery.remove(sorted(acknowledged)[0])
    assert not list(data_dir.glob(f".{path.name}.*.tmp*"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ---------------------------------------------------------------------- 6: capped imports

@pytest.mark.parametrize("call", ["gallery_import", "feedback_import"])
def test_import_of_a_link_to_dev_zero_is_refused_at_once(call, data_dir, tmp_path):
    link = tmp_path / "export.json"
    link.symlink_to("/dev/zero")
    out = probe(call, link, str(data_dir / "store.json"), data_dir=data_dir)
    assert out.startswith(f"REFUSED InputError: {link}: is a device"), out[-2000:]


@pytest.mark.parametrize("store", ["gallery", "feedback"])
def test_import_larger_than_the_cap_is_refused_unread(store, data_dir, tmp_path):
    cap = gallery_mod.MAX_FILE_BYTES if store == "gallery" else store_mod.MAX_FILE_BYTES
    big = tmp_path / "export.json"
    with open(big, "wb") as handle:  # sparse: the size is there, the bytes need not be
        handle.truncate(cap + 1)
    with pytest.raises(InputError, match=f"^{big}: is larger than {cap:,} bytes"):
        if store == "gallery":
            Gallery(SHA, DIM, data_dir / "g.json").import_(big)
        else:
            FeedbackStore(data_dir / "f.json").import_file(big)


def test_gallery_import_caps_people_and_embeddings(data_dir, tmp_path):
    many_people = tmp_path / "people.json"
    many_people.write_bytes(gallery_document({f"p{i}": [unit(i)] for i in range(gallery_mod.MAX_PEOPLE + 1)}))
    many_rows = tmp_path / "rows.json"
    many_rows.write_bytes(gallery_document({"Ann": [unit(i) for i in range(gallery_mod.MAX_EMBEDDINGS + 1)]}))
    gallery = Gallery(SHA, DIM, data_dir / "g.json")
    people, rows = gallery_mod.MAX_PEOPLE, gallery_mod.MAX_EMBEDDINGS
    with pytest.raises(InputError, match=f"^{many_people}: holds {people + 1:,} people; .* at most {people:,}"):
        gallery.import_(many_people)
    with pytest.raises(InputError, match=f"^{many_rows}: holds {rows + 1:,} embeddings; .* at most {rows:,}"):
        gallery.import_(many_rows)
    assert len(gallery) == 0 and not (data_dir / "g.json").exists()


def test_gallery_caps_hold_for_enrolment_too(data_dir):
    gallery = Gallery(SHA, DIM, data_dir / "g.json")
    gallery.add("Ann", np.stack([unit(i) for i in range(gallery_mod.MAX_EMBEDDINGS)]))
    with pytest.raises(InputError, match="at most"):
        gallery.add("Bob", unit(1)[None])
    assert [p.name for p in Gallery(SHA, DIM, data_dir / "g.json").list()] == ["Ann"]


@pytest.mark.parametrize("row, what", [([0.0, 0.0, 0.0, 0.0], "zero"), ([float("nan"), 0.0, 0.0, 1.0], "not finite"),
                                       ([float("inf"), 0.0, 0.0, 0.0], "not finite"),
                                       ([2.0, 0.0, 0.0, 0.0], "not unit length")])
def test_gallery_import_refuses_bad_embeddings_naming_file_and_person(row, what, data_dir, tmp_path):
    source = tmp_path / "export.json"
    source.write_bytes(gallery_document({"Ann": [unit(0)], "Mallory": [unit(1), row]}))
    gallery = Gallery(SHA, DIM, data_dir / "g.json")
    with pytest.raises(InputError, match=f"^{source}: person 'Mallory': embedding 2 is {what}"):
        gallery.import_(source)
    with pytest.raises(InputError, match=what):
        gallery.add("Eve", np.array([row]))
    assert len(gallery) == 0


def test_own_gallery_over_the_caps_is_refused_not_discarded(data_dir):
    path = data_dir / "identity_gallery.json"
    data = gallery_document({f"p{i}": [unit(i)] for i in range(gallery_mod.MAX_PEOPLE + 1)})
    path.write_bytes(data)
    with pytest.raises(InputError, match="people"):
        Gallery(SHA, DIM, path)
    assert path.read_bytes() == data and not list(data_dir.glob("*.corrupt-*"))


def test_feedback_import_caps_events(data_dir, tmp_path):
    source = tmp_path / "export.json"
    source.write_bytes(feedback_document(store_mod.MAX_FILE_EVENTS + 1))
    store = FeedbackStore(data_dir / "feedback.json")
    with pytest.raises(InputError,
                       match=f"{store_mod.MAX_FILE_EVENTS + 1:,} events.*at most {store_mod.MAX_FILE_EVENTS:,}"):
        store.import_file(source)
    assert store.events() == []
    with pytest.raises(Exception, match="max_events"):
        FeedbackStore(data_dir / "feedback.json", max_events=store_mod.MAX_FILE_EVENTS + 1)


# ---------------------------------------------------------------------- 5: FIFOs

@pytest.mark.parametrize("call", ["gallery_import", "feedback_import"])
def test_import_of_a_fifo_is_refused_without_blocking(call, data_dir, tmp_path):
    fifo = tmp_path / "export.json"
    os.mkfifo(fifo)
    out = probe(call, fifo, str(data_dir / "store.json"), data_dir=data_dir)
    assert out.startswith(f"REFUSED InputError: {fifo}: is a FIFO"), out[-2000:]


@pytest.mark.parametrize("call, name", [("gallery_open", "identity_gallery.json"), ("feedback_events", "feedback.json"),
                                        ("feedback_record", "feedback.json")])
def test_a_store_file_that_is_a_fifo_is_refused_without_blocking(call, name, data_dir):
    fifo = data_dir / name
    os.mkfifo(fifo, 0o600)
    out = probe(call, fifo, data_dir=data_dir)
    assert out.startswith(f"REFUSED InputError: {fifo}: is a FIFO"), out[-2000:]


def test_cli_with_a_fifo_feedback_store_prints_one_line(data_dir):
    os.mkfifo(data_dir / "feedback.json", 0o600)
    out = run_child(PROBE, "cli", "-", "feedback", "--show", data_dir=data_dir)
    assert out.stdout == "" and out.returncode == 1, out
    assert out.stderr.startswith("edgekit: error: ") and "FIFO" in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1, out.stderr


# ---------------------------------------------------------------------- 9: data dir, store files, matplotlib

@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_data_dir_writable_by_others_is_refused(mode, data_dir, capsys):
    from edgekit.cli import main

    data_dir.chmod(mode)
    for use in (FeedbackStore, lambda: Gallery(SHA, DIM), lambda: FeedbackStore(data_dir / "feedback.json").like("hi"),
                lambda: Gallery(SHA, DIM, data_dir / "g.json").add("Ann", unit(0)[None])):
        with pytest.raises(InputError, match=f"^{data_dir}: folder is writable by other users.*chmod 700 {data_dir}"):
            use()
    assert main(["feedback", "like", "hello"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"chmod 700 {data_dir}" in err
    assert os.listdir(data_dir) == []


def test_data_dir_of_another_user_is_refused(data_dir):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the folder to another user")
    os.chown(data_dir, 4321, 4321)
    with pytest.raises(InputError, match=f"^{data_dir}: folder is owned by another user"):
        FeedbackStore().like("hi")
    with pytest.raises(InputError, match="owned by another user"):
        Gallery(SHA, DIM)


@pytest.mark.parametrize("name", ["feedback.json", "identity_gallery.json"])
def test_store_file_that_is_a_link_is_refused(name, data_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    content = feedback_document(1) if name == "feedback.json" else gallery_document({"Mallory": [unit(0)]})
    elsewhere.write_bytes(content)
    (data_dir / name).symlink_to(elsewhere)
    if name == "feedback.json":
        uses = [lambda: FeedbackStore().events(), lambda: FeedbackStore().like("hi")]
    else:
        uses = [lambda: Gallery(SHA, DIM)]
    for use in uses:
        with pytest.raises(InputError, match=f"^{data_dir / name}: is a symbolic link"):
            use()
    assert elsewhere.read_bytes() == content and (data_dir / name).is_symlink()


def test_lock_file_link_is_not_followed(data_dir, tmp_path):
    victim = tmp_path / "victim"
    (data_dir / "feedback.json.lock").symlink_to(victim)
    with pytest.raises(InputError, match="feedback.json.lock: is a symbolic link"):
        FeedbackStore().like("hi")
    assert not victim.exists()


@pytest.mark.parametrize("mode", [0o666, 0o620])
def test_store_file_writable_by_others_is_refused(mode, data_dir):
    path = data_dir / "feedback.json"
    path.write_bytes(feedback_document(1))
    path.chmod(mode)
    with pytest.raises(InputError, match=f"^{path}: file is writable by other users.*chmod 600 {path}"):
        FeedbackStore().events()


def test_store_file_of_another_user_is_refused(data_dir):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file to another user")
    path = data_dir / "identity_gallery.json"
    path.write_bytes(gallery_document({"Mallory": [unit(0)]}))
    os.chown(path, 4321, 4321)
    with pytest.raises(InputError, match=f"^{path}: file is owned by another user"):
        Gallery(SHA, DIM)


@pytest.fixture
def fresh_matplotlib_import(monkeypatch):
    """As if matplotlib had not been imported yet and MPLCONFIGDIR were unset."""
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)


@pytest.mark.parametrize("planted", ["link", "world_writable"])
def test_planted_matplotlib_folder_is_not_used(planted, data_dir, tmp_path, fresh_matplotlib_import):
    from edgekit.timeline import plot

    attacker = tmp_path / "attacker"
    attacker.mkdir()
    (attacker / "matplotlibrc").write_text("backend: module://evil\n")
    folder = data_dir / "matplotlib"
    if planted == "link":
        folder.symlink_to(attacker)
    else:
        folder.mkdir()
        folder.chmod(0o777)
    with pytest.raises(InputError, match=f"^{folder}: (is a symbolic link|folder is writable by other users)"):
        with plot._matplotlib_dir_in_data_dir():
            pytest.fail("matplotlib would be imported with the planted folder")
    assert "MPLCONFIGDIR" not in os.environ


def test_matplotlib_cache_links_are_not_chmodded(data_dir, tmp_path, fresh_matplotlib_import):
    from edgekit.timeline import plot

    target = tmp_path / "someone_elses_file"
    target.write_text("x")
    target.chmod(0o644)
    folder = data_dir / "matplotlib"
    folder.mkdir(mode=0o700)
    (folder / "fontlist.json").symlink_to(target)
    (folder / "cache.json").write_text("{}")
    with plot._matplotlib_dir_in_data_dir():
        assert os.environ["MPLCONFIGDIR"] == str(folder)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert stat.S_IMODE((folder / "cache.json").stat().st_mode) == 0o600
