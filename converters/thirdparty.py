"""Third-party files edgekit packages but never commits: MediaPipe's face models and caption fonts.

``python -m converters.thirdparty`` (run by ``make demo``/``make test``, and by the wheel build
through ``setup.py``) fills two git-ignored folders from pinned PyPI packages, checking sha256:

- ``edgekit/models/third_party/``: BlazeFace short/full-range and the 468-point face mesh
  (Apache-2.0), read out of the ``mediapipe==0.10.21`` wheel archive (a zip; the library itself is
  never installed or imported). The files are the same in every platform's wheel, so the
  manylinux x86_64 one is downloaded on any machine. Their sha256 are in the manifest.
- ``edgekit/assets/fonts/``: subset fonts that draw every character the caption model, the
  caption library and the suggestions can produce, all GB2312 hanzi and every emoji of Noto Emoji,
  so Chinese and emoji memes render on a machine that has no system fonts. Built with fontTools
  from OFL/permissive fonts in pinned packages (Noto Sans CJK SC at weight 700, Noto Sans,
  Noto Sans Symbols, Thai, Arabic, Noto Emoji, DejaVu Sans Bold), renamed as the OFL requires for
  modified fonts, with their licences and ``fonts.json`` (sources, sha256, coverage).

Only this build step needs network access (PyPI) and fontTools; an installed edgekit needs neither.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from converters.core.paths import ROOT
from edgekit.userdata import atomic_write_bytes  # stdlib-only module: importable in a bare build environment

PUBLIC = 0o644  # package data everyone reads
MODELS_DIR = ROOT / "edgekit" / "models"
THIRD_PARTY_DIR = MODELS_DIR / "third_party"
FONTS_DIR = ROOT / "edgekit" / "assets" / "fonts"
CACHE_DIR = ROOT / ".cache" / "thirdparty"

#: The wheel the face models come from; any platform's archive holds the same model files.
MEDIAPIPE = "mediapipe==0.10.21"
#: Platform-specific wheels are fetched for one fixed platform whatever the build machine is
#: (only data files are read from them): requirement -> (pip --platform, --python-version).
FIXED_PLATFORM = {MEDIAPIPE: ("manylinux_2_28_x86_64", "3.11"),
                  "matplotlib==3.10.7": ("manylinux_2_17_x86_64", "3.11")}

#: Font sources, in the order a character is looked for: (key, requirement, member in the wheel,
#: face index in a collection, {axis: value} to instance a variable font at, licence).
FONT_SOURCES: Tuple[Tuple[str, str, str, int, Dict[str, float], str], ...] = (
    ("cjk", "manimgx-fonts-cjk==2026.9.26.post1", "manimgx_fonts_cjk/NotoSansCJK-VF.otf.ttc", 2, {"wght": 700},
     "OFL-1.1"),
    ("latin", "manimgx-fonts==2026.9.26.post1", "manimgx_fonts/NotoSans[wght].ttf", 0, {"wght": 700, "wdth": 100},
     "OFL-1.1"),
    ("symbols", "manimgx-fonts==2026.9.26.post1", "manimgx_fonts/NotoSansSymbols[wght].ttf", 0, {"wght": 700},
     "OFL-1.1"),
    ("thai", "manimgx-fonts==2026.9.26.post1", "manimgx_fonts/NotoSansThai[wght].ttf", 0, {"wght": 700, "wdth": 100},
     "OFL-1.1"),
    ("arabic", "manimgx-fonts==2026.9.26.post1", "manimgx_fonts/NotoSansArabic[wght].ttf", 0,
     {"wght": 700, "wdth": 100}, "OFL-1.1"),
    ("dejavu", "matplotlib==3.10.7", "matplotlib/mpl-data/fonts/ttf/DejaVuSans-Bold.ttf", 0, {},
     "Bitstream-Vera AND LicenseRef-DejaVu-public-domain"),
    ("emoji", "manimgx-fonts==2026.9.26.post1", "manimgx_fonts/NotoEmoji[wght].ttf", 0, {"wght": 600}, "OFL-1.1"),
)
#: sha256 of each source font file as pinned (a changed upstream file is refused).
FONT_SHA256 = {
    "cjk": "d3d8256cdec8dbcb3552284bc6b20c734dd60c2ee9df83b5758e34807c4bac32",
    "latin": "fb53504de62e767a54695416123d68d67f71c9b69722175184ad56e7dd13547b",
    "symbols": "63724daeff6755a45933b9a5e3a3b41df5df8fe925c0f4c991f2f68c08a4182d",
    "thai": "13f52f79b04f01f2751a81052a5dee2df639fd4e13f4ac30821ab45c8dd5f7e7",
    "arabic": "3fae4d7239d1faa55b234bda8091019a5251ff79df40d5e29367d84bed2a8138",
    "dejavu": "b184b89e3c1075f22f6b71575b6fc20d4972b3cfd3b23322ca6fd596dcaef167",
    "emoji": "de6c18832938afc99caf132b39d6a30a19bac7f2e812e28db2535b4608d27551",
}
#: Family name of the built fonts (OFL: a modified font must not keep the reserved names).
FAMILY = "Edgekit Caption"
FONTS_FORMAT = "edgekit-fonts"
FONTS_VERSION = 2


class ThirdPartyError(RuntimeError):
    """A pinned package could not be downloaded or does not hold the expected file."""


def log(message: str) -> None:
    print(f"thirdparty: {message}", file=sys.stderr, flush=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------ downloads


def wheel(requirement: str) -> Path:
    """The pinned wheel for ``requirement`` in the download cache (``pip download`` when absent)."""
    platform, python = FIXED_PLATFORM.get(requirement, (None, None))
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_').lower()}-{version}-"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    found = sorted(p for p in CACHE_DIR.glob("*.whl") if p.name.lower().startswith(stem)
                   and (platform is None or platform in p.name))
    if found:
        return found[0]
    args = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(CACHE_DIR)]
    if platform:
        args += ["--platform", platform, "--python-version", python]
    log(f"downloading {requirement}" + (f" ({platform})" if platform else ""))
    # Inside a PEP 517 build environment PYTHONPATH points at an overlay that hides the
    # interpreter's own site-packages (and pip with it): call pip without that overlay.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONHOME")}
    result = subprocess.run(args + [requirement], capture_output=True, text=True, env=env)
    found = sorted(p for p in CACHE_DIR.glob("*.whl") if p.name.lower().startswith(stem))
    if result.returncode != 0 or not found:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ThirdPartyError(f"pip could not download {requirement}: {tail[0]} "
                              "(this build step needs PyPI; the installed package does not)")
    return found[0]


def member(archive: Path, name: str) -> bytes:
    with zipfile.ZipFile(archive) as z:
        try:
            return z.read(name)
        except KeyError:
            raise ThirdPartyError(f"{archive.name} has no {name}") from None


# ------------------------------------------------------------------------------ face models


def external_entries() -> Dict[str, dict]:
    return json.loads((MODELS_DIR / "manifest.json").read_text(encoding="utf-8"))["external"]


def models_present() -> bool:
    """Every face model is in place with the manifest's sha256."""
    for entry in external_entries().values():
        path = MODELS_DIR / entry["file"]
        if not path.is_file() or sha256_bytes(path.read_bytes()) != entry["sha256"]:
            return False
    return True


