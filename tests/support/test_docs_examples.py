"""Every example in docs/*.md runs as written, the way README.md's do (tests/support/test_readme.py).

``python`` blocks run in order in one namespace per document, after :data:`GIVEN` (the few names a
reference-style block uses without defining them). Each ``edgekit …`` / ``python -m …`` line of a
``bash`` block runs as a command (through this interpreter); the lines of an unfenced-language block
are command synopses: ``[--opt X]`` is run with the option, ``list | remove NAME`` as one command per
alternative, and the upper-case placeholders take the values of :data:`PLACEHOLDERS`. ``~/`` is the
temporary working folder (the examples' home). Commands that cannot run in a unit test are in
:data:`SKIP_COMMANDS`; their options are still checked against ``--help``. JSON blocks that show an
output's fields are compared with the output the code writes now (:func:`test_json_examples_match`).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
COMMAND = re.compile(r"^(pbpaste \| )?(edgekit( [a-z]|$)|python -m )")
PHOTO_NAMES = ("photo.jpg", "me.jpg", "a.jpg", "b.jpg", "party.jpg", "smiling.jpg", "surprised.jpg", "mum1.jpg",
               "mum2.jpg", "me_neutral.jpg")
STDIN = "考试周好累\n明天考试，完全没复习\n"  # what `pbpaste | edgekit suggest --chat -` pipes in

# Names that reference-style python blocks use without defining them, set before the document's first block.
GIVEN: Dict[str, str] = {
    "ARCHITECTURE.md": "import numpy as np\nface_crop = np.zeros((128, 128, 3), np.uint8)",
    "memes.md": "pil_or_bgr_or_path = 'photo.jpg'\nx0, y0, x1, y1 = 10, 10, 120, 60",
    "personalization.md": "import edgekit\ncaption = edgekit.caption('sadness', scene='exam')[0]",
    "transfer.md": "photos = ['me.jpg', 'a.jpg']",
}
# Python blocks (document, first line) that are not run, and why.
SKIP_BLOCKS: Dict[Tuple[str, str], str] = {
    ("server.md", "from pyspark.ml.functions import predict_batch_udf"):
        "needs pyspark, a Spark session and /data/photos (predict_fn: tests/features/test_server_batch.py)",
}
# Python statements (document, text of the line) left out of a block that otherwise runs, and why.
SKIP_LINES: Dict[Tuple[str, str], str] = {
    ("server.md", "run_ray(worker,"): "starts a local Ray cluster (~15 s); tests/features/test_server_batch.py runs it",
}
# Command prefixes that are not run (their --options are checked against --help where it is cheap), and why.
SKIP_COMMANDS: Dict[str, str] = {
    "edgekit serve": "a server that runs until stopped (tests/features/test_server*.py start it)",
    "python -m benchmarks.host": "minutes of timing, and it rewrites benchmarks/results/host.*",
    "python -m benchmarks.adb": "needs an Android phone over adb",
    "python -m converters.": "toolchain: trains in .venv-train on ../shared/data (hours); no --help check",
}
# The files a command's comment in the document says it writes (globs in the working folder).
WRITES: Dict[Tuple[str, str], List[str]] = {
    ("memes.md", "edgekit meme"): ["astronaut_meme.png"],
    ("memes.md", "edgekit meme me.jpg -o memes/me.png --styles 5"): ["memes/me_[1-5]_*.png"] * 5,
    ("memes.md", "edgekit meme photos/ -o memes/"): ["memes/manifest.jsonl", "memes/one.jpg", "memes/two.jpg"],
    ("action_units.md", "edgekit timeline clip.mp4 -o out/ --action-units --au-stream-neutral"): ["out/aus.csv"],
    ("action_units.md", "edgekit explain photo.jpg -o out/ --face 0 --emotion happiness"):
        ["out/photo_explain.png", "out/photo_explain.json"],
    ("timelines.md", "edgekit timeline clip.mp4"):
        ["clip_timeline/summary.json", "clip_timeline/timeline.csv", "clip_timeline/timeline.png"],
    ("timelines.md", "edgekit timeline clip.mp4 --per-track"): ["clip_timeline/tracks.csv"],
    ("personalization.md", "edgekit feedback --export backup.json"): ["backup.json"],
}
PLACEHOLDERS = {"N": "0", "LABEL": "happiness", "NAME": "Mum", "FILE": "gallery_backup.json"}


def doc_blocks(doc: Path, lang: Optional[str] = None) -> List[Tuple[int, str, str]]:
    """(line number, language, code) of every block of ``doc`` (fenced as ``lang`` when given)."""
    text = doc.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(1), m.group(2)) for m in FENCE.finditer(text)
            if lang is None or m.group(1) == lang]


def expand(line: str) -> List[str]:
    """The commands a synopsis line stands for: optional ``[...]`` parts taken, ``a | b`` alternatives split."""
    line = re.sub(r"\[([^\]]*)\]", r"\1", line)
    parts = line.split(" | ")
    head = parts[0].rsplit(" ", 1)[0]
    out = [parts[0]] + [f"{head} {alt}" for alt in parts[1:]]
    return [" ".join(PLACEHOLDERS.get(word, word) for word in cmd.split(" ")) for cmd in out]


def doc_commands() -> List[Tuple[str, str]]:
    """(``doc:line``, command) of every command line of every document, in document order."""
    out = []
    for doc in DOCS:
        for start, lang, code in doc_blocks(doc):
            if lang not in ("bash", ""):
                continue
            rows = code.splitlines()
            k = 0
            while k < len(rows):
                first, line = k, rows[k]
                while line.rstrip().endswith("\\") and k + 1 < len(rows):  # a continued command
                    k += 1
                    line = line.rstrip()[:-1] + " " + rows[k].strip()
                k += 1
                line = line.split("  #")[0].strip()
                line = re.sub(r"^[A-Z_]+=.*? (?=edgekit )", "", line)  # VAR=... edgekit …: the command
                if COMMAND.match(line):
                    for cmd in (expand(line) if lang == "" else [line]):
                        out.append((f"{doc.name}:{start + 1 + first}", cmd))
    return out


COMMANDS = doc_commands()


def skip_reason(command: str) -> Optional[str]:
    return next((why for prefix, why in SKIP_COMMANDS.items() if command.startswith(prefix)), None)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    import cv2

    from example_files import write_example_files

    work = tmp_path_factory.mktemp("docs")
    bgr = write_example_files(work, PHOTO_NAMES)
    small = cv2.resize(bgr, (256, 256))
    cv2.imwrite(str(work / "group.jpg"), np.hstack([small] * 3))  # three faces: face 2 exists
    cv2.imwrite(str(work / "family.jpg"), np.hstack([small] * 2))
    cv2.imwrite(str(work / "cat.jpg"), bgr[380:])  # no face
    (work / "fonts").mkdir()
    shutil.copy(ROOT / "edgekit" / "assets" / "fonts" / "edgekit-caption-latin.ttf", work / "fonts" / "MyFont.ttf")
    return work


@pytest.fixture(scope="module")
def env(workdir) -> dict:
    """One private data dir for all the documents (identity.md enrols, then lists …)."""
    return {**os.environ, "EDGEKIT_DATA_DIR": str(workdir / ".data"), "PYTHONPATH": str(ROOT)}


def test_docs_have_examples():
    assert len(DOCS) >= 9
    assert sum(len(doc_blocks(doc, "python")) for doc in DOCS) >= 11 and len(COMMANDS) >= 40
    for (name, first), _ in SKIP_BLOCKS.items():  # the skip lists name blocks and lines that still exist
        assert any(code.startswith(first) for _, _, code in doc_blocks(ROOT / "docs" / name, "python")), first
    for (name, text), _ in SKIP_LINES.items():
        assert text in (ROOT / "docs" / name).read_text(encoding="utf-8"), text
    for (name, command) in WRITES:
        assert (f"{name}:", command) in {(w[: len(name) + 1], c) for w, c in COMMANDS}, command
    for prefix in SKIP_COMMANDS:
        assert any(cmd.startswith(prefix) for _, cmd in COMMANDS), prefix


@pytest.mark.parametrize("doc", [d for d in DOCS if doc_blocks(d, "python")], ids=lambda d: d.name)
def test_python_examples_run(doc, workdir, env, monkeypatch):
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("EDGEKIT_DATA_DIR", env["EDGEKIT_DATA_DIR"])
    namespace: dict = {"__name__": "__docs__"}
    exec(GIVEN.get(doc.name, ""), namespace)
    for line, _, code in doc_blocks(doc, "python"):
        if any(code.startswith(first) for (name, first) in SKIP_BLOCKS if name == doc.name):
            continue
        skipped = [text for (name, text) in SKIP_LINES if name == doc.name]
        code = "\n".join("pass" if any(t in row for t in skipped) else row for row in code.splitlines())
        try:
            exec(compile(code, f"{doc.name}:{line}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"docs/{doc.name} python block at line {line} failed: {type(exc).__name__}: {exc}")


def argv_of(command: str, workdir: Path) -> List[str]:
    argv = [str(workdir) + arg[1:] if arg.startswith("~/") else arg for arg in shlex.split(command)]
    if argv[0] == "edgekit":
        return [sys.executable, "-m", "edgekit", *argv[1:]]
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


@pytest.mark.parametrize("where,command", COMMANDS, ids=[f"{w}-{k}" for k, (w, _) in enumerate(COMMANDS)])
def test_command_runs(where, command, workdir, env):
    pipe = command.startswith("pbpaste | ")
    command = command.split(" | ", 1)[1] if pipe else command
    why = skip_reason(command)
    if why and command.startswith("python -m converters."):
        pytest.skip(why)
    argv = argv_of(command, workdir)
    if why:  # not run: its options must exist all the same
        command_words = 4 if argv[2] == "edgekit" else 3  # python -m edgekit serve / python -m benchmarks.host
        helps = subprocess.run([*argv[:command_words], "--help"], cwd=workdir, env=env, capture_output=True,
                               text=True, timeout=120)
        assert helps.returncode == 0, f"docs/{where}: `{command} --help` failed: {helps.stderr[-800:]}"
        missing = [opt for opt in re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", command) if opt not in helps.stdout]
        assert not missing, f"docs/{where}: `{command}`: {missing} not in --help"
        return
    result = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
                            input=STDIN if pipe else None)
    assert result.returncode == 0, f"docs/{where}: `{command}` exited {result.returncode}: {result.stderr[-800:]}"
    patterns = WRITES.get((where.split(":")[0], command), [])
    for pattern in sorted(set(patterns)):
        found = list(workdir.glob(pattern))
        assert len(found) >= patterns.count(pattern), f"docs/{where}: `{command}` did not write {pattern}"


def json_block(name: str, first: str) -> str:
    return next(code for _, _, code in doc_blocks(ROOT / "docs" / name, "json") if code.lstrip().startswith(first))


def test_json_examples_match(workdir, monkeypatch):
    """The fields the JSON examples show are those the code writes now (no more, no fewer)."""
    import edgekit

    monkeypatch.chdir(workdir)
    monkeypatch.setenv("EDGEKIT_DATA_DIR", str(workdir / ".data"))
    # memes.md: one line of a folder run's manifest.jsonl
    shown = json.loads(json_block("memes.md", '{"source"').replace("[...]", "[]"))
    edgekit.make_memes("photos/", "json_memes/", seed=1)
    record = json.loads((workdir / "json_memes" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert set(shown) == set(record), f"docs/memes.md manifest line: shown - written {set(shown) - set(record)}, " \
        f"written - shown {set(record) - set(shown)}"
    # action_units.md: the "aus" object of a face
    shown = json.loads("{" + json_block("action_units.md", '"aus"') + "}")["aus"]
    aus = edgekit.analyze("photo.jpg", action_units=True)[0].to_dict()["aus"]
    assert set(shown) == set(aus), f"docs/action_units.md aus: {set(shown) ^ set(aus)}"
    assert set(shown["activations"]) - {"..."} <= set(aus["activations"])
    # ARCHITECTURE.md: edgekit/models/manifest.json, one model (the emotion one, with its CAM) and one external file
    shown = json.loads(json_block("ARCHITECTURE.md", "{"))
    real = json.loads((ROOT / "edgekit" / "models" / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(shown) == sorted(real) and shown["schema"] == real["schema"]
    emotion = real["models"]["emotion"]
    assert set(shown["models"]["emotion"]) == set(emotion), set(shown["models"]["emotion"]) ^ set(emotion)
    assert set(shown["models"]["emotion"]["input"]) == set(emotion["input"])
    assert set(shown["models"]["emotion"]["cam"]) <= set(emotion["cam"])
    assert set(shown["models"]["emotion"]["labels"]) == set(emotion["labels"])
    external = real["external"]["face_short_range"]
    assert set(shown["external"]["face_short_range"]) <= set(external)
