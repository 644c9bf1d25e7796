"""Situation words: what a scene-less (``none``) caption may not name (issue #25, "invented scenes 0").

A ``none`` caption must fit a face in any situation. It names a scene when it puts the face in a
specific situation: a place or room, an event or occasion, an activity the person is doing, an
object or creature that sets up what is happening, or a clock time or part of the day that sets
the scene ("the dentist's drill", "alone in the elevator", "a gift", "hair in the sink", "3am").
It does not when it names feelings, body reactions, the face itself, the person it answers
("you", what they said), a generic trigger ("that smell", "that sound", "this"), "today" /
"这一刻", the chat the meme is posted in (a read receipt, a reply, "typing..."), or an object that
is only a comparison or an image ("老式锅炉", "like an old record", "the moon").

The taxonomy's scene keywords (``edgekit.captioning.taxonomy.SCENE_KEYWORDS``) are checked
already; these are the situation words outside the taxonomy that the 2026-12-07 audit of every
``none`` row found (blind review round 4 flagged the dentist, the stranger's call, the gift,
living alone and the sink). A word here is one that sets a situation wherever it appears; words
that also serve as comparisons (radio, newspaper, cassette, 厕所) are left to the editor. Latin words
match whole words, CJK ones as substrings (``taxonomy.mentions``). The list is partial: a code review
after the audit still found times of day in ``none`` rows (深夜 fear.tsv:110, 半夜 fear.tsv:154, 早上九点
sadness.tsv:168) and English clock times ("3 a.m.") are not listed; an editor's read remains the check.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from edgekit.captioning.taxonomy import mentions

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
        # times that set the scene
        "凌晨", "周一", "周五", "末班",
    ),
    "en": (
        # places and rooms
        "dentist", "doctor", "hospital", "clinic", "elevator", "hallway", "sink", "bathroom", "in the shower", "toilet",
        "kitchen", "bedroom", "porch", "dorm", "supermarket", "grocery store", "mall", "live alone", "upstairs",
        "neighbor", "neighbors", "roommate",
        # events, occasions, activities
        "check-up", "unknown number", "unwrap", "unwrapped", "power cut", "horror movie", "walking home", "mailman",
        "telegram", "photo album", "morning paper",
        # objects and creatures that set the situation
        "trash can", "garbage can", "garbage truck", "charger", "stove", "curtain", "smoke alarm", "cockroach",
        "spider", "rocking chair",
        # times that set the scene
        "3am", "4am", "midnight", "friday", "last train",
    ),
}


def situation_word(lang: str, text: str) -> Optional[str]:
    """The first :data:`SITUATION_WORDS` entry of ``lang`` that ``text`` names, or None."""
    low = text.lower()
    return next((w for w in SITUATION_WORDS.get(lang, ()) if mentions(low, w)), None)