def fetch_models() -> List[Path]:
    """Extract the BlazeFace and face-mesh ``.tflite`` files from the pinned mediapipe wheel."""
    entries = external_entries()
    if models_present():
        return [MODELS_DIR / e["file"] for e in entries.values()]
    archive = wheel(MEDIAPIPE)
    written = []
    for key, entry in sorted(entries.items()):
        data = member(archive, entry["path"])
        if sha256_bytes(data) != entry["sha256"]:
            raise ThirdPartyError(f"{entry['path']} in {archive.name} has sha256 {sha256_bytes(data)[:12]}…, "
                                  f"the manifest pins {entry['sha256'][:12]}…")
        atomic_write_bytes(MODELS_DIR / entry["file"], data, PUBLIC)
        written.append(MODELS_DIR / entry["file"])
        log(f"{key}: {entry['file']} ({len(data):,} bytes, sha256 ok)")
    licence = member(archive, next(n for n in zipfile.ZipFile(archive).namelist()
                                   if n.endswith(".dist-info/LICENSE") or n.endswith("licenses/LICENSE")))
    atomic_write_bytes(THIRD_PARTY_DIR / "LICENSE-mediapipe.txt", licence, PUBLIC)
    return written


# ------------------------------------------------------------------------------ fonts


#: Unicode blocks kaomoji draw from: Latin Extended-A, combining marks, Greek, Cyrillic, Kannada
#: (ಠ_ಠ), phonetic extensions, arrows, math operators, technical, box drawing, block elements,
#: geometric shapes, miscellaneous symbols, kana, half-width forms.
KAOMOJI_BLOCKS = ((0x0100, 0x017F), (0x0300, 0x036F), (0x0370, 0x03FF), (0x0400, 0x04FF), (0x0C80, 0x0CFF),
                  (0x1D00, 0x1DBF), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2300, 0x23FF), (0x2500, 0x257F),
                  (0x2580, 0x259F), (0x25A0, 0x25FF), (0x2600, 0x26FF), (0x3040, 0x30FF), (0xFF61, 0xFF9F))


