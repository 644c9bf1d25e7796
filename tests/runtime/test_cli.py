"""The ``edgekit`` command line, end to end in subprocesses (``python -m edgekit``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import cv2
import numpy as np
import pytest

import edgekit
from edgekit.labels import EMOTIONS
from edgekit.registry import load_manifest
from edgekit.video import VideoWriter

ROOT = Path(__file__).resolve().parents[2]
LABELS = set(EMOTIONS)


def edgekit_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "edgekit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def errors(proc: subprocess.CompletedProcess) -> List[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("edgekit: error:")]


def json_lines(text: str) -> List[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, astronaut_path) -> Path:
    """photos/ (two good images in nested folders + one truncated JPEG), a short clip and bad files."""
    root = tmp_path_factory.mktemp("cli")
    photo = edgekit.load_image(astronaut_path)
    (root / "photos" / "sub").mkdir(parents=True)
    cv2.imwrite(str(root / "photos" / "a.png"), photo)
    cv2.imwrite(str(root / "photos" / "sub" / "b.jpg"), photo[40:460, 60:500])
    jpeg = cv2.imencode(".jpg", photo)[1].tobytes()
    (root / "photos" / "broken.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    (root / "photos" / "README.txt").write_text("not an image: skipped by the folder scan")
    with VideoWriter(root / "clip.avi", 10.0, (400, 300)) as writer:
        for i in range(6):
            writer.write(np.ascontiguousarray(photo[30:330, 10 + 6 * i:410 + 6 * i]))
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("hello")
    (root / "garbage.mp4").write_bytes(os.urandom(4096))
    return root


def test_version_and_help_are_fast_paths(tmp_path):
    proc = edgekit_cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"edgekit {edgekit.__version__}"
    code = ("import sys, edgekit.cli; edgekit.cli.build_parser(); "
            "print(sorted(m for m in ('numpy', 'cv2', 'ai_edge_litert') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # sub-commands import their dependencies only when run


def test_models_lists_files_with_sha256(tmp_path):
    proc = edgekit_cli("models", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)["models"]}
    manifest = load_manifest()
    for name, entry in manifest["external"].items():
        assert rows[name]["sha256"] == entry["sha256"] and rows[name]["status"] == "ok"
        assert rows[name]["bytes"] == Path(rows[name]["file"]).stat().st_size
    assert set(manifest["models"]) <= set(rows)
    table = edgekit_cli("models", cwd=tmp_path)
    assert table.returncode == 0 and "face_short_range" in table.stdout and "SHA256" in table.stdout


def test_analyze_one_image_with_annotation(inputs, tiny_emotion_model, tmp_path):
    out = tmp_path / "annotated.png"
    proc = edgekit_cli("analyze", inputs / "photos" / "a.png", "--model", tiny_emotion_model, "--annotate", out,
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert errors(proc) == [] and "image/s" not in proc.stderr  # no progress bar: stderr is not a TTY
    [record] = json_lines(proc.stdout)
    assert record["source"] == str(inputs / "photos" / "a.png") and record["image_size"] == [512, 512]
    assert len(record["faces"]) == 1 and record["faces"][0]["emotion"]["label"] in LABELS
    annotated = cv2.imread(str(out))
    assert annotated is not None and annotated.shape == (512, 512, 3)


def test_folder_with_a_bad_file_keeps_the_good_results(inputs, tiny_emotion_model, tmp_path):
    proc = edgekit_cli("analyze", inputs / "photos", "--model", tiny_emotion_model, "--out", "res.jsonl",
                       "--annotate", "ann", cwd=tmp_path)
    assert proc.returncode == 1
    [err] = errors(proc)
    assert err.startswith(f"edgekit: error: {inputs / 'photos' / 'broken.jpg'}: ") and "truncated" in err
    assert proc.stdout == ""
    records = json_lines((tmp_path / "res.jsonl").read_text())
    assert sorted(Path(r["source"]).name for r in records) == ["a.png", "b.jpg"]
    assert all(len(r["faces"]) == 1 for r in records)
    for name in ("photos/a.png", "photos/sub/b.jpg"):
        assert cv2.imread(str(tmp_path / "ann" / name)) is not None, name


def test_each_bad_input_gets_one_error_line(inputs, tiny_emotion_model, tmp_path):
    bad = ["missing.png", "empty.png", "notes.txt", "garbage.mp4"]
    proc = edgekit_cli("analyze", *bad, "photos/a.png", "--model", tiny_emotion_model, cwd=inputs)
    assert proc.returncode == 1
    lines = errors(proc)
    assert len(lines) == len(bad)
    for name in bad:
        assert sum(line.startswith(f"edgekit: error: {name}: ") for line in lines) == 1, (name, lines)
    assert [r["source"] for r in json_lines(proc.stdout)] == ["photos/a.png"]
    # nothing else on stderr (OpenCV/FFmpeg warnings and LiteRT's delegate INFO line are silenced)
    assert [l for l in proc.stderr.splitlines() if l not in lines] == []


def test_video_gives_one_line_per_frame_and_an_annotated_video(inputs, tiny_emotion_model, tmp_path):
    proc = edgekit_cli("analyze", inputs / "clip.avi", "--model", tiny_emotion_model, "--annotate", "out.avi",
                       "--progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    records = json_lines(proc.stdout)
    assert [r["frame_index"] for r in records] == list(range(6))
    assert [r["timestamp_ms"] for r in records] == pytest.approx([100.0 * i for i in range(6)])
    assert {f["track_id"] for r in records for f in r["faces"]} == {1}
    assert "6/6" in proc.stderr  # --progress forces the bar onto stderr
    cap = cv2.VideoCapture(str(tmp_path / "out.avi"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6 and cap.read()[0]
    cap.release()


def test_usage_and_option_errors(inputs, tiny_emotion_model, tmp_path):
    none = edgekit_cli("analyze", cwd=tmp_path)
    assert none.returncode == 2 and "nothing to analyse" in none.stderr
    bad_option = edgekit_cli("analyze", inputs / "photos" / "a.png", "--min-confidence", "3", "--model",
                             tiny_emotion_model, cwd=tmp_path)
    assert bad_option.returncode == 2 and len(errors(bad_option)) == 1 and "min_confidence" in bad_option.stderr
    out_dir = edgekit_cli("analyze", inputs / "photos" / "a.png", "--out", tmp_path, cwd=tmp_path)
    assert out_dir.returncode == 1 and len(errors(out_dir)) == 1 and "is a directory" in out_dir.stderr
    bad_model = edgekit_cli("analyze", inputs / "photos" / "a.png", "--model", inputs / "notes.txt", cwd=tmp_path)
    assert bad_model.returncode == 1 and len(errors(bad_model)) == 1 and "notes.txt" in bad_model.stderr


def test_demo_writes_annotated_photo_and_json(tiny_emotion_model, tmp_path):
    proc = edgekit_cli("demo", "--out-dir", "demo", "--model", tiny_emotion_model, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "1 face(s)" in proc.stdout
    result = json.loads((tmp_path / "demo" / "astronaut.json").read_text())
    assert len(result["faces"]) == 1
    assert cv2.imread(str(tmp_path / "demo" / "astronaut_annotated.png")).shape == (512, 512, 3)
