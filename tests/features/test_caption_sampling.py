"""Next-token sampling: temperature, top-k, top-p, repetition penalty, bans, seeds."""
from __future__ import annotations

import numpy as np
import pytest

from edgekit.captioning.sampling import SamplingOptions, next_token
from edgekit.errors import ConfigError

LOGITS = np.log(np.array([0.5, 0.3, 0.2]))


def _freq(opts: SamplingOptions, n: int = 20000, **kw) -> np.ndarray:
    rng = np.random.default_rng(0)
    draws = [next_token(LOGITS, kw.get("previous", []), rng, opts, kw.get("banned")) for _ in range(n)]
    return np.bincount(draws, minlength=3) / n


def test_plain_sampling_follows_the_softmax():
    np.testing.assert_allclose(_freq(SamplingOptions(1.0, 0, 1.0, 1.0)), [0.5, 0.3, 0.2], atol=0.015)


def test_top_k_and_top_p_truncate_and_renormalise():
    np.testing.assert_allclose(_freq(SamplingOptions(1.0, 2, 1.0, 1.0)), [0.625, 0.375, 0.0], atol=0.015)
    np.testing.assert_allclose(_freq(SamplingOptions(1.0, 0, 0.6, 1.0)), [0.625, 0.375, 0.0], atol=0.015)
    np.testing.assert_allclose(_freq(SamplingOptions(1.0, 0, 0.4, 1.0)), [1.0, 0.0, 0.0])


def test_greedy_bans_and_repetition_penalty():
    greedy = SamplingOptions(0.0, 40, 0.95, 1.0)
    rng = np.random.default_rng(0)
    assert next_token(LOGITS, [], rng, greedy) == 0
    assert next_token(LOGITS, [], rng, greedy, banned=np.array([True, False, False])) == 1
    logits = np.array([2.0, 1.5, -1.0])
    assert next_token(logits, [0], rng, SamplingOptions(0.0, 0, 1.0, 1.5)) == 1  # 2.0 / 1.5 < 1.5
    low_t = _freq(SamplingOptions(0.2, 0, 1.0, 1.0))
    assert low_t[0] > 0.9


def test_seeded_sampling_is_reproducible():
    opts = SamplingOptions()
    logits = np.random.default_rng(1).normal(0, 2, 500)
    draw = lambda seed: [next_token(logits, [], r, opts) for r in [np.random.default_rng(seed)] for _ in range(50)]  # noqa: E731
    assert draw(3) == draw(3) and draw(3) != draw(4)


@pytest.mark.parametrize("kwargs", [dict(temperature=-0.1), dict(temperature="hot"), dict(top_k=1.5), dict(top_p=0.0),
                                    dict(top_p=float("nan")), dict(repetition_penalty=0.9), dict(max_new_tokens=65),
                                    dict(max_new_tokens=True)])
def test_invalid_options(kwargs):
    with pytest.raises(ConfigError):
        SamplingOptions(**kwargs)


# ------------------------------------------------------------------ doubled words (#25)


def test_no_repeat_ngram_bans_only_tokens_that_repeat_an_ngram():
    from edgekit.captioning.sampling import repeated_ngram_tokens

    assert repeated_ngram_tokens([1, 2, 3, 1, 2], 3) == {3}  # "1 2 3" would repeat
    assert repeated_ngram_tokens([1, 2, 3, 1, 2], 0) == set()
    assert repeated_ngram_tokens([7, 7], 3) == set()  # a doubled character is no repeated 3-gram
    assert repeated_ngram_tokens([1, 1, 1], 2) == {1}


def test_a_doubled_character_survives_decoding_by_default():
    """平 after 平 (平平无奇): with the old per-token penalty of 1.2 the second 平 lost to a slightly
    weaker token; the default (no penalty, no-repeat 3-grams) keeps it."""
    import numpy as np

    from edgekit.captioning.sampling import SamplingOptions, next_token

    logits = np.zeros(10)
    logits[5], logits[6] = 1.0, 0.9
    rng = np.random.default_rng(0)
    assert next_token(logits, [5], rng, SamplingOptions(temperature=0.0)) == 5
    penalised = SamplingOptions(temperature=0.0, repetition_penalty=1.2, no_repeat_ngram=0)
    assert next_token(logits, [5], rng, penalised) == 6


def test_damaged_doubled_words_are_detected():
    from edgekit.captioning.wholewords import damaged_doubles

    assert damaged_doubles("心情平无奇") == "平平无奇" and damaged_doubles("整个人瑟发抖") == "瑟瑟发抖"
    assert damaged_doubles("心情平平无奇") is None and damaged_doubles("悄悄地走了") is None
    assert damaged_doubles("他悄无声息地来了") is None  # a one-character leftover is never judged


def test_the_captioner_rejects_a_sample_with_a_damaged_word():
    from edgekit.captioning import Captioner
    from edgekit.captioning.taxonomy import SceneRequest

    captioner = Captioner(seed=0, source="model")
    assert captioner._problem("今天心情平无奇。", True, "zh", set(), SceneRequest(None)) == "damaged doubled word"
    assert captioner._problem("今天心情平平无奇。", True, "zh", set(), SceneRequest(None)) != "damaged doubled word"
