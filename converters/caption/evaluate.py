"""Measure the caption models through the runtime (LiteRT only) and collect the report's numbers."""
from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Dict, Sequence

import numpy as np

from edgekit.captioning import Captioner
from edgekit.captioning.conditioning import condition
from edgekit.captioning.decoder import KVCacheDecoder
from edgekit.captioning.library import Entry
from edgekit.captioning.situation import unasked_scene
from edgekit.captioning.taxonomy import EMOTIONS, LANGS, SCENES, STYLES
from edgekit.captioning.voices import plain
from edgekit.captioning.wholewords import damaged_doubles
from edgekit.captioning.tokenizer import EOS, CaptionTokenizer

from converters.core.timing import time_calls

from .data import PROMPT_LEN
from .scorer import NaiveBayesScorer


def heldout_perplexity(model_path: Path, tok: CaptionTokenizer, held: Sequence[Entry]) -> float:
    """exp(mean NLL) of the held-out captions (+<eos>), one token per invoke through the KV cache."""
    dec = KVCacheDecoder(model_path, 1)
    nll, count = 0.0, 0
    for e in held:
        lp = dec.score(tok.prompt(e.lang, e.emotion, e.style, e.scene) + tok.encode(e.text) + [EOS], PROMPT_LEN,
                       condition(e.lang, e.emotion, e.style, e.scene))
        nll -= sum(lp)
        count += len(lp)
    return math.exp(nll / count)


def distinct_2(texts: Sequence[str], tok: CaptionTokenizer) -> float:
    """Unique token bigrams / all token bigrams over ``texts``."""
    grams = [tuple(ids[i:i + 2]) for ids in (tok.encode(t) for t in texts) for i in range(len(ids) - 1)]
    return len(set(grams)) / max(1, len(grams))