def caption_characters() -> Set[int]:
    """Code points edgekit itself can put in a caption or suggestion: the caption tokenizer's
    vocabulary, the caption library and restyle voices, the authored caption corpus and the
    suggestion tables."""
    assets = ROOT / "edgekit" / "assets"
    text = []
    tok = json.loads((MODELS_DIR / "caption_tokenizer.json").read_text(encoding="utf-8"))
    for key in ("atoms", "words", "chars"):
        text.extend(tok.get(key, []))
    text.extend(p.read_text(encoding="utf-8") for p in sorted((assets / "captions").glob("*.tsv")))  # library, voices
    text.extend(p.read_text(encoding="utf-8")
                for p in sorted((ROOT / "converters" / "caption" / "corpus" / "authored").glob("*.tsv")))
    text.extend(p.read_text(encoding="utf-8") for p in sorted((assets / "suggest").glob("*.tsv")))
    return {ord(c) for c in "".join(text) if c.isprintable() and not c.isspace()}


def wanted_characters() -> Set[int]:
    """Caption characters plus what users commonly type: ASCII, Latin-1, general punctuation,
    CJK symbols, full-width forms, every GB2312 character, and the blocks kaomoji are made of
    (kana, Greek, Cyrillic, combining marks, arrows, math, box drawing, shapes, symbols,
    half-width forms)."""
    wanted = caption_characters() | set(range(0x20, 0x7F)) | set(range(0xA0, 0x100)) | set(range(0x2010, 0x2070))
    wanted |= set(range(0x3000, 0x3040)) | set(range(0xFF01, 0xFF5F))
    for start, end in KAOMOJI_BLOCKS:
        wanted |= set(range(start, end + 1))
    for cp in range(0x4E00, 0xA000):
        try:
            chr(cp).encode("gb2312")
            wanted.add(cp)
        except UnicodeEncodeError:
            pass
    return wanted


def ranges(codepoints: Iterable[int]) -> List[List[int]]:
    """Sorted code points as inclusive ``[start, end]`` runs (compact coverage in fonts.json)."""
    runs: List[List[int]] = []
    for cp in sorted(codepoints):
        if runs and cp == runs[-1][1] + 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    return runs


def _load_source(key: str, requirement: str, name: str, index: int):
    from fontTools.ttLib import TTCollection, TTFont

    data = member(wheel(requirement), name)
    got = sha256_bytes(data)
    if got != FONT_SHA256[key]:
        raise ThirdPartyError(f"{name} in {requirement} has sha256 {got[:12]}…, pinned {FONT_SHA256[key][:12]}…")
    tmp = CACHE_DIR / f"src-{key}{Path(name).suffix}"
    tmp.write_bytes(data)
    font = TTCollection(str(tmp)).fonts[index] if name.endswith(".ttc") else TTFont(str(tmp))
    return font, got


def _rename(font, style_name: str) -> None:
    """Give a subset font edgekit's own family name (OFL reserved-name rule) in every record."""
    family = f"{FAMILY} {style_name}"
    table = font["name"]
    for record in list(table.names):
        if record.nameID in (1, 3, 4, 6, 16, 17, 21, 22):
            table.removeNames(nameID=record.nameID)
    table.setName(family, 1, 3, 1, 0x409)
    table.setName("Bold", 2, 3, 1, 0x409)
    table.setName(f"{family} Bold; edgekit subset", 3, 3, 1, 0x409)
    table.setName(f"{family} Bold", 4, 3, 1, 0x409)
    table.setName(f"{FAMILY.replace(' ', '')}{style_name.replace(' ', '')}-Bold", 6, 3, 1, 0x409)


