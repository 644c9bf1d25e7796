"""Split a caption into grapheme clusters and into the unbreakable tokens the line breaker uses.

Line-break rules (a small subset of UAX #14 and the Japanese/Chinese *kinsoku* rules):

- CJK characters (Han, kana, Hangul, full-width forms) are tokens of their own: a line may
  break between any two of them;
- Latin text breaks at spaces only: a word with its punctuation (``"happy!"``) is one token;
- emoji clusters (ZWJ sequences, flags, skin tones, keycaps) are single tokens;
- kaomoji such as ``(≧∇≦)ノ``, ``٩(◕‿◕)۶`` or ``(｡•́︿•̀｡)`` are kept whole;
- closing punctuation (``，。！？）」…`` ...) never starts a line: it is glued to the token before
  it; opening brackets and quotes (``（「“`` ...) never end one: glued to the token after.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import List

from ..textunits import KAOMOJI

ZWJ = "\u200d"
#: Characters that may not start a line (glued to the previous token).
NO_LINE_START = frozenset(
    "!%),.:;?]}¢°·’”‥…⋯—–~、。〉》」』】〕〗〞〜︰︱︲︳﹐﹑﹒﹓﹔﹕﹖﹗﹚﹜﹞！），．：；？］｝～｠｡｣､ー"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ々〻")
#: Characters that may not end a line (glued to the next token).
NO_LINE_END = frozenset("([{£¥‘“〈《「『【〔〖〝﹙﹛﹝（［｛｟｢")

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: Characters a kaomoji's "arms" may not contain: spaces, Han, ASCII letters/digits, sentence
#: punctuation and parentheses.
_NOT_ARM = rf"\s{_HAN}A-Za-z0-9，。！？、；：,.!?;:\"'“”‘’()（）"
#: A kaomoji (:data:`edgekit.textunits.KAOMOJI`) with up to 3 characters of arms on either side.
_KAOMOJI = re.compile(rf"[^{_NOT_ARM}]{{0,3}}(?:{KAOMOJI.pattern})[^{_NOT_ARM}]{{0,3}}")


@dataclass(frozen=True)
class Token:
    """An unbreakable piece of a caption. ``kind``: ``word``, ``cjk``, ``emoji``, ``kaomoji``,
    ``space`` or ``newline`` (a hard line break)."""

    text: str
    kind: str

    @property
    def visible(self) -> bool:
        return self.kind not in ("space", "newline")


# ------------------------------------------------------------------------------- characters


def is_ignorable(ch: str) -> bool:
    """Default-ignorable characters (ZWJ, variation selectors, tags, format characters): drawn
    as nothing, so no font needs a glyph for them."""
    cp = ord(ch)
    return (0xFE00 <= cp <= 0xFE0F or 0xE0000 <= cp <= 0xE0FFF or 0x180B <= cp <= 0x180F
            or unicodedata.category(ch) == "Cf")


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _extends_cluster(ch: str) -> bool:
    cp = ord(ch)
    return (unicodedata.category(ch) in ("Mn", "Me", "Mc") or is_ignorable(ch)
            or 0x1F3FB <= cp <= 0x1F3FF)  # skin tone modifiers


def clusters(text: str) -> List[str]:
    """User-perceived characters: a base character with its combining marks, variation
    selectors and modifiers; ZWJ emoji sequences and flag pairs stay together."""
    out: List[str] = []
    join_next = False
    for ch in text:
        pair_flag = bool(out) and _is_regional_indicator(ch) and len(out[-1]) == 1 and _is_regional_indicator(out[-1])
        if out and ch not in "\n" and (join_next or _extends_cluster(ch) or pair_flag) and out[-1] != "\n":
            out[-1] += ch
        else:
            out.append(ch)
        join_next = ch == ZWJ
    return out


def is_emoji_cluster(cluster: str) -> bool:
    """True for clusters best drawn with a colour emoji font (pictographs, emoji sequences)."""
    if not cluster:
        return False
    cp = ord(cluster[0])
    if "\ufe0f" in cluster or ZWJ in cluster or "\u20e3" in cluster or _is_regional_indicator(cluster[0]):
        return True
    return 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0x2B00 <= cp <= 0x2BFF or 0x2300 <= cp <= 0x23FF


def is_cjk(ch: str) -> bool:
    """CJK ideographs, kana, Hangul, CJK symbols and full-width forms: a line may break around them."""
    cp = ord(ch)
    return (0x2E80 <= cp <= 0x9FFF or 0xAC00 <= cp <= 0xD7AF or 0xF900 <= cp <= 0xFAFF or 0xFE30 <= cp <= 0xFE4F
            or 0xFF00 <= cp <= 0xFFEF or 0x20000 <= cp <= 0x3FFFF)


def is_han(text: str) -> bool:
    """True when ``text`` contains a CJK ideograph."""
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff" for ch in text)


# ------------------------------------------------------------------------------- tokens


def _kind(cluster: str) -> str:
    if cluster == "\n":
        return "newline"
    if cluster.isspace():
        return "space"
    if is_emoji_cluster(cluster):
        return "emoji"
    return "cjk" if is_cjk(cluster[0]) else "word"


def _raw_tokens(text: str) -> List[Token]:
    tokens: List[Token] = []
    for cluster in clusters(text):
        kind = _kind(cluster)
        if tokens and kind in ("word", "space") and tokens[-1].kind == kind:
            tokens[-1] = Token(tokens[-1].text + cluster, kind)
        else:
            tokens.append(Token(cluster, kind))
    return tokens


def _glue(tokens: List[Token]) -> List[Token]:
    """Apply the kinsoku rules by merging tokens that must stay on one line."""
    out: List[Token] = []
    stick_to_next = False
    for tok in tokens:
        if out and tok.visible and (stick_to_next or tok.text[0] in NO_LINE_START) and out[-1].visible:
            prev = out.pop()
            tok = Token(prev.text + tok.text, prev.kind if prev.kind != "word" or tok.kind == "word" else tok.kind)
        out.append(tok)
        stick_to_next = tok.visible and tok.text[-1] in NO_LINE_END
    return out


def tokenize(text: str) -> List[Token]:
    """Unbreakable tokens of ``text`` (see the module docstring); spaces and newlines are tokens."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    tokens: List[Token] = []
    pos = 0
    for match in _KAOMOJI.finditer(text):
        tokens += _raw_tokens(text[pos:match.start()])
        tokens.append(Token(match.group(), "kaomoji"))
        pos = match.end()
    tokens += _raw_tokens(text[pos:])
    return _glue(tokens)


__all__ = ["Token", "clusters", "tokenize", "is_emoji_cluster", "is_ignorable", "is_cjk", "is_han",
           "NO_LINE_START", "NO_LINE_END"]
