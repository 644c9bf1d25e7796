"""The emotion of a sentence a person wrote: cue words with negation, and the naive Bayes they steer."""
from __future__ import annotations

import pytest

from edgekit.captioning import Captioner
from edgekit.captioning.emotioncues import cue_counts
from edgekit.captioning.textemotion import CONFIDENT_MARGIN, TextEmotion, emotion_reading, features, sentence_emotion
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
    for text in ("how quaint", "what a", "zzz"):  # no cue word: the margin per n-gram decides
        assert not cue_counts(text).any()
        top, second = sorted(model.scores(text))[-1:-3:-1]
        certain = (top - second) / len(features(text)) >= CONFIDENT_MARGIN
        assert emotion_reading(model, text) == (model.predict(text), certain)
    assert emotion_reading(model, "how quaint") == ("contempt", True)  # words the model learned
    assert emotion_reading(model, "zzz")[1] is False  # nothing the model knows


@pytest.mark.parametrize("text, lang, emotion", [
    ("期末考砸了，心里好难受", "zh", "sadness"),
    ("Bombed my exam and I feel awful", "en", "sadness"),
    ("Tried the new noodle place for dinner and it was so good", "en", "happiness"),
    ("排了半天队被人插队了", "zh", "anger"),
])
def test_tags_of_reads_everyday_sentences(text, lang, emotion):
    assert Captioner(seed=0).tags_of(text, lang)[0] == emotion