def build_fonts() -> Dict[str, object]:
    """Subset each source font to the characters assigned to it; write fonts.json."""
    import logging

    from fontTools import subset
    from fontTools.varLib import instancer

    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "FFTM NOT subset": a timestamp table, harmless

    wanted = wanted_characters()
    must = caption_characters()
    remaining = set(wanted)
    outputs, covered_total = [], set()
    licences: Dict[str, bytes] = {}
    for key, requirement, name, index, axes, licence in FONT_SOURCES:
        font, source_sha = _load_source(key, requirement, name, index)
        cmap = set(font.getBestCmap())
        take = remaining & cmap if key != "emoji" else (remaining & cmap) | {cp for cp in cmap if cp > 0x2000}
        if not take:
            continue
        t0 = time.monotonic()
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        sub = subset.Subsetter(options)
        sub.populate(unicodes=sorted(take))
        sub.subset(font)
        if "fvar" in font:
            font = instancer.instantiateVariableFont(font, {a: v for a, v in axes.items()
                                                            if a in {x.axisTag for x in font["fvar"].axes}},
                                                   optimize=False)
        _rename(font, key.capitalize())
        font.recalcTimestamp = False  # the same inputs give the same bytes (sha256 in fonts.json)
        suffix = ".otf" if font.sfntVersion == "OTTO" else ".ttf"
        out = FONTS_DIR / f"edgekit-caption-{key}{suffix}"
        FONTS_DIR.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        font.save(str(tmp))
        tmp.replace(out)
        got = set(font.getBestCmap())
        covered_total |= got
        remaining -= got
        outputs.append({"file": out.name, "sha256": sha256_bytes(out.read_bytes()), "bytes": out.stat().st_size,
                        "characters": len(got), "source": {"package": requirement, "member": name, "face": index,
                                                           "sha256": source_sha, "instance": axes},
                        "licence": licence, "coverage": ranges(got)})
        lic_name = next(n for n in zipfile.ZipFile(wheel(requirement)).namelist()
                        if n.rsplit("/", 1)[-1] in ("LICENSE", "LICENSE.txt") and "dist-info" in n)
        licences[requirement] = member(wheel(requirement), lic_name)
        log(f"{key}: {len(got):,} characters -> {out.name} "
            f"({out.stat().st_size:,} bytes, {time.monotonic() - t0:.0f} s)")
    missing = sorted(must - covered_total)
    notice = ["Fonts in this folder are subsets built by `python -m converters.thirdparty` from the",
              "packages below and renamed (SIL OFL 1.1 section 3: modified fonts do not keep reserved names).", ""]
    for requirement, text in licences.items():
        (FONTS_DIR / f"LICENSE-{requirement.split('==')[0]}.txt").write_bytes(text)
        notice.append(f"- {requirement}: LICENSE-{requirement.split('==')[0]}.txt")
    (FONTS_DIR / "NOTICE.md").write_text("\n".join(notice) + "\n", encoding="utf-8")
    descriptor = {"format": FONTS_FORMAT, "version": FONTS_VERSION, "family": FAMILY, "fonts": outputs,
                  "caption_characters": len(must), "caption_characters_missing": "".join(map(chr, missing)),
                  "produced_by": "python -m converters.thirdparty"}
    atomic_write_bytes(FONTS_DIR / "fonts.json", (json.dumps(descriptor, indent=1, ensure_ascii=False) + "\n").encode(),
                       PUBLIC)
    if missing:
        log(f"no pinned font covers {len(missing)} caption characters: {''.join(map(chr, missing))} "
            "(the caption model never emits tokens with them; see edgekit.glyphs)")
    return descriptor


def fonts_present() -> bool:
    """fonts.json exists, was built from this input set, and every font matches its sha256."""
    path = FONTS_DIR / "fonts.json"
    if not path.is_file():
        return False
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    if descriptor.get("version") != FONTS_VERSION or descriptor.get("caption_characters") != len(caption_characters()):
        return False
    return all((FONTS_DIR / f["file"]).is_file() and sha256_bytes((FONTS_DIR / f["file"]).read_bytes()) == f["sha256"]
               for f in descriptor["fonts"])


def ensure(force: bool = False) -> None:
    """Fetch the face models and build the fonts unless they are already in place."""
    fetch_models()
    if force or not fonts_present():
        build_fonts()
    else:
        log("fonts up to date")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converters.thirdparty", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild the fonts even when up to date")
    parser.add_argument("--check", action="store_true", help="only say whether everything is in place (exit 1 if not)")
    args = parser.parse_args(argv)
    if args.check:
        ok = models_present() and fonts_present()
        print("third-party files: " + ("ok" if ok else "missing or stale: run python -m converters.thirdparty"))
        return 0 if ok else 1
    try:
        ensure(args.force)
    except ThirdPartyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
