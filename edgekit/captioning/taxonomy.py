"""Tags of the caption library and the caption model: emotions, styles, scenes, languages.

One source of truth for the corpus generator (``converters.caption``), the tokenizer's control
tokens and the runtime. User-facing names are resolved through aliases (English and Chinese);
unknown values raise :class:`edgekit.errors.ConfigError` listing the valid ones.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ..errors import ConfigError
from ..labels import EMOTIONS

STYLES: Tuple[str, ...] = ("plain", "anime", "retro", "sarcastic", "wholesome", "dramatic", "slang", "poetic")
SCENES: Tuple[str, ...] = (
    "party", "work", "exam", "food", "travel", "weekend", "gaming",
    "date", "family", "sports", "rain", "birthday", "pet", "commute",
)
LANGS: Tuple[str, ...] = ("zh", "en")
#: The scene tag of captions that name no scene: what ``scene=None`` asks for.
NO_SCENE = "none"

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
#: Scene keywords, most specific scenes first: a scene text matches the first scene with a keyword
#: in it (Latin keywords as whole words, CJK ones as substrings).
SCENE_KEYWORDS: Dict[str, Tuple[str, ...]] = {
    "birthday": ("birthday", "bday", "cake", "candles", "生日", "蛋糕", "蜡烛"),
    "pet": ("pet", "cat", "dog", "puppy", "kitten", "vet", "zoomies", "宠物", "猫", "狗", "毛孩子"),
    "date": ("date", "dating", "crush", "movie night", "约会", "对象", "恋爱", "见面", "看电影"),
    "family": ("family", "mom", "dad", "parents", "holidays", "和家人", "家里", "家庭", "爸妈", "过年"),
    "commute": ("commute", "subway", "bus", "traffic", "metro", "train", "rush hour",
                "通勤", "地铁", "公交", "堵车", "早高峰", "晚高峰"),
    "rain": ("rain", "rainy", "downpour", "umbrella", "下雨", "雨天", "大雨", "雨夜", "下着雨"),
    "gaming": ("gaming", "game night", "games", "ranked", "final boss", "游戏", "开黑", "排位"),
    "sports": ("sports", "sport", "gym", "the run", "running", "football", "basketball", "last minute", "运动", "健身",
               "跑步", "跑完步", "球赛", "打球"),
    "exam": ("exam", "test", "study", "studying", "school", "grades",
             "考试", "复习", "学习", "期末", "成绩", "交卷"),
    "work": ("work", "office", "job", "meeting", "boss", "overtime", "monday",
             "上班", "工作", "加班", "开会", "老板", "工位"),
    "travel": ("travel", "trip", "vacation", "ocean", "airport",
               "旅行", "旅游", "出游", "度假", "旅途", "看到海", "机场"),
    "weekend": ("weekend", "saturday", "sunday", "my day off", "周末", "周六", "周日", "休息日"),
    "food": ("food", "dinner", "lunch", "eat", "meal", "hotpot", "snacks", "bubble tea", "delivery",
             "美食", "吃", "火锅", "吃饭", "烧烤", "奶茶", "外卖", "这顿饭"),
    "party": ("party", "gathering", "friends", "hangout", "get-together", "wedding",
              "聚会", "派对", "朋友", "聚餐", "的局", "婚礼", "喜酒"),
}
#: Keywords of one scene that exclude each other: a request naming one ("我家猫") never gets a
#: caption naming another of the same scene (a dog), and captions naming it are preferred.
SPECIFICS: Dict[str, Tuple[Tuple[str, ...], ...]] = {
    "pet": (("cat", "cats", "kitten", "猫"), ("dog", "dogs", "puppy", "狗")),
    "food": (("hotpot", "火锅"), ("bubble tea", "奶茶"), ("barbecue", "bbq", "烧烤")),
    "sports": (("football", "soccer", "足球"), ("basketball", "篮球"), ("running", "the run", "跑步", "跑完步")),
}
LANG_ALIASES: Dict[str, str] = {"cn": "zh", "zh-cn": "zh", "zh_cn": "zh", "chinese": "zh", "中文": "zh",
                                "english": "en", "en-us": "en"}

def _key(value: object) -> str:
    return str(value).strip().lower()


def _resolve(value: object, valid: Tuple[str, ...], aliases: Dict[str, str], what: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"unknown {what} (expected a string)", subject=repr(value),
                          hint=f"Valid {what}s: {', '.join(valid)}")
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


def sanitize_text(value: str, max_chars: int = MAX_SCENE_CHARS, form: str = "NFKC") -> str:
    """Normalise (NFKC for matching; NFC keeps a person's own characters, e.g. the full-width
    ，of Chinese text), drop control/format/unassigned/surrogate characters, collapse spaces, truncate."""
    text = unicodedata.normalize(form, value[: max_chars * 4])
    kept = "".join(ch if unicodedata.category(ch)[0] not in "CZ" else " " for ch in text)
    return " ".join(kept.split())[:max_chars]


def mentions(text: str, keyword: str) -> bool:
    """Whether lower-cased ``text`` names ``keyword`` (Latin keywords as whole words, CJK ones as substrings)."""
    return bool(re.search(rf"(?<![a-z]){re.escape(keyword)}(?![a-z])", text)) if keyword.isascii() else keyword in text


def match_scene(text: str) -> Optional[Tuple[str, str]]:
    """``(scene, keyword)`` of the first scene whose name or keyword ``text`` mentions, or None."""
    low = text.lower()
    for scene, keywords in SCENE_KEYWORDS.items():
        for kw in (scene,) + keywords:
            if mentions(low, kw):
                return scene, kw
    return None


def specific_group(scene: Optional[str], text: str) -> Optional[Tuple[str, ...]]:
    """The :data:`SPECIFICS` group of ``scene`` that ``text`` names, or None."""
    low = text.lower()
    return next((g for g in SPECIFICS.get(scene or "", ()) if any(mentions(low, kw) for kw in g)), None)


def resolve_scene(value: object) -> str:
    """Canonical scene for a scene key or free text such as ``"friends' party"`` or ``"和朋友聚会"``.

    The text is sanitised and truncated to :data:`MAX_SCENE_CHARS` first; text matching no scene
    raises ConfigError listing the valid scenes (:func:`scene_request` accepts any text instead).
    """
    if not isinstance(value, str):
        raise ConfigError("unknown scene (expected a string)", subject=repr(value)[:80],
                          hint=f"Valid scenes: {', '.join(SCENES)}")
    text = sanitize_text(value).lower()
    if text in SCENES:
        return text
    found = match_scene(text)
    if found:
        return found[0]
    raise ConfigError(
        "unknown scene (no scene keyword found)", subject=repr(text)[:80],
        hint=f"Valid scenes: {', '.join(SCENES)} (or free text containing one of their keywords)",
    )


@dataclass(frozen=True)
class SceneRequest:
    """A scene as a user asked for it.

    ``key`` is the taxonomy scene the captions are conditioned on (None: no scene words at all);
    ``text`` is the sanitised request; ``group`` the :data:`SPECIFICS` group it names (``"我家猫"``:
    the cat words), so captions keep that specific.
    """

    key: Optional[str]
    text: Optional[str] = None
    group: Optional[Tuple[str, ...]] = None


def scene_request(value: object) -> SceneRequest:
    """Any scene a person types: a scene key, free text naming one (``"我家猫"`` -> pet, cat kept),
    free text naming none (``"周末去看展"`` without a keyword -> a caption with no scene words), or
    None (no scene). Only a non-string raises ConfigError."""
    if value is None:
        return SceneRequest(None)
    if not isinstance(value, str):
        raise ConfigError("unknown scene (expected a string)", subject=repr(value)[:80],
                          hint=f"Valid scenes: {', '.join(SCENES)}")
    text = sanitize_text(value)
    if text.lower() in SCENES:
        return SceneRequest(text.lower(), text)
    found = match_scene(text)
    if found is None:
        return SceneRequest(None, text or None)
    return SceneRequest(found[0], text, specific_group(found[0], text))


def has_cjk(text: str) -> bool:
    """True when ``text`` contains a CJK unified ideograph."""
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)


def language_of(text: str) -> str:
    """``"zh"`` when the text has CJK ideographs, else ``"en"``."""
    return "zh" if has_cjk(text) else "en"
