"""Module-level helpers over a shared default :class:`Captioner` (bundled model, 1 thread).

A Captioner owns one LiteRT interpreter and is not thread-safe; these helpers serialise calls
with a lock, so they may be used from several threads.
"""
from __future__ import annotations

import threading
from typing import List, Optional, Sequence

from .captioner import Caption, Captioner

_default: Optional[Captioner] = None
_lock = threading.RLock()


def default_captioner() -> Captioner:
    """The shared Captioner, created on first use."""
    global _default
    with _lock:
        if _default is None:
            _default = Captioner()
        return _default


def caption(emotion: object, style: Optional[str] = None, scene: Optional[str] = None, lang: str = "zh",
            n: int = 1, seed: Optional[int] = None) -> List[Caption]:
    """``n`` captions for an emotion label or an ``EmotionClassifier`` probability dict.

    >>> edgekit.caption("happiness", style="anime", scene="friends' party")[0].text  # doctest: +SKIP
    """
    with _lock:
        return default_captioner().generate(emotion, style=style, scene=scene, lang=lang, n=n, seed=seed)


def caption_styles(emotion: object, scene: Optional[str] = None, lang: str = "zh",
                   styles: Optional[Sequence[str]] = None, seed: Optional[int] = None) -> List[Caption]:
    """Five distinct captions in five different styles for one photo (or one per given style)."""
    with _lock:
        return default_captioner().caption_styles(emotion, scene=scene, lang=lang, styles=styles, seed=seed)


def restyle(text: str, style: Optional[str] = None, lang: Optional[str] = None, seed: Optional[int] = None,
            emotion: Optional[object] = None) -> List[Caption]:
    """``text`` said in ``style``'s voice (one caption) or in each of the 8 styles (``style=None``);
    see :meth:`Captioner.restyle`."""
    with _lock:
        return default_captioner().restyle(text, style=style, lang=lang, seed=seed, emotion=emotion)
