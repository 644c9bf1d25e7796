"""What a scene-less caption may not name (edgekit/captioning/situation.py): the situation words and
patterns, and the one check (taxonomy scene words + situation) that the model's sample check, the
caption evaluation and the corpus validator share."""
from __future__ import annotations

import pytest

from edgekit.captioning import Captioner
from edgekit.captioning.situation import SITUATION_WORDS, situation_word, unasked_scene
from edgekit.captioning.taxonomy import scene_request


def test_situation_words_match_latin_as_whole_words_in_any_case():
    assert situation_word("en", "Alone in the ELEVATOR, grinning") == "elevator"
    assert situation_word("en", "Elevator music energy") == "elevator"
    assert situation_word("en", "My worries are sinking like stones") is None  # "sink" only as a whole word
    assert situation_word("zh", "半夜三点，凌晨的风") == "凌晨" and situation_word("fr", "dentist") is None
    for lang, words in SITUATION_WORDS.items():
        assert len(set(words)) == len(words) and all(w == w.lower().strip() for w in words), lang


@pytest.mark.parametrize("lang,text,found", [
    # clock times and the small hours
    ("zh", "读者来信：深夜总听见怪声", "深夜"), ("zh", "坏消息：现在才早上九点。", "早上九点"),
    ("zh", "下午3点开始心慌", "下午3点"), ("zh", "三点了，还是睡不着", "三点"), ("zh", "十点半，我还在发呆", "十点"),
    ("zh", "星期三的我，平平无奇", "星期三"),
    ("en", "Wide awake at 3 a.m. again", "3 a.m."), ("en", "Heated at 9am, somehow", "9am"),
    ("en", "See you at 2, or never", "at 2"), ("en", "Ten o'clock and still shaking", "o'clock"),
    ("en", "Tonight at eight, we ride", "tonight at"), ("en", "Lump in my throat since this morning.", "this morning"),
    ("en", "You've disgusted me before noon", "before noon"), ("en", "Don't google it late at night", "late at night"),
    # message and phone stories
    ("zh", "“对方正在输入”整整五分钟", "正在输入"), ("zh", "消息发出去，一直没回。", "消息发出去"),
    ("zh", "消息发错人了，撤回时间刚好过了", "发错人"),
    ("en", "That text never got a reply.", "text"), ("en", "Not me grinning at my phone like a fool", "my phone"),
    ("en", "Got a voice note that says hi", "voice note"), ("en", "Left on read again", "on read"),
    ("en", "Waiting by the rotary phone.", "by the rotary phone"),
    # things of a room as nouns; the verb and the stage are no situation
    ("en", "Who left hair in the sink? Again?", "the sink"), ("en", "Did that curtain just move on its own?",
                                                              "that curtain"),
    ("en", "Sunlight through the curtains", "curtains"), ("en", "Taking a moment to let it sink in.", None),
    ("en", "Let that sink in.", None), ("en", "The curtain falls in silence.", None),
    ("en", "Final curtain call, folks", None),
])
def test_situation_patterns_catch_clock_times_the_small_hours_and_message_stories(lang, text, found):
    assert situation_word(lang, text) == found


@pytest.mark.parametrize("lang,text", [
    # days relative to the post, durations, percentages, "a little"
    ("zh", "今晚可以开着灯睡吗？"), ("zh", "这一刻，什么都刚刚好"), ("zh", "慢一点，好一点，一点点"),
    ("zh", "寻人启事：本人的胆子，昨夜走失"),
    ("en", "Can I sleep with the lights on? Just tonight?"), ("en", "Today just went right"),
    ("en", "My anger meter is at 100%!"), ("en", "Social battery at 3%, don't @ me."),
    ("en", "Heart rate at 180. Who needs coffee."), ("en", "I'll check. In the morning. With backup."),
    # the meme answering the chat it is posted in, offers, comparisons
    ("zh", "已读，但不知道回什么。"), ("zh", "好消息！本人今天特别高兴"), ("zh", "我还没回过神来"),
    ("zh", "不敢一个人待着的时候，就给我打电话吧"),
    ("en", "Read your message. Still thinking about it."), ("en", "My courage has left the chat"),
    ("en", "About as clever as a rotary phone."), ("en", "If you're scared to be alone, call me. Any time."),
    ("en", "Ah yes, my favorite texture: mystery goo"),
])
def test_situation_patterns_leave_relative_days_and_the_chat_itself(lang, text):
    assert situation_word(lang, text) is None


@pytest.mark.parametrize("lang,text,found", [
    ("en", "Quick update from the office: done.", "work"), ("zh", "火锅店里笑出声", "food"),  # taxonomy scenes
    ("en", "Just sitting on this morning. Can't.", "this morning"), ("zh", "深夜的我：还好", "深夜"),  # situations
    ("en", "Just sitting on this feeling. Can't.", None), ("zh", "这一刻，什么都刚刚好", None),
])
def test_unasked_scene_is_the_taxonomy_scene_else_the_situation(lang, text, found):
    assert unasked_scene(lang, text) == found


def test_the_model_sample_check_rejects_situations_only_when_no_scene_was_asked():
    """The model wrote "Just sitting on this morning. Can't." for scene=None; its sample check now
    rejects it as the evaluation and the library's validator would."""
    cap = Captioner(seed=0, source="model")
    text, rejected = "Just sitting on this morning. Can't.", "names a scene (this morning) nobody asked for"
    assert cap._problem(text, True, "en", set(), scene_request(None)) == rejected
    assert cap._problem(text, True, "en", set(), scene_request("on the moon")) == rejected  # free text, no scene key
    assert cap._problem(text, True, "en", set(), scene_request("work")) is None
    assert cap._problem("Just sitting on this feeling. Can't.", True, "en", set(), scene_request(None)) is None
