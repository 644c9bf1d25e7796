"""Chinese doubled words and idioms that must stay whole.

A character-level caption model can lose one half of a reduplication (平平无奇 -> 平无奇,
瑟瑟发抖 -> 瑟发抖). The captioner rejects a sample that holds such a damaged form and draws
another; the corpus validator (``converters.caption.authored``) refuses corpus lines with one.
"""
from __future__ import annotations

from typing import Iterable, Optional, Tuple

#: Chinese words and idioms with a doubled character that decoding used to damage; extend freely.
DOUBLED_WORDS: Tuple[str, ...] = (
    "平平无奇", "瑟瑟发抖", "悄悄", "胆战心惊", "开开心心", "高高兴兴", "快快乐乐", "哈哈", "嘻嘻", "呜呜", "嘿嘿",
    "乖乖", "慢慢", "默默", "偷偷", "稳稳", "满满", "甜甜", "软软", "暖暖", "轻轻", "静静", "刚刚", "天天", "常常",
    "渐渐", "统统", "明明", "好好", "乐乐", "萌萌", "美美", "乐呵呵", "笑嘻嘻", "气鼓鼓", "傻乎乎", "慢吞吞",
    "懒洋洋", "眼巴巴", "空荡荡", "乱糟糟", "亮晶晶", "暖洋洋", "热乎乎", "冷冰冰", "白茫茫", "黑乎乎", "兴冲冲",
    "气呼呼", "泪汪汪", "急匆匆", "蹦蹦跳跳", "干干净净", "整整齐齐", "认认真真", "安安静静", "平平安安", "简简单单",
    "明明白白", "清清楚楚", "马马虎虎", "大大方方", "小心翼翼", "兢兢业业", "滔滔不绝", "津津有味", "忧心忡忡",
    "恋恋不舍", "栩栩如生", "井井有条", "念念不忘", "心心念念", "碌碌无为", "步步高升", "蒸蒸日上", "欣欣向荣",
    "生生不息", "息息相关", "彬彬有礼", "楚楚可怜", "面面相觑", "振振有词", "跃跃欲试", "昏昏欲睡", "摇摇欲坠",
    "头头是道", "洋洋得意", "喜气洋洋", "得意洋洋", "人山人海", "自言自语", "无忧无虑", "一五一十",
)


def damaged_doubles(text: str, words: Iterable[str] = DOUBLED_WORDS) -> Optional[str]:
    """A listed doubled word that appears in ``text`` with one of its doubled characters lost
    (平无奇 for 平平无奇) while the whole word is absent; None when there is none."""
    for word in words:
        if word in text:
            continue
        for i in range(len(word) - 1):
            if word[i] == word[i + 1]:
                broken = word[:i] + word[i + 1:]
                # a 1-2 character leftover (悄 of 悄悄, 乐呵 of 乐呵呵) is a word of its own: too common to judge
                if len(broken) >= 3 and broken in text:
                    return word
    return None


__all__ = ["DOUBLED_WORDS", "damaged_doubles"]
