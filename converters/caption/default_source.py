"""The "Default source" section of ``reports/caption/README.md``: why users get authored library
lines by default (``CaptionerOptions.source = "library"``), from the blind reviews' own numbers.

Every number is read from the review rounds' files (``report.json``, written by
``python -m converters.caption.review report``; the keys and sheets) and from the shipped library::

    python -m converters.caption.default_source            # print the section
    python -m converters.caption.default_source --write    # put it into reports/caption/README.md

``converters.caption.report`` writes the same section when the whole report is rebuilt.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from converters.core.paths import ROOT
from edgekit.captioning.library import LIBRARY_PATH, read_library

REVIEWS = ROOT / "reports" / "caption_review"
README = ROOT / "reports" / "caption" / "README.md"
TITLE = "## Default source"
#: The heading the section goes before when the README has none yet.
BEFORE = "## Model"


class Round(NamedTuple):
    """One blind review round: its folder (``report.json``) and where its key and sheets are."""

    name: str
    report: Path
    data: Path
    note: str


ROUNDS: Tuple[Round, ...] = (
    Round("1", REVIEWS / "data" / "round1", REVIEWS / "data" / "round1",
          "model: the earlier template-trained model"),
    Round("2", REVIEWS, REVIEWS / "data", "model: the shipped model (what `source=\"model\"` gives)"),
    Round("3", REVIEWS / "round3", REVIEWS / "round3", "model: a retrained model, not shipped"),
    Round("4", REVIEWS / "round4", REVIEWS / "round4",
          "default Captioner rated as users get it; model: the shipped model"),
    Round("5", REVIEWS / "round5", REVIEWS / "round5",
          "new panel seed and unseen chat/restyle requests; library after the scene audit; model: the shipped model"),
)


def _summary(r: Round) -> Dict[str, Dict[str, dict]]:
    return json.loads((r.report / "report.json").read_text(encoding="utf-8"))["summary"]


def corpus_in_library(r: Round, library: frozenset) -> Tuple[int, int]:
    """(corpus items of the round's sheet that are lines of the shipped library, corpus items)."""
    key = json.loads((r.data / "key.json").read_text(encoding="utf-8"))["items"]
    texts: Dict[str, str] = {}
    for sheet in sorted(r.data.glob("*.jsonl")):
        if sheet.name.startswith("ratings"):
            continue
        for line in sheet.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts[row["item"]] = row["caption"]
    corpus = [texts[item] for item, v in key.items() if v["system"] == "corpus" and item in texts]
    return sum(t in library for t in corpus), len(corpus)


def _post(summary: Dict[str, Dict[str, dict]], system: str) -> str:
    s = summary.get(system)
    if s is None:
        return "-"
    return f"{s['all']['would_post']:.2f} (zh {s['zh']['would_post']:.2f}, en {s['en']['would_post']:.2f})"


def _readme(r: Round) -> str:
    """The round's README, relative to reports/caption_review/."""
    return (r.report / "README.md").relative_to(REVIEWS).as_posix()


def section_lines(rounds: Sequence[Round] = ROUNDS, library_path: Path = LIBRARY_PATH) -> List[str]:
    """The section as Markdown lines (no trailing blank line)."""
    entries = read_library(library_path)
    library = frozenset(e.text for e in entries)
    rows, shares = [], []
    for r in rounds:
        summary = _summary(r)
        inside, total = corpus_in_library(r, library)
        shares.append(f"round {r.name}: {inside} of {total}")
        rows.append(f"| {r.name} | {_post(summary, 'library')} | {_post(summary, 'corpus')} | "
                    f"{_post(summary, 'model')} | "
                    f"{_post(summary, 'template')} | {r.note} |")
    return [
        TITLE,
        "",
        "What users get by default: `CaptionerOptions.source` is `\"library\"`, so `Captioner()`, `edgekit.caption()`, "
        "`caption_styles()`, `make_meme()`, `edgekit caption`, `edgekit meme`, the server and `suggest` return an "
        f"authored line of the caption library (`edgekit/assets/captions/library.tsv`, {len(entries):,} lines) for the "
        "request's language, emotion (a probability dict's top label), style and scene (a scene-less line when no "
        "scene is asked; a line naming the asked specific, e.g. a cat, preferred). The caption model measured in this "
        "report "
        "is not loaded. It stays available: `Captioner(source=\"model\")`, `edgekit caption --source model`, "
        "`\"source\": \"model\"` in `POST /v1/captions` (library fallback with the reason), and the review panel "
        "(`converters/caption/review.py`) and this report keep measuring it.",
        "",
        "Why: in every blind review round, reviewers rated authored corpus lines far above the model, and in round "
        "4 they rated the default Captioner's own picks for the panel's requests (labels, probability dicts, chat "
        "messages, free-text scenes) as high as the corpus (would post, 1-5; the `all (zh, en)` rows of each "
        "round's report):",
        "",
        "| round | default Captioner (`library`) | authored corpus lines (held out) | caption model (`model`) "
        "| template filler | note |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "Sources: " + ", ".join(f"[round {r.name}](../caption_review/{_readme(r)})" for r in rounds) + ", "
        "[findings](../caption_review/FINDINGS.md) (each round's `report.json`, written by "
        "`python -m converters.caption.review report`). Corpus items of each sheet that are lines of the shipped "
        f"library: {'; '.join(shares)} (round 3 drew them from the merged corpus of both "
        "writing rounds, which was not shipped). This section: `python -m converters.caption.default_source --write`.",
    ]


def splice(readme: str, lines: Sequence[str]) -> str:
    """``readme`` with its Default source section replaced by ``lines`` (inserted before ``## Model``
    when it has none)."""
    text = "\n".join(lines) + "\n\n"
    if TITLE in readme:
        start = readme.index(TITLE)
        end = readme.find("\n## ", start + len(TITLE))
        return readme[:start] + text + (readme[end + 1:] if end >= 0 else "")
    at = readme.find(BEFORE)
    if at < 0:
        return readme.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    return readme[:at] + text + readme[at:]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters.caption.default_source",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"put the section into {README.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    lines = section_lines()
    if args.write:
        README.write_text(splice(README.read_text(encoding="utf-8"), lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
