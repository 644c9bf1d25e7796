"""Validate the restyle voices (``edgekit/assets/captions/voices.tsv``): every fragment must read
naturally after (or before) any sentence of its emotion, in the poster's own voice.

Rules (issue #25, blind review round 5), each problem named with its line:

- ``glued``: a suffix opens a new sentence (zh ``。！？～……``, en ``". " "! " "? " "... " "~ "``), never a
  comma, colon or dash clause glued to someone else's sentence; a prefix is a label that ends with a
  colon (zh ``：``, en ``": "``) or a tag (zh ``【…】`` ``（…）``, en ``*…* ``), never a comma-ended adverbial;
- ``simile``: no simile ("像…", "仿佛", "like a …", "as if"): a simile attached to an unrelated
  sentence reads as nonsense;
- ``comparison``: no comparison with a thing ("比老式电梯还吓人", "火气比煤炉子还旺", "happier than a kid
  with a new VHS tape"; blind review round 6): the same nonsense;
- ``weak-prefix``: a prefix carries the style's voice: an action tag (zh ``（小声）``, en ``*sniffles* ``),
  a kaomoji, or a label with one of the style's voice markers (:data:`VOICE_MARKERS`: 本喵, 吾, 家人们,
  本台, nya, POV, Alas ...). Round 6's bare labels ("Gently:", "At long last:", "【今日无事】",
  "写给不堪的一幕：", "In the fading light:") carry no voice or presuppose a mood; the poetic,
  sarcastic and wholesome voices live in imagery and tone, not in marker words, so their labels
  are never enough (their prefixes are action tags or none);
- ``second-person``: no "you"/"你": a comfort line reads as the poster comforting themselves;
- ``exclamation-prefix``: no exclamation, question or interjection before the sentence ("退下！",
  "不好！"): it sets a tone the sentence may not have;
- ``casing``: an English suffix's sentence (after its opener) and an English prefix start with a capital;
- ``ending``: a suffix ends as a sentence (terminal punctuation, a kaomoji after it, or ``.jpg``);
- ``emotion``: a fragment's cue words (:mod:`edgekit.captioning.emotioncues`) name another emotion
  than its cell. The sarcastic style may say the opposite on purpose ("Great. Fantastic.") only
  where mocking the event is the poster's mood (:data:`SARCASM_MOCKS`: neutral, anger, disgust,
  fear, contempt); on sincere good or sad news (happiness, surprise, sadness) its irony is aimed
  at the poster, and cue words of another emotion are a mood clash as in any style;
- ``denies-surprise``: a surprise fragment does not say it was expected ("Of course it did.",
  "谁能想到呢（所有人）", "意料之中"): that turns the surprise into a shrug;
- ``mood-neutral``: a fragment of a mood-neutral cell (emotion ``any``, for sentences whose emotion
  is uncertain) has no cue word of any emotion and no exclamation mark: it must read after a happy,
  sad, angry or plain sentence alike;
- ``marker`` (blind reviews rounds 7-9: on uncertain readings, right 17-46% of the time, a remark
  stuck on the end, "A little piece of today", 已阅，不予置评, "Such is the way of fate", flipped
  or missed the sentence's mood; fluent 90% / 72% / 50%): a mood-neutral fragment is a *style
  marker* that says nothing about the event or its mood, never a remark. A suffix is a kaomoji
  alone ("(・ω・)") or an ellipsis alone ("……", "..."); a prefix is an action tag ("（旁白）",
  "*deadpan* "), a kaomoji, a label with the style's voice marker ("本台消息：", "Narrator: "), or one
  voice marker as an address ending with a comma ("家人们，", "Chat, "), of at most
  :data:`MARKER_MAX_WORDS` (zh 6 characters, en 3 words);
- ``presupposes``: nor does a mood-neutral fragment comfort or console ("今天也辛苦了", "好好照顾自己",
  "抱抱今天的自己", "Holding space for this one", "One day at a time": a hard day the sentence may not
  have had; blind review round 7) or treasure the moment ("压在枕头下", "存进时光胶囊", "Saving this
  one for the scrapbook": a moment worth keeping) (:data:`PRESUPPOSES`);
- ``tags`` (blind review round 8: stock lines that clash with the sentence's situation): a fragment's
  optional ``tags`` (:data:`~edgekit.captioning.presuppose.TAGS`) say what it presupposes about the
  sentence, and restyle never attaches it to a sentence that contradicts that
  (:mod:`edgekit.captioning.presuppose`). A fragment whose words plainly presuppose one (:data:`TAG_CUES`:
  "end credits", 日记, 回不去 -> ``past``; "my eyes", 辣眼睛 -> ``sight``; 听到 -> ``sound``; "deep breath",
  "one day at a time", 都是日子的一部分 -> ``calm``) must carry the tag (rule ``tags``);
- ``calm-mood``: no ``calm`` fragment in a cell of a high-arousal emotion
  (:data:`~edgekit.captioning.presuppose.AROUSED_EMOTIONS`: happiness, surprise, anger, disgust, fear):
  it would calm the feeling away instead of voicing it (round 8: annoyance, disgust or excitement
  turned into calm acceptance);
- the library's checks: length (zh <= 16, en <= 48 characters), scene and situation words
  (:func:`edgekit.captioning.situation.unasked_scene`, as for a scene-less caption), blocklisted terms,
  unbalanced brackets, damaged reduplications, glyphs the bundled fonts cannot draw, duplicates;
- coverage: every (lang, style, emotion) cell but ``plain`` has >= 6 distinct suffixes (prefixes are
  optional: round 6 preferred short suffix tags that react to the sentence); every mood-neutral cell
  has >= :data:`MIN_MARKERS` distinct markers, one of them more than an ellipsis (which adds nothing
  after "!", "?" or "…");
- coverage of tags: for every tag, a cell keeps >= 3 suffixes without it (:data:`MIN_UNTAGGED`), so a
  sentence that contradicts the tag still has a choice (restyle falls back to the cell's
  least-clashing fragments only where none is left);
- ``prefixes``: a cell has at most 2 prefixes (:data:`MAX_PREFIXES`), so most results end with a
  suffix that reacts to the sentence.

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
from edgekit.captioning.presuppose import AROUSED_EMOTIONS, TAGS
from edgekit.captioning.library import BLOCKLIST_PATH, blocked_term, read_blocklist, unbalanced_bracket
from edgekit.captioning.situation import unasked_scene
from edgekit.captioning.taxonomy import EMOTIONS, LANGS, STYLES
from edgekit.captioning.voices import (ANY_MOOD, MOODS, VOICES_PATH, Voice, ends_decorated, is_kaomoji, parse_tags,
                                       read_voices)
from edgekit.captioning.wholewords import damaged_doubles
from edgekit.errors import ModelError
from edgekit.textunits import KAOMOJI

MAX_FRAGMENT_CHARS = {"zh": 16, "en": 48}
MIN_SUFFIXES = 6
#: For every tag, the suffixes of a cell without it: what a sentence contradicting the tag chooses from.
MIN_UNTAGGED = 3
MAX_PREFIXES = 2
#: Markers per mood-neutral cell, and the most words of one (zh: characters, en: words).
MIN_MARKERS = 2
MARKER_MAX_WORDS = {"zh": 6, "en": 3}
#: A suffix of a mood-neutral cell that is only an ellipsis (with a kaomoji alone, the marker suffixes).
ELLIPSES = {"zh": "……", "en": "..."}
#: How a suffix may open: a new sentence.
SUFFIX_OPENERS = {"zh": ("……", "。", "！", "？", "～"), "en": ("... ", ". ", "! ", "? ", "~ ")}
#: How a prefix may end: a label (colon) or a tag; in a mood-neutral cell also an address (comma).
PREFIX_ENDINGS = {"zh": ("：", "】", "）"), "en": (": ", "* ")}
ADDRESS_ENDINGS = {"zh": ("，",), "en": (", ",)}
#: Emotions whose sarcastic fragments may mock the event (say the opposite with another emotion's cue words).
SARCASM_MOCKS = ("neutral", "anger", "disgust", "fear", "contempt")
#: Words that mark a style's voice in a label prefix (lower case; whole words in English). Poetic,
#: sarcastic and wholesome have none: their voice is imagery and tone, so a label of theirs is bare.
VOICE_MARKERS: Dict[Tuple[str, str], Tuple[str, ...]] = {
    ("zh", "anime"): ("本喵", "本宝宝", "人家", "本大人", "呜", "喵", "嘤"),
    ("zh", "retro"): ("本台", "号外", "bb机", "磁带", "广播", "电报", "收音机", "老同志", "供销社"),
    ("zh", "dramatic"): ("吾", "命运", "宿命", "深渊", "众神", "苍天", "天命", "封印"),
    ("zh", "slang"): ("家人们", "宝子们", "谁懂", "绝绝子", "栓q", "破大防", "蚌埠住", "emo", "yue", "下头", "笑死",
                      "离大谱", "无语子", "救命", "好家伙", "瞳孔地震", "就这"),
    ("en", "anime"): ("nya", "desu", "uwu", "kyaa", "nani", "kowai", "yatta", "ano ne", "mou", "fufu", "senpai"),
    ("en", "retro"): ("extra, extra", "bulletin", "wireless", "golly", "gee", "jeepers", "heavens", "hot diggity",
                      "consarn", "confound", "daddy-o", "groovy", "this just in"),
    ("en", "dramatic"): ("behold", "lo", "alas", "prophecy", "fate", "destiny", "doom", "o cruel", "mortal",
                         "narrator"),
    ("en", "slang"): ("pov", "ngl", "fr", "lowkey", "bro", "bruh", "nah", "no cap", "rn", "it's giving", "bestie",
                      "hot take", "chat", "y'all"),
}
_ACTION_TAG = {"zh": re.compile(r"^（[\u4e00-\u9fff]{1,8}）$"), "en": re.compile(r"^\*[a-z][a-z' -]{1,30}\* $")}
_COMPARISON = {"zh": re.compile(r"比[^，。！？,.!?]{1,10}?(?:还|更)|没(?:这么|那么)"),
               "en": re.compile(r"\b\w+er than\b|\b(?:more|less) \w+ than\b|\bthan (?:a|an|the|my|any)\b", re.I)}
_DENIES_SURPRISE = {"zh": re.compile(r"果然|意料之中|不出所料|早就知道|早就猜到|不意外|所有人"),
                    "en": re.compile(r"\bof course\b|\bas expected\b|\b(?:saw|seen) (?:that|this|it) coming\b|"
                                     r"\bpredictable\b|\bobviously\b|\(everyone\.?\)", re.I)}
#: What a mood-neutral fragment may not say: comfort for a hard day, or keeping a treasured moment.
PRESUPPOSES = {"zh": re.compile(r"辛苦|照顾(?:好)?自己|抱抱|慢慢来|没关系|会好的|会过去|别怕|别难过|加油|撑住|"
                                r"熬过|挺过|接住|心疼|放过自己|允许自己|珍藏|收好|枕头下|时光胶囊"),
               "en": re.compile(r"\bhold(?:ing)? space\b|\btak(?:e|ing) care\b|\bbe gentle\b|\bhang in\b|"
                                r"\bit(?:'|’)?s (?:okay|ok|alright|fine)\b|\bhugs?\b|\bget(?:ting)? through\b|"
                                r"\bone day at a time\b|\bheal\w*|\bbreathe\b|\btough\b|\bsurviv\w*|\bcomfort\w*|"
                                r"\bscrapbook\b|\btreasur\w*|\bcherish\w*|\bkeepsake\b", re.I)}
#: Words that plainly presuppose a tag's condition: a fragment with them must carry the tag (rule ``tags``).
TAG_CUES = {
    "past": {"zh": re.compile(r"日记|回不去|那些年|冲洗|相册|照片|写到这里|剧终|谢幕|落幕|"
                              r"好好记住|值得记下|多年后|口袋里|史书"),
             "en": re.compile(r"\bend credits\b|\bmemories\b|\bdiary\b|\bscrapbook\b|\bkeepsake\b|"
                              r"\bthat happened\b|\bfiled under\b|\bin the books\b|\bforever\b|\bremember this\b|"
                              r"\brewind\w*|\blogged\b", re.I)},
    "sight": {"zh": re.compile(r"(?<!揉)眼睛(?!出汗)|双眼|之眼|辣眼|开了眼|大开眼界|"
                               r"不看|看不惯|看点好|老花镜|看在眼里"),
              "en": re.compile(r"\beyes?\b|\bat the sight\b|\blook(?:ing)? at\b", re.I)},
    "sound": {"zh": re.compile(r"听到|听见|耳朵"), "en": re.compile(r"\bheard\b|\bears?\b", re.I)},
    "smell": {"zh": re.compile(r"闻到|臭味|气味"), "en": re.compile(r"\bsmell\w*|\bstink\w*|\bstench\b", re.I)},
    "calm": {"zh": re.compile(r"深呼吸|消消气|放过自己|慢慢来|一步一步|会过去|随它去|刚刚好|"
                              r"都是日子|都是生活|节奏|慢慢消化|皆是命运|不紧不慢|笑笑就过去"),
             "en": re.compile(r"\bdeep breath\b|\bbreathe\b|\bstep at a time\b|\bday at a time\b|\bpeace\b|"
                              r"\b(?:it|that)(?:'|’)?s okay\b(?! to be \w)|\bit is what it is\b|\bsuch is\b|"
                              r"\bgoes on\b|\bdrifts on\b|"
                              r"\bit'll pass\b|\bsink in\b|\bunbothered\b|\bshrug it off\b|\bit was written\b", re.I)},
}
_GLUE = "，,、；;：:—-"
_SIMILE = {"zh": re.compile(r"(?<![录图影画偶肖想])像|仿佛|如同|好似|宛如|似的|一样|犹如|恰似"),
           "en": re.compile(r"^\W*like\b|\blike (?:a|an|the|my|some|\w+ing)\b|\bas (?:if|though)\b|\bas \w+ as\b",
                            re.I)}
_SECOND_PERSON = {"zh": re.compile(r"你|您"), "en": re.compile(r"\b(?:you|your|yours|yourself|ya|u|ur)\b", re.I)}
_ENDING = re.compile(r"(?:[。！？!?.…~～)）】」*]|\.jpg)$")


def fragment_problems(lang: str, style: str, emotion: str, voice: Voice) -> List[Tuple[str, str]]:
    """(rule, message) for each rule ``voice`` breaks (see the module docstring)."""
    text, out = voice.text, []
    if emotion == ANY_MOOD:
        out += marker_problems(lang, style, voice)
    if voice.position == "suffix" and emotion == ANY_MOOD and is_marker_suffix(lang, text):
        pass  # a kaomoji or an ellipsis alone: no sentence of its own (rule marker)
    elif voice.position == "suffix":
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
        endings = PREFIX_ENDINGS[lang] + (ADDRESS_ENDINGS[lang] if emotion == ANY_MOOD else ())
        if not text.endswith(endings):
            stripped = text.rstrip()
            rule = "glued" if stripped[-1:] in _GLUE else "exclamation-prefix"
            out.append((rule, f"prefix must be a label ending with one of {PREFIX_ENDINGS[lang]}"))
        if lang == "en" and re.match(r"[a-z]", text):
            out.append(("casing", "an English prefix starts with a capital"))
        if not voiced_prefix(lang, style, text):
            out.append(("weak-prefix", "a prefix is an action tag, a kaomoji or a label with a voice marker of "
                                       "the style (VOICE_MARKERS); else make it a suffix reacting to the sentence"))
    if _SIMILE[lang].search(text):
        out.append(("simile", f"no simile ({_SIMILE[lang].search(text).group(0)!r}): it reads as nonsense after "
                              "an unrelated sentence"))
    if _COMPARISON[lang].search(text):
        out.append(("comparison", f"no comparison ({_COMPARISON[lang].search(text).group(0)!r}): it reads as "
                                  "nonsense after an unrelated sentence"))
    if _SECOND_PERSON[lang].search(text):
        out.append(("second-person", f"no second person ({_SECOND_PERSON[lang].search(text).group(0)!r}): the "
                                     "poster would be talking to themselves"))
    out += _mood_problems(lang, style, emotion, voice)
    out += tag_problems(lang, emotion, voice)
    if len(text.strip()) > MAX_FRAGMENT_CHARS[lang]:
        out.append(("length", f"longer than {MAX_FRAGMENT_CHARS[lang]} characters"))
    scene = unasked_scene(lang, text)
    if scene:
        out.append(("scene", f"names a scene or situation ({scene!r}): a fragment must fit a sentence set anywhere"))
    for rule, found in (("brackets", unbalanced_bracket(text)), ("doubled", damaged_doubles(text)),
                        ("glyphs", "".join(sorted(glyphs.undrawable(text))))):
        if found:
            out.append((rule, f"{rule}: {found!r}"))
    return out


def is_marker_suffix(lang: str, text: str) -> bool:
    """Whether a suffix is a style marker: a kaomoji alone or an ellipsis alone."""
    return is_kaomoji(text) or text.strip() == ELLIPSES[lang]


def marker_problems(lang: str, style: str, voice: Voice) -> List[Tuple[str, str]]:
    """The rule ``marker`` (module docstring) for a fragment of a mood-neutral cell."""
    text = voice.text.strip()
    if voice.position == "suffix":
        if is_marker_suffix(lang, text):
            return []
        return [("marker", f"a mood-neutral suffix is a kaomoji or {ELLIPSES[lang]!r} alone: a remark after a "
                           "sentence whose mood is unknown may clash with it (put the style in a prefix tag)")]
    out = []
    if text.endswith(ADDRESS_ENDINGS[lang][0].strip()) and (
            text[:-1].strip().lower() not in VOICE_MARKERS.get((lang, style), ())):
        out.append(("marker", "a mood-neutral prefix ending with a comma is one voice marker of the style used as "
                              "an address (家人们，, 'Chat, '), nothing more"))
    words = len(re.findall(r"[一-鿿]", text)) if lang == "zh" else len(re.findall(r"[A-Za-z']+", text))
    if not KAOMOJI.match(text) and words > MARKER_MAX_WORDS[lang]:
        out.append(("marker", f"a mood-neutral prefix is a short tag or label (at most {MARKER_MAX_WORDS[lang]} "
                              f"{'characters' if lang == 'zh' else 'words'}), not a remark"))
    return out


def tag_problems(lang: str, emotion: str, voice: Voice) -> List[Tuple[str, str]]:
    """The rules ``tags`` and ``calm-mood`` (module docstring)."""
    out = []
    unknown = sorted(set(voice.tags) - set(TAGS))
    if unknown:
        out.append(("tags", f"unknown tag(s) {', '.join(unknown)} (known: {', '.join(TAGS)})"))
    for tag, cues in TAG_CUES.items():
        found = cues[lang].search(voice.text)
        if found and tag not in voice.tags:
            out.append(("tags", f"{found.group(0)!r} presupposes {tag}: tag the fragment '{tag}' so restyle keeps it "
                                "off sentences that contradict it"))
    if "calm" in voice.tags and emotion in AROUSED_EMOTIONS:
        out.append(("calm-mood", f"a calming line in a {emotion} cell calms the feeling away: voice it instead"))
    return out


def voiced_prefix(lang: str, style: str, text: str) -> bool:
    """Whether a prefix carries ``style``'s voice: an action tag, a kaomoji, or a voice marker."""
    if _ACTION_TAG[lang].match(text) or KAOMOJI.match(text):
        return True
    low = text.lower()
    return any(re.search(r"(?<![a-z])" + re.escape(m) + r"(?![a-z])", low) if lang == "en" else m in low
               for m in VOICE_MARKERS.get((lang, style), ()))


