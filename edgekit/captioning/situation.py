"""What a scene-less caption may not name (issue #25, "invented scenes 0"): one check for every source.

:func:`unasked_scene` is the check: a taxonomy scene word (:data:`~edgekit.captioning.taxonomy.SCENE_KEYWORDS`)
or a situation word or pattern below. The corpus validator applies the situation half to every
``none`` row (``converters/caption/authored.py``; the scene half it reports as a tag mismatch), the
``source="model"`` Captioner rejects samples that fail it when no scene was asked, and the caption
evaluation (``converters/caption/evaluate.py integrity``) counts the model's captions that fail it.

A ``none`` caption must fit a face in any situation. It names a scene when it puts the face in a
specific situation: a place or room, an event or occasion, an activity the person is doing, an
object or creature that sets up what is happening, a message or phone story, or a clock time or
part of the day that sets the scene ("the dentist's drill", "alone in the elevator", "a gift",
"hair in the sink", "3 a.m.", "深夜", "that text never got a reply").

It does not when it names feelings, body reactions, the face itself, the person it answers
("you", what they said), a generic trigger ("that smell", "that sound", "this"), or an object that
is only a comparison or an image ("老式锅炉", "like an old record", "the moon"). Rules by class:

- Times. Allowed: days relative to the post ("today", "tonight", "last night", "yesterday",
  "这一刻", "今晚", "昨夜"), durations ("all day", "一整天"), and in poetic lines images of light,
  weather and the sky (moonlight, dusk, "blue hour", first snow, 夜色, 黄昏) as images of the
  feeling. Not allowed: clock times (3 a.m., 3am, at 2, o'clock, 早上九点, 三点, 十点半), the
  small hours (深夜, 半夜, 午夜, 凌晨, 清晨, midnight, late at night), "this morning / afternoon
  / evening", "before noon", "tonight at ...", and weekdays (Monday, Saturday and Sunday are the
  taxonomy's work and weekend scenes).
- Messages and phones. Allowed: the meme answering the chat it is posted in, in the first person
  and present ("已读，但不知道回什么", "Read your message. Still thinking about it.", "I had to read
  that three times", "my courage has left the chat"), offers ("call me any time") and phones as
  comparisons ("a rotary phone"). Not allowed: a story about messages or calls, which puts the face
  on its phone in a situation of its own ("that text never got a reply", "typing..." for five
  minutes, sent to the wrong person, 撤回, a voice note, grinning at my phone, waiting by the phone).

The taxonomy's scene keywords are the first half of :func:`unasked_scene`.
:data:`SITUATION_WORDS` are the situation words outside the taxonomy that the 2026-12-07
audit of every ``none`` row found (blind review round 4 flagged the dentist, the stranger's call,
the gift, living alone and the sink): a word here sets a situation wherever it appears; words that
also serve as comparisons (radio, newspaper, cassette, 厕所) are left to the editor. Latin words
match whole words, CJK ones as substrings (``taxonomy.mentions``). :data:`SITUATION_PATTERNS` are
the classes a list cannot enumerate (clock times, the small hours, message stories), added by the
second audit (review round 5 flagged "That text never got a reply."; a code review found 深夜,
半夜 and 早上九点). An editor's read of every ``none`` line remains the check; these catch the
classes found so far.
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Pattern, Tuple

from .taxonomy import match_scene, mentions

SITUATION_WORDS: Dict[str, Tuple[str, ...]] = {
    "zh": (
        # places and rooms
        "牙医", "医生", "医院", "诊所", "电梯", "楼道", "走廊", "洗手池", "洗手间", "卫生间", "浴室",
        "厨房", "卧室", "客厅", "阳台", "宿舍", "食堂", "超市", "商场", "电影院", "一个人住",
        "楼上传来", "邻居", "室友",
        # events, occasions, activities
        "体检", "陌生号码", "收到礼物", "拆礼物", "快递", "停电", "恐怖片", "走夜路", "邮递员", "洗澡", "下班", "上学",
        # objects and creatures that set the situation
        "垃圾桶", "充电器", "煤气", "窗帘", "相册", "藤椅", "蟑螂", "壁虎", "烟雾报警",
        # times that set the scene (clock times and the small hours: SITUATION_PATTERNS)
        "凌晨", "周一", "周二", "周三", "周四", "周五", "末班",
    ),
    "en": (
        # places and rooms
        "dentist", "doctor", "hospital", "clinic", "elevator", "hallway", "bathroom", "in the shower", "toilet",
        "kitchen", "bedroom", "porch", "dorm", "supermarket", "grocery store", "mall", "live alone", "upstairs",
        "neighbor", "neighbors", "roommate",
        # events, occasions, activities
        "check-up", "unknown number", "unwrap", "unwrapped", "power cut", "horror movie", "walking home", "mailman",
        "telegram", "photo album", "morning paper",
        # objects and creatures that set the situation
        "trash can", "garbage can", "garbage truck", "charger", "stove", "smoke alarm", "cockroach",
        "spider", "rocking chair",
        # times that set the scene (clock times and the small hours: SITUATION_PATTERNS)
        "midnight", "tuesday", "wednesday", "thursday", "friday", "last train",
    ),
}

_ZH_NUMBER = "[0-9一二三四五六七八九十两]"
#: Regular expressions of situation classes, matched on the lower-cased text (the match is reported).
SITUATION_PATTERNS: Dict[str, Tuple[str, ...]] = {
    "zh": (
        # the small hours and parts of the day that date the moment
        r"深夜|半夜|午夜|清晨|大清早|一大早",
        # clock times: 早上九点, 下午3点, 三点, 十点半, 12:30 (一点 alone is "a little")
        rf"(?:早上|上午|中午|下午|傍晚|晚上|夜里){_ZH_NUMBER}{{1,3}}点",
        r"(?:[0-9]{1,2}|[两三四五六七八九]|十[一二]?)点|一点(?:半|钟)|[0-9]{1,2}[:：][0-9]{2}",
        r"(?:星期|礼拜)[一二三四五六日天]",
        # message and phone stories (answering the chat the meme is posted in stays allowed: 已读, 收到)
        r"正在输入|发错(?:了)?人|撤回|未接来电|短信|微信|语音消息|朋友圈|聊天记录",
        r"(?:消息|信息)(?:发出去|发过去|一直没回|没回|石沉大海)|(?:没|不)回我|秒回|(?:电话|手机)(?:响|震|打来)|打来电话",
    ),
    "en": (
        # clock times: 3 a.m., 3am, 4 PM, 12:30, at 2 (not "at 100%", "at 3%"), o'clock
        r"\b\d{1,2}(?::\d{2})? ?(?:a\.?m\b\.?|p\.?m\b\.?)",
        r"\b\d{1,2}:\d{2}\b|\bo['’]clock\b",
        r"\bat \d{1,2}(?::\d{2})?(?!\d|\.\d| ?%| ?percent\b|/| ?x\b| ?times\b)",
        # the small hours and parts of the day that date the moment
        r"\b(?:late )?at night\b|\b(?:middle|dead) of (?:the )?night\b|\b(?:wee|small) hours\b",
        r"\bcrack of dawn\b|\bthis (?:morning|afternoon|evening)\b|\b(?:before|by|at|until|till|after|past) "
        r"(?:noon|midday)\b|\b(?:tonight|today|tomorrow) at\b",
        # message and phone stories ("left the chat", "call me any time", "read your message" stay allowed)
        r"\btext(?:s|ed|ing)?\b|\btyping\b|\bunsend\b|\bon read\b|\bunread\b|\binbox\b|\bnotifications?\b",
        r"\bvoice ?(?:note|message|mail)s?\b|\bmissed calls?\b|\bgroup chat\b|\bdm(?:s|'?e?d)?\b|\bemails?\b",
        r"\bmy phone\b|\bby the (?:\w+ )?phone\b|\bphone (?:rang|rings|buzz\w*|lit up)\b|\bwon't ring\b",
        r"\b(?:no|a|any) repl(?:y|ies)\b|\breplied\b|\b(?:sent|send|new) messages?\b|\bmessages? from\b",
        r"\bsent (?:it|that|this) to\b|\bwrong person\b",
        # things of a room as nouns, not the verb or the stage ("let it sink in", "the curtain falls")
        r"\b(?:the|a|my|our|kitchen|bathroom|office) sinks?\b",
        r"\bcurtains\b|\b(?:shower|window|bedroom) curtain\b"
        r"|\b(?:the|a|that|this|my) curtain\b(?! (?:falls|fell|rises|rose|closes|closed|comes|came|call)\b)",
    ),
}
_COMPILED: Dict[str, Tuple[Pattern[str], ...]] = {
    lang: tuple(re.compile(p) for p in patterns) for lang, patterns in SITUATION_PATTERNS.items()}


def situation_word(lang: str, text: str) -> Optional[str]:
    """The first :data:`SITUATION_WORDS` entry of ``lang`` that ``text`` names, else the text of the
    first :data:`SITUATION_PATTERNS` match, or None."""
    low = text.lower()
    word = next((w for w in SITUATION_WORDS.get(lang, ()) if mentions(low, w)), None)
    if word is not None:
        return word
    return next((m.group(0) for p in _COMPILED.get(lang, ()) for m in [p.search(low)] if m), None)


def unasked_scene(lang: str, text: str) -> Optional[str]:
    """The scene a caption asked for without one names, or None: the taxonomy scene whose keyword
    ``text`` mentions (its key), else :func:`situation_word`."""
    named = match_scene(text)
    return named[0] if named else situation_word(lang, text)
