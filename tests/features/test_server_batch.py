"""edgekit.batch: the picklable worker (same records and files as ``edgekit meme FOLDER``), the
Spark-style predict function, and the Ray Data path on a small folder with a local Ray."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit.batch import BatchTask, BatchWorker, run_local
from edgekit.errors import ConfigError
from server_support import make_photos

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("batch") / "photos"
    make_photos(base / "a", 3, size=160)
    make_photos(base / "b", 2, size=160, fmt="jpg")
    import cv2

    cv2.imwrite(str(base / "b" / "photo_0000.bmp"), cv2.imread(str(base / "a" / "photo_0001.png")))
    # .bmp and .png: one .png name
    (base / "b" / "photo_0000.png").write_bytes((base / "a" / "photo_0002.png").read_bytes())
    (base / "notes.gif").write_bytes(b"GIF89a not really")
    return base


def records_of(manifest: Path):
    return [json.loads(line) for line in manifest.read_text().splitlines()]


def _files(folder: Path) -> list:
    """The files under ``folder``, as sorted relative POSIX paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
def test_worker_pickles_validates_and_matches_the_cli(folder, tmp_path):
    worker = pickle.loads(pickle.dumps(BatchWorker("meme", text="same text", lang="en")))
    assert worker.config["text"] == "same text"
    for bad in ({"task": "paint"}, {"styles": 9}, {"style": "baroque"}, {"animated": "avi"}, {"seed": "x"},
                {"face": -1}, {"min_confidence": 2.0}, {"no_such_option": 1}, {"styles": 2, "text": "x"}):
        task = bad.pop("task", "meme")
        with pytest.raises(ConfigError):
            BatchWorker(task, **bad)
    result = run_local(worker, folder, tmp_path / "lib")
    cli = subprocess.run([sys.executable, "-m", "edgekit", "meme", str(folder), "-o", str(tmp_path / "cli"),
                          "--text", "same text", "--lang", "en"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert cli.returncode == 1 and "1 file(s) failed" in cli.stdout  # notes.gif is not an image
    assert records_of(result.manifest) == records_of(tmp_path / "cli" / "manifest.jsonl")
    names = _files(tmp_path / "cli")
    assert names == _files(tmp_path / "lib")
    assert "b/photo_0000_2.png" in names  # the CLI's clash rule, planned before any work
    for name in names:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "lib" / name).read_bytes(), name


def test_planned_styles_and_redo_write_the_same_files(folder, tmp_path):
    worker = BatchWorker("meme", styles=3, seed=4, lang="zh")
    first = run_local(worker, folder / "a", tmp_path / "one")
    outputs = sorted(p.name for p in (tmp_path / "one").rglob("*.png"))
    # 3 photos x the same 3 styles (seeded)
    assert len(outputs) == 9 and len({o.split("_", 3)[-1] for o in outputs}) == 3
    # running a task again (a crash redo) overwrites the same files with the same bytes
    task = first.tasks[0]
    before = {o: (tmp_path / "one" / o).read_bytes() for o in task.outputs}
    again = worker.run(BatchTask.from_json(task.to_json()))
    assert [r["output"] for r in again] == task.outputs
    assert {o: (tmp_path / "one" / o).read_bytes() for o in task.outputs} == before
    assert sorted(p.name for p in (tmp_path / "one").rglob("*.png")) == outputs


def test_predict_fn_is_what_spark_predict_batch_udf_calls(folder, tmp_path):
    worker = BatchWorker("analyze")
    tasks = worker.plan(worker.find_inputs(folder), folder, tmp_path / "out")
    predict = pickle.loads(pickle.dumps(worker)).predict_fn()
    column = np.array([t.to_json() for t in tasks], dtype=object)
    rows = [json.loads(x) for x in predict(column)]
    assert len(rows) == len(tasks) == 8  # 3 + 4 photos and the fake GIF
    by_source = {r[0]["source"]: r[0] for r in rows}
    assert by_source["notes.gif"]["ok"] is False and by_source["a/photo_0000.png"]["faces"][0]["emotion"]["label"]


@pytest.mark.slow
def test_ray_data_gives_the_same_results_as_the_cli(folder, tmp_path):
    ray = pytest.importorskip("ray", reason="the Ray path needs the 'ray' extra (make test installs it)")
    pytest.importorskip("ray.data")
    from edgekit.batch import run_ray

    worker = BatchWorker("meme", lang="en", seed=21)
    try:
        result = run_ray(worker, folder, tmp_path / "ray", concurrency=2, batch_size=2)
    finally:
        ray.shutdown()
    reference = run_local(worker, folder, tmp_path / "local")
    assert records_of(result.manifest) == records_of(reference.manifest)
    for rec in records_of(reference.manifest):
        if rec["ok"]:
            assert (tmp_path / "ray" / rec["output"]).read_bytes() == (tmp_path / "local" / rec["output"]).read_bytes()
    # analysis rows equal the CLI's `edgekit analyze` records (timings aside)
    worker = BatchWorker("analyze")
    try:
        rows = run_ray(worker, sorted((folder / "a").glob("*.png")), tmp_path / "ray_an", root=folder, concurrency=2)
    finally:
        ray.shutdown()
    cli = subprocess.run([sys.executable, "-m", "edgekit", "analyze", "a"], capture_output=True, text=True, cwd=folder,
                         timeout=300)
    expected = [json.loads(line) for line in cli.stdout.splitlines()]
    got = [r for recs in rows.records for r in recs]
    for a, b in zip(got, expected):
        a.pop("timings_ms"), b.pop("timings_ms"), a.pop("ok"), a.pop("error")
    assert got == expected


def test_per_process_caches_are_bounded_and_warm_up_ignores_the_seed(monkeypatch, tmp_path):
    import edgekit.batch as batch
    import edgekit.pipeline
    from edgekit.server import runner

    BatchWorker("meme", lang="en", seed=1).warm()
    assert BatchWorker("meme", lang="en", seed=2).warm() == 0.0  # a server job's drawn seed loads nothing again
    monkeypatch.setattr(batch, "_WARM", batch.OrderedDict((f"fake {i}", 0.0) for i in range(batch.MAX_WARM)))
    BatchWorker("analyze").warm()  # a new configuration: the least recently used one goes
    assert len(batch._WARM) == batch.MAX_WARM and "fake 0" not in batch._WARM

    closed = []

    class FakePipeline:
        def __init__(self, options):
            self.options = options

        def close(self):
            closed.append(self)

    monkeypatch.setattr(edgekit.pipeline, "Pipeline", FakePipeline)
    monkeypatch.setattr(batch, "_PIPELINES", batch.OrderedDict())
    for n in range(1, 11):
        BatchWorker("analyze", max_faces=n)._pipeline()
    assert len(batch._PIPELINES) == batch.MAX_PIPELINES and len(closed) == 10 - batch.MAX_PIPELINES

    monkeypatch.setattr(BatchWorker, "run", lambda self, task: [])
    monkeypatch.setattr(runner, "_WORKERS", runner.OrderedDict())
    task = BatchTask(0, str(tmp_path / "a.png"), "a.png", str(tmp_path), (), ()).to_json()
    for seed in range(10):
        runner.run_task(json.dumps(BatchWorker("meme", seed=seed).config), task)
    assert len(runner._WORKERS) == runner.MAX_WORKERS
