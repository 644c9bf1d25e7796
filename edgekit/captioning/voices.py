"""Style voices for :meth:`Captioner.restyle`: the person's sentence kept, the style's voice added.

``voices.tsv`` (header ``lang style emotion position text`` and an optional ``tags`` column) holds
authored, content-free fragments per language, style and emotion, each a ``prefix`` or a ``suffix``
(``converters/caption/corpus/VOICES.md``). A fragment's tags (comma-separated,
:data:`~edgekit.captioning.presuppose.TAGS`) say what it presupposes about the sentence (``past``,
``sight``, ``calm`` ...): restyle never picks one the sentence contradicts while the cell has another
(:meth:`Voices.candidates`). Restyling keeps the source sentence word for word and
attaches one fragment of the target style and the sentence's emotion, so content and emotion
survive by construction and the voice changes; the ``plain`` voice is the sentence itself with
kaomoji and decorative brackets removed. A sentence whose emotion is uncertain (no cue word and an
unsure text model: :func:`~edgekit.captioning.textemotion.emotion_reading`) gets a fragment of the
style's mood-neutral cell (emotion column :data:`ANY_MOOD`). In the bundled file that cell holds
*style markers*, not remarks (blind reviews rounds 7-9: a remark stuck on the end of a sentence
whose mood was misread clashed with it): a kaomoji or an ellipsis after the sentence, or a short
tag or label before it (（旁白）, 本台消息：, 家人们，, "*deadpan* ", "Chat, "), which say nothing
about the event or its mood. This is the documented hybrid of issue #25 item 5: the caption model
writes captions, it does not rewrite them.
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

import numpy as np

from ..errors import ModelError
from ..paths import read_regular
from ..textunits import KAOMOJI
from .library import ASSET_DIR, MAX_CHARS
from .presuppose import TAGS, clashes, sentence_features
from .taxonomy import EMOTIONS, LANGS, STYLES

VOICES_PATH = ASSET_DIR / "voices.tsv"
#: The emotion column of the mood-neutral cells: fragments for a sentence of uncertain emotion.
ANY_MOOD = "any"
MOODS = tuple(EMOTIONS) + (ANY_MOOD,)
HEADER = ("lang", "style", "emotion", "position", "text")
#: The optional last column: what a fragment presupposes (:data:`~edgekit.captioning.presuppose.TAGS`).
TAGS_COLUMN = "tags"
POSITIONS = ("prefix", "suffix")
MAX_VOICES_BYTES = 4 * 2**20
#: Sentence-final punctuation and commas a suffix replaces (it opens its own sentence).
_TRAILING = "。.，,、；;：:~～ "
#: How a suffix may open: the bundled ones open their own sentence (``converters.caption.voices_check``
#: rejects commas, colons and dashes); the others are still joined sensibly for a user's voices file.
_OPENERS = ("……", "...", "——", "。", ".", "！", "!", "？", "?", "～", "~", "，", ",", "、", "；", ";", "：", ":")
#: Sentence-initial English words that are capitalised only because they start the sentence: after a
#: label ending with a colon ("Plot twist: ") they are lower-cased; any other word (a name) keeps its capital.
_FUNCTION_WORDS = frozenset(
    "a an the my our your his her their its this that these those it it's there here we they he she you "
    "just so and but or then now today tonight still finally also not no nothing someone somebody everyone "
    "when what why how who where if after before every all some".split())
#: Endings after which a sentence needs no opener of the suffix's own.
_ENDED = ("!", "?", "！", "？", "…", "...", "~", "～")
#: Kaomoji (:data:`edgekit.textunits.KAOMOJI`, with a trailing arm or sparkle), decorative
#: 【labels】 and sparkles: what the plain voice drops. A bracketed word ("(maybe)", "（大概）") is
#: part of the sentence, not a decoration.
DECORATION = re.compile(rf"(?:{KAOMOJI.pattern})[ノ丿ﾉ✧☆♪]*|【[^】]{{0,12}}】|[✧☆♪]+")
_KAOMOJI_ONLY = re.compile(rf"(?:{KAOMOJI.pattern})[ノ丿ﾉ✧☆♪]*")


class Voice(NamedTuple):
    position: str
    text: str
    tags: FrozenSet[str] = frozenset()


def parse_tags(field: str) -> Optional[FrozenSet[str]]:
    """The tags of a ``tags`` field ("past,calm"; empty: none), or None when one is unknown."""
    tags = frozenset(t.strip() for t in field.split(",") if t.strip())
    return tags if tags <= set(TAGS) else None


def read_voices(path: Path = VOICES_PATH) -> Dict[Tuple[str, str, str], List[Voice]]:
    """Fragments by (lang, style, emotion); ModelError naming the line when the file is wrong."""
    try:
        lines = read_regular(path, MAX_VOICES_BYTES, "style voices", ModelError).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read the style voices ({exc})", subject=path, hint="reinstall edgekit") from None
    header = tuple(lines[0].split("\t")) if lines else ()
    if header not in (HEADER, HEADER + (TAGS_COLUMN,)):
        raise ModelError(f"bad header, expected {'|'.join(HEADER)}[|{TAGS_COLUMN}]", subject=path)
    tagged = len(header) > len(HEADER)
    voices: Dict[Tuple[str, str, str], List[Voice]] = defaultdict(list)
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split("\t")
        if tagged and len(parts) == len(HEADER):
            parts.append("")  # the tags column is optional on each row too (an editor may trim its tab)
        tags = parse_tags(parts[5]) if tagged and len(parts) == len(header) else frozenset()
        if (len(parts) != len(header) or parts[0] not in LANGS or parts[1] not in STYLES or parts[2] not in MOODS
                or parts[3] not in POSITIONS or not parts[4].strip() or tags is None):
            raise ModelError(f"line {number} is not 'lang style emotion|{ANY_MOOD} prefix|suffix text"
                             + (f" {'|'.join(TAGS)},..." if tagged else "")
                             + "' with known tags", subject=path)
        voices[(parts[0], parts[1], parts[2])].append(Voice(parts[3], parts[4], tags))
    return dict(voices)


def plain(text: str) -> str:
    """The sentence without kaomoji, decorative brackets and doubled spaces."""
    return " ".join(DECORATION.sub(" ", text).split()) or text.strip()


def ends_decorated(text: str) -> bool:
    """Whether ``text`` ends with a kaomoji or a decoration (:data:`DECORATION`)."""
    return any(m.end() == len(text) for m in DECORATION.finditer(text))


def is_kaomoji(text: str) -> bool:
    """Whether ``text`` is one kaomoji and nothing else (a style marker of the mood-neutral cell)."""
    return _KAOMOJI_ONLY.fullmatch(text.strip()) is not None


def attach(source: str, voice: Voice, lang: str) -> str:
    """``source`` with ``voice`` attached.

    A suffix opens its own sentence (``。X`` / ``. X``): it replaces the sentence's trailing comma
    or full stop, and after a sentence that already ends with "!", "?", "…", "~" or a kaomoji its
    opener is dropped (one space kept in English and after a kaomoji). A suffix that is only a
    kaomoji follows the sentence after one space, in place of its comma or full stop; one that is
    only an ellipsis ("……", "...") replaces them and adds nothing after "!", "?" or "…". A prefix is
    a label; after an English address ending with a comma ("Chat, ") the sentence's first capital is
    lower-cased, as people type after an address ("Chat, rain all day"; not "I" or an acronym; a name
    that starts the sentence is lower-cased too, the casual register's habit); after a label ending
    with a colon only a function word is ("Plot twist: my cat...", "Narrator: Tokyo..."). A kaomoji
    suffix after a sentence that already ends in one gives the sentence unchanged (restyle then picks
    another marker)."""
    text = voice.text
    if voice.position == "suffix":
        stripped = source.rstrip()
        if is_kaomoji(text):  # a trailing mark: after the sentence, in place of its comma or full stop
            if ends_decorated(stripped):  # one kaomoji is enough: the same sentence, which restyle skips
                return source
            base = stripped if stripped.endswith(_ENDED) else (stripped.rstrip("。.，,") or stripped)
            return base + " " + text.strip()
        opener = next((o for o in _OPENERS if text.startswith(o)), None)
        if opener is None:  # a fragment that joins without punctuation of its own
            return source + (" " if lang == "en" else "") + text
        decorated = ends_decorated(stripped)
        if decorated or stripped.endswith(_ENDED):
            rest = text[len(opener):].lstrip()
            return stripped + (" " if rest and (lang == "en" or decorated) else "") + rest
        return (source.rstrip(_TRAILING) or stripped) + text
    first = re.match(r"[A-Z][a-z']*\b", source)
    if lang == "en" and first and first.group() != "I" and (
            text.rstrip().endswith(",") or (text.rstrip().endswith(":") and first.group().lower() in _FUNCTION_WORDS)):
        source = source[0].lower() + source[1:]  # "Chat, rain all day", "Plot twist: my cat" but "Narrator: Tokyo"
    return text + source


class Voices:
    """The voice fragments, indexed for :meth:`restyle`."""

    def __init__(self, voices: Dict[Tuple[str, str, str], List[Voice]]) -> None:
        self.voices = voices

    @classmethod
    def load(cls, path: Path = VOICES_PATH) -> "Voices":
        return cls(read_voices(Path(path)))

    def candidates(self, source: str, lang: str, style: str, emotion: str) -> List[Voice]:
        """The fragments of the (``lang``, ``style``, ``emotion``) cell that ``restyle`` may attach to
        ``source``: those whose tags the sentence contradicts in nothing
        (:func:`~edgekit.captioning.presuppose.clashes` on its
        :func:`~edgekit.captioning.presuppose.sentence_features`); when every fragment of the cell
        clashes, those that clash in the fewest tags, so the result still carries the style and the
        cell's mood. A voices file without mood-neutral cells answers :data:`ANY_MOOD` from the
        neutral cell."""
        cell = self.voices.get((lang, style, emotion))
        if cell is None and emotion == ANY_MOOD:
            cell = self.voices.get((lang, style, "neutral"))
        if not cell:
            return []
        features = sentence_features(source, lang)
        counts = [len(clashes(v.tags, features)) for v in cell]
        least = min(counts)
        return [v for v, n in zip(cell, counts) if n == least]

    def restyle(self, rng: np.random.Generator, source: str, lang: str, style: str, emotion: str,
                exclude: Iterable[str] = ()) -> Optional[str]:
        """``source`` in ``style``'s voice for ``emotion`` (an emotion or :data:`ANY_MOOD`): one of
        :meth:`candidates`, not in ``exclude`` (fragments that keep the result within the caption
        length limit first); None when no candidate is unused. ``plain`` always gives the sentence
        itself (:func:`plain`)."""
        if style == "plain":  # the sentence itself: never "used up" by earlier calls
            return plain(source)
        excluded = set(exclude)
        made = [attach(source, v, lang) for v in self.candidates(source, lang, style, emotion)]
        made = [t for t in made if t not in excluded and t != source]
        if not made:
            return None
        fitting = [t for t in made if len(t) <= MAX_CHARS[lang]] or sorted(made, key=len)[:1]
        return fitting[int(rng.integers(len(fitting)))]
