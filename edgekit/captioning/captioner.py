"""``Captioner``: meme captions from an emotion on device (tiny GPT-2 on LiteRT + library fallback)."""
from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Deque, List, Mapping, Optional, Sequence, Set, Tuple, Union

import numpy as np

from .. import glyphs, registry
from ..errors import ConfigError, ModelError
from ..exclusive import ExclusiveUse, exclusive
from ..options import CreateFromOptions, options_from
from ..task_options import CaptionerOptions
from .conditioning import condition
from .decoder import KVCacheDecoder
from .fluency import Fluency
from .inputs import check_count, check_seed, check_text, emotion_of
from .library import BLOCKLIST_PATH, LIBRARY_PATH, MAX_CHARS, Library, blocked_term, read_blocklist, unbalanced_bracket
from .sampling import next_token
from .wholewords import damaged_doubles
from .taxonomy import (SPECIFICS, STYLES, SceneRequest, language_of, match_scene, mentions, resolve_lang, resolve_style,
                       scene_request)
from .textemotion import TextEmotion
from .tokenizer import EOS, CaptionTokenizer
from .voices import VOICES_PATH, Voices

PathLike = Union[str, "os.PathLike[str]"]
MODEL_NAME = "caption"
#: Styles returned by :meth:`Captioner.caption_styles` when none are given.
N_STYLE_BATCH = 5
#: Passing samples drawn when a request names a specific (``"我家猫"``): the first naming it wins.
SPECIFIC_DRAWS = 3


@dataclass(frozen=True)
class Caption:
    """One caption. ``source`` is ``"model"``, ``"library"`` (fallback, with the reason) or
    ``"voice"`` (:meth:`Captioner.restyle`: the given sentence in a style's voice). ``scene`` is the
    taxonomy scene the caption was made for (None: it names no scene)."""

    text: str
    emotion: str
    style: str
    scene: Optional[str]
    lang: str
    source: str
    fallback_reason: Optional[str] = None
    latency_ms: float = 0.0

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict:
        return asdict(self)


def bundled_paths() -> Tuple[Path, Path]:
    """Model and tokenizer registered as ``caption`` in the manifest, both sha256-verified."""
    model, (tokenizer, _) = _bundled()
    return model.path, tokenizer


def _bundled() -> Tuple["registry.ModelFile", Tuple[Path, bytes]]:
    """The bundled caption model and tokenizer, read once and sha256-checked."""
    return registry.load_model(MODEL_NAME), registry.load_companion(MODEL_NAME, "tokenizer")


