"""The authored caption corpus (``converters/caption/corpus/authored/*.tsv``): load and validate.

Captions written by the project the way people caption memes and stickers (issue #25), one TSV
per emotion: ``lang, emotion, style, scene, text`` with ``scene`` one of the taxonomy's scenes or
``none``. The validator reports every problem with its file and line:

- tags outside the taxonomy; text length outside [4, the runtime's limit]; stray whitespace;
  blocklisted terms; unbalanced brackets; characters the bundled fonts cannot draw;
- exact duplicates and near duplicates (character 3-gram Jaccard >= 0.8, within a language);
- damaged Chinese reduplications and idioms (平平无奇 written 平无奇, 瑟瑟发抖 as 瑟发抖 ...);
- scene words in ``none`` rows, and rows whose words name another scene than their tag;
- situation words and patterns in ``none`` rows (a place, event, activity, object, message story,
  clock time or part of the day outside the taxonomy, :mod:`edgekit.captioning.situation`);
- coverage: captions per language, share of ``none`` rows (per language and per cell), captions per
  (emotion, style, lang).

``python -m converters.caption.authored [--folder DIR]`` prints the problems and a summary and
exits 1 when there are any.
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from converters.core.paths import ROOT
from edgekit import glyphs
from edgekit.captioning.library import (BLOCKLIST_PATH, MAX_CHARS, Entry, blocked_term, read_blocklist,
                                        unbalanced_bracket)
from edgekit.captioning.situation import situation_word
from edgekit.captioning.taxonomy import EMOTIONS, LANGS, NO_SCENE, SCENES, STYLES, resolve_scene
from edgekit.captioning.wholewords import damaged_doubles
from edgekit.errors import ConfigError

FOLDER = ROOT / "converters" / "caption" / "corpus" / "authored"
HEADER = ("lang", "emotion", "style", "scene", "text")
MIN_CHARS = 4
NEAR_DUPLICATE = 0.8
#: Coverage the corpus must reach (issue #25).
MIN_PER_LANG = 3000
MIN_NONE_SHARE = 0.30
MIN_PER_CELL = 30
class Caption(NamedTuple):
    lang: str
    emotion: str
    style: str
    scene: str
    text: str
    where: str  # "file:line"


def load(folder: Path = FOLDER) -> List[Caption]:
    """Every caption of every ``*.tsv`` in ``folder`` (sorted by file name); ConfigError for a
    missing folder, a wrong header or a row without 5 columns (naming file and line)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.tsv")) if folder.is_dir() else []
    if not files:
        raise ConfigError("holds no authored caption files (*.tsv)", folder, "write the corpus there first")
    captions: List[Caption] = []
    for path in files:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(rows, None)
            if tuple(header or ()) != HEADER:
                raise ConfigError(f"header {header!r} is not {list(HEADER)!r}", f"{path}:1", "fix the first line")
            for line, row in enumerate(rows, start=2):
                if len(row) != len(HEADER):
                    raise ConfigError(f"has {len(row)} columns, expected {len(HEADER)}", f"{path}:{line}",
                                      "one caption per line: lang, emotion, style, scene, text separated by tabs")
                captions.append(Caption(*row, where=f"{path.name}:{line}"))
    return captions


