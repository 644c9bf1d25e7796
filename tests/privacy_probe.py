"""Child process of ``tests/reliability/test_reliability_privacy.py``: runs edgekit's public API under an audit
hook and reports, as one JSON line on stdout, every socket operation, subprocess, and file-system
change (files opened for writing, folders made, renames, deletions, permission changes) it saw.

``python tests/privacy_probe.py INPUTS OUT SCENARIO [SCENARIO ...]``: INPUTS holds the input
files the parent prepared (``face.png``, ``clip.avi``), OUT is the only place the scenarios are
told to write to. The parent sets HOME, TMPDIR, the working directory and EDGEKIT_DATA_DIR.

The hook is installed before edgekit is imported, so import-time behaviour is covered too. It
sees what Python code does (the standard library audits every ``socket``, ``open``, ``os.*``
call); the parent also checks the folders themselves and the process's open sockets.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

EVENTS: Dict[str, List[str]] = {"socket": [], "process": [], "write": []}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_FS_EVENTS = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "os.chmod", "os.chown", "os.link",
              "os.symlink", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile"}
_PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty"}


def _paths(args: Any) -> List[str]:
    return [os.fsdecode(a) for a in args if isinstance(a, (str, bytes, os.PathLike))]


def _hook(event: str, args: Any) -> None:
    if event.startswith("socket."):
        EVENTS["socket"].append(f"{event} {args!r}"[:300])
    elif event in _PROCESS_EVENTS:
        EVENTS["process"].append(f"{event} {args!r}"[:300])
    elif event == "open":
        path, mode, flags = args
        writing = ((isinstance(mode, str) and any(c in mode for c in "wax+"))
                   or (isinstance(flags, int) and flags & _WRITE_FLAGS))
        if writing and isinstance(path, (str, bytes, os.PathLike)):
            EVENTS["write"].append(os.path.abspath(os.fsdecode(path)))
    elif event in _FS_EVENTS:
        EVENTS["write"] += [os.path.abspath(p) for p in _paths(args)]


sys.addaudithook(_hook)


def runtime(inputs: Path, out: Path) -> None:
    """Every public analysis and caption call, with its outputs kept in memory."""
    import edgekit

    face = inputs / "face.png"
    assert len(edgekit.analyze(face)) == 1
    with edgekit.Pipeline(running_mode="video") as pipe:
        assert sum(len(r.faces) for r in pipe.process_video(inputs / "clip.avi")) > 0
    edgekit.EmotionClassifier().predict(edgekit.load_image(face))
    edgekit.caption("happiness", style="anime", scene="party", n=2)
    edgekit.caption_styles({"sadness": 0.9, "neutral": 0.1}, lang="en")
    edgekit.restyle("这波快乐直接拉满！", style="retro")


def cli(inputs: Path, out: Path) -> None:
    """The CLI commands, each told to write under OUT."""
    from edgekit.cli import main

    assert main(["analyze", str(inputs / "face.png"), "--out", str(out / "faces.jsonl"),
                 "--annotate", str(out / "annotated.png")]) == 0
    assert main(["analyze", str(inputs / "clip.avi"), "--out", str(out / "clip.jsonl")]) == 0
    assert main(["caption", "--emotion", "sadness", "--styles", "--lang", "en"]) == 0
    assert main(["demo", "--out-dir", str(out / "demo")]) == 0
    assert main(["models"]) == 0


def userdata(inputs: Path, out: Path) -> None:
    """A document stored in the user data dir (the only place edgekit keeps anything)."""
    from edgekit import userdata as ud

    ud.atomic_write_json(ud.data_dir() / "probe.json", {"kind": "probe", "version": 1})
    assert ud.load_document(ud.data_dir() / "probe.json", "probe", 1).document


def meme(inputs: Path, out: Path) -> None:
    """A meme and an animated meme, saved where told."""
    import edgekit

    edgekit.make_meme(inputs / "face.png", text="when the build is green", lang="en").save(out / "meme.png")
    edgekit.make_gif(inputs / "face.png", text="monday again", lang="en").save(out / "meme.gif")


def feedback(inputs: Path, out: Path) -> None:
    """Caption feedback: stored in the data dir only."""
    import edgekit

    store = edgekit.FeedbackStore()
    store.like("这波快乐直接拉满！", style="slang")
    store.dislike("Monday again...", lang="en")
    assert len(store.rerank(["这波快乐直接拉满！", "Monday again..."])) == 2


def suggest(inputs: Path, out: Path) -> None:
    """Chat suggestions with a selfie, re-ranked by the (empty) feedback store: nothing written."""
    import edgekit

    assert edgekit.suggest("明天考试，完全没复习", photo=inputs / "face.png", n=3, seed=1).suggestions


def timeline(inputs: Path, out: Path) -> None:
    """An emotion timeline of a clip, exported (with its plot) where told."""
    from edgekit.timeline import emotion_timeline, save_timeline

    save_timeline(emotion_timeline(inputs / "clip.avi", alerts=["sadness>1s"]), out / "timeline")


def transfer(inputs: Path, out: Path) -> None:
    """Expression transfer and exaggeration, kept in memory."""
    from edgekit.transfer import exaggerate_expression, transfer_expression

    transfer_expression(inputs / "face.png", inputs / "face.png")
    exaggerate_expression(inputs / "face.png", 1.5)


def identity(inputs: Path, out: Path) -> None:
    """Enrol a person and identify them: only embeddings, in the data dir's gallery."""
    from edgekit.identity import FaceIdentifier

    ident = FaceIdentifier()
    ident.enroll("probe person", inputs / "face.png")
    assert ident.identify(inputs / "face.png").name == "probe person"


#: Scenario name -> function(inputs, out). Adding a public feature = adding a scenario here.
SCENARIOS: Dict[str, Callable[[Path, Path], None]] = {
    "runtime": runtime, "cli": cli, "userdata": userdata, "meme": meme, "feedback": feedback, "suggest": suggest,
    "timeline": timeline, "transfer": transfer, "identity": identity,
}


def socket_fds() -> List[str]:
    """Open file descriptors of this process that are sockets."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.append(f"{fd} -> {target}")
    return found


def main(argv: List[str]) -> int:
    inputs, out, names = Path(argv[0]), Path(argv[1]), argv[2:]
    for name in names:
        SCENARIOS[name](inputs, out)
    report = dict(EVENTS, socket_fds=socket_fds(), scenarios=names)
    print("PROBE " + json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
