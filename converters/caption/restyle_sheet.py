"""Build the blind sheet of a restyle review round: two commits' ``restyle`` of the same requests.

A round (``reports/caption_review/round7``) takes sentences of ``corpus/restyle_sources.tsv`` that no
earlier round's sheet used, 2 per (language, emotion) with one emotion per language taking 1 (15
sentences per language), gives each 2 random styles other than plain, and has both commits restyle
every request (a fresh ``Captioner()`` per request, the request's seed); the 2 x 60 captions are
shuffled into ``sheet.jsonl`` (what reviewers see) and ``key.json`` (item -> system, the sentence's
labelled and inferred emotion, the voice cell: the inferred emotion, or ``any`` where the reading
was uncertain and the mood-neutral cell was used). ``made.json`` records the command.

Each commit's ``edgekit/`` is taken with ``git archive`` and run in a subprocess with that tree
first on the path (:func:`captions`, which needs only ``Captioner.tags_of``, ``Captioner.restyle``
and, where it exists, ``textemotion.emotion_reading``; without it every reading counts as certain),
so the working tree is never touched. The same seed, sources and commits rebuild the same sheet::

    python -m converters.caption.review restyle-sheet --old 78842b4 --new ed096b2 --seed 20261216 \\
        --exclude reports/caption_review/round6/sheet.jsonl --out /tmp/round7
"""
from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence

from converters.core.paths import ROOT
from edgekit.errors import ConfigError

#: Styles a round asks for: every style but plain (the sentence itself).
STYLES = ("anime", "retro", "sarcastic", "wholesome", "dramatic", "slang", "poetic")
SOURCES = ROOT / "converters" / "caption" / "corpus" / "restyle_sources.tsv"
SYSTEMS = ("old", "new")


def requests(seed: int, exclude: Sequence[Path] = (), sources: Path = SOURCES) -> List[dict]:
    """The round's requests: per language, 2 unused sentences of every emotion (1 of one emotion
    drawn at random), each with 2 random styles and a seed of its own."""
    from converters.caption.authored import read_tsv

    rng = random.Random(seed)
    used = {(row["lang"], row["source"]) for path in exclude for row in _jsonl(Path(path))}
    free = [r for r in read_tsv(sources) if (r["lang"], r["text"]) not in used]
    out = []
    for lang in ("zh", "en"):
        by_emotion: Dict[str, List[dict]] = defaultdict(list)
        for r in free:
            if r["lang"] == lang:
                by_emotion[r["emotion"]].append(r)
        emotions = sorted(by_emotion)
        if not emotions:
            raise ConfigError(f"no unused {lang} sentences left", str(sources),
                              "write more held-out sentences, or name another --sources file")
        single = rng.choice(emotions)
        for emotion in emotions:
            need = 1 if emotion == single else 2
            if len(by_emotion[emotion]) < need:
                raise ConfigError(f"{len(by_emotion[emotion])} unused {lang} {emotion} sentence(s) left, the round "
                                  f"needs {need}", str(sources),
                                  "write more held-out sentences, or name another --sources file")
            for r in rng.sample(by_emotion[emotion], need):
                for style in rng.sample(STYLES, 2):
                    out.append({"lang": lang, "source": r["text"], "source_emotion": emotion, "style": style,
                                "seed": rng.randrange(2**31)})
    return out


def captions(rows: Sequence[dict]) -> List[dict]:
    """Each request restyled by the importable edgekit: caption, inferred emotion, voice cell."""
    from edgekit.captioning import Captioner, textemotion

    out = []
    for r in rows:
        cap = Captioner()
        inferred = cap.tags_of(r["source"], r["lang"])[0]
        reading = getattr(textemotion, "emotion_reading", None)  # commits before 5ed9ae9 lack it
        certain = reading is None or reading(cap._text_emotion, r["source"])[1]
        c = cap.restyle(r["source"], style=r["style"], lang=r["lang"], seed=r["seed"])[0]
        out.append({**r, "caption": c.text, "inferred_emotion": inferred, "voice_cell": inferred if certain else "any",
                    "caption_emotion": c.emotion})
    return out


