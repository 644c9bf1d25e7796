"""Tokenizer of the caption model: characters for CJK, words for Latin, whole kaomoji as atoms.

Pieces are plain strings and a text is the concatenation of its pieces, so decoding is a join.
Pre-tokenisation splits a text into known kaomoji (longest first), Latin words with their
leading space (GPT-2 style, ``" grinning"``) and single characters; a word missing from the
vocabulary falls back to its characters, a character missing from it becomes ``<unk>``.
Control tokens (``<lang:zh>``, ``<emo:happiness>``, ``<sty:anime>``, ``<scn:party>``) condition the
model; a prompt is ``[lang, emotion, style, scene, <bos>]``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from ..errors import ModelError
from ..paths import read_regular
from .taxonomy import EMOTIONS, LANGS, NO_SCENE, SCENES, STYLES

#: Largest tokenizer file read (the bundled one is well under 1 MB).
MAX_TOKENIZER_BYTES = 64 * 2**20

FORMAT = "edgekit-caption-tokenizer"
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(4)
WORD_PATTERN = r" ?[A-Za-z]+(?:'[a-z]+)?"


def control_tokens() -> List[str]:
    """All control tokens, in vocabulary order."""
    return ([f"<lang:{l}>" for l in LANGS] + [f"<emo:{e}>" for e in EMOTIONS] + [f"<sty:{s}>" for s in STYLES]
            + [f"<scn:{s}>" for s in SCENES + (NO_SCENE,)])


class CaptionTokenizer:
    """Maps text to ids and back; built from a vocabulary of pieces."""

    def __init__(self, atoms: Sequence[str], words: Sequence[str], chars: Sequence[str]) -> None:
        self.atoms = list(atoms)
        self.words = list(words)
        self.chars = list(chars)
        self.pieces: List[str] = list(SPECIALS) + control_tokens() + self.atoms + self.words + self.chars
        self.ids: Dict[str, int] = {p: i for i, p in enumerate(self.pieces)}
        if len(self.ids) != len(self.pieces):
            raise ModelError("tokenizer vocabulary has duplicate pieces")
        self.n_controls = len(SPECIALS) + len(control_tokens())
        atom_re = "|".join(re.escape(a) for a in sorted(self.atoms, key=len, reverse=True))
        self._split = re.compile((atom_re + "|" if atom_re else "") + WORD_PATTERN + "|.", re.DOTALL)

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    def encode(self, text: str) -> List[int]:
        """Ids of ``text`` (no control tokens, no <bos>/<eos>)."""
        out: List[int] = []
        for piece in self._split.findall(text):
            if piece in self.ids:
                out.append(self.ids[piece])
            else:
                out.extend(self.ids.get(ch, UNK) for ch in piece)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; special and control tokens are dropped."""
        return "".join(self.pieces[i] for i in ids if self.n_controls <= i < len(self.pieces))

    def prompt(self, lang: str, emotion: str, style: str, scene: Optional[str]) -> List[int]:
        """Conditioning prefix ``[lang, emotion, style, scene, <bos>]`` (scene None -> ``none``: no scene words)."""
        names = (f"<lang:{lang}>", f"<emo:{emotion}>", f"<sty:{style}>", f"<scn:{scene or NO_SCENE}>")
        return [self.ids[n] for n in names] + [BOS]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": 1, "specials": list(SPECIALS), "controls": control_tokens(),
                "atoms": self.atoms, "words": self.words, "chars": self.chars}

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path, content: Optional[bytes] = None) -> "CaptionTokenizer":
        """Read a tokenizer file (or its already-read, checked ``content``); raise ModelError when it
        is not one or its control tokens differ."""
        try:
            raw = (read_regular(path, MAX_TOKENIZER_BYTES, "caption tokenizer", ModelError)
                   if content is None else content)
            data = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read the caption tokenizer ({exc})", subject=path) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"not a {FORMAT} file", subject=path)
        if data.get("specials") != list(SPECIALS) or data.get("controls") != control_tokens():
            raise ModelError("control tokens differ from this edgekit version's taxonomy", subject=path,
                             hint="Rebuild the caption model with `python -m converters.caption all`")
        return cls(data["atoms"], data["words"], data["chars"])