def generation_metrics(cap: Captioner, scorer: NaiveBayesScorer, train_texts: frozenset, per_cell: int,
                       seed: int) -> Dict:
    """Sample ``per_cell`` captions per (lang, emotion, style), a third without a scene and the rest
    with a random one, and score them."""
    rng = np.random.default_rng(seed)
    rows = []
    for lang in LANGS:
        for emotion in EMOTIONS:
            for style in STYLES:
                for k in range(per_cell):
                    scene = None if k % 3 == 0 else SCENES[int(rng.integers(len(SCENES)))]
                    c = cap.generate(emotion, style=style, scene=scene, lang=lang, seed=int(rng.integers(2**31)))[0]
                    rows.append(c)
    model_rows = [c for c in rows if c.source == "model"]
    reasons: Dict[str, int] = {}
    for c in rows:
        if c.fallback_reason:
            reasons[c.fallback_reason] = reasons.get(c.fallback_reason, 0) + 1
    return {
        "captions": len(rows),
        "fallback_rate": 1 - len(model_rows) / len(rows),
        "fallback_reasons": reasons,
        "emotion_consistency_model_outputs": float(np.mean([scorer.predict(c.text) == c.emotion for c in model_rows])),
        "emotion_consistency_all_outputs": float(np.mean([scorer.predict(c.text) == c.emotion for c in rows])),
        "copies_of_training_lines": float(np.mean([c.text in train_texts for c in model_rows])),
        "distinct_2": {lang: distinct_2([c.text for c in model_rows if c.lang == lang], cap.tokenizer)
                       for lang in LANGS},
        "examples": [c.to_dict() for c in rows[:: max(1, len(rows) // 24)]],
    }


def integrity(cap: Captioner, n: int, seed: int) -> Dict:
    """``n`` captions (half zh, half en; every emotion and style; a third without a scene): damaged
    Chinese doubled words and idioms (:func:`damaged_doubles`) and scenes nobody asked for (the
    runtime's check, :func:`~edgekit.captioning.situation.unasked_scene`: taxonomy scene words,
    situation words and patterns)."""
    rng = np.random.default_rng(seed)
    damaged, unasked, no_scene, zh = [], [], 0, 0
    for i in range(n):
        lang, scene = LANGS[i % 2], (None if i % 3 == 0 else SCENES[int(rng.integers(len(SCENES)))])
        c = cap.generate(EMOTIONS[(i // 2) % 8], style=STYLES[(i // 16) % 8], scene=scene, lang=lang,
                         seed=int(rng.integers(2**31)))[0]
        zh += lang == "zh"
        if lang == "zh" and damaged_doubles(c.text):
            damaged.append(c.text)
        if scene is None:
            no_scene += 1
            if unasked_scene(lang, c.text):
                unasked.append(c.text)
    return {"captions": n, "zh_captions": zh, "damaged_doubles": len(damaged), "damaged_examples": damaged[:10],
            "no_scene_requests": no_scene, "unasked_scene": len(unasked), "unasked_examples": unasked[:10]}


def style_batches(cap: Captioner, trials: int, seed: int) -> Dict:
    """``caption_styles`` on random requests: share with 5 distinct texts in 5 distinct styles."""
    rng = np.random.default_rng(seed)
    ok, examples = 0, []
    for i in range(trials):
        emotion, lang = EMOTIONS[int(rng.integers(8))], LANGS[i % 2]
        batch = cap.caption_styles(emotion, scene=SCENES[int(rng.integers(len(SCENES)))], lang=lang)
        ok += len(batch) == 5 and len({c.text for c in batch}) == 5 and len({c.style for c in batch}) == 5
        if i < 2:
            examples.append([c.to_dict() for c in batch])
    return {"trials": trials, "all_distinct_share": ok / trials, "examples": examples}


#: Sentence-final punctuation a voice may replace (compared without it: the words must survive).
_ENDINGS = "。.！!？?…~～，,、；;：: "


def restyle_check(cap: Captioner, sources: Sequence[Dict[str, str]]) -> Dict:
    """``restyle`` human-written sentences (``lang``, ``emotion``, ``text``) into all 8 styles:
    every output distinct, the sentence kept, and how often the inferred emotion (``Caption.emotion``;
    the voices come from its cell when the reading is certain, else from the style's mood-neutral
    cell) is the sentence's labelled one."""
    distinct, kept, total, emotion_ok, examples = 0, 0, 0, 0, []
    for row in sources:
        out = cap.restyle(row["text"], lang=row["lang"])
        core = plain(row["text"]).rstrip(_ENDINGS)
        distinct += len({c.text for c in out}) == len(STYLES)
        kept += sum(core in c.text or core[:1].lower() + core[1:] in c.text for c in out)
        total += len(out)
        emotion_ok += out[0].emotion == row["emotion"]
        if len(examples) < 4 and len(examples) < 2 + (row["lang"] == "en"):
            examples.append({"source": row["text"], "outputs": {c.style: c.text for c in out}})
    return {"sources": len(sources), "all_distinct_share": distinct / len(sources), "sentence_kept_share": kept / total,
            "inferred_emotion_accuracy": emotion_ok / len(sources), "examples": examples}


def latency(model_path: Path, tokenizer_path: Path, calls: int, seed: int) -> Dict:
    """Wall time of ``Captioner.generate`` (default sampling, 1 thread) and of one decode invoke."""
    cap = Captioner(model_path, tokenizer_path, num_threads=1, seed=seed, source="model")
    rng = np.random.default_rng(seed)
    calls_made = itertools.count()

    def one_caption() -> None:
        i = next(calls_made)
        cap.generate(EMOTIONS[int(rng.integers(8))], style=STYLES[int(rng.integers(8))], lang=LANGS[i % 2])

    times = time_calls(one_caption, calls, warmup=1)
    dec = cap.decoder
    dec.reset()
    step_times = time_calls(lambda: dec.step(5), dec.n_ctx)
    return {"calls": calls, "max_new_tokens": cap.options.max_new_tokens, "threads": 1,
            "caption_ms_p50": float(np.percentile(times, 50)), "caption_ms_p95": float(np.percentile(times, 95)),
            "caption_ms_mean": float(np.mean(times)), "invoke_ms_p50": float(np.percentile(step_times, 50))}


def train_scorer(held: Sequence[Entry], train: Sequence[Entry], seed: int, per_cell: int = 6) -> Dict:
    """Fit the scorer on the held-out split + fresh grammar captions absent from the library;
    report its accuracy on the training split (which it never saw)."""
    from .templates import generate

    library = {e.text for e in list(held) + list(train)}
    fresh = [e for e in generate(per_cell=per_cell, seed=seed) if e.text not in library]
    scorer = NaiveBayesScorer().fit([(e.text, e.emotion) for e in list(held) + fresh])
    return {"scorer": scorer,
            "trained_on": f"held-out split ({len(held)} captions) + {len(fresh)} fresh grammar captions "
                          f"(seed {seed}) not in the library",
            "accuracy_on_training_split": scorer.accuracy([(e.text, e.emotion) for e in train])}
