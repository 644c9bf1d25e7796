"""Fonts for meme captions: discovery, a per-character fallback chain and glyph coverage checks.

Installed fonts are listed once per process with fontconfig (``fc-list``); without fontconfig the
usual font folders are scanned and fonts are recognised by file name. A caption is drawn with a
:class:`FontChain`: each grapheme cluster uses the first font of the chain that has glyphs for
all its characters (emoji clusters try the colour emoji font first), so a Chinese caption with a
kaomoji such as ``٩(◕‿◕)۶`` and an emoji mixes Noto Sans CJK, DejaVu Sans and Noto Color Emoji.
After the installed fonts come edgekit's own bundled subset fonts (:mod:`edgekit.glyphs`), so
every caption edgekit can generate renders on a machine with no system fonts at all.

Coverage is checked through Pillow itself: a character the font lacks renders as the font's
``.notdef`` glyph, so its mask and advance equal those of a non-character (U+FFFF). When no
installed font covers a character, :class:`~edgekit.errors.FontError` names the characters and
the package or ``--font`` option that fixes it.

Colour bitmap fonts (CBDT, e.g. Noto Color Emoji) only load at their strike size in FreeType;
they are drawn at that size with ``embedded_color=True`` and scaled (see :mod:`.render`).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from PIL import ImageFont

from .. import glyphs
from ..errors import FontError
from .segment import clusters, is_emoji_cluster, is_ignorable

#: Size at which outline fonts are probed for coverage.
_PROBE_SIZE = 24
#: Strike sizes tried for colour bitmap fonts (Noto Color Emoji has one strike, 109 px).
_BITMAP_STRIKES = (109, 136, 128, 160, 96, 72, 64, 48, 32)
_NOT_A_CHARACTER = "\uffff"
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")

#: Family preferences per role, best first: (family, wanted style words). The first installed
#: match is used; a style is matched when all its words occur in the font's style.
PREFERENCES: Dict[str, Tuple[Tuple[str, str], ...]] = {
    "zh": (("Noto Sans CJK SC", "bold"), ("Source Han Sans SC", "bold"), ("Source Han Sans CN", "bold"),
           ("Noto Sans SC", "bold"), ("WenQuanYi Zen Hei", ""), ("WenQuanYi Micro Hei", ""),
           ("Microsoft YaHei", "bold"), ("PingFang SC", "semibold"), ("Hiragino Sans GB", "w6"),
           ("Noto Sans CJK SC", ""), ("Noto Sans CJK TC", "bold"), ("Noto Sans CJK JP", "bold"),
           ("Noto Serif CJK SC", "bold"), ("Droid Sans Fallback", ""), ("AR PL UMing CN", "")),
    "en": (("Impact", ""), ("Anton", ""), ("Oswald", "bold"), ("DejaVu Sans Condensed", "condensed bold"),
           ("DejaVu Sans", "bold"), ("Liberation Sans Narrow", "bold"), ("Liberation Sans", "bold"),
           ("Arial", "bold"), ("Noto Sans", "bold"), ("Helvetica", "bold"), ("DejaVu Sans", "")),
    "emoji": (("Noto Color Emoji", ""), ("Apple Color Emoji", ""), ("Segoe UI Emoji", ""),
              ("Twemoji", ""), ("JoyPixels", ""), ("Noto Emoji", "")),
    "symbols": (("DejaVu Sans", "bold"), ("DejaVu Sans", ""), ("Noto Sans Symbols 2", ""),
                ("Noto Sans Symbols", ""), ("Symbola", ""), ("FreeSans", "bold"), ("FreeSerif", ""),
                ("Segoe UI Symbol", ""), ("Arial Unicode MS", "")),
}
#: File-name fallbacks per role when fontconfig is not available (lower-case substrings).
FILE_HINTS: Dict[str, Tuple[str, ...]] = {
    "zh": ("notosanscjk-bold", "notosanscjksc-bold", "sourcehansans", "notosanscjk", "wqy-zenhei", "wqy-microhei",
           "msyh", "pingfang", "droidsansfallback"),
    "en": ("impact", "anton", "dejavusanscondensed-bold", "dejavusans-bold", "liberationsans-bold", "arialbd"),
    "emoji": ("notocoloremoji", "applecoloremoji", "seguiemj", "twemoji"),
    "symbols": ("dejavusans-bold", "dejavusans.ttf", "notosanssymbols2", "notosanssymbols", "symbola", "seguisym"),
}
#: Font folders scanned without fontconfig.
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts",
             "/System/Library/Fonts", "/Library/Fonts", "~/Library/Fonts", "C:/Windows/Fonts")


@dataclass(frozen=True)
class InstalledFont:
    """One font face found on the system (``index`` selects a face inside a .ttc collection)."""

    path: str
    index: int = 0
    family: str = ""
    style: str = ""
    color: bool = False


@dataclass(frozen=True, eq=False)
class FontFace:
    """A loadable font face: ``path`` (None = Pillow's built-in font) and collection ``index``.

    ``strike`` is set for colour bitmap fonts: the one pixel size FreeType can load them at.
    """

    path: Optional[str]
    index: int = 0
    name: str = ""
    strike: Optional[int] = None
    _coverage: Dict[str, bool] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_bitmap(self) -> bool:
        return self.strike is not None

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        """The Pillow font at ``size`` pixels (bitmap fonts: always at their strike size)."""
        return _load(self.path, self.index, self.strike or max(1, int(size)))

    def scale(self, size: float) -> float:
        """Factor from :meth:`font` pixels to ``size`` pixels (1 for outline fonts)."""
        return EMOJI_EM * size / self.strike if self.strike else 1.0

    def length(self, text: str, size: int) -> float:
        """Advance width of ``text`` at ``size`` pixels."""
        return self.font(size).getlength(text) * self.scale(size)

    def covers(self, char: str) -> bool:
        """True when the font has a glyph for ``char`` (cached)."""
        known = self._coverage.get(char)
        if known is None:
            known = self._coverage[char] = _renders_glyph(self.font(_PROBE_SIZE), char)
        return known

    def covers_cluster(self, cluster: str) -> bool:
        return all(self.covers(ch) for ch in cluster if not is_ignorable(ch))


#: Height of colour emoji relative to the text size.
EMOJI_EM = 0.95


@functools.lru_cache(maxsize=256)
def _load(path: Optional[str], index: int, size: int) -> ImageFont.FreeTypeFont:
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size, index=index)


def _signature(font: ImageFont.FreeTypeFont, text: str) -> tuple:
    mask = font.getmask(text, mode="L")
    pixels = bytes(mask) if mask.size[0] * mask.size[1] <= 1 << 16 else None
    return mask.size, mask.getbbox(), pixels, font.getlength(text)


def _renders_glyph(font: ImageFont.FreeTypeFont, char: str) -> bool:
    """``char`` renders as something other than the font's .notdef glyph."""
    if char.isspace():
        return True
    try:
        return _signature(font, char) != _notdef_signature(font)
    except (OSError, ValueError):
        return False


@functools.lru_cache(maxsize=64)
def _notdef_signature(font: ImageFont.FreeTypeFont) -> tuple:
    return _signature(font, _NOT_A_CHARACTER)


# ------------------------------------------------------------------------------ discovery


@functools.lru_cache(maxsize=1)
def installed_fonts() -> Tuple[InstalledFont, ...]:
    """Fonts installed on this system: from ``fc-list`` when available, else a folder scan."""
    listed = _fc_list()
    return listed if listed else _scan_font_dirs()


def _fc_list(pattern: str = "") -> Tuple[InstalledFont, ...]:
    exe = shutil.which("fc-list")
    if exe is None:
        return ()
    args = [exe, "-f", "%{file}|%{index}|%{family}|%{style}|%{color}\\n"] + ([pattern] if pattern else [])
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    fonts = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 5 and parts[0].lower().endswith(_FONT_SUFFIXES):
            index = int(parts[1]) if parts[1].isdigit() else 0
            fonts.append(InstalledFont(parts[0], index, parts[2], parts[3], parts[4].strip().lower() == "true"))
    return tuple(sorted(set(fonts), key=lambda f: (f.path, f.index)))


def _scan_font_dirs() -> Tuple[InstalledFont, ...]:
    dirs = list(FONT_DIRS)
    if sys.platform == "win32" and os.environ.get("WINDIR"):
        dirs.append(os.path.join(os.environ["WINDIR"], "Fonts"))
    found = []
    for folder in dirs:
        root = Path(os.path.expanduser(folder))
        if root.is_dir():
            found.extend(p for p in root.rglob("*") if p.suffix.lower() in _FONT_SUFFIXES and p.is_file())
    return tuple(InstalledFont(str(p), family=p.stem, color="emoji" in p.name.lower()) for p in sorted(set(found)))


def _style_matches(style: str, wanted: str) -> bool:
    words = style.lower().replace(",", " ").split()
    return all(w in words for w in wanted.split())


def find_font(role: str, fonts: Optional[Sequence[InstalledFont]] = None) -> Optional[InstalledFont]:
    """Best installed font for ``role`` (``"zh"``, ``"en"``, ``"emoji"``, ``"symbols"``), or None."""
    fonts = installed_fonts() if fonts is None else fonts
    for family, style in PREFERENCES[role]:
        for font in fonts:
            families = [f.strip().lower() for f in font.family.split(",")]
            if family.lower() in families and _style_matches(font.style, style):
                return font
    for hint in FILE_HINTS[role]:  # fonts found by a folder scan have no family names
        for font in fonts:
            if hint in Path(font.path).name.lower().replace(" ", ""):
                return font
    return None


def _fonts_covering(char: str) -> Tuple[InstalledFont, ...]:
    """Installed fonts whose character set holds ``char`` (fontconfig's own coverage data)."""
    return _fc_list(f":charset={ord(char):x}")


# ------------------------------------------------------------------------------ the chain


def load_face(font: Union[InstalledFont, str, "os.PathLike[str]"], index: int = 0) -> FontFace:
    """A :class:`FontFace` for an installed font or a font file path (raises FontError)."""
    if isinstance(font, InstalledFont):
        path, index, name = font.path, font.index, f"{font.family.split(',')[0]} {font.style.split(',')[0]}".strip()
    else:
        path, name = os.fspath(font), Path(font).name
    where = Path(path)
    if not where.is_file():
        raise FontError("no such font file" if not where.exists() else "is not a font file", path,
                        "pass a .ttf, .otf or .ttc file (e.g. /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc)")
    try:
        ImageFont.truetype(path, _PROBE_SIZE, index=index)
        return FontFace(path, index, name)
    except OSError:
        pass
    for strike in _BITMAP_STRIKES:  # colour bitmap fonts load at their strike size only
        try:
            ImageFont.truetype(path, strike, index=index)
            return FontFace(path, index, name, strike=strike)
        except OSError:
            continue
    raise FontError("cannot be loaded as a font by FreeType", path, "pass a .ttf, .otf or .ttc font file")


def _builtin_face() -> Optional[FontFace]:
    """Pillow's bundled scalable font (Latin only), the last resort when no font is installed."""
    try:
        ImageFont.load_default(_PROBE_SIZE).getlength("A")
    except (OSError, TypeError, AttributeError):  # Pillow built without FreeType, or < 10.1
        return None
    return FontFace(None, 0, "Pillow built-in (Aileron)")


class FontChain:
    """Ordered fonts; each grapheme cluster is drawn with the first font that covers it.

    Build it with :func:`font_chain`. ``runs(text)`` splits text into ``(text, FontFace)`` runs;
    ``check(text)`` raises :class:`FontError` naming characters no font covers.
    """

    def __init__(self, faces: Sequence[FontFace], emoji: Optional[FontFace] = None,
                 last_resort: bool = True) -> None:
        if not faces and emoji is None:
            raise FontError("no usable font found on this system", hint=_install_hint(""))
        self.faces: Tuple[FontFace, ...] = tuple(faces)
        self.emoji = emoji
        self.last_resort = last_resort
        self._extra: Dict[str, Optional[FontFace]] = {}

    @property
    def primary(self) -> FontFace:
        """The first outline font: its metrics set the line height."""
        return next((f for f in self.faces if not f.is_bitmap),
                    self.faces[0] if self.faces else self.emoji)  # type: ignore[return-value]

    def face_for(self, cluster: str) -> Optional[FontFace]:
        """The font used for one grapheme cluster, or None when no installed font covers it."""
        order: Iterable[FontFace] = self.faces
        if self.emoji is not None:
            order = (self.emoji, *self.faces) if is_emoji_cluster(cluster) else (*self.faces, self.emoji)
        for face in order:
            if face.covers_cluster(cluster):
                return face
        return self._extra_face(cluster) if self.last_resort else None

    def _extra_face(self, cluster: str) -> Optional[FontFace]:
        """Any installed font that covers ``cluster`` (asked of fontconfig, remembered)."""
        if cluster not in self._extra:
            self._extra[cluster] = None
            base = next((ch for ch in cluster if not is_ignorable(ch)), "")
            for font in _fonts_covering(base) if base else ():
                try:
                    face = load_face(font)
                except FontError:
                    continue
                if face.covers_cluster(cluster):
                    self._extra[cluster] = face
                    break
        return self._extra[cluster]

    def runs(self, text: str) -> List[Tuple[str, FontFace]]:
        """``text`` as consecutive runs sharing a font; raises FontError for uncovered characters."""
        runs: List[Tuple[str, FontFace]] = []
        missing: List[str] = []
        for cluster in clusters(text):
            face = self.face_for(cluster) if not cluster.isspace() else (runs[-1][1] if runs else self.primary)
            if face is None:
                missing.append(cluster)
            elif runs and runs[-1][1] is face:
                runs[-1] = (runs[-1][0] + cluster, face)
            else:
                runs.append((cluster, face))
        if missing:
            raise missing_glyphs_error(text, missing)
        return runs

    def check(self, text: str) -> None:
        """Raise FontError when some character of ``text`` has no glyph in any font."""
        self.runs(text)


def missing_glyphs_error(text: str, missing: Sequence[str]) -> FontError:
    """FontError naming the uncovered characters and how to get a font for them."""
    unique = list(dict.fromkeys(missing))
    named = ", ".join(f"{c!r} ({' '.join(f'U+{ord(ch):04X}' for ch in c if not is_ignorable(ch))})" for c in unique[:8])
    more = f" and {len(unique) - 8} more" if len(unique) > 8 else ""
    subject = repr(text if len(text) <= 40 else text[:37] + "...")
    return FontError(f"no installed font has glyphs for {named}{more}", subject, _install_hint("".join(unique)),
                     missing=tuple(unique))


def _install_hint(chars: str) -> str:
    packages = []
    if any(_is_cjk_char(ch) for ch in chars) or not chars:
        packages.append("fonts-noto-cjk")
    if any(is_emoji_cluster(ch) for ch in chars):
        packages.append("fonts-noto-color-emoji")
    if not packages or any(not _is_cjk_char(ch) and not is_emoji_cluster(ch) for ch in chars if not is_ignorable(ch)):
        packages.append("fonts-noto-core")
    return (f"Install a font that has them (Debian/Ubuntu: apt install {' '.join(dict.fromkeys(packages))}) "
            "or pass one with --font PATH (font= in Python)")


def _is_cjk_char(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC", "FULLWIDTH", "HALFWIDTH"))


@functools.lru_cache(maxsize=16)
def _chain_cached(lang: str, font: Optional[str], index: int) -> FontChain:
    fonts = installed_fonts()
    roles = ("zh", "en") if lang == "zh" else ("en", "zh")
    chosen: List[FontFace] = [load_face(font, index)] if font is not None else []
    emoji: Optional[FontFace] = None

    def add(face: FontFace) -> None:
        if all((face.path, face.index) != (f.path, f.index) for f in chosen):
            chosen.append(face)

    # edgekit's own subset fonts (Chinese, kaomoji and emoji with pip alone): they take the CJK
    # font's place when none is installed, and otherwise come after the installed fonts.
    bundled = [load_face(path) for path in glyphs.font_files()]
    for role in (*roles, "symbols", "emoji"):
        found = find_font(role, fonts)
        if found is None:
            if role == "zh":
                for face in bundled:
                    add(face)
            continue
        try:
            face = load_face(found)
        except FontError:  # listed but unreadable: skip it
            continue
        if face.is_bitmap or role == "emoji":
            emoji = emoji or face
        else:
            add(face)
    for face in bundled:
        add(face)
    builtin = _builtin_face()
    if builtin is not None:
        chosen.append(builtin)
    return FontChain(chosen, emoji)


def font_chain(lang: str = "zh", font: Union[str, "os.PathLike[str]", None] = None, index: int = 0) -> FontChain:
    """The fallback chain for captions in ``lang``: ``font`` (a user font file) first, then the
    best installed CJK and Latin fonts (order by language; edgekit's bundled subset fonts,
    :mod:`edgekit.glyphs`, stand in for a missing CJK font), symbol fonts, the colour emoji font,
    the bundled fonts and Pillow's built-in font. Cached per arguments."""
    return _chain_cached(lang, os.fspath(font) if font is not None else None, index)


__all__ = ["FontChain", "FontFace", "InstalledFont", "font_chain", "find_font", "installed_fonts", "load_face",
           "missing_glyphs_error", "PREFERENCES"]
