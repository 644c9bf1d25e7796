"""Validate the restyle voices (``edgekit/assets/captions/voices.tsv``): every fragment must read
naturally after (or before) any sentence of its emotion, in the poster's own voice.

Rules (issue #25, blind review round 5), each problem named with its line:

- ``glued``: a suffix opens a new sentence (zh ``。！？～……``, en ``". " "! " "? " "... " "~ "``), never a
  comma, colon or dash clause glued to someone else's sentence; a prefix is a label that ends with a
  colon (zh ``：``, en ``": "``) or a tag (zh ``【…】``, en ``*…* ``), never a comma-ended adverbial;
- ``simile``: no comparison ("像…", "仿佛", "like a …", "as if"): a simile attached to an unrelated
  sentence reads as nonsense;
- ``second-person``: no "you"/"你": a comfort line reads as the poster comforting themselves;
- ``exclamation-prefix``: no exclamation, question or interjection before the sentence ("退下！",
  "不好！"): it sets a tone the sentence may not have;
- ``casing``: an English suffix's sentence (after its opener) and an English prefix start with a capital;
- ``ending``: a suffix ends as a sentence (terminal punctuation, a kaomoji after it, or ``.jpg``);
- ``emotion``: a fragment's cue words (:mod:`edgekit.captioning.emotioncues`) name another emotion
  than its cell (the sarcastic style says the opposite on purpose and is exempt);
- the library's checks: length (zh <= 16, en <= 48 characters), scene words, blocklisted terms,
  unbalanced brackets, damaged reduplications, glyphs the bundled fonts cannot draw, duplicates;
- coverage: every (lang, style, emotion) cell but ``plain`` has >= 6 distinct fragments, prefixes
  and suffixes both.

``python -m converters.caption.voices_check [--path FILE]`` prints the problems and exits 1 when
there are any. :func:`fragment_problems` is what :mod:`converters.caption.restyle_audit` applies
to the fragment of each restyled sentence.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgekit import glyphs
from edgekit.captioning.emotioncues import cue_counts
from edgekit.captioning.library import BLOCKLIST_PATH, blocked_term, read_blocklist, unbalanced_bracket
from edgekit.captioning.taxonomy import EMOTIONS, LANGS, STYLES, match_scene
from edgekit.captioning.voices import VOICES_PATH, Voice, ends_decorated, read_voices
from edgekit.captioning.wholewords import damaged_doubles
from edgekit.errors import ModelError

MAX_FRAGMENT_CHARS = {"zh": 16, "en": 48}
MIN_PER_CELL = 6
#: How a suffix may open: a new sentence.
SUFFIX_OPENERS = {"zh": ("……", "。", "！", "？", "～"), "en": ("... ", ". ", "! ", "? ", "~ ")}
#: How a prefix may end: a label (colon) or a tag.
PREFIX_ENDINGS = {"zh": ("：", "】"), "en": (": ", "* ")}
_GLUE = "，,、；;：:—-"
_SIMILE = {"zh": re.compile(r"(?<![录图影画偶肖想])像|仿佛|如同|好似|宛如|似的|一样|犹如|恰似"),
           "en": re.compile(r"^\W*like\b|\blike (?:a|an|the|my|some|\w+ing)\b|\bas (?:if|though)\b|\bas \w+ as\b",
                            re.I)}
_SECOND_PERSON = {"zh": re.compile(r"你|您"), "en": re.compile(r"\b(?:you|your|yours|yourself|ya|u|ur)\b", re.I)}
_ENDING = re.compile(r"(?:[。！？!?.…~～)）】」*]|\.jpg)$")


def fragment_problems(lang: str, style: str, emotion: str, voice: Voice) -> List[Tuple[str, str]]:
    """(rule, message) for each rule ``voice`` breaks (see the module docstring)."""
    text, out = voice.text, []
    if voice.position == "suffix":
        opener = next((o for o in SUFFIX_OPENERS[lang] if text.startswith(o)), None)
        if opener is None:
            out.append(("glued", f"suffix must open a new sentence with one of {SUFFIX_OPENERS[lang]}"))
        elif not re.match(r"\w|[(（*【]", text[len(opener):]):
            out.append(("glued", "after its opener a suffix starts with a word, a kaomoji or a tag, not more "
                                 "punctuation (the opener is dropped after a sentence ending in '!' or '?')"))
        elif lang == "en" and not re.match(r"[^a-z]", text[len(opener):]):
            out.append(("casing", "an English suffix's sentence starts with a capital (its opener is dropped "
                                  "after a sentence ending in '!' or '?')"))
        if not (_ENDING.search(text.rstrip()) or ends_decorated(text.rstrip())):
            out.append(("ending", "suffix must end as a sentence (terminal punctuation, kaomoji after it, .jpg)"))
    else:
        if not text.endswith(PREFIX_ENDINGS[lang]):
            stripped = text.rstrip()
            rule = "glued" if stripped[-1:] in _GLUE else "exclamation-prefix"
            out.append((rule, f"prefix must be a label ending with one of {PREFIX_ENDINGS[lang]}"))
        if lang == "en" and re.match(r"[a-z]", text):
            out.append(("casing", "an English prefix starts with a capital"))
    if _SIMILE[lang].search(text):
        out.append(("simile", f"no comparison ({_SIMILE[lang].search(text).group(0)!r}): it reads as nonsense after "
                              "an unrelated sentence"))
    if _SECOND_PERSON[lang].search(text):
        out.append(("second-person", f"no second person ({_SECOND_PERSON[lang].search(text).group(0)!r}): the "
                                     "poster would be talking to themselves"))
    cues = cue_counts(text)
    if style != "sarcastic" and cues.any() and cues[EMOTIONS.index(emotion)] == 0:
        out.append(("emotion", f"reads as {EMOTIONS[int(np.argmax(cues))]}, not {emotion}"))
    if len(text.strip()) > MAX_FRAGMENT_CHARS[lang]:
        out.append(("length", f"longer than {MAX_FRAGMENT_CHARS[lang]} characters"))
    scene = match_scene(text)
    if scene:
        out.append(("scene", f"names scene {scene[0]} ({scene[1]!r})"))
    for rule, found in (("brackets", unbalanced_bracket(text)), ("doubled", damaged_doubles(text)),
                        ("glyphs", "".join(sorted(glyphs.undrawable(text))))):
        if found:
            out.append((rule, f"{rule}: {found!r}"))
    return out


def read_rows(path: Path) -> List[Tuple[int, str, str, str, Voice]]:
    """(line, lang, style, emotion, voice) of every row (the runtime's reader checks the format first)."""
    read_voices(path)
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [(n, *line.split("\t")[:3], Voice(*line.split("\t")[3:5])) for n, line in enumerate(lines, start=2)]


def validate(path: Path = VOICES_PATH, blocklist: Optional[Sequence[str]] = None) -> List[str]:
    """Every problem of the voices file, as ``"path:line: rule: message"`` lines."""
    blocklist = read_blocklist(BLOCKLIST_PATH) if blocklist is None else blocklist
    problems: List[str] = []
    cells: Dict[Tuple[str, str, str], List[Voice]] = defaultdict(list)
    seen: Dict[Tuple[str, str], int] = {}
    for number, lang, style, emotion, voice in read_rows(Path(path)):
        where = f"{path}:{number}"
        found = fragment_problems(lang, style, emotion, voice)
        term = blocked_term(voice.text, blocklist)
        if term:
            found.append(("blocklist", f"blocklisted term {term!r}"))
        if (lang, voice.text) in seen:
            found.append(("duplicate", f"same text as line {seen[(lang, voice.text)]}"))
        seen.setdefault((lang, voice.text), number)
        problems += [f"{where}: {rule}: {message}" for rule, message in found]
        cells[(lang, style, emotion)].append(voice)
    for lang in LANGS:
        for style in STYLES[1:]:
            for emotion in EMOTIONS:
                cell = cells.get((lang, style, emotion), [])
                if len({v.text for v in cell}) < MIN_PER_CELL or {v.position for v in cell} != {"prefix", "suffix"}:
                    problems.append(f"{path}: coverage: {lang}/{style}/{emotion} needs >= {MIN_PER_CELL} distinct "
                                    "fragments, prefixes and suffixes both")
    problems += [f"{path}: coverage: style plain has fragments (it is the sentence itself)"
                 for key in cells if key[1] == "plain"][:1]
    return problems


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters.caption.voices_check",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=VOICES_PATH, help="voices TSV (default: the bundled one)")
    args = parser.parse_args(argv)
    try:
        problems = validate(args.path)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in problems:
        print(line)
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
