"""Emotion cue words of everyday sentences, with negation: the evidence :meth:`Captioner.tags_of`
adds to the caption-trained naive Bayes (:mod:`~edgekit.captioning.textemotion`).

The naive Bayes learns from meme captions, so plain sentences people write fool it: "期末考砸了，
心里好难受" came out happy, "Bombed my exam and I feel awful" happy, "it was so good"
disgusted. Cue words are the common words and phrases that carry an emotion in a personal post, in
both languages. Matching is longest first, so a phrase owns the words inside it ("不开心" is
sadness, not the "开心" in it); a cue right after a negator ("not", "never", "n't" within three
words of the same clause; "不", "没", "别" ... adjacent) is not counted, and :data:`NEGATED` lists
the words whose negation carries an emotion of its own ("wasn't clean": disgust, "不公平": anger).
A negation's scope ends at punctuation ("No cap, best day ever", "No joke, I passed!"), and
intensified forms negate nothing (:data:`INTENSIFIED`: "never been so happy", "could not stop
laughing", "no cap"; Chinese "不要太开心" and "无比开心" are not negations either, since only the
negator or one of its softeners may stand right before the cue). English cues are whole words (a
trailing ``*`` allows any ending); Chinese cues are substrings.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Dict, List, Tuple

import numpy as np

from ..labels import EMOTIONS

CUES: Dict[str, Tuple[str, ...]] = {
    "neutral": (
        "as usual", "nothing special", "nothing much", "just another", "ordinary",
        "normal day", "same as always", "same old", "routine", "okay i guess", "not much", "meh",
        "普通", "平常", "照常", "日常", "老样子", "没什么特别", "没啥特别", "没啥事", "没什么事", "还行", "就这样",
        "一般般", "平平淡淡", "随便",
    ),
    "happiness": (
        "happy", "glad", "yay", "love it", "loved it", "love this", "i love", "so good", "so great", "great day",
        "amazing", "awesome", "best day", "made my day", "finally", "can't wait", "cant wait", "excited",
        "delicious", "tasty", "yummy", "proud", "celebrat*", "passed", "nailed", "won", "thank you", "thanks",
        "grateful", "fun", "enjoy*", "perfect", "wonderful", "lovely", "nice", "blessed", "thrilled", "woohoo",
        "best", "cozy", "smil*", "laugh*", "hooray", "so much fun", "i feel great", "开心", "高兴", "快乐", "幸福",
        "太好了", "好耶", "终于", "好吃", "好喝", "好看", "好玩", "喜欢", "爱了", "满足", "舒服", "美滋滋", "哈哈",
        "太棒", "真棒", "赢了", "通过了", "考上", "升职", "加薪", "放假", "庆祝", "谢谢", "感谢", "期待", "嘴角",
        "真香", "值了", "治愈", "心心念念", "成功", "得意", "甜", "满意", "惬意", "嘿嘿",
    ),
    "surprise": (
        "wow", "whoa", "omg", "no way", "can't believe", "cant believe", "couldn't believe", "didn't expect",
        "did not expect", "out of nowhere", "suddenly", "surprise*", "shocked", "speechless", "who knew",
        "plot twist", "unexpected*", "turns out", "just found out", "out of the blue", "wait what", "stunned",
        "astonish*", "jaw dropped", "居然", "竟然", "突然", "没想到", "想不到", "猜不到", "震惊", "惊呆",
        "不敢相信", "不信", "天哪", "天呐", "我的天", "愣住", "意外", "惊喜", "怎么回事", "什么情况", "惊讶",
        "吃惊",
    ),
    "sadness": (
        "sad", "feeling down", "feel down", "so down", "down today", "cry", "crying", "cried", "tears", "miss",
        "missing", "lonely", "alone", "heartbroken", "broke up", "breakup", "passed away", "died", "lost",
        "feel awful", "feel terrible", "felt awful", "rough day", "bad day", "hurts", "depressed", "exhausted",
        "failed", "bombed", "didn't make it", "didn't work", "still didn't", "nobody remembered",
        "no one remembered", "nobody cares", "no one cares", "gave up", "sigh", "disappointed", "regret",
        "never got to", "heavy heart", "sucks", "gone", "heartbreak*", "grief", "funeral", "miserable", "upset",
        "devastated", "unhappy", "难过", "伤心", "难受", "想哭", "哭", "心酸", "失落", "遗憾", "孤单", "孤独",
        "一个人", "没人记得", "没人理", "没人陪", "分手", "分开了", "去世", "走了", "挂科", "考砸", "砸了", "失败",
        "没成", "白费", "心累", "丧", "emo", "破防", "委屈", "不开心", "唉", "可惜", "想家", "失眠", "没过",
        "没通过", "差一点", "没赶上", "错过", "心碎", "眼泪", "悲伤", "郁闷", "沮丧", "绝望",
    ),
    "anger": (
        "angry", "mad", "furious", "pissed", "annoying", "annoyed", "hate", "can't stand", "on purpose",
        "cut in line", "cut in front", "rude", "ridiculous", "how dare", "won't stop", "keeps", "ignored", "yelled",
        "ripped off", "scam*", "fed up", "sick of", "ruined", "unfair", "seriously", "wtf", "so annoying",
        "irritat*", "outrageous", "livid", "rage", "infuriat*", "unacceptable", "disrespect*", "生气", "气死",
        "气炸", "火大", "烦死", "好烦", "真烦", "讨厌", "凭什么", "故意", "插队", "又被", "无语", "受够", "过分",
        "骂", "吵", "放鸽子", "鸽了", "坑", "送人头", "甩锅", "抢功", "血压", "可恶", "岂有此理", "愤怒", "恼火",
        "忍无可忍", "欺负",
    ),
    "disgust": (
        "gross", "disgusting", "ew", "eww", "yuck", "nasty", "smell*", "stink*", "sticky", "dirty", "filthy",
        "hair in", "rotten", "spit", "threw up", "vomit*", "puke*", "mold*", "greasy", "slimy", "poop*",
        "cringe", "ick", "sweaty", "unwashed", "revolting", "vile", "sickening", "grimy", "cockroach*", "maggot*",
        "恶心", "呕", "吐了", "好脏", "太脏", "真脏", "脏兮兮", "脏死", "臭", "难闻", "吃出", "虫子", "发霉", "馊",
        "油腻", "黏", "吐痰", "辣眼睛", "下头", "yue", "拉屎", "便便", "呕吐", "口水", "异味", "反胃", "嫌弃",
        "蟑螂", "老鼠", "邋遢",
    ),
    "fear": (
        "scared", "afraid", "terrified", "nervous", "anxious", "worried", "worry", "panic*", "freaking out",
        "creepy", "spooky", "thunder", "shaking", "sweating", "heart racing", "nightmare", "what if",
        "dread*", "scary", "makes me jump", "haven't opened", "haven't studied", "alone at night", "footsteps",
        "frighten*", "horror", "spooked", "uneasy", "shiver*", "trembl*", "怕", "吓", "紧张", "慌", "担心", "焦虑",
        "不敢", "发抖", "腿软", "手心出汗", "噩梦", "黑漆漆", "打雷", "闪电", "没复习", "完蛋", "救命",
        "毛骨悚然", "恐怖", "阴森", "瘆人", "不安", "吓人",
    ),
    "contempt": (
        "some people", "acting like", "act like", "pretend*", "show off", "showing off", "brag*", "talks big",
        "big talk", "who asked", "yeah right", "clown", "so-called",
        "try-hard", "typical", "pathetic", "lame", "amateur*", "overrated", "eye roll", "pfft", "so basic",
        "有的人", "有些人", "装懂", "假装", "装作", "吹牛", "炫耀", "画饼", "谁信", "就这", "呵呵", "得了吧",
        "说得好听", "摆拍", "凡尔赛", "还好意思", "自以为", "不过如此", "也就那样", "攀比", "显摆", "不屑", "鄙视",
        "可笑", "装模作样", "小丑",
    ),
}

#: Words whose negation carries an emotion ("wasn't clean": disgust; "不公平": anger).
NEGATED: Dict[str, str] = {
    "clean": "disgust", "fresh": "disgust", "fair": "anger", "happy": "sadness", "okay": "sadness",
    "ok": "sadness", "good": "sadness",
    "干净": "disgust", "新鲜": "disgust", "公平": "anger", "成功": "sadness", "开心": "sadness",
    "高兴": "sadness", "好吃": "disgust", "好喝": "disgust",
}

#: The words of an English negator's scope up to the cue: up to two words, spaces only (punctuation
#: ends the scope).
_EN_NEGATOR = re.compile(r"(?:\b(?:not|no|never|without|hardly|barely|nobody|nothing)\b|n't|n’t)"
                         r"((?:\s+[\w'’]+){0,2})\s+$")
#: Words after a negator that make an intensifier of it, not a negation of the cue: "could not stop
#: laughing", "can't help smiling", "no cap", "no joke", "never been so happy", "never felt this
#: excited", "not been this excited".
INTENSIFIED = re.compile(r"\s+(?:stop|help|cap|joke|kidding|lie|doubt)\b"
                         r"|\s+(?:been|felt|be)\s+(?:so|this|that|more)\s*$")
_ZH_NEGATOR = re.compile(r"(?:不|没有?|别|未|无)(?:太|怎么|那么|很|是很|是太|有|再|在)?$")
_LATIN = re.compile(r"[a-z]")


def _pattern(cue: str) -> re.Pattern:
    """A cue as a regex: English cues are whole words (``*`` = any ending), Chinese ones substrings."""
    if not _LATIN.search(cue):
        return re.compile(re.escape(cue))
    body = re.escape(cue[:-1]) + r"[a-z'’]*" if cue.endswith("*") else re.escape(cue)
    start = r"(?<![a-z'’])" if cue[:1].isalpha() else ""
    end = r"(?![a-z'’])" if cue[-1:].isalpha() or cue.endswith("*") else ""
    return re.compile(start + body + end)


@lru_cache(maxsize=1)
def _table() -> List[Tuple[re.Pattern, int, bool]]:
    """(pattern, emotion index, negation-emotion cue) sorted longest cue first."""
    rows = [(cue, EMOTIONS.index(emotion), False) for emotion, cues in CUES.items() for cue in cues]
    rows += [(word, EMOTIONS.index(emotion), True) for word, emotion in NEGATED.items()]
    rows.sort(key=lambda r: -len(r[0].rstrip("*")))
    return [(_pattern(cue), k, negation) for cue, k, negation in rows]


def negated(text: str, start: int) -> bool:
    """Whether the word at ``start`` follows a negator (English: within 3 words of the same clause,
    not an :data:`INTENSIFIED` form; Chinese: adjacent)."""
    before = text[max(0, start - 30):start]
    if not _LATIN.search(text[start:start + 1]):
        return bool(_ZH_NEGATOR.search(before))
    m = _EN_NEGATOR.search(before)
    return bool(m) and not INTENSIFIED.match(m.group(1))


def cue_counts(text: str) -> np.ndarray:
    """Cue hits per emotion (:data:`~edgekit.labels.EMOTIONS` order) in ``text``: longest match first,
    each character counted once; a negated cue counts only when :data:`NEGATED` gives its emotion."""
    low = text.lower()
    taken = np.zeros(len(low) + 1, bool)
    counts = np.zeros(len(EMOTIONS))
    for pattern, k, negation in _table():
        for m in pattern.finditer(low):
            if taken[m.start():m.end()].any() or negated(low, m.start()) != negation:
                continue
            taken[m.start():m.end()] = True
            counts[k] += 1
    return counts
