"""``Captioner``: meme captions from an emotion on device (tiny GPT-2 on LiteRT + library fallback)."""
from __future__ import annotations

import os
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Deque, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple, Union

import numpy as np

from .. import glyphs, registry
from ..errors import ConfigError, ModelError
from ..exclusive import ExclusiveUse, exclusive
from .conditioning import condition
from .decoder import KVCacheDecoder
from .inputs import check_count, check_seed, check_text, emotion_of
from .library import BLOCKLIST_PATH, LIBRARY_PATH, MAX_CHARS, Library, blocked_term, read_blocklist, unbalanced_bracket
from .sampling import SamplingOptions, next_token
from .wholewords import damaged_doubles
from .taxonomy import STYLES, language_of, resolve_lang, resolve_scene, resolve_style
from .tokenizer import EOS, CaptionTokenizer

PathLike = Union[str, "os.PathLike[str]"]
MODEL_NAME = "caption"
#: Styles returned by :meth:`Captioner.caption_styles` when none are given.
N_STYLE_BATCH = 5
#: Logit bonus of the source text's tokens in :meth:`Captioner.restyle` (keeps its content words).
COPY_BIAS = 0.5


@dataclass(frozen=True)
class Caption:
    """One generated caption. ``source`` is ``"model"`` or ``"library"`` (fallback, with the reason)."""

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


