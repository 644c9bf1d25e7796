"""No network, no stray data: the public API, run in a fresh process with HOME, TMPDIR, the working
directory and EDGEKIT_DATA_DIR pointed at empty folders, opens no socket, starts no process and
changes nothing outside the output paths it was given and the user data dir
(``tests/privacy_probe.py`` records it all with an audit hook)."""
from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import cv2
import pytest

from fuzz import seeds

PROBE = Path(__file__).resolve().parents[1] / "privacy_probe.py"
ROOT = Path(__file__).resolve().parents[2]
#: Local programs the runtime may start: fontconfig's font lister (the meme maker and the
#: timeline plot's matplotlib find fonts with it). Nothing else.
ALLOWED_PROGRAMS = ("fc-list", "/usr/bin/fc-list")


@pytest.fixture
def sandbox(tmp_path) -> Dict[str, Path]:
    """Empty home/cwd/tmp/data/out folders and the probe's input files."""
    dirs = {name: tmp_path / name for name in ("home", "cwd", "tmp", "data", "out", "inputs")}
    for path in dirs.values():
        path.mkdir()
    face = seeds.face_rgb(192)[..., ::-1]
    cv2.imwrite(str(dirs["inputs"] / "face.png"), face)
    writer = cv2.VideoWriter(str(dirs["inputs"] / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (192, 192))
    for shift in range(4):
        writer.write(cv2.add(face, shift * 5))
    writer.release()
    return dirs


def _snapshot(folder: Path) -> Dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_probe(sandbox: Dict[str, Path], *scenarios: str) -> Dict[str, List[str]]:
    """Run the probe in a clean environment; its report (raises with its stderr when it fails)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(sandbox["home"]), "TMPDIR": str(sandbox["tmp"]),
           "EDGEKIT_DATA_DIR": str(sandbox["data"] / "edgekit"), "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
           "PYTHONPATH": str(ROOT)}
    inputs_before = _snapshot(sandbox["inputs"])
    proc = subprocess.run([sys.executable, str(PROBE), str(sandbox["inputs"]), str(sandbox["out"]), *scenarios],
                          cwd=sandbox["cwd"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("PROBE "))
    assert _snapshot(sandbox["inputs"]) == inputs_before, "an input file was changed"
    return json.loads(line[len("PROBE "):])


def _under(path: str, roots: List[Path]) -> bool:
    resolved = Path(path).resolve()
    return path == os.devnull or any(resolved == r.resolve() or r.resolve() in resolved.parents for r in roots)


def assert_private(report: Dict[str, List[str]], sandbox: Dict[str, Path], allowed: List[str]) -> None:
    """No socket, no subprocess but :data:`ALLOWED_PROGRAMS`; every write under ``allowed``
    sandbox folders; home, cwd and tmp left empty."""
    assert report["socket"] == [] and report["socket_fds"] == [], report["socket"] + report["socket_fds"]
    unexpected = [p for p in report["process"] if not any(f"'{exe}'" in p for exe in ALLOWED_PROGRAMS)]
    assert unexpected == [], unexpected
    roots = [sandbox[name] for name in allowed]
    stray = [p for p in report["write"] if not _under(p, roots)]
    assert stray == [], f"written outside {allowed}: {stray}"
    for name in ("home", "cwd", "tmp", *({"data", "out"} - set(allowed))):
        assert list(sandbox[name].rglob("*")) == [], f"{name} is not empty: {list(sandbox[name].rglob('*'))}"


def assert_private_run(sandbox: Dict[str, Path], scenarios: List[str], allowed: List[str]) -> Dict[str, List[str]]:
    report = run_probe(sandbox, *scenarios)
    assert report["scenarios"] == scenarios
    assert_private(report, sandbox, allowed)
    for path in (sandbox["data"] / "edgekit").rglob("*"):  # the data dir and all it holds: owner-only
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    return report


def test_analysis_captions_suggestions_and_transfer_store_nothing(sandbox):
    """No socket, nothing written anywhere (no face, no photo, no cache) unless asked."""
    report = assert_private_run(sandbox, ["runtime", "suggest", "transfer"], allowed=[])
    assert set(report["write"]) <= {os.devnull}  # LiteRT's one-time log line is sent there


def test_cli_and_memes_write_only_where_told(sandbox):
    assert_private_run(sandbox, ["cli", "meme"], allowed=["out"])
    written = {str(p.relative_to(sandbox["out"])) for p in sandbox["out"].rglob("*") if p.is_file()}
    expected = {"annotated.png", "clip.jsonl", "faces.jsonl", "meme.png", "meme.gif"}
    assert expected | {"demo/astronaut.json"} <= written, written
    assert all(name.startswith("demo/astronaut") for name in written - expected), written


def test_user_data_feedback_and_identity_gallery_stay_in_the_owner_only_data_dir(sandbox):
    assert_private_run(sandbox, ["userdata", "feedback", "identity"], allowed=["data"])
    data_dir = sandbox["data"] / "edgekit"  # created by edgekit
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    names = {p.name for p in data_dir.rglob("*") if p.is_file()}
    assert {"probe.json", "feedback.json", "identity_gallery.json"} <= names, names
    gallery = (data_dir / "identity_gallery.json").read_bytes()  # embeddings only: no image bytes in the gallery
    assert b"\x89PNG" not in gallery and b"\xff\xd8" not in gallery


def test_timeline_plot_writes_only_where_told(sandbox):
    """matplotlib's font cache goes to <data dir>/matplotlib (owner-only), not ~/.cache or ~/.config."""
    assert_private_run(sandbox, ["timeline"], allowed=["out", "data"])
    assert (sandbox["out"] / "timeline" / "timeline.png").is_file()
    assert any((sandbox["data"] / "edgekit" / "matplotlib").iterdir())