def captions_at(commit: str, rows: Sequence[dict]) -> List[dict]:
    """:func:`captions` with ``commit``'s ``edgekit/`` (``git archive``) in a subprocess."""
    from edgekit.errors import ConfigError

    made = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "edgekit"], capture_output=True)
    if made.returncode:
        raise ConfigError(f"cannot export edgekit/ of commit {commit}", subject=commit,
                          hint=made.stderr.decode(errors="replace").strip()[:200])
    with tempfile.TemporaryDirectory() as tmp:
        tarfile.open(fileobj=io.BytesIO(made.stdout)).extractall(tmp, filter="data")
        (Path(tmp) / "requests.json").write_text(json.dumps(list(rows), ensure_ascii=False), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, str(ROOT)])}
        # cwd = the exported tree, so its edgekit comes first on the path (python -m puts the cwd first)
        subprocess.run([sys.executable, "-m", "converters.caption.restyle_sheet", "requests.json", "made.json"],
                       cwd=tmp, env=env, check=True)
        return json.loads((Path(tmp) / "made.json").read_text(encoding="utf-8"))


def assemble(made: Dict[str, List[dict]], code: Dict[str, str], seed: int, out: Path) -> None:
    """``sheet.jsonl`` and ``key.json`` in ``out`` from each system's captions, shuffled (seed + 1)."""
    rng = random.Random(seed + 1)
    rows = [(row, system) for system in SYSTEMS for row in made[system]]
    rng.shuffle(rows)
    sheet, items = [], {}
    for i, (row, system) in enumerate(rows):
        item = f"r{i:03d}"
        sheet.append({"item": item, "lang": row["lang"], "style": row["style"], "source": row["source"],
                      "caption": row["caption"]})
        items[item] = {"system": system, "source_emotion": row["source_emotion"],
                       "inferred_emotion": row["inferred_emotion"], "voice_cell": row["voice_cell"]}
    out.mkdir(parents=True, exist_ok=True)
    with (out / "sheet.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(s, ensure_ascii=False) + "\n" for s in sheet)
    with (out / "key.json").open("w", encoding="utf-8") as f:
        json.dump({"seed": seed, "code": code, "items": items}, f, ensure_ascii=False, indent=1)


def build(old: str, new: str, seed: int, exclude: Sequence[Path], out: Path, sources: Path = SOURCES) -> None:
    """A whole round's sheet: :func:`requests`, each commit's :func:`captions`, :func:`assemble`."""
    rows = requests(seed, exclude, sources)
    assemble({"old": captions_at(old, rows), "new": captions_at(new, rows)}, {"old": old, "new": new}, seed, out)
    shown = " ".join(f"--exclude {_shown(Path(p))}" for p in exclude)
    if Path(sources).resolve() != SOURCES.resolve():
        shown = (shown + " " if shown else "") + f"--sources {_shown(Path(sources))}"
    command = (f"python -m converters.caption.review restyle-sheet --old {old} --new {new} --seed {seed} "
               + (shown + " " if shown else "") + f"--out {_shown(out)}")
    (out / "made.json").write_text(json.dumps({"sheet": command}, indent=1) + "\n", encoding="utf-8")


def _shown(path: Path) -> str:
    """``path`` relative to the checkout when inside it."""
    full = path.resolve()
    return str(full.relative_to(ROOT)) if full.is_relative_to(ROOT) else str(path)


def _jsonl(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


if __name__ == "__main__":  # the step captions_at runs inside an exported tree: requests.json -> made.json
    rows_in = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    Path(sys.argv[2]).write_text(json.dumps(captions(rows_in), ensure_ascii=False), encoding="utf-8")
