"""``suggest()``: captions (or ready memes) for a chat, from its text and optionally a selfie.

Steps: the chat's emotion and scene (:func:`~edgekit.suggestions.text.analyze_text`); the face's
emotion when a photo is given (the largest face, or ``face=N`` counting from the left, as
:func:`edgekit.meme.make_meme` does); both fused
(:func:`~edgekit.suggestions.fusion.fuse`); :data:`OVERGENERATE` x ``n`` candidate captions spread over
all 8 styles, conditioned on the fused probabilities and the scene; near-duplicates dropped;
the rest ranked by the user's feedback (:class:`~edgekit.personalize.FeedbackStore`) with a
penalty per repeat of a style (:data:`DIVERSITY_PENALTY`) so the list stays varied until the
user's taste says otherwise.
"""
from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..captioning.captioner import Caption
from ..captioning.inputs import check_count, check_seed
from ..captioning.taxonomy import STYLES, scene_request
from ..errors import ConfigError, EdgekitError
from ..personalize import FeedbackStore, Preferences, Score, similarity
from .fusion import fuse
from .text import TextAnalysis, analyze_text

PathLike = Union[str, "os.PathLike[str]"]
#: Candidates generated per requested suggestion (spread over the styles).
OVERGENERATE = 3
#: Score lost by a candidate for each already chosen suggestion of its style.
DIVERSITY_PENALTY = 0.15
#: Candidates whose phrase features overlap an earlier one's this much (Jaccard) are dropped.
NEAR_DUPLICATE = 0.6
NO_SCORE = Score(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Suggestion:
    """One suggested caption, its personal score and, with ``memes_dir``, the rendered meme."""

    caption: Caption
    score: Score
    meme: Optional[Path] = None

    @property
    def text(self) -> str:
        return self.caption.text

    def to_dict(self) -> Dict[str, Any]:
        return {"text": self.caption.text, "style": self.caption.style, "emotion": self.caption.emotion,
                "scene": self.caption.scene, "lang": self.caption.lang, "source": self.caption.source,
                "personal_score": round(self.score.total, 4), "meme": str(self.meme) if self.meme else None}


@dataclass(frozen=True)
class SuggestResult:
    """What :func:`suggest` inferred and suggests. ``face`` holds the chosen face's probabilities."""

    chat: TextAnalysis
    face: Optional[Dict[str, float]]
    probs: Dict[str, float]
    scene: Optional[str]
    lang: str
    suggestions: List[Suggestion]
    notes: List[str] = field(default_factory=list)

    @property
    def emotion(self) -> str:
        return max(self.probs, key=self.probs.get)

    def to_dict(self) -> Dict[str, Any]:
        return {"emotion": self.emotion, "probs": {k: round(v, 4) for k, v in self.probs.items()},
                "scene": self.scene, "lang": self.lang,
                "chat": {"emotion": self.chat.emotion, "confidence": round(self.chat.confidence, 4),
                         "probs": {k: round(v, 4) for k, v in self.chat.probs.items()},
                         "scene_scores": self.chat.scene_scores,
                         "evidence": [[e.term, e.emotion, e.weight, e.negated] for e in self.chat.evidence]},
                "face": None if self.face is None else {k: round(v, 4) for k, v in self.face.items()},
                "suggestions": [s.to_dict() for s in self.suggestions], "notes": list(self.notes)}


def face_probs(photo: Any, face: Optional[int], notes: List[str]) -> Tuple[Optional[Dict[str, float]], List[Any]]:
    """Emotion probabilities of the chosen face of ``photo`` (None when it has no face, noted) and
    all its faces. Faces are chosen as :func:`edgekit.meme.make_meme` does: ``face`` counts from
    the left (0 = leftmost), None picks the largest."""
    from ..imageio import load_image
    from ..meme.maker import choose_face, detect_faces

    faces = detect_faces(load_image(photo))
    index = choose_face(faces, face)
    if index is None:
        notes.append(f"no face found in {photo if isinstance(photo, (str, os.PathLike)) else 'the photo'}; "
                     "the emotion comes from the chat text alone")
        return None, faces
    emotion = faces[index].emotion
    return (dict(emotion.probs) if emotion is not None else None), faces


def _candidates(probs: Dict[str, float], scene: Optional[str], lang: str, n: int, seed: Optional[int],
                captioner: Any) -> List[Caption]:
    from ..captioning import api

    rng = np.random.default_rng(seed)
    styles = [STYLES[i] for i in rng.permutation(len(STYLES))]
    per_style = max(1, math.ceil(OVERGENERATE * n / len(styles)))
    out: List[Caption] = []
    for i, style in enumerate(styles):
        style_seed = None if seed is None else seed + i
        if captioner is None:
            out += api.caption(probs, style=style, scene=scene, lang=lang, n=per_style, seed=style_seed)
        else:
            out += captioner.generate(probs, style=style, scene=scene, lang=lang, n=per_style, seed=style_seed)
    return out


def rank(candidates: Sequence[Caption], prefs: Optional[Preferences], n: int) -> List[Tuple[Caption, Score]]:
    """Drop near-duplicates, then pick ``n`` greedily by personal score minus the style-repeat
    penalty (ties keep candidate order)."""
    kept: List[Caption] = []
    for cand in candidates:
        if all(similarity(cand.text, k.text) < NEAR_DUPLICATE for k in kept):
            kept.append(cand)
    scored = [(c, prefs.score(c.text, c.style) if prefs else NO_SCORE) for c in kept]
    chosen: List[Tuple[Caption, Score]] = []
    used: Counter = Counter()
    pool = list(range(len(scored)))
    while pool and len(chosen) < n:
        best = max(pool, key=lambda i: (scored[i][1].total - DIVERSITY_PENALTY * used[scored[i][0].style], -i))
        pool.remove(best)
        chosen.append(scored[best])
        used[scored[best][0].style] += 1
    return chosen


def _store(personalize: Union[bool, FeedbackStore]) -> Optional[FeedbackStore]:
    if isinstance(personalize, FeedbackStore):
        return personalize
    return FeedbackStore() if personalize else None


def _render(photo: Any, faces: List[Any], chosen: List[Tuple[Caption, Score]], memes_dir: PathLike,
            face: Optional[int], notes: List[str]) -> List[Suggestion]:
    """Render each suggestion as a meme of ``photo``; a meme that fails is noted, the rest go on."""
    from ..meme import make_meme

    folder = Path(memes_dir)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (cap, score) in enumerate(chosen, 1):
        path: Optional[Path] = folder / f"suggestion-{i:02d}.png"
        try:
            make_meme(photo, text=cap.text, lang=cap.lang, face=face, faces=faces).save(path)
        except EdgekitError as exc:
            notes.append(f"meme {i} not rendered: {exc}")
            path = None
        out.append(Suggestion(cap, score, path))
    return out


def suggest(chat: str, photo: Any = None, *, n: int = 5, lang: Optional[str] = None, face: Optional[int] = None,
            scene: Optional[str] = None, personalize: Union[bool, FeedbackStore] = True,
            memes_dir: Optional[PathLike] = None, seed: Optional[int] = None, captioner: Any = None) -> SuggestResult:
    """``n`` captions for a chat (zh/en), optionally fused with the selfie ``photo``'s emotion.

    Args:
        chat: recent chat text (one message per line, the last most recent). Empty -> InputError.
        photo: path or BGR array of a selfie (None: text only). No face -> text only, noted.
        n: suggestions wanted (1-20).
        lang: caption language (default: the chat's, zh when it has Chinese characters).
        face: which face of ``photo`` (0 = the leftmost; default: the largest).
        scene: force a scene (default: inferred from the chat; None when nothing matched).
        personalize: use the feedback store (True: the default one; or a FeedbackStore; False: off).
        memes_dir: also render each suggestion as a meme of ``photo`` into this folder.
        seed: same seed, same candidates (for a fresh captioner).
        captioner: a :class:`edgekit.Captioner` to use instead of the shared default one.
    """
    n, seed = check_count(n), check_seed(seed)
    if memes_dir is not None and photo is None:
        raise ConfigError("ready memes need a photo", subject="memes_dir", hint="pass photo= (CLI: --photo FILE)")
    analysis = analyze_text(chat, lang)
    notes: List[str] = []
    face_p, faces = face_probs(photo, face, notes) if photo is not None else (None, [])
    probs = fuse(analysis, face_p)
    scene_text = scene if scene is not None else analysis.scene
    scene_key = scene_request(scene_text).key
    store = _store(personalize)
    prefs = store.preferences() if store is not None else None
    chosen = rank(_candidates(probs, scene_text, analysis.lang, n, seed, captioner), prefs, n)
    if memes_dir is not None:
        suggestions = _render(photo, faces, chosen, memes_dir, face, notes)
    else:
        suggestions = [Suggestion(c, s) for c, s in chosen]
    return SuggestResult(analysis, face_p, probs, scene_key, analysis.lang, suggestions, notes)
