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
  emotion, sarcasm mocking sincere good or sad news; ``denies-surprise``; ``mood-neutral``);
- ``g_weak_prefix``: a prefix without the style's voice (rule ``weak-prefix``: "Gently:", "【今日无事】");
- ``h_comparison``: a comparison with a thing ("比老式电梯还吓人").

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

``review`` reports a blind review of two restyle versions (round 6: ``reports/caption_review/round6``)
from the round's folder: ``sheet.jsonl`` (item, lang, style, source, caption: what reviewers saw),
``key.json`` (item -> system, source_emotion, inferred_emotion; ``code``: the commit of each system;
``seed``), ``ratings_*.jsonl`` (one file per reviewer, rubric :data:`REVIEW_FIELDS` + would_post 1-5)
and optionally ``remarks.json`` (reviewer -> closing remarks). It writes README.md and report.json
there: per system and language the ratings, also on the pairs whose captions differ, agreement
between reviewers, and the issue #25 targets::

    python -m converters.caption.restyle_audit review reports/caption_review/round6
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from converters.caption import authored, review
from converters.core.paths import ROOT
from edgekit.captioning import Captioner, textemotion
from edgekit.captioning.library import MAX_CHARS
from edgekit.captioning.taxonomy import STYLES
from edgekit.captioning.voices import Voice, attach
from edgekit.errors import ConfigError

CORPUS = ROOT / "converters" / "caption" / "corpus"
ANY = "any"  # the mood-neutral cell (edgekit.captioning.voices.ANY_MOOD; older commits lack the name)
CLASSES = ("a_glued", "b_emotion", "c_second_person", "d_exclamation_prefix", "e_other", "f_mood_rule",
           "g_weak_prefix", "h_comparison")
_RULE_CLASS = {"glued": "a_glued", "simile": "a_glued", "second-person": "c_second_person",
               "exclamation-prefix": "d_exclamation_prefix", "emotion": "f_mood_rule",
               "denies-surprise": "f_mood_rule", "mood-neutral": "f_mood_rule", "weak-prefix": "g_weak_prefix",
               "comparison": "h_comparison"}
#: Rubric of a restyle review besides ``would_post`` (1-5): yes/no items.
REVIEW_FIELDS = ("fluent", "fits_style", "keeps_content", "keeps_emotion")
#: Issue #25 targets a restyle review is held to: rubric item -> least share of yes.
REVIEW_TARGETS = {"fluent": 0.97, "keeps_content": 0.80, "keeps_emotion": 0.80}
SCOPES = ("zh", "en", "all")
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
            for voice in voices.get((row["lang"], style, cell)) or voices.get((row["lang"], style, "neutral"), ()):
                out.append({"kind": "restyle", "row": i, "lang": row["lang"], "label": row["emotion"],
                            "inferred": inferred, "certain": certain, "cell": cell, "source": row["text"],
                            "style": style, "position": voice.position, "fragment": voice.text,
                            "output": attach(row["text"], voice, row["lang"])})
    for i, row in enumerate(chats):
        inferred, certain = reading(cap, row["text"], row["lang"])
        out.append({"kind": "chat", "row": i, "lang": row["lang"], "label": row["emotion"], "source": row["text"],
                    "inferred": inferred, "certain": certain})
    return out


def classes(record: dict) -> List[str]:
    """The failure classes of one restyled output (see the module docstring)."""
    from converters.caption.voices_check import fragment_problems

    cell = record.get("cell", record["inferred"])
    found = {"b_emotion"} if cell not in (record["label"], ANY) else set()
    voice = Voice(record["position"], record["fragment"])
    for rule, _ in fragment_problems(record["lang"], record["style"], cell, voice):
        found.add(_RULE_CLASS.get(rule, "e_other"))
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