class Captioner(CreateFromOptions):
    """Generates captions with the caption model and checks them; falls back to the library.

    ``Captioner(options)``, ``Captioner(**fields)``, ``Captioner(options, **overrides)`` or
    ``Captioner(model_path, tokenizer_path, **fields)``; the fields (paths, ``num_threads``,
    ``seed``, the sampling fields, ``recent``, ``max_attempts``) are :class:`CaptionerOptions`'.
    ``seed`` makes captions reproducible (same seed + same calls = same captions); methods also
    take a per-call ``seed``; recent outputs stay excluded, so call :meth:`reset_recent` to get the
    very same captions again from one instance. Not thread-safe (one interpreter).
    """

    OPTIONS = CaptionerOptions

    def __init__(self, options: Union[CaptionerOptions, PathLike, None] = None, *paths: PathLike,
                 **kwargs: Any) -> None:
        self.options = opts = options_from(CaptionerOptions, options, kwargs, paths)
        model: Any = opts.model_path
        if model is None:
            model, (tokenizer_path, tokenizer_bytes) = _bundled()
            model_path: PathLike = model.path
        else:
            model_path, tokenizer_path, tokenizer_bytes = model, opts.tokenizer_path, None
        #: How the next token is drawn (:class:`SamplingOptions`, composed from the options).
        self.sampling = opts.sampling
        self.tokenizer = CaptionTokenizer.load(Path(tokenizer_path), tokenizer_bytes)
        self.decoder = KVCacheDecoder(model, opts.num_threads)
        self._use = ExclusiveUse("Captioner")
        if self.decoder.vocab_size != self.tokenizer.vocab_size:
            raise ModelError(f"model vocabulary {self.decoder.vocab_size} != tokenizer's {self.tokenizer.vocab_size}",
                             subject=model_path, hint="use the tokenizer exported with this model")
        self.library = Library.load(Path(opts.library_path or LIBRARY_PATH))
        self.fluency = Fluency(self.library.texts)
        self.blocklist = read_blocklist(Path(opts.blocklist_path or BLOCKLIST_PATH))
        self.voices = Voices.load(Path(opts.voices_path or VOICES_PATH))
        self.max_attempts = opts.max_attempts
        self.rng = np.random.default_rng(opts.seed)
        self._recent: Deque[str] = deque(maxlen=opts.recent)
        self._banned = np.zeros(self.tokenizer.vocab_size, bool)
        self._banned[: self.tokenizer.n_controls] = True
        self._banned[EOS] = False
        # Tokens the bundled fonts cannot draw are never generated, so every caption renders anywhere.
        for token in range(self.tokenizer.n_controls, self.tokenizer.vocab_size):
            if not glyphs.drawable(self.tokenizer.decode([token])):
                self._banned[token] = True
        self._banned_first = self._banned.copy()
        self._banned_first[EOS] = True
        self._text_emotion: Optional[TextEmotion] = None

    # ------------------------------------------------------------------ generation
    def _sample(self, rng: np.random.Generator, prompt: Sequence[int], cond: np.ndarray) -> Tuple[List[int], bool]:
        """Token ids of one sample and whether it ended with <eos>."""
        dec, opts = self.decoder, self.sampling
        logits = dec.prefill(prompt, cond)
        out: List[int] = []
        for _ in range(opts.max_new_tokens):
            tok = next_token(logits, out, rng, opts, self._banned if out else self._banned_first)
            if tok == EOS:
                return out, True
            out.append(tok)
            if dec.pos >= dec.n_ctx:
                break
            logits = dec.step(tok)
        return out, False

    def _problem(self, text: str, ended: bool, lang: str, exclude: Set[str], scene: SceneRequest) -> Optional[str]:
        """Why a sampled caption is rejected, or None when it passes every check."""
        if not ended or len(text) > MAX_CHARS[lang]:
            return "too long"
        if len(text.strip()) < 2:
            return "empty"
        if blocked_term(text, self.blocklist):
            return "blocked"
        if language_of(text) != lang:
            return "wrong language"
        if unbalanced_bracket(text):
            return "unbalanced brackets"
        if lang == "zh" and damaged_doubles(text):
            return "damaged doubled word"
        unknown = self.fluency.unknown(text)
        if unknown is not None:
            return f"unknown word {unknown!r}"
        if text in exclude:
            return "duplicate"
        named = match_scene(text)
        if named and scene.key is None:
            return f"names a scene ({named[0]}) nobody asked for"
        if scene.group and any(mentions(text.lower(), kw) for g in _siblings(scene) for kw in g):
            return f"names another {scene.key} than asked"
        return None

    def _one(self, rng: np.random.Generator, lang: str, emotion: Union[str, Mapping[str, float]], style: str,
             scene: SceneRequest, exclude: Set[str]) -> Caption:
        """One caption; ``emotion`` is a label or a probability dict (conditions the model as is).
        When the scene names a specific (a cat), up to :data:`SPECIFIC_DRAWS` passing samples are
        drawn and the first naming it is taken."""
        t0 = time.perf_counter()
        cond = condition(lang, emotion, style, scene.key)
        if isinstance(emotion, Mapping):
            emotion = max(emotion, key=emotion.get)
        prompt = self.tokenizer.prompt(lang, emotion, style, scene.key)
        reason, passed = None, []
        for _ in range(self.max_attempts + (SPECIFIC_DRAWS if scene.group else 0)):
            ids, ended = self._sample(rng, prompt, cond)
            text = self.tokenizer.decode(ids).strip()
            reason = self._problem(text, ended, lang, exclude, scene)
            if reason is None:
                passed.append(text)
                on_topic = not scene.group or any(mentions(text.lower(), kw) for kw in scene.group)
                if on_topic or len(passed) == SPECIFIC_DRAWS:
                    break
        if passed:
            best = next((t for t in passed if scene.group and any(mentions(t.lower(), kw) for kw in scene.group)),
                        passed[0])
            return Caption(best, emotion, style, scene.key, lang, "model", None, (time.perf_counter() - t0) * 1e3)
        siblings = [kw for g in _siblings(scene) for kw in g] if scene.group else []
        text = self.library.pick(rng, lang, emotion, style, scene.key, exclude,
                                 accept=lambda t: not any(mentions(t.lower(), kw) for kw in siblings))
        if text is None:
            raise ModelError(f"no unused library caption left for {lang}/{emotion}/{style}", subject=MODEL_NAME,
                             hint="lower n or call reset_recent()")
        return Caption(text, emotion, style, scene.key, lang, "library", reason, (time.perf_counter() - t0) * 1e3)

    def _remember(self, captions: Sequence[Caption]) -> List[Caption]:
        self._recent.extend(c.text for c in captions)
        return list(captions)

    def _rng(self, seed: Optional[int]) -> np.random.Generator:
        seed = check_seed(seed)
        return self.rng if seed is None else np.random.default_rng(seed)

    def close(self) -> None:
        """Release the caption model; later calls raise ConfigError."""
        self._use.close()
        self.decoder.interpreter = None

    def __enter__(self) -> "Captioner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @exclusive
    def reset_recent(self) -> None:
        """Forget recent outputs (they are otherwise never repeated)."""
        self._recent.clear()

    # ------------------------------------------------------------------ public API
    @exclusive
    def generate(self, emotion: object, style: Optional[str] = None, scene: Optional[str] = None, lang: str = "zh",
                 n: int = 1, seed: Optional[int] = None) -> List[Caption]:
        """``n`` distinct captions (``n`` <= :data:`~edgekit.captioning.inputs.MAX_N`).

        ``emotion`` is a label or a probability dict (the dict conditions the model as a vector;
        its top label is the caption's emotion and control token); ``style`` defaults
        to ``plain``; ``scene`` is any text a person types (:func:`~edgekit.captioning.taxonomy.scene_request`):
        a scene it names is used, a specific it names is kept ("我家猫" stays a cat), text naming
        no known scene and ``None`` give captions without scene words.
        """
        label, probs = emotion_of(emotion)
        emo = probs or label
        style_key = resolve_style(style) if style is not None else "plain"
        request = scene_request(scene)
        lang, n, rng = resolve_lang(lang), check_count(n), self._rng(seed)
        batch: List[Caption] = []
        for _ in range(n):
            batch.append(self._one(rng, lang, emo, style_key, request, set(self._recent) | {c.text for c in batch}))
        return self._remember(batch)

    @exclusive
    def caption_styles(self, emotion: object, scene: Optional[str] = None, lang: str = "zh",
                       styles: Optional[Sequence[str]] = None, seed: Optional[int] = None) -> List[Caption]:
        """One caption per style, all texts distinct: 5 random styles by default, or ``styles``
        (``scene`` as in :meth:`generate`)."""
        label, probs = emotion_of(emotion)
        emo = probs or label
        request = scene_request(scene)
        lang, rng = resolve_lang(lang), self._rng(seed)
        if styles is None:
            chosen = [STYLES[i] for i in rng.permutation(len(STYLES))[:N_STYLE_BATCH]]
        else:
            chosen = [resolve_style(s) for s in styles]
            if not chosen or len(set(chosen)) != len(chosen):
                raise ConfigError("styles must be a non-empty list of distinct styles", subject=repr(list(styles))[:80],
                                  hint=f"Valid styles: {', '.join(STYLES)}")
        batch: List[Caption] = []
        for style in chosen:
            batch.append(self._one(rng, lang, emo, style, request, set(self._recent) | {c.text for c in batch}))
        return self._remember(batch)

    def tags_of(self, text: str, lang: str) -> Tuple[str, Optional[str]]:
        """(emotion, scene) of a sentence: the emotion from a character n-gram naive Bayes fitted on
        the library (:class:`~edgekit.captioning.textemotion.TextEmotion`, fitted on first use, about a
        second); the scene the text names, else None (never guessed). ``lang`` is accepted for
        symmetry with the other calls; the model reads both languages."""
        if self._text_emotion is None:
            self._text_emotion = TextEmotion().fit([(e.text, e.emotion) for e in self.library.entries])
        named = match_scene(text)
        return self._text_emotion.predict(text), named[0] if named else None

    @exclusive
    def restyle(self, text: str, style: Optional[str] = None, lang: Optional[str] = None,
                seed: Optional[int] = None, emotion: Optional[object] = None) -> List[Caption]:
        """``text`` said in ``style``'s voice (one result), or in each of the 8 styles (``style=None``).

        The sentence is kept word for word and one authored fragment of the style's voice for its
        emotion is attached (:mod:`~edgekit.captioning.voices`), so content and emotion carry over;
        ``plain`` is the sentence without kaomoji and decorations. ``emotion`` (a label or a
        probability dict, e.g. the face's) picks the voices' emotion; without it the emotion is
        inferred from the text (:meth:`tags_of`).
        """
        source = check_text(text)
        lang = resolve_lang(lang) if lang is not None else language_of(source)
        styles = [resolve_style(style)] if style is not None else list(STYLES)
        inferred, scene = self.tags_of(source, lang)
        label = emotion_of(emotion)[0] if emotion is not None else inferred
        rng, batch = self._rng(seed), []
        for s in styles:
            t0 = time.perf_counter()
            taken = {c.text for c in batch}
            # a recent result may come back once every fragment of the cell was used recently
            out = self.voices.restyle(rng, source, lang, s, label, set(self._recent) | taken) \
                or self.voices.restyle(rng, source, lang, s, label, taken)
            if out is None:
                raise ModelError(f"no unused {s} voice left for {lang}/{label}", subject="voices.tsv",
                                 hint="call reset_recent() or reinstall edgekit")
            batch.append(Caption(out, label, s, scene, lang, "voice", None, (time.perf_counter() - t0) * 1e3))
        return self._remember(batch)


def _siblings(scene: SceneRequest) -> List[Tuple[str, ...]]:
    """The :data:`~edgekit.captioning.taxonomy.SPECIFICS` groups of the scene other than the one asked for."""
    return [g for g in SPECIFICS.get(scene.key or "", ()) if g != scene.group]
