"""The emotion of a sentence a person wrote: cue words with negation, and the naive Bayes they steer."""
from __future__ import annotations

import pytest

from edgekit.captioning import Captioner
from edgekit.captioning.emotioncues import cue_counts
from edgekit.captioning.textemotion import CONFIDENT_MARGIN, TextEmotion, emotion_reading, sentence_emotion
from edgekit.labels import EMOTIONS


def cued(text: str) -> dict:
    return {EMOTIONS[k]: int(n) for k, n in enumerate(cue_counts(text)) if n}


@pytest.mark.parametrize("text, expected", [
    ("Bombed my exam and I feel awful", {"sadness": 2}),
    ("期末考砸了，心里好难受", {"sadness": 2}),
    ("Tried the new noodle place and it was so good", {"happiness": 1}),
    ("楼下新开的奶茶店真好喝", {"happiness": 1}),
    # the longer phrase owns the words inside it
    ("今天不开心", {"sadness": 1}),
    # a negated cue does not count; words whose negation has an emotion of its own count as that
    ("I'm not scared at all", {}),
    ("一点都不怕", {}),
    ("I'm not happy about it", {"sadness": 1}),
    ("The sheets definitely weren't clean", {"disgust": 1}),
    ("这也太不公平了", {"anger": 1}),
    # a negation ends at punctuation, and intensified forms negate nothing
    ("Never been so happy", {"happiness": 1}),
    ("No cap, best day ever", {"happiness": 1}),
    ("No joke, I passed!", {"happiness": 1}),
    ("I could not stop laughing", {"happiness": 1}),
    ("I can't stop crying", {"sadness": 1}),
    ("Not happy, sad", {"sadness": 2}),
    ("不要太开心", {"happiness": 1}),
    ("无比开心", {"happiness": 1}),
    ("不是很开心", {"sadness": 1}),
    # only a negator the scan matched negates (review of 554e405): 别 in the intensifier 特别, the n't of a
    # term ("can't believe", "can't wait", "didn't expect") negate nothing, and an earlier term ends the reach
    ("今天特别开心", {"happiness": 1}),
    ("特别难过", {"sadness": 1}),
    ("告别伤心", {"sadness": 1}),
    ("I can't believe how happy I am", {"surprise": 1, "happiness": 1}),
    ("can't wait so happy", {"happiness": 2}),
    ("didn't expect such good news, so happy", {"surprise": 1, "happiness": 1}),
    ("一点都不开心", {"sadness": 1}),
    ("I have nothing to be scared of", {}),
    # "but" ends a negator's reach, and a comparative after be/never/nothing is a superlative
    ("Nothing but love for this", {"happiness": 1}),
    ("Nothing makes me happier", {"happiness": 1}),
    ("I could not be happier", {"happiness": 1}),
    ("Never happier", {"happiness": 1}),
    ("I don't feel happier", {}),
    # whole words in English: "won't" is not "won", "funeral" is not "fun"
    ("He won't answer", {}),
    ("Back from the funeral", {"sadness": 1}),
    ("No cue words in here at all", {}),
])
def test_cue_words_with_negation(text, expected):
    assert cued(text) == expected


def test_cues_pick_among_emotions_and_the_naive_bayes_breaks_ties():
    model = TextEmotion().fit([("bombed it, so happy", "happiness"), ("bombed it again, so happy", "happiness"),
                               ("miss them so much", "sadness"), ("what a surprise", "surprise"),
                               ("an ordinary day", "neutral"), ("so angry", "anger"), ("so gross", "disgust"),
                               ("so scary", "fear"), ("how quaint", "contempt")])
    assert model.predict("Bombed my exam and I feel awful") != "sadness"  # the caption-trained model alone
    assert sentence_emotion(model, "Bombed my exam and I feel awful") == "sadness"  # two sadness cues
    tie = "so happy, but I miss them"  # one happiness cue, one sadness cue
    scores = model.scores(tie)
    best = max(("happiness", "sadness"), key=lambda e: scores[EMOTIONS.index(e)])
    assert sentence_emotion(model, tie) == best
    assert sentence_emotion(model, "what a day") == model.predict("what a day")  # no cue: the model decides


def test_a_reading_is_certain_with_a_cue_word_or_a_clear_naive_bayes_margin():
    model = TextEmotion().fit([("so gross", "disgust"), ("how quaint", "contempt"), ("an ordinary day", "neutral"),
                               ("so angry", "anger"), ("what a surprise", "surprise"), ("so happy", "happiness"),
                               ("so sad", "sadness"), ("so scary", "fear")])
    assert emotion_reading(model, "I feel awful") == ("sadness", True)  # a cue word
    assert emotion_reading(model, "how quaint") == ("contempt", True)  # no cue word, words the model learned
    assert emotion_reading(model, "zzz")[1] is False  # nothing the model knows


@pytest.mark.parametrize("text, reading", [
    # restyle sources without a cue word, read by the library's naive Bayes (as restyle reads them);
    # its margin per n-gram is above CONFIDENT_MARGIN = 0.4 for these (about 0.52 and 0.50) ...
    ("Coworker clipped his nails during the meeting", ("disgust", True)),
    ("过年亲戚又开始比谁家孩子赚得多", ("contempt", True)),
    # ... and below it for these (about 0.32 and 0.35): the first is read wrong, the second right
    ("Spent the weekend cleaning my room", ("disgust", False)),
    ("明天就考试了我一个字都没看", ("fear", False)),
])
def test_the_margin_separates_certain_from_uncertain_cue_less_sentences(cap, text, reading):
    assert CONFIDENT_MARGIN == 0.4 and not cue_counts(text).any()
    assert cap.emotion_reading(text) == reading
    assert cap.tags_of(text, "en")[0] == reading[0]


@pytest.fixture(scope="module")
def cap():
    return Captioner(seed=0)


@pytest.mark.parametrize("text, lang, emotion", [
    ("期末考砸了，心里好难受", "zh", "sadness"),
    ("Bombed my exam and I feel awful", "en", "sadness"),
    ("Tried the new noodle place for dinner and it was so good", "en", "happiness"),
    ("排了半天队被人插队了", "zh", "anger"),
])
def test_tags_of_reads_everyday_sentences(text, lang, emotion):
    assert Captioner(seed=0).tags_of(text, lang)[0] == emotion


def test_restyle_reads_the_sentence_once(cap, monkeypatch):
    from edgekit.captioning import captioner
    from edgekit.captioning.voices import ANY_MOOD, attach

    calls = []
    real = captioner.emotion_reading
    monkeypatch.setattr(captioner, "emotion_reading", lambda model, text: calls.append(text) or real(model, text))
    out = cap.restyle("Spent the weekend cleaning my room", style="poetic", seed=1)[0]
    assert calls == ["Spent the weekend cleaning my room"]
    neutral = [attach(calls[0], v, "en") for v in cap.voices.voices[("en", "poetic", ANY_MOOD)]]
    assert out.emotion == "disgust" and out.text in neutral  # read as disgust, uncertain: the mood-neutral cell