def _load_round(folder: Path) -> tuple:
    """(sheet by item, key, ratings) of a review round folder, checked against each other."""
    for name in ("sheet.jsonl", "key.json"):
        if not (folder / name).is_file():
            raise ConfigError(f"a review round needs {name}", subject=folder / name,
                              hint="pass the folder holding sheet.jsonl, key.json and ratings_*.jsonl")
    sheet = {row["item"]: row for row in _read(folder / "sheet.jsonl")}
    key = json.loads((folder / "key.json").read_text(encoding="utf-8"))
    paths = sorted(folder.glob("ratings_*.jsonl"))
    if not paths:
        raise ConfigError("no ratings_*.jsonl in the review round", subject=folder, hint="copy each reviewer's ratings")
    if set(key["items"]) != set(sheet):
        raise ConfigError("key.json and sheet.jsonl list different items", subject=folder / "key.json",
                          hint=f"items only in one of them: {sorted(set(key['items']) ^ set(sheet))[:5]}")
    ratings = review.read_ratings(paths)
    for path in paths:
        rated = Counter(r["item"] for r in ratings if r["reviewer"] == path.stem)
        if set(rated) != set(sheet) or max(rated.values()) > 1:
            wrong = sorted(set(rated) ^ set(sheet)) + sorted(k for k, v in rated.items() if v > 1)
            raise ConfigError("a reviewer must rate every sheet item once", subject=path,
                              hint=f"missing, unknown or repeated items: {wrong[:5]}")
    return sheet, key, ratings


def _pairs(sheet: Dict[str, dict], key: dict, systems: List[str], folder: Path) -> List[Dict[str, str]]:
    """The sheet's (lang, source, style) requests as {system: item}; each made once by every system."""
    pairs: Dict[tuple, Dict[str, str]] = defaultdict(dict)
    for item, row in sorted(sheet.items()):
        request, system = (row["lang"], row["source"], row["style"]), key["items"][item]["system"]
        if system in pairs[request]:
            raise ConfigError(f"two {system} captions for one request", subject=folder / "sheet.jsonl",
                              hint=f"items {pairs[request][system]} and {item}: {request}")
        pairs[request][system] = item
    incomplete = [request for request, made in pairs.items() if sorted(made) != sorted(systems)]
    if incomplete:
        raise ConfigError(f"every request needs one caption of each system ({', '.join(systems)})",
                          subject=folder / "key.json", hint=f"incomplete: {incomplete[:3]}")
    return list(pairs.values())


