"""Audit ``restyle`` on the human-written sources: failure classes per style, text-emotion accuracy.

Every sentence of ``corpus/restyle_sources.tsv`` (the review's restyle inputs, each with the emotion
its writer meant) is restyled, with the voices cell ``restyle`` picks (the emotion
:meth:`Captioner.tags_of` infers, or the mood-neutral cell ``any`` when that reading is uncertain:
:func:`~edgekit.captioning.textemotion.emotion_reading`), into every style but plain with *every*
fragment of the cell, so the counts do not depend on a seed. Each output is put in the failure
classes of blind reviews rounds 5 and 6 (today's ``voices_check`` rules, applied to old dumps too):

- ``a_glued``: a comma/colon/dash-glued fragment or a simile (``voices_check`` rules ``glued``, ``simile``);
- ``b_emotion``: an emotion's cell other than the sentence's labelled emotion (a mood clash: "so
  happy I could fly!" on "feeling down"); the mood-neutral cell is counted apart (``any_cell``);
- ``c_second_person``: a "you"/"你" line (the poster talking to themselves);
- ``d_exclamation_prefix``: an exclamation, question or interjection before the sentence;
- ``e_other``: the fragment's other ``voices_check`` problems (casing, ending, length, ...) and joins
  that add what the sentence did not have: doubled punctuation ("！。", "!,"), an English lower-case
  letter after ". ", output over the caption length limit;
- ``f_mood_rule``: a fragment that breaks a mood rule of its cell (``emotion``: cue words of another
  emotion, sarcasm mocking sincere good or sad news; ``denies-surprise``; ``mood-neutral``;
  ``presupposes``; ``calm-mood``: a calming line in a happiness, surprise, anger, disgust or fear cell);
- ``g_weak_prefix``: a prefix without the style's voice (rule ``weak-prefix``: "Gently:", "【今日无事】");
- ``h_comparison``: a comparison with a thing ("比老式电梯还吓人");
- ``i_presupposition``: a fragment whose presupposition the sentence contradicts (blind review round 8:
  "Roll the end credits" on a trip not yet begun, 看不惯的就不看啦 on a smell, a calming line on an
  excited or annoyed sentence): the fragment's tags in today's voices file (for a fragment no longer
  there, the tags its words imply: ``voices_check.TAG_CUES``) against the sentence's features
  (:func:`edgekit.captioning.presuppose.clashes`);
- ``j_remark``: a fragment of the mood-neutral cell that is a remark, not a style marker (rule
  ``marker``, blind reviews rounds 7-9: "A little piece of today" on gym mockery, 已阅，不予置评 on a
  happy moment): a remark after a sentence whose mood restyle could not read may clash with it.

Since the voices carry tags, ``dump`` writes only the fragments ``restyle`` may pick for the sentence
(:meth:`~edgekit.captioning.voices.Voices.candidates`: none whose tags the sentence contradicts while
the cell has another); on older commits, every fragment of the cell.

Text-emotion accuracy is reported on the restyle sources (both halves: review rounds 1-4 used the
even rows, round 5 the odd ones) and on ``corpus/chat_messages.tsv`` (80 chat messages with the
emotion their writer meant; not used to write the cue words), overall and for the readings
certain enough for an emotion's voice.

``python -m converters.caption.restyle_audit`` audits the working tree. To compare with another
commit, dump its outputs there and report both here::

    python -m converters.caption.restyle_audit dump --out /tmp/old.jsonl   # in the old checkout
    python -m converters.caption.restyle_audit report /tmp/old.jsonl /tmp/new.jsonl

``dump`` needs only ``Captioner.tags_of``, ``Captioner.voices`` and ``voices.attach`` (and
``textemotion.emotion_reading`` where it exists; without it every reading counts as certain), so it
runs on commits older than this module (copy the file there).

The blind reviews of restyle rounds (old vs. new code, rated by people) are built and reported by
:mod:`converters.caption.review` (``restyle-sheet``, ``restyle-report``).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from converters.caption import authored
from converters.core.paths import ROOT
from edgekit.captioning import Captioner, textemotion
from edgekit.captioning.library import MAX_CHARS
from edgekit.captioning.taxonomy import STYLES
from edgekit.captioning.presuppose import clashes, sentence_features
from edgekit.captioning.voices import Voice, attach, read_voices

CORPUS = ROOT / "converters" / "caption" / "corpus"
ANY = "any"  # the mood-neutral cell (edgekit.captioning.voices.ANY_MOOD; older commits lack the name)
CLASSES = ("a_glued", "b_emotion", "c_second_person", "d_exclamation_prefix", "e_other", "f_mood_rule",
           "g_weak_prefix", "h_comparison", "i_presupposition", "j_remark")
_RULE_CLASS = {"calm-mood": "f_mood_rule", "glued": "a_glued", "simile": "a_glued", "second-person": "c_second_person",
               "exclamation-prefix": "d_exclamation_prefix", "emotion": "f_mood_rule",
               "denies-surprise": "f_mood_rule", "mood-neutral": "f_mood_rule",
               "presupposes": "f_mood_rule", "weak-prefix": "g_weak_prefix",
               "comparison": "h_comparison", "marker": "j_remark"}
_DOUBLED = re.compile(r"[。！？!?…~～][，,。.、；;]|[，,][。.！!？?]")
_LOWER_AFTER_STOP = re.compile(r"(?<![.])[.!?] [a-z]")


def reading(cap: Captioner, text: str, lang: str) -> Tuple[str, bool]:
    """(inferred emotion, certain) as ``restyle`` reads ``text``."""
    inferred = cap.tags_of(text, lang)[0]
    certain = getattr(textemotion, "emotion_reading", None)
    return inferred, certain is None or certain(cap._text_emotion, text)[1]


def dump(sources: Iterable[Dict[str, str]], chats: Iterable[Dict[str, str]]) -> List[dict]:
    """One record per (source, style, fragment) of the cell ``restyle`` uses, and one per chat message."""
    cap = Captioner()
    out: List[dict] = []
    for i, row in enumerate(sources):
        inferred, certain = reading(cap, row["text"], row["lang"])
        cell = inferred if certain else ANY
        for style in STYLES[1:]:
            voices = cap.voices.voices
            picks = getattr(cap.voices, "candidates", None)
            cell_voices = (picks(row["text"], row["lang"], style, cell) if picks else
                           voices.get((row["lang"], style, cell)) or voices.get((row["lang"], style, "neutral"), ()))
            for voice in cell_voices:
                out.append({"kind": "restyle", "row": i, "lang": row["lang"], "label": row["emotion"],
                            "inferred": inferred, "certain": certain, "cell": cell, "source": row["text"],
                            "style": style, "position": voice.position, "fragment": voice.text,
                            "output": attach(row["text"], voice, row["lang"])})
    for i, row in enumerate(chats):
        inferred, certain = reading(cap, row["text"], row["lang"])
        out.append({"kind": "chat", "row": i, "lang": row["lang"], "label": row["emotion"], "source": row["text"],
                    "inferred": inferred, "certain": certain})
    return out


@lru_cache(maxsize=1)
def _bundled_tags() -> Dict[Tuple[str, str], frozenset]:
    return {(lang, v.text): v.tags for (lang, _, _), cell in read_voices().items() for v in cell}


def fragment_tags(lang: str, text: str) -> frozenset:
    """The tags of a fragment: today's voices file's, else those its words imply (``TAG_CUES``)."""
    from converters.caption.voices_check import TAG_CUES

    known = _bundled_tags().get((lang, text))
    if known is not None:
        return known
    return frozenset(tag for tag, cues in TAG_CUES.items() if cues[lang].search(text))


def classes(record: dict) -> List[str]:
    """The failure classes of one restyled output (see the module docstring)."""
    from converters.caption.voices_check import fragment_problems

    cell = record.get("cell", record["inferred"])
    found = {"b_emotion"} if cell not in (record["label"], ANY) else set()
    tags = fragment_tags(record["lang"], record["fragment"])
    voice = Voice(record["position"], record["fragment"], tags)
    for rule, _ in fragment_problems(record["lang"], record["style"], cell, voice):
        found.add(_RULE_CLASS.get(rule, "e_other"))
    if clashes(tags, sentence_features(record["source"], record["lang"])):
        found.add("i_presupposition")
    source, output = record["source"], record["output"]
    added = len(_DOUBLED.findall(output)) > len(_DOUBLED.findall(source))
    if record["lang"] == "en":
        added |= len(_LOWER_AFTER_STOP.findall(output)) > len(_LOWER_AFTER_STOP.findall(source))
    if added or len(output) > MAX_CHARS[record["lang"]]:
        found.add("e_other")
    return sorted(found)


def summary(records: List[dict]) -> dict:
    """Counts per failure class (per style and overall) and text-emotion accuracies."""
    restyled = [r for r in records if r["kind"] == "restyle"]
    per_style: Dict[str, Counter] = defaultdict(Counter)
    for r in restyled:
        found = classes(r)
        for key in (r["style"], "all"):
            per_style[key].update(found)
            per_style[key]["outputs"] += 1
            per_style[key]["any"] += bool(found)
            per_style[key]["any_but_emotion"] += bool(set(found) - {"b_emotion"})
            per_style[key]["any_cell"] += r.get("cell") == ANY
    first = {r["row"]: r for r in restyled}  # one record per source row (tags_of is per sentence)

    def accuracy(rows: List[dict]) -> dict:
        sure = [r for r in rows if r.get("certain", True)]
        return {"right": sum(r["inferred"] == r["label"] for r in rows), "of": len(rows),
                "certain_right": sum(r["inferred"] == r["label"] for r in sure), "certain": len(sure)}

    chats = [r for r in records if r["kind"] == "chat"]
    return {"per_style": {k: dict(v) for k, v in per_style.items()},
            "emotion_accuracy": {"restyle_sources": accuracy(list(first.values())),
                                 "restyle_sources_even_rows": accuracy([r for i, r in first.items() if i % 2 == 0]),
                                 "restyle_sources_odd_rows_round5": accuracy([r for i, r in first.items()
                                                                              if i % 2 == 1]),
                                 "chat_messages": accuracy(chats)}}


def markdown(name: str, s: dict) -> str:
    """One audit summary as markdown."""
    extra = ("any", "any_but_emotion", "any_cell")
    head = "| style | outputs | " + " | ".join(CLASSES) + " | any problem | any but emotion | mood-neutral cell |"
    lines = [f"### {name}", "", head, "|" + "---|" * (len(CLASSES) + len(extra) + 2)]
    for style in list(STYLES[1:]) + ["all"]:
        c = s["per_style"].get(style, {})
        n = c.get("outputs", 0)
        cells = [f"{c.get(k, 0)} ({c.get(k, 0) / max(n, 1):.0%})" for k in CLASSES + extra]
        lines.append(f"| {style} | {n} | " + " | ".join(cells) + " |")
    lines.append("")
    for key, a in s["emotion_accuracy"].items():
        sure, right = a.get("certain", a["of"]), a.get("certain_right", a["right"])
        lines.append(f"- text emotion, {key}: {a['right']}/{a['of']} ({a['right'] / max(a['of'], 1):.1%}); "
                     f"read as certain {sure}/{a['of']}, of them right {right}/{sure} ({right / max(sure, 1):.1%})")
    return "\n".join(lines) + "\n"


def _read(path: Path) -> List[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters.caption.restyle_audit",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    d = sub.add_parser("dump", help="restyle every source with every fragment; write JSON lines")
    d.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("report", help="summarise dumps (e.g. an old commit's and this tree's)")
    r.add_argument("dumps", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.command == "report":
        for path in args.dumps:
            print(markdown(str(path), summary(_read(path))))
        return 0
    records = dump(authored.read_tsv(CORPUS / "restyle_sources.tsv"), authored.read_tsv(CORPUS / "chat_messages.tsv"))
    if args.command == "dump":
        args.out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in records), encoding="utf-8")
        print(f"{len(records)} records -> {args.out}")
        return 0
    print(markdown("working tree", summary(records)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
