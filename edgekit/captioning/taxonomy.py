"""Tags of the caption library and the caption model: emotions, styles, scenes, languages.

One source of truth for the corpus generator (``converters.caption``), the tokenizer's control
tokens and the runtime. User-facing names are resolved through aliases (English and Chinese);
unknown values raise :class:`edgekit.errors.ConfigError` listing the valid ones.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Dict, Tuple

from ..errors import ConfigError

#: FER+ column order, same as the emotion model's labels.
EMOTIONS: Tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
STYLES: Tuple[str, ...] = ("plain", "anime", "retro", "sarcastic", "wholesome", "dramatic", "slang", "poetic")
SCENES: Tuple[str, ...] = (
    "party", "work", "exam", "food", "travel", "weekend", "gaming",
    "date", "family", "sports", "rain", "birthday", "pet", "commute",
)
LANGS: Tuple[str, ...] = ("zh", "en")

#: Longest scene text looked at; longer input is truncated before matching.
MAX_SCENE_CHARS = 64

EMOTION_ALIASES: Dict[str, str] = {
    "happy": "happiness", "joy": "happiness", "开心": "happiness", "快乐": "happiness", "高兴": "happiness",
    "surprised": "surprise", "惊讶": "surprise", "sad": "sadness", "难过": "sadness", "伤心": "sadness",
    "angry": "anger", "生气": "anger", "愤怒": "anger", "disgusted": "disgust", "嫌弃": "disgust", "厌恶": "disgust",
    "afraid": "fear", "scared": "fear", "害怕": "fear", "恐惧": "fear", "轻蔑": "contempt", "不屑": "contempt",
    "平静": "neutral", "中性": "neutral", "calm": "neutral",
}
STYLE_ALIASES: Dict[str, str] = {
    "朴素": "plain", "普通": "plain", "二次元": "anime", "kawaii": "anime", "anime-kawaii": "anime", "kaomoji": "anime",
    "复古": "retro", "毒舌": "sarcastic", "snarky": "sarcastic", "治愈": "wholesome", "cozy": "wholesome",
    "中二": "dramatic", "chuunibyou": "dramatic", "网络热梗": "slang", "热梗": "slang", "meme": "slang",
    "internet-slang": "slang", "文艺": "poetic", "poem": "poetic",
}
#: Scene keywords: a scene text matches the first scene whose key or keyword it contains.
SCENE_KEYWORDS: Dict[str, Tuple[str, ...]] = {
    "party": ("party", "gathering", "friends", "hangout", "聚会", "派对", "朋友", "聚餐"),
    "work": ("work", "office", "job", "meeting", "boss", "上班", "工作", "加班", "开会", "老板"),
    "exam": ("exam", "test", "study", "school", "考试", "复习", "学习", "期末"),
    "food": ("food", "dinner", "lunch", "eat", "meal", "hotpot", "美食", "吃", "火锅", "饭"),
    "travel": ("travel", "trip", "vacation", "holiday", "旅行", "旅游", "出游", "度假"),
    "weekend": ("weekend", "saturday", "sunday", "周末", "周六", "周日"),
    "gaming": ("gaming", "game", "games", "游戏", "开黑", "打游戏"),
    "date": ("date", "dating", "crush", "约会", "对象", "恋爱"),
    "family": ("family", "mom", "dad", "parents", "home", "家人", "家里", "爸妈", "过年"),
    "sports": ("sports", "sport", "gym", "run", "football", "basketball", "运动", "健身", "跑步", "球"),
    "rain": ("rain", "rainy", "storm", "下雨", "雨天", "雨"),
    "birthday": ("birthday", "bday", "cake", "生日", "蛋糕"),
    "pet": ("pet", "cat", "dog", "puppy", "kitten", "宠物", "猫", "狗"),
    "commute": ("commute", "subway", "bus", "traffic", "metro", "通勤", "地铁", "公交", "堵车"),
}
LANG_ALIASES: Dict[str, str] = {"cn": "zh", "zh-cn": "zh", "zh_cn": "zh", "chinese": "zh", "中文": "zh", "english": "en", "en-us": "en"}

_WORD = re.compile(r"[a-z]+|[^\sa-z]+")


def _key(value: object) -> str:
    return str(value).strip().lower()


def _resolve(value: object, valid: Tuple[str, ...], aliases: Dict[str, str], what: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"unknown {what} (expected a string)", subject=repr(value), hint=f"Valid {what}s: {', '.join(valid)}")
    key = _key(value)
    if key in valid:
        return key
    if key in aliases:
        return aliases[key]
    raise ConfigError(f"unknown {what}", subject=repr(value)[:80], hint=f"Valid {what}s: {', '.join(valid)}")


def resolve_emotion(value: object) -> str:
    """Canonical emotion name for a label or alias (``"happy"`` -> ``"happiness"``)."""
    return _resolve(value, EMOTIONS, EMOTION_ALIASES, "emotion")


def resolve_style(value: object) -> str:
    """Canonical style name for a style key or alias (``"二次元"`` -> ``"anime"``)."""
    return _resolve(value, STYLES, STYLE_ALIASES, "style")


def resolve_lang(value: object) -> str:
    """Canonical language code (``"zh"`` or ``"en"``)."""
    return _resolve(value, LANGS, LANG_ALIASES, "language")


def sanitize_text(value: str, max_chars: int = MAX_SCENE_CHARS) -> str:
    """NFKC-normalise, drop control/format/unassigned/surrogate characters, collapse spaces, truncate."""
    text = unicodedata.normalize("NFKC", value[: max_chars * 4])
    kept = "".join(ch if unicodedata.category(ch)[0] not in "CZ" else " " for ch in text)
    return " ".join(kept.split())[:max_chars]


def resolve_scene(value: object) -> str:
    """Canonical scene for a scene key or free text such as ``"friends' party"`` or ``"和朋友聚会"``.

    The text is sanitised and truncated to :data:`MAX_SCENE_CHARS` first; text matching no scene
    raises ConfigError listing the valid scenes.
    """
    if not isinstance(value, str):
        raise ConfigError("unknown scene (expected a string)", subject=repr(value)[:80], hint=f"Valid scenes: {', '.join(SCENES)}")
    text = sanitize_text(value).lower()
    if text in SCENES:
        return text
    words = set(_WORD.findall(text))
    for scene, keywords in SCENE_KEYWORDS.items():
        for kw in (scene,) + keywords:
            if (kw.isascii() and kw in words) or (not kw.isascii() and kw in text):
                return scene
    raise ConfigError(
        "unknown scene (no scene keyword found)", subject=repr(text)[:80],
        hint=f"Valid scenes: {', '.join(SCENES)} (or free text containing one of their keywords)",
    )


def has_cjk(text: str) -> bool:
    """True when ``text`` contains a CJK unified ideograph."""
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)


def language_of(text: str) -> str:
    """``"zh"`` when the text has CJK ideographs, else ``"en"``."""
    return "zh" if has_cjk(text) else "en"