def review_round(folder: Path) -> dict:
    """A restyle review round joined: stats per subset (all pairs, pairs whose captions differ),
    system and language; reviewer agreement; the old-vs-new comparison on differing pairs; the
    reviewers' consistency on identical captions; the issue #25 targets."""
    sheet, key, ratings = _load_round(folder)
    systems = list(key.get("code") or sorted({v["system"] for v in key["items"].values()}))
    pairs = _pairs(sheet, key, systems, folder)
    differing = [p for p in pairs if len({sheet[item]["caption"] for item in p.values()}) > 1]
    subsets = {"all": {i for p in pairs for i in p.values()}, "differing": {i for p in differing for i in p.values()}}
    stats: Dict[str, Dict[str, Dict[str, dict]]] = {}
    for subset, items in subsets.items():
        stats[subset] = {}
        for system in systems:
            stats[subset][system] = {}
            for scope in SCOPES:
                mine = {i for i in items if key["items"][i]["system"] == system and scope in (sheet[i]["lang"], "all")}
                rows = [r for r in ratings if r["item"] in mine]
                if not rows:
                    continue
                s = review.rating_stats(rows, REVIEW_FIELDS)
                known = [key["items"][i] for i in mine if "inferred_emotion" in key["items"][i]]
                s["emotion_inferred_right"] = (round(sum(k["inferred_emotion"] == k["source_emotion"] for k in known)
                                                     / len(known), 3) if known else None)
                s["captions"] = len(mine)
                stats[subset][system][scope] = s
    score = defaultdict(list)  # item -> every reviewer's would_post
    for r in ratings:
        score[r["item"]].append(float(r["would_post"]))
    mean = {item: sum(v) / len(v) for item, v in score.items()}
    compared = Counter()
    if len(systems) == 2:
        for p in differing:
            delta = mean[p[systems[1]]] - mean[p[systems[0]]]
            compared["higher" if delta > 0 else "lower" if delta < 0 else "equal"] += 1
    same = {}
    for reviewer in sorted({r["reviewer"] for r in ratings}):
        mine = {r["item"]: r for r in ratings if r["reviewer"] == reviewer}
        identical = [p for p in pairs if p not in differing]
        same[reviewer] = {"identical_pairs": len(identical),
                          "same_would_post": sum(len({mine[i]["would_post"] for i in p.values()}) == 1
                                                 for p in identical),
                          "same_rubric": sum(len({tuple(mine[i][f] for f in REVIEW_FIELDS) for i in p.values()}) == 1
                                             for p in identical)}
    targets = {system: {field: {"target": goal, "value": stats["all"][system]["all"][field],
                                "met": stats["all"][system]["all"][field] >= goal}
                        for field, goal in REVIEW_TARGETS.items()} for system in systems}
    remarks_path = folder / "remarks.json"
    meta = {"systems": systems, "code": key.get("code", {}), "seed": key.get("seed"), "captions": len(sheet),
            "pairs": len(pairs), "differing_pairs": len(differing),
            "sources": len({(sheet[i]["lang"], sheet[i]["source"]) for i in sheet}),
            "sources_in_restyle_sources": len({(sheet[i]["lang"], sheet[i]["source"]) for i in sheet}
                                              & {(r["lang"], r["text"]) for r in
                                                 authored.read_tsv(CORPUS / "restyle_sources.tsv")}),
            "langs": dict(Counter(sheet[i]["lang"] for i in sheet)),
            "reviewers": sorted(same), "ratings": len(ratings),
            "folder": str(folder.resolve().relative_to(ROOT)) if folder.resolve().is_relative_to(ROOT) else folder.name}
    return {"meta": meta, "summary": stats, "agreement": review.agreement(ratings),
            "second_vs_first_on_differing_pairs": dict(compared), "consistency_on_identical_pairs": same,
            "targets": targets,
            "remarks": json.loads(remarks_path.read_text(encoding="utf-8")) if remarks_path.is_file() else {}}