def _mood_problems(lang: str, style: str, emotion: str, voice: Voice) -> List[Tuple[str, str]]:
    """The rules ``emotion``, ``denies-surprise`` and ``mood-neutral`` (module docstring)."""
    text, out = voice.text, []
    cues = cue_counts(text)
    if emotion == ANY_MOOD:
        if cues.any():
            out.append(("mood-neutral", f"reads as {EMOTIONS[int(np.argmax(cues))]}: a mood-neutral fragment names "
                                        "no emotion"))
        if re.search(r"[!！]", text):
            out.append(("mood-neutral", "no exclamation mark in a mood-neutral fragment"))
        found = PRESUPPOSES[lang].search(text)
        if found:
            out.append(("presupposes", f"{found.group(0)!r} comforts or treasures: a mood-neutral fragment must "
                                       "fit a plain, an annoying and a pleasant sentence alike"))
        return out
    mocks = style == "sarcastic" and emotion in SARCASM_MOCKS
    if not mocks and cues.any() and cues[EMOTIONS.index(emotion)] == 0:
        out.append(("emotion", f"reads as {EMOTIONS[int(np.argmax(cues))]}, not {emotion}"
                               + (" (sarcasm on sincere news keeps its emotion)" if style == "sarcastic" else "")))
    if emotion == "surprise" and _DENIES_SURPRISE[lang].search(text):
        out.append(("denies-surprise", f"{_DENIES_SURPRISE[lang].search(text).group(0)!r} says it was expected"))
    return out