def read_tsv(path: Path) -> List[Dict[str, str]]:
    """Rows of a small tab-separated corpus file (header line = keys), e.g. ``restyle_sources.tsv``."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [dict(zip(lines[0].split("\t"), line.split("\t"))) for line in lines[1:] if line.strip()]


def trigrams(text: str) -> Set[str]:
    """Character 3-grams of ``text`` (lower-cased, spaces collapsed); the text itself when shorter."""
    t = " ".join(text.lower().split())
    return {t[i:i + 3] for i in range(len(t) - 2)} or {t}


def near_duplicates(captions: Sequence[Caption],
                    threshold: float = NEAR_DUPLICATE) -> List[Tuple[Caption, Caption, float]]:
    """Pairs within a language whose 3-gram Jaccard similarity is >= ``threshold`` (candidate pairs
    come from an inverted index of rare 3-grams, so the check is fast on thousands of lines)."""
    pairs = []
    by_lang: Dict[str, List[int]] = defaultdict(list)
    for i, c in enumerate(captions):
        by_lang[c.lang].append(i)
    grams = [trigrams(c.text) for c in captions]
    for indices in by_lang.values():
        index: Dict[str, List[int]] = defaultdict(list)
        for i in indices:
            for g in grams[i]:
                index[g].append(i)
        for i in indices:
            counts: Counter = Counter()
            for g in grams[i]:
                counts.update(j for j in index[g] if j > i)
            for j, shared in counts.items():
                union = len(grams[i]) + len(grams[j]) - shared
                score = shared / union if union else 1.0
                if score >= threshold and captions[i].text != captions[j].text:
                    pairs.append((captions[i], captions[j], score))
    return pairs


def scene_problem(caption: Caption) -> Optional[str]:
    """What is wrong with the scene words of a caption, or None."""
    try:
        found = resolve_scene(caption.text)
    except ConfigError:
        return None
    if caption.scene == NO_SCENE:
        return f"scene 'none' but the text names the scene {found!r}"
    if found != caption.scene:
        return f"tagged scene {caption.scene!r} but the text names {found!r}"
    return None


def situation_problem(caption: Caption) -> Optional[str]:
    """The situation word a ``none`` caption names (it invents a scene), or None."""
    return situation_word(caption.lang, caption.text) if caption.scene == NO_SCENE else None


def validate(captions: Sequence[Caption], blocklist: Sequence[str]) -> List[str]:
    """Every problem found, as ``"file:line: ..."`` lines (empty = valid)."""
    problems: List[str] = []
    allowed = {"lang": LANGS, "emotion": EMOTIONS, "style": STYLES, "scene": SCENES + (NO_SCENE,)}
    seen: Dict[Tuple[str, str], str] = {}
    for c in captions:
        for field, values in allowed.items():
            if getattr(c, field) not in values:
                problems.append(f"{c.where}: {field}={getattr(c, field)!r} not in {values}")
        if c.lang not in MAX_CHARS:
            continue
        if not MIN_CHARS <= len(c.text) <= MAX_CHARS[c.lang]:
            problems.append(f"{c.where}: length {len(c.text)} outside [{MIN_CHARS}, {MAX_CHARS[c.lang]}]: {c.text!r}")
        if c.text != c.text.strip() or any(ch in c.text for ch in "\t\r\n"):
            problems.append(f"{c.where}: stray whitespace in {c.text!r}")
        checks = (("blocklisted term", blocked_term(c.text, blocklist)),
                  ("unbalanced brackets", unbalanced_bracket(c.text)),
                  ("damaged doubled word, expected", damaged_doubles(c.text) if c.lang == "zh" else None),
                  ("scene words:", scene_problem(c)),
                  ("scene 'none' but the text names a situation (retag it to its scene or rewrite it):",
                   situation_problem(c)),
                  ("characters no bundled font draws:", "".join(sorted(glyphs.undrawable(c.text))) or None))
        problems.extend(f"{c.where}: {what} {found!r} in {c.text!r}" for what, found in checks if found)
        key = (c.lang, c.text)
        if key in seen:
            problems.append(f"{c.where}: duplicate of {seen[key]}: {c.text!r}")
        seen.setdefault(key, c.where)
    problems.extend(f"{b.where}: near duplicate ({score:.2f}) of {a.where}: {b.text!r} ~ {a.text!r}"
                    for a, b, score in near_duplicates(captions))
    return problems


@dataclass
class Coverage:
    per_lang: Dict[str, int]
    none_share: Dict[str, float]
    thin_cells: List[Tuple[str, str, str, int]]  # (lang, emotion, style, count) below MIN_PER_CELL
    #: (lang, emotion, style, none rows, rows) of cells whose share of ``none`` rows is below MIN_NONE_SHARE
    few_none_cells: List[Tuple[str, str, str, int, int]]

    def problems(self) -> List[str]:
        out = [f"{lang}: {n} captions, fewer than {MIN_PER_LANG}"
               for lang, n in self.per_lang.items() if n < MIN_PER_LANG]
        out += [f"{lang}: {share:.0%} of captions have scene 'none', fewer than {MIN_NONE_SHARE:.0%}"
                for lang, share in self.none_share.items() if share < MIN_NONE_SHARE]
        out += [f"{lang}/{emotion}/{style}: {n} captions, fewer than {MIN_PER_CELL}" for lang, emotion, style,
                n in self.thin_cells]
        out += [f"{lang}/{emotion}/{style}: {k} of {n} captions have scene 'none', fewer than {MIN_NONE_SHARE:.0%}"
                for lang, emotion, style, k, n in self.few_none_cells]
        return out


def coverage(captions: Sequence[Caption]) -> Coverage:
    per_lang = {lang: sum(c.lang == lang for c in captions) for lang in LANGS}
    none_share = {lang: sum(c.lang == lang and c.scene == NO_SCENE for c in captions) / max(n, 1)
                  for lang, n in per_lang.items()}
    cells = Counter((c.lang, c.emotion, c.style) for c in captions)
    thin = [(la, em, st, cells[(la, em, st)]) for la in LANGS for em in EMOTIONS for st in STYLES
            if cells[(la, em, st)] < MIN_PER_CELL]
    nones = Counter((c.lang, c.emotion, c.style) for c in captions if c.scene == NO_SCENE)
    few_none = [key + (nones[key], n) for key, n in sorted(cells.items()) if nones[key] < MIN_NONE_SHARE * n - 1e-9]
    return Coverage(per_lang, none_share, thin, few_none)


HELDOUT_FRACTION = 0.10


def to_library(captions: Sequence[Caption], seed: int = 0) -> List[Entry]:
    """Library entries of the corpus, sorted, with ``split`` set: 10% of every (lang, emotion,
    style) cell held out (never trained on: perplexity and the blind review's corpus lines)."""
    cells: Dict[Tuple[str, str, str], List[Caption]] = defaultdict(list)
    for c in captions:
        cells[(c.lang, c.emotion, c.style)].append(c)
    rng = random.Random(seed)
    entries = []
    for key in sorted(cells):
        items = sorted(cells[key], key=lambda c: c.text)
        rng.shuffle(items)
        n_held = max(1, round(HELDOUT_FRACTION * len(items)))
        entries += [Entry(c.lang, c.emotion, c.style, c.scene, "heldout" if i < n_held else "train", c.text)
                    for i, c in enumerate(items)]
    return sorted(entries, key=lambda e: (e.lang, EMOTIONS.index(e.emotion), STYLES.index(e.style), e.scene, e.text))


def cell_counts(entries: Sequence[Entry]) -> Dict[Tuple[str, str, str], int]:
    """Number of captions per (emotion, style, lang) cell, every cell present (0 when empty)."""
    counts = Counter((e.emotion, e.style, e.lang) for e in entries)
    return {(em, st, la): counts.get((em, st, la), 0) for em in EMOTIONS for st in STYLES for la in LANGS}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters.caption.authored", description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, action="append", help="corpus folder, repeatable: duplicates are "
                        f"checked across all of them (default: {FOLDER})")
    parser.add_argument("--partial", action="store_true",
                        help="skip the coverage targets (while the corpus is being written)")
    args = parser.parse_args(argv)
    try:
        captions = [c for folder in (args.folder or [FOLDER]) for c in load(folder)]
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problems = validate(captions, read_blocklist(BLOCKLIST_PATH))
    cov = coverage(captions)
    if not args.partial:
        problems += cov.problems()
    for line in problems:
        print(line)
    print(f"{len(captions)} captions ({', '.join(f'{k} {v}' for k, v in cov.per_lang.items())}; scene none: "
          f"{', '.join(f'{k} {v:.0%}' for k, v in cov.none_share.items())}); {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