class Captioner:
    """Generates captions with the caption model and checks them; falls back to the library.

    Args:
        model_path, tokenizer_path: caption ``.tflite`` and tokenizer file (default: the bundled,
            sha256-verified pair).
        library_path, blocklist_path: caption library TSV and blocklist (default: bundled).
        num_threads: LiteRT threads.
        seed: seed of the sampler (same seed + same calls = same captions). Methods also take a
            per-call ``seed``; recent outputs stay excluded, so call :meth:`reset_recent` to get
            the very same captions again from one instance. Not thread-safe (one interpreter).
        temperature, top_k, top_p, repetition_penalty, max_new_tokens, no_repeat_ngram: see
            :class:`SamplingOptions`.
        recent: how many recent outputs a new caption must differ from.
        max_attempts: model samples tried per caption before the library fallback.
    """

    def __init__(self, model_path: Optional[PathLike] = None, tokenizer_path: Optional[PathLike] = None,
                 library_path: PathLike = LIBRARY_PATH, blocklist_path: PathLike = BLOCKLIST_PATH, *,
                 num_threads: int = 1, seed: Optional[int] = None, temperature: float = 0.9, top_k: int = 40,
                 top_p: float = 0.95, repetition_penalty: float = 1.0, max_new_tokens: int = 32,
                 recent: int = 64, max_attempts: int = 3, no_repeat_ngram: int = 3) -> None:
        if (model_path is None) != (tokenizer_path is None):
            raise ConfigError("pass both model_path and tokenizer_path, or neither (bundled model)")
        model: Any = model_path
        if model_path is None:
            model, (tokenizer_path, tokenizer_bytes) = _bundled()
            model_path = model.path
        else:
            tokenizer_bytes = None
        self.options = SamplingOptions(temperature, top_k, top_p, repetition_penalty, max_new_tokens, no_repeat_ngram)
        check_count(max_attempts, 10, "max_attempts")
        check_count(recent, 10_000, "recent")
        self.tokenizer = CaptionTokenizer.load(Path(tokenizer_path), tokenizer_bytes)
        self.decoder = KVCacheDecoder(model, num_threads)
        self._use = ExclusiveUse("Captioner")
        if self.decoder.vocab_size != self.tokenizer.vocab_size:
            raise ModelError(f"model vocabulary {self.decoder.vocab_size} != tokenizer's {self.tokenizer.vocab_size}",
                             subject=model_path, hint="use the tokenizer exported with this model")
        self.library = Library.load(Path(library_path))
        self.blocklist = read_blocklist(Path(blocklist_path))
        self.max_attempts = max_attempts
        self.rng = np.random.default_rng(check_seed(seed))
        self._recent: Deque[str] = deque(maxlen=recent)
        self._banned = np.zeros(self.tokenizer.vocab_size, bool)
        self._banned[: self.tokenizer.n_controls] = True
        self._banned[EOS] = False
        # Tokens the bundled fonts cannot draw are never generated, so every caption renders anywhere.
        for token in range(self.tokenizer.n_controls, self.tokenizer.vocab_size):
            if not glyphs.drawable(self.tokenizer.decode([token])):
                self._banned[token] = True
        self._banned_first = self._banned.copy()
        self._banned_first[EOS] = True
        self._bigrams: Dict[str, List[Tuple[FrozenSet[str], int]]] = {}

    # ------------------------------------------------------------------ generation
    def _sample(self, rng: np.random.Generator, prompt: Sequence[int], cond: np.ndarray,
                bias: Optional[np.ndarray]) -> Tuple[List[int], bool]:
        """Token ids of one sample and whether it ended with <eos>."""
        dec, opts = self.decoder, self.options
        logits = dec.prefill(prompt, cond)
        out: List[int] = []
        for _ in range(opts.max_new_tokens):
            tok = next_token(logits, out, rng, opts, self._banned if out else self._banned_first, bias)
            if tok == EOS:
                return out, True
            out.append(tok)
            if dec.pos >= dec.n_ctx:
                break
            logits = dec.step(tok)
        return out, False

    def _problem(self, text: str, ended: bool, lang: str, exclude: Set[str]) -> Optional[str]:
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
        if text in exclude:
            return "duplicate"
        return None

    def _one(self, rng: np.random.Generator, lang: str, emotion: Union[str, Mapping[str, float]], style: str,
             scene: Optional[str], exclude: Set[str], bias: Optional[np.ndarray] = None) -> Caption:
        """One caption; ``emotion`` is a label or a probability dict (conditions the model as is)."""
        t0 = time.perf_counter()
        cond = condition(lang, emotion, style, scene)
        if isinstance(emotion, Mapping):
            emotion = max(emotion, key=emotion.get)
        prompt = self.tokenizer.prompt(lang, emotion, style, scene)
        reason = None
        for _ in range(self.max_attempts):
            ids, ended = self._sample(rng, prompt, cond, bias)
            text = self.tokenizer.decode(ids).strip()
            reason = self._problem(text, ended, lang, exclude)
            if reason is None:
                return Caption(text, emotion, style, scene, lang, "model", None, (time.perf_counter() - t0) * 1e3)
        text = self.library.pick(rng, lang, emotion, style, scene, exclude)
        if text is None:
            raise ModelError(f"no unused library caption left for {lang}/{emotion}/{style}", subject=MODEL_NAME,
                             hint="lower n or call reset_recent()")
        return Caption(text, emotion, style, scene, lang, "library", reason, (time.perf_counter() - t0) * 1e3)

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
        to ``plain``; ``scene`` is a scene key or free text mentioning one (None = any scene).
        """
        label, probs = emotion_of(emotion)
        emo = probs or label
        style_key = resolve_style(style) if style is not None else "plain"
        scene_key = resolve_scene(scene) if scene is not None else None
        lang, n, rng = resolve_lang(lang), check_count(n), self._rng(seed)
        batch: List[Caption] = []
        for _ in range(n):
            batch.append(self._one(rng, lang, emo, style_key, scene_key, set(self._recent) | {c.text for c in batch}))
        return self._remember(batch)

    @exclusive
    def caption_styles(self, emotion: object, scene: Optional[str] = None, lang: str = "zh",
                       styles: Optional[Sequence[str]] = None, seed: Optional[int] = None) -> List[Caption]:
        """One caption per style, all texts distinct: 5 random styles by default, or ``styles``."""
        label, probs = emotion_of(emotion)
        emo = probs or label
        scene_key = resolve_scene(scene) if scene is not None else None
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
            batch.append(self._one(rng, lang, emo, style, scene_key, set(self._recent) | {c.text for c in batch}))
        return self._remember(batch)

    def tags_of(self, text: str, lang: str) -> Tuple[str, Optional[str]]:
        """(emotion, scene) of a caption: the emotion voted by the 5 nearest library captions
        (character-bigram overlap); the scene from scene keywords, else the scene of at least 3 of
        those 5 neighbours, else None (any scene)."""
        grams = frozenset(text[i:i + 2].lower() for i in range(len(text) - 1)) or frozenset(text.lower())
        if lang not in self._bigrams:
            self._bigrams[lang] = [(frozenset(e.text[i:i + 2].lower() for i in range(len(e.text) - 1)), k)
                                   for k, e in enumerate(self.library.entries) if e.lang == lang]
        scored = sorted(((len(grams & g) / np.sqrt(len(g) * len(grams) + 1e-9), k) for g, k in self._bigrams[lang]), reverse=True)[:5]
        nearest = [self.library.entries[k] for _, k in scored]
        emotion = Counter(e.emotion for e in nearest).most_common(1)[0][0]
        try:
            scene: Optional[str] = resolve_scene(text)
        except ConfigError:  # no scene keyword: a clear majority of the neighbours, else any scene
            top, votes = Counter(e.scene for e in nearest).most_common(1)[0]
            scene = top if votes >= 3 else None
        return emotion, scene

    @exclusive
    def restyle(self, text: str, style: Optional[str] = None, lang: Optional[str] = None,
                seed: Optional[int] = None) -> List[Caption]:
        """Rewrite a caption in ``style`` (one result) or in each of the 8 styles (``style=None``).

        The caption's emotion and scene are inferred (:meth:`tags_of`), then the model generates
        under the new style's control token, with a small bonus on the source text's tokens so
        its content words tend to carry over. Results differ from the source text.
        """
        source = check_text(text)
        lang = resolve_lang(lang) if lang is not None else language_of(source)
        styles = [resolve_style(style)] if style is not None else list(STYLES)
        emotion, scene = self.tags_of(source, lang)
        bias = np.zeros(self.tokenizer.vocab_size)
        content = [i for i in self.tokenizer.encode(source) if self.tokenizer.pieces[i].strip().isalnum()]
        bias[content] = COPY_BIAS
        rng, batch = self._rng(seed), []
        for s in styles:
            batch.append(self._one(rng, lang, emotion, s, scene, set(self._recent) | {source} | {c.text for c in batch}, bias))
        return self._remember(batch)
