"""The template filler: captions drawn from the slot grammars (``converters/caption/grammar``).

It built the first caption library; now it is the blind review's ``template`` baseline and adds
fresh, labelled captions to the evaluation scorer's training data. The library itself is the
authored corpus (:mod:`converters.caption.authored`)."""
from __future__ import annotations

import random
import re
from collections import defaultdict
from typing import Dict, List, Tuple

from edgekit.captioning.library import Entry
from edgekit.captioning.taxonomy import EMOTIONS, LANGS, SCENES, STYLES

from .grammar import GRAMMARS, KAOMOJI

HELDOUT_FRACTION = 0.10
_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([a-z])")


def _polish(text: str, lang: str) -> str:
    """Capitalise English sentence starts; trim spaces."""
    text = " ".join(text.split())
    if lang == "en":
        text = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)
    return text


def render(rng: random.Random, lang: str, emotion: str, style: str, scene: str) -> str:
    """One caption drawn from the grammar for the given tags."""
    g = GRAMMARS[lang]
    slots = {k: rng.choice(v) for k, v in g.EMOTION_SLOTS[emotion].items()}
    slots["S"] = rng.choice(g.SCENE_PHRASES[scene])
    slots["K"] = rng.choice(KAOMOJI[emotion])
    return _polish(rng.choice(g.STYLE_TEMPLATES[style]).format(**slots), lang)


def generate(per_cell: int = 6, seed: int = 0, max_tries: int = 60) -> List[Entry]:
    """``per_cell`` unique captions per (lang, emotion, style, scene), globally deduplicated,
    with ``split`` set: 10% of every (lang, emotion, style) cell held out."""
    rng = random.Random(seed)
    seen = set()
    cells: Dict[Tuple[str, str, str], List[Tuple[str, str]]] = defaultdict(list)
    for lang in LANGS:
        for emotion in EMOTIONS:
            for style in STYLES:
                for scene in SCENES:
                    made = 0
                    for _ in range(max_tries):
                        text = render(rng, lang, emotion, style, scene)
                        if text in seen:
                            continue
                        seen.add(text)
                        cells[(lang, emotion, style)].append((scene, text))
                        made += 1
                        if made == per_cell:
                            break
    entries = []
    for (lang, emotion, style), items in cells.items():
        rng.shuffle(items)
        n_held = max(1, round(HELDOUT_FRACTION * len(items)))
        for i, (scene, text) in enumerate(items):
            entries.append(Entry(lang, emotion, style, scene, "heldout" if i < n_held else "train", text))
    entries.sort(key=lambda e: (e.lang, EMOTIONS.index(e.emotion), STYLES.index(e.style), SCENES.index(e.scene),
                                e.text))
    return entries
