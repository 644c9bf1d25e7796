"""Every README example runs as written.

``python`` blocks run in order in one namespace; each line of a ``bash`` block runs as a command
(``edgekit …`` through this interpreter's ``python -m edgekit``; ``make`` lines are the set-up
commands CI itself runs and are not repeated here). Blocks fenced as ``sh`` document commands that
need hardware, ../shared data or hours (a camera, a phone, training) and are not run. The files the
examples name (``photo.jpg``, ``clip.mp4``, ``photos/`` …) are made from the bundled astronaut photo
in a temporary folder, with a private data dir.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
PHOTO_NAMES = ("photo.jpg", "me.jpg", "a.jpg", "b.jpg", "party.jpg", "smiling.jpg", "mum1.jpg", "mum2.jpg")


def blocks(lang: str) -> List[Tuple[int, str]]:
    """(line number, code) of every README block fenced as ``lang``."""
    text = README.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(2)) for m in FENCE.finditer(text) if m.group(1) == lang]


def commands() -> List[Tuple[int, str]]:
    out = []
    for start, code in blocks("bash"):
        for k, line in enumerate(code.splitlines()):
            line = line.split("  #")[0].strip()
            if line and not line.startswith(("#", "make ")):
                out.append((start + 1 + k, line))
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    from example_files import write_example_files

    work = tmp_path_factory.mktemp("readme")
    write_example_files(work, PHOTO_NAMES)
    return work


@pytest.fixture(scope="module")
def env(workdir) -> dict:
    """One private data dir for the whole README, which it reads top to bottom (enrol, then list…)."""
    return {**os.environ, "EDGEKIT_DATA_DIR": str(workdir / ".data"), "PYTHONPATH": str(ROOT)}


def test_readme_has_examples():
    assert len(blocks("python")) >= 3 and len(commands()) >= 15


def test_python_examples_run(workdir, env, monkeypatch):
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("EDGEKIT_DATA_DIR", env["EDGEKIT_DATA_DIR"])
    namespace: dict = {"__name__": "__readme__"}
    for line, code in blocks("python"):
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"README.md python block at line {line} failed: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("line,command", commands(), ids=[f"L{n}" for n, _ in commands()])
def test_command_runs(line, command, workdir, env):
    argv = shlex.split(command)
    if argv[0] == "edgekit":
        argv = [sys.executable, "-m", "edgekit", *argv[1:]]
    elif argv[0] == "python":
        argv = [sys.executable, *argv[1:]]
    else:
        exe = shutil.which(argv[0])
        assert exe, f"README.md:{line}: {argv[0]} is not a command here"
    result = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"README.md:{line}: `{command}` exited {result.returncode}: {result.stderr[-800:]}"