def review_markdown(report: dict) -> str:
    """README.md of a restyle review round."""
    m, systems = report["meta"], report["meta"]["systems"]
    named = [f"{s} ({m['code'][s]})" if s in m["code"] else s for s in systems]
    pct = lambda v: "-" if v is None else f"{v:.0%}"  # noqa: E731
    lines = [f"# Blind review: restyle, {' vs. '.join(named)}", "",
             f"{m['pairs']} restyle requests (a sentence and a style; "
             + ", ".join(f"{n // len(systems)} {lang}" for lang, n in sorted(m["langs"].items(), reverse=True))
             + f"; {m['sources']} sentences), each answered by every system: {m['captions']} captions shuffled into "
             "one blind sheet"
             + (f" (seed {m['seed']})" if m.get("seed") is not None else "")
             + f". {len(m['reviewers'])} reviewers rated every caption ({m['ratings']} ratings). "
             f"{m['pairs'] - m['differing_pairs']} of the {m['pairs']} requests got the same caption from every "
             f"system; the second table leaves them out ({m['differing_pairs']} requests), since equal captions "
             "only dilute the difference. Emotion inferred right: the share of captions whose system inferred "
             "the sentence's labelled emotion (the voice fragment is chosen for the inferred one).", ""]
    head = ("| system | scope | captions | ratings | would post (1-5) | would post >= 4 | fluent | fits style "
            "| keeps content | keeps emotion | emotion inferred right |")
    for subset, title in (("all", "All requests"), ("differing", "Requests whose captions differ")):
        lines += [f"## {title}", "", head, "|" + "---|" * 11]
        for system in systems:
            for scope in SCOPES:
                s = report["summary"][subset][system].get(scope)
                if s:
                    lines.append(f"| {system} | {scope} | {s['captions']} | {s['ratings']} | {s['would_post']:.2f} | "
                                 f"{pct(s['would_post_4plus'])} | "
                                 + " | ".join(pct(s[f]) for f in REVIEW_FIELDS + ("emotion_inferred_right",)) + " |")
        lines.append("")
    c = report["second_vs_first_on_differing_pairs"]
    if c:
        lines += [f"On the {m['differing_pairs']} requests whose captions differ, {systems[1]}'s caption got a higher "
                  f"would-post than {systems[0]}'s (mean of the reviewers) for {c.get('higher', 0)}, a lower one for "
                  f"{c.get('lower', 0)}, the same for {c.get('equal', 0)}.", ""]
    lines += ["Agreement between reviewers (Pearson r of would post on the same captions): "
              + (", ".join(f"{pair} {r:.2f}" for pair, r in report["agreement"].items()) or "-") + ". "
              "Identical captions of a request, rated twice by each reviewer (the brief said lines may repeat): "
              + "; ".join(f"{name} gave both the same would-post for {v['same_would_post']} of "
                          f"{v['identical_pairs']} and the same rubric answers for {v['same_rubric']}"
                          for name, v in report["consistency_on_identical_pairs"].items()) + ".", "",
              "## Targets (issue #25)", "", "| target | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for field, goal in REVIEW_TARGETS.items():
        cells = [report["targets"][s][field] for s in systems]
        lines.append(f"| {field.replace('_', ' ')} >= {goal:.0%} | "
                     + " | ".join(f"{pct(t['value'])} ({'met' if t['met'] else 'not met'})" for t in cells) + " |")
    lines += ["", "(all requests, both languages)", "", "## How it was made", "",
              "- What was rated: `restyle` of sentences people post "
              f"({m['sources_in_restyle_sources']} of the {m['sources']} sentences are lines of "
              "`converters/caption/corpus/restyle_sources.tsv`), the emotion inferred from the text as `restyle` does "
              "(`key.json`: `source_emotion` is the sentence's label, `inferred_emotion` what the system inferred). "
              + "; ".join(f"`{s}` is `Captioner.restyle` at commit {m['code'][s]}" for s in systems if s in m["code"])
              + ".",
              "- Who made what: the sheet, its key and the reviewers' briefs were made outside the repository by the "
              "session that ran the round and are copied here unchanged (`sheet.jsonl`, `key.json`, "
              "`ratings_r*.jsonl`; `BRIEF.md` is the reviewers' brief, each copy naming the reviewer's own sheet and "
              "output file). The voice fragments and the code were written by other sessions of the project.",
              "- Blind: each reviewer was a separate session that wrote none of the sentences, fragments or code, got "
              "only `BRIEF.md` and a copy of the sheet (which names no system), was told the lines came from several "
              "unnamed systems mixed at random, and never saw `key.json`.",
              f"- This README and `report.json`: `python -m converters.caption.restyle_audit review {m['folder']}`.",
              ""]
    if report["remarks"]:
        lines += ["## Reviewers' remarks", "", "Each reviewer's closing remarks on the patterns they noticed (as "
                  "relayed by the session that ran the round, `remarks.json`):", ""]
        lines += [f"- {name}: {text}" for name, text in report["remarks"].items()] + [""]
    return "\n".join(lines)


def write_review(folder: Path) -> dict:
    """``review_round(folder)`` written to ``folder``'s report.json and README.md."""
    report = review_round(folder)
    (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(review_markdown(report), encoding="utf-8")
    return report


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
    v = sub.add_parser("review", help="README.md and report.json of a blind restyle review round folder")
    v.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.command == "review":
        write_review(args.folder)
        print((args.folder / "README.md").read_text(encoding="utf-8"))
        return 0
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