def read_rows(path: Path) -> List[Tuple[int, str, str, str, Voice]]:
    """(line, lang, style, emotion, voice) of every row (the runtime's reader checks the format first)."""
    read_voices(path)
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    rows = []
    for n, line in enumerate(lines, start=2):
        parts = line.split("\t")
        tags = (parse_tags(parts[5]) or frozenset()) if len(parts) > 5 else frozenset()  # read_voices checked them
        rows.append((n, *parts[:3], Voice(parts[3], parts[4], tags)))
    return rows


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
            for emotion in MOODS:
                cell = cells.get((lang, style, emotion), [])
                if emotion == ANY_MOOD:
                    markers = {v.text for v in cell}
                    if len(markers) < MIN_MARKERS:  # distinct, so at least one is more than the ellipsis
                        problems.append(f"{path}: coverage: {lang}/{style}/{emotion} needs >= {MIN_MARKERS} "
                                        "distinct markers, one of them more than an ellipsis")
                elif len({v.text for v in cell if v.position == "suffix"}) < MIN_SUFFIXES:
                    problems.append(f"{path}: coverage: {lang}/{style}/{emotion} needs >= {MIN_SUFFIXES} distinct "
                                    "suffixes")
                for tag in sorted({t for v in cell for t in v.tags}):
                    free = len({v.text for v in cell if v.position == "suffix" and tag not in v.tags})
                    if free < MIN_UNTAGGED:
                        problems.append(f"{path}: coverage: {lang}/{style}/{emotion} has {free} suffixes without tag "
                                        f"{tag}, needs >= {MIN_UNTAGGED} for sentences that contradict it")
                prefixes = sum(v.position == "prefix" for v in cell)
                if prefixes > MAX_PREFIXES:
                    problems.append(f"{path}: prefixes: {lang}/{style}/{emotion} has {prefixes} prefixes, at most "
                                    f"{MAX_PREFIXES} (make the others suffixes)")
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
