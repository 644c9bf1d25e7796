"""What a voice fragment presupposes about the sentence, and what a sentence says: so restyle never
attaches a fragment the sentence contradicts (blind review round 8: a look-back line on a trip not yet
begun, a don't-look line on a smell, a calming line on excitement).

A fragment of ``voices.tsv`` may carry tags (:data:`TAGS`, the optional ``tags`` column):

- ``past``: it looks back on something over and done ("Saving this moment forever.", "The curtain falls in
  silence.", 写进日记本, 那些年啊，回不去了); contradicted by a *prospective* sentence, one that names a time or
  plan ahead (明天, 下周, 要去, 准备, 打算, 等不及; tomorrow, next week, going to, will, I'll, can't wait) and no
  time gone by (昨天, 刚才, 上周, 三天前/之前 after a time amount or opening a clause, not 出发之前;
  yesterday, last night, ago); "will" counts after a pronoun or before a verb of :data:`_WILL_VERBS`
  (not "Will called me", "free will");
- ``sight``, ``sound``, ``smell``: it is about seeing, hearing or smelling (辣眼睛, "my eyes",
  看得老花镜都歪了); contradicted by a sentence that names another of the senses (sight, sound, smell,
  taste) and not this one: a smell gets no "don't look at it";
- ``calm``: it calms the feeling down or accepts the event as it is (慢慢来，一切刚刚好, 笑笑就过去了,
  "It is what it is", "Alas, such is my cursed fate"); contradicted by an *aroused* sentence: an exclamation mark,
  a word in capitals, a stretched word ("sooo", 啊啊啊), a booster of the emotion lexicon (死了, 爆了,
  "af"), an urgent word (can't wait, 等不及, 受不了, 居然) or a cue word of a high-arousal emotion
  (:data:`AROUSED_EMOTIONS`, any weight: the reading may still be uncertain).

:func:`sentence_features` reads a sentence's features cheaply (word lists and the emotion lexicon's
scan); :func:`clashes` names the tags of a fragment the features contradict. Restyle picks among the
cell's fragments that clash with nothing and, when every fragment of the cell clashes, among those
that clash least (:meth:`edgekit.captioning.voices.Voices.candidates`), so the result still carries
the style and the cell's mood.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import FrozenSet, Iterable, Tuple

from .emotioncues import MODIFIER_KINDS, scan
from ..textunits import units

#: The tags a fragment may carry.
TAGS = ("past", "sight", "sound", "smell", "calm")
SENSES = ("sight", "sound", "smell", "taste")
#: Emotions whose cue words make a sentence aroused (a calming fragment flattens them).
AROUSED_EMOTIONS = ("happiness", "surprise", "anger", "disgust", "fear")

#: "will" is a time ahead only after a pronoun ("I will go again") or before one of these words ("will be
#: there"), so the name and the noun are not ("Will called me", "free will"); a plain rule, not a parser.
_WILL_VERBS = ("be|have|go|come|get|see|meet|make|take|try|start|leave|fly|visit|finally|never|always|not|"
               "probably|definitely|still|soon|need|do|keep|call|tell|find|bring|stay|move|join|head")
_FUTURE = {
    "zh": re.compile(r"明天|明早|明晚|后天|下周|下星期|下个月|下个星期|明年|周末[要去就]|过几天|改天|回头[再要]|"
                     r"准备[去要出开]|打算|计划[去要着]|即将|马上就?要|快要|就要|将要|等不及|迫不及待|期待|倒计时|"
                     r"要去|要出发|要开始|要考|要见|要做|要当|要上|要飞|还没(?:开始|出发)"),
    "en": re.compile(r"\btomorrow\b|\bnext (?:week|month|year|time|weekend|monday|tuesday|wednesday|"
                     r"thursday|friday|saturday|sunday)\b|\bthis (?:weekend|coming)\b|\bgoing to\b|\bgonna\b|"
                     r"\b(?:i|you|we|they|he|she|it|this|that|there|who)\s+will\b|\bwill\s+(?:" + _WILL_VERBS + r")\b|"
                     r"\b\w+(?:'|’)ll\b|\babout to\b|\bcan(?:'|’)?t wait\b|\bcannot wait\b|\blooking forward\b|"
                     r"\bupcoming\b|\bplan(?:ning)? to\b|\bin \w+ (?:days|hours|weeks)\b|\bcountdown\b|"
                     r"\bsoon\b|\bleaving for\b|\bheading (?:to|out)\b|\bgetting ready\b|"
                     r"\b(?:leaving|flying|heading|moving|starting)\b[^.!?]*\b(?:this|next|on) "
                     r"(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|\b(?:leaving|flying out) "
                     r"(?:mon|tues|wednes|thurs|fri|satur|sun)day\b", re.I),
}
_PAST_TIME = {
    "zh": re.compile(r"昨天|昨晚|昨儿|前天|刚才|刚刚|上周|上星期|上个月|去年|那天|当时|那时|"
                     r"(?:(?:^|[，。！？；：,.!?;:\s])|(?:[一二三四五六七八九十百两几半多\d]+个?(?:秒钟?|分钟|小时|天|日|周|"
                     r"星期|礼拜|月|年|辈子)|很久|好久|不久|多年))(?:以前|之前)"),
    "en": re.compile(r"\byesterday\b|\blast (?:night|week|month|year|time|weekend)\b|\bago\b|\bearlier today\b|"
                     r"\bthis morning\b|\bback then\b|\bused to\b", re.I),
}
_SENSE_WORDS = {
    "zh": {"sight": re.compile(r"看|眼|瞧|盯|见到|视频|照片|画面|颜色|长相|穿搭"),
           "sound": re.compile(r"听|声|吵|噪音|响|耳|唱|歌|音乐|喇叭"),
           "smell": re.compile(r"闻|臭|香味|气味|味道|味儿|异味|熏|烟味|汗味"),
           "taste": re.compile(r"吃|喝|尝|口感|咸|甜|辣|酸|苦|好吃|难吃")},
    "en": {"sight": re.compile(r"\b(?:see|saw|seen|seeing|look\w*|watch\w*|sight|view\w*|photo\w*|pic\w*|video\w*|"
                               r"eyes?|stare\w*|glance\w*)\b", re.I),
           "sound": re.compile(r"\b(?:hear\w*|heard|sound\w*|noise\w*|noisy|loud\w*|listen\w*|music|song\w*|"
                               r"sing\w*|ears?|scream\w*|bang\w*|footsteps?|ring\w*|beep\w*)\b", re.I),
           "smell": re.compile(r"\b(?:smell\w*|stink\w*|stank|stench|odou?r\w*|reek\w*|whiff|fumes?|scent\w*|"
                               r"sniff\w*)\b", re.I),
           "taste": re.compile(r"\b(?:tast\w*|flavou?r\w*|ate|eat\w*|drink\w*|drank|sip\w*|bite|bit|chew\w*|"
                               r"delicious|bland|salty|sour)\b", re.I)},
}
_URGENT = {
    "zh": re.compile(r"等不及|迫不及待|受不了|忍不了|气死|烦死|吓死|救命|天哪|天啊|我靠|居然|竟然|简直|"
                     r"又双叒|啊啊|哈哈哈"),
    "en": re.compile(r"\bcan(?:'|’)?t (?:wait|stand|believe|even)\b|\bcannot (?:wait|stand|believe)\b|\bomg\b|"
                     r"\boh my god\b|\bwtf\b|\bunbearable\b|\bscreaming\b|\bfreaking\b|([a-z])\1{2,}",
                     re.I),
}
_CAPS = re.compile(r"\b[A-Z]{3,}\b")
#: Capitals that are names, not shouting.
_ACRONYMS = frozenset(("NASA", "USA", "CEO", "DIY", "BTS", "ASAP", "LOL", "OMG", "WIFI", "USB", "TV", "ATM"))


@lru_cache(maxsize=512)
def sentence_features(text: str, lang: str) -> FrozenSet[str]:
    """The features of ``text`` fragments may clash with: ``prospective``, ``retrospective``, the
    senses it names (:data:`SENSES`) and ``aroused`` (module docstring)."""
    key = "zh" if lang == "zh" else "en"
    found = set()
    future, past = _FUTURE[key].search(text), _PAST_TIME[key].search(text)
    if future and not past:
        found.add("prospective")
    if past:
        found.add("retrospective")
    found.update(sense for sense, words in _SENSE_WORDS[key].items() if words.search(text))
    if _aroused(text, key):
        found.add("aroused")
    return frozenset(found)


def _aroused(text: str, lang: str) -> bool:
    if re.search(r"[!！]", text) or _URGENT[lang].search(text):
        return True
    if any(w not in _ACRONYMS for w in _CAPS.findall(text)):
        return True
    for hit, negation in scan(units(text)):
        label = hit.entries[0].label
        if label == "booster" or (label not in MODIFIER_KINDS and negation is None
                                  and any(e.label in AROUSED_EMOTIONS and not e.negated_only for e in hit.entries)):
            return True
    return False


def clashes(tags: Iterable[str], features: FrozenSet[str]) -> Tuple[str, ...]:
    """The tags of a fragment that ``features`` (:func:`sentence_features`) contradict."""
    out = []
    named = features & set(SENSES)
    for tag in tags:
        if ((tag == "past" and "prospective" in features)
                or (tag in SENSES and named and tag not in named)
                or (tag == "calm" and "aroused" in features)):
            out.append(tag)
    return tuple(out)
