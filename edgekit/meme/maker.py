"""The main job: photo -> faces -> emotion -> caption -> rendered meme.

>>> meme = edgekit.make_meme("me.jpg", lang="en", style="sarcastic")   # doctest: +SKIP
>>> meme.caption, meme.emotion, meme.save("meme.png")

Faces are numbered left to right (``face=0`` is the leftmost); by default the largest face is
used. A photo without a face needs ``text``: with it the caption is still rendered, without it
:class:`~edgekit.errors.NoFaceError` says so. ``caption_source`` picks where a generated caption
comes from: ``"library"`` (the default, :attr:`~edgekit.CaptionerOptions.source`: authored lines)
or ``"model"`` (the caption model).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from ..errors import ConfigError, FontError, NoFaceError
from ..faces import left_to_right, pick_face
from ..paths import write_output
from ..task_options import CaptionerOptions, check_caption_source
from .canvas import Box, as_box, normalized, scale_box
from .compose import Composition, check_caption, check_placement, chain_for, compose_around_faces

if TYPE_CHECKING:
    from ..captioning import Caption
    from ..pipeline import PipelineOptions
    from ..results import BoundingBox, FaceResult

#: Still formats :meth:`Meme.save` writes, by file suffix.
STILL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
#: Where a generated caption comes from unless asked (the captioning default, ``CaptionerOptions.source``).
DEFAULT_CAPTION_SOURCE: str = CaptionerOptions.source
#: :attr:`Meme.caption_source` of a caption the user typed (``text=``).
USER_SOURCE = "user"


@dataclass(frozen=True)
class Meme:
    """A rendered meme.

    Attributes:
        image: the meme (RGB Pillow image).
        caption: the caption drawn on it.
        face_index: the face the caption is about (index into ``faces``), None without a face.
        face: that face (:class:`~edgekit.FaceResult`, in source-photo pixels), or None.
        emotion: that face's emotion label, or None.
        text_box: (x0, y0, x1, y1) of the caption's pixels (text, outline, shadow, bubble) in ``image``.
        faces: every face found, left to right, in source-photo pixels.
        caption_info: the generated :class:`~edgekit.captioning.Caption` (style, source...);
            None when the caption was given as ``text``. :attr:`caption_source` says where the
            caption came from.
        lang: caption language; placement: where the caption went (``bottom``, ``top``,
            ``left``, ``right``, ``bubble-*``, ``band-*``); font_size: its size in pixels.
        scale: source-photo pixels -> ``image`` pixels; photo_box: (x, y, w, h) of the photo in
            ``image`` (a caption band may add room around it).
        source: the photo's path when given one.
    """

    image: Image.Image
    caption: str
    face_index: Optional[int]
    face: Optional["FaceResult"]
    emotion: Optional[str]
    text_box: Tuple[int, int, int, int]
    faces: List["FaceResult"] = field(default_factory=list)
    caption_info: Optional["Caption"] = None
    lang: str = "zh"
    placement: str = "auto"
    font_size: int = 0
    scale: float = 1.0
    photo_box: Tuple[int, int, int, int] = (0, 0, 0, 0)
    source: Optional[str] = None
    composition: Optional[Composition] = field(default=None, repr=False)

    @property
    def style(self) -> Optional[str]:
        return self.caption_info.style if self.caption_info is not None else None

    @property
    def caption_source(self) -> str:
        """Who wrote the caption: ``"library"`` (an authored line: the library source, or the model
        source's fallback, see ``caption_info.fallback_reason``), ``"model"`` (generated) or
        ``"user"`` (``text=``)."""
        return self.caption_info.source if self.caption_info is not None else USER_SOURCE

    def to_meme_pixels(self, box: Any) -> Box:
        """A source-photo box (tuple, BoundingBox or FaceResult) in ``image`` pixels."""
        return scale_box(as_box(box), self.scale, self.photo_box[0], self.photo_box[1])

    def save(self, path: Union[str, "os.PathLike[str]"], *, durable: bool = False) -> Path:
        """Write the meme as PNG, JPEG or WebP (by the suffix of ``path``); returns the path.
        ``durable``: on disk (fsynced, file and folder) when this returns, not only in the page cache."""
        path = Path(path)
        fmt = STILL_FORMATS.get(path.suffix.lower())
        if fmt is None:
            hint = "use edgekit.make_gif(...) for an animated GIF" if path.suffix.lower() == ".gif" else ""
            raise ConfigError(f"unsupported meme file type {path.suffix!r} (use {', '.join(STILL_FORMATS)})", path,
                              hint)
        options: Dict[str, Any] = {"JPEG": {"quality": 92}, "WEBP": {"quality": 90}}.get(fmt, {"optimize": True})
        return write_file(path, lambda f: self.image.save(f, fmt, **options), self.source, durable)

    def to_dict(self) -> dict:
        """JSON-friendly summary (no pixels)."""
        info = self.caption_info
        return {
            "source": self.source, "caption": self.caption, "lang": self.lang, "style": self.style,
            "scene": info.scene if info is not None else None,
            "caption_source": self.caption_source,
            "caption_fallback_reason": info.fallback_reason if info is not None else None,
            "emotion": self.emotion,
            "emotion_score": self.face.emotion.score if self.face and self.face.emotion else None,
            "face_index": self.face_index, "faces": len(self.faces),
            "face_box": [round(v, 1) for v in self.to_meme_pixels(self.face)] if self.face is not None else None,
            "text_box": list(self.text_box), "placement": self.placement, "font_size": self.font_size,
            "size": list(self.image.size),
        }


def write_file(path: Path, writer: Any, source: Optional[str] = None, durable: bool = False) -> Path:
    """Write an output with ``writer(tmp_path)`` atomically (:func:`edgekit.paths.write_output`):
    never over the ``source`` photo/clip, never a torn file; OS errors become InputError naming the path.
    ``durable``: fsynced before it replaces ``path`` (and its folder after)."""
    return write_output(path, writer, [source] if source else (), "the meme", durable=durable)


# ------------------------------------------------------------------------------ analysis


@dataclass
class PreparedPhoto:
    """A photo ready for captioning: normalised RGB image, scale, faces left to right, chosen face."""

    image: Image.Image
    scale: float
    faces: List["FaceResult"]
    index: Optional[int]
    source: Optional[str]

    @property
    def face(self) -> Optional["FaceResult"]:
        return self.faces[self.index] if self.index is not None else None

    def face_boxes(self) -> List[Box]:
        return [scale_box(as_box(f), self.scale) for f in self.faces]


def detect_faces(bgr: np.ndarray, options: Optional["PipelineOptions"] = None) -> List["FaceResult"]:
    """Faces with emotions (``edgekit.analyze``, cached pipeline), sorted left to right."""
    from ..pipeline import analyze

    kwargs = {f.name: getattr(options, f.name) for f in fields(options)} if options is not None else {}
    return left_to_right(analyze(bgr, **kwargs), _box)


def choose_face(faces: Sequence["FaceResult"], face: Optional[int]) -> Optional[int]:
    """Index of the requested face (``face``, 0 = leftmost) or of the largest one (:mod:`edgekit.faces`)."""
    return pick_face(faces, face, _box)


def _box(face: "FaceResult") -> "BoundingBox":
    return face.box


def prepare_photo(photo: Any, *, face: Optional[int] = None, faces: Optional[Sequence["FaceResult"]] = None,
                  options: Optional["PipelineOptions"] = None) -> PreparedPhoto:
    """Load ``photo``, find its faces (unless ``faces`` are given) and pick one."""
    from ..imageio import load_image

    bgr = load_image(photo)
    found = left_to_right(faces, _box) if faces is not None else detect_faces(bgr, options)
    index = choose_face(found, face)
    image, scale = normalized(bgr)
    source = os.fspath(photo) if isinstance(photo, (str, os.PathLike)) else None
    return PreparedPhoto(image, scale, list(found), index, source)


def no_face_error(source: Optional[str]) -> NoFaceError:
    return NoFaceError("no face found, so there is no emotion to caption", source or "photo",
                       'pass your own caption with --text "..." (text=... in Python), '
                       "or use a photo with a visible face")


def emotion_of(face: Optional["FaceResult"]) -> Any:
    """What the captioner is conditioned on: the face's probabilities (``neutral`` without a model)."""
    return dict(face.emotion.probs) if face is not None and face.emotion is not None else "neutral"


# ------------------------------------------------------------------------------ memes


def render_meme(prepared: PreparedPhoto, text: str, *, lang: str = "zh", font: Any = None, placement: str = "auto",
                caption_info: Optional["Caption"] = None) -> Meme:
    """Render ``text`` on a prepared photo, away from its faces."""
    text = check_caption(text)
    comp = compose_around_faces(prepared.image, text, chain_for(text, lang, font), prepared.face_boxes(),
                                prepared.index, placement)
    face = prepared.face
    return Meme(comp.image(), text, prepared.index, face, face.emotion.label if face and face.emotion else None,
                comp.text_box, prepared.faces, caption_info, lang, comp.placement, comp.layout.size, prepared.scale,
                comp.photo_box, prepared.source, comp)


#: Generated captions tried for one meme before a missing glyph becomes a FontError.
CAPTION_ATTEMPTS = 4


def drawable_caption(emotion: Any, *, style: Optional[str], scene: Optional[str], lang: str, seed: Optional[int],
                     font: Any = None, first: Optional["Caption"] = None,
                     caption_source: str = DEFAULT_CAPTION_SOURCE) -> "Caption":
    """A generated caption whose every character an installed font can draw, from
    ``caption_source`` (``"library"`` or ``"model"``, see :func:`edgekit.caption`'s ``source``).

    The caption model can emit a rare glyph (a kaomoji's ``๑``) that no installed font covers; a
    generated caption is then replaced by another one (seed ``seed + attempt`` when seeded), up to
    :data:`CAPTION_ATTEMPTS` in all. Text the user typed is never replaced (see :func:`render_meme`).

    Raises:
        FontError: none of the attempts is drawable (the first attempt's error, naming the glyphs).
    """
    from ..captioning import caption
    from ..captioning.inputs import check_seed

    seed = check_seed(seed)
    error: Optional[FontError] = None
    for attempt in range(CAPTION_ATTEMPTS):
        if attempt == 0 and first is not None:
            info = first
        else:
            info = caption(emotion, style=style, scene=scene, lang=lang, n=1,
                           seed=None if seed is None else seed + attempt, source=caption_source)[0]
        try:
            chain_for(info.text, lang, font).check(info.text)
            return info
        except FontError as exc:
            error = error or exc
    assert error is not None
    raise error


def _check_options(lang: str, style: Optional[str], scene: Optional[str], placement: str,
                   caption_source: str = DEFAULT_CAPTION_SOURCE) -> str:
    """Check the meme options (before any detection work); returns the resolved ``lang``."""
    from ..captioning.taxonomy import resolve_lang, resolve_style, scene_request

    check_caption_source(caption_source)
    if style is not None:
        resolve_style(style)
    scene_request(scene)
    check_placement(placement)
    return resolve_lang(lang)


def make_meme(photo: Any, *, text: Optional[str] = None, style: Optional[str] = None, scene: Optional[str] = None,
              lang: str = "zh", face: Optional[int] = None, seed: Optional[int] = None, font: Any = None,
              placement: str = "auto", faces: Optional[Sequence["FaceResult"]] = None,
              options: Optional["PipelineOptions"] = None, caption_source: str = DEFAULT_CAPTION_SOURCE) -> Meme:
    """Make a captioned meme from a photo.

    Args:
        photo: image path or BGR array (see :func:`edgekit.load_image`).
        text: your own caption (rendered as is); None generates one from the face's emotion.
        style, scene, lang, seed: caption generation options (see :func:`edgekit.caption`).
        face: which face (0 = leftmost); None = the largest.
        font: a font file tried first for the caption.
        placement: ``auto``, ``top``, ``bottom`` or ``bubble``.
        faces: faces already found in ``photo`` (skips detection).
        options: :class:`~edgekit.PipelineOptions` for face detection / emotion (default model).
        caption_source: where a generated caption comes from: ``"library"`` (default: authored
            lines) or ``"model"`` (the caption model; a library line when no sample passes). Ignored
            with ``text`` (still checked). :attr:`Meme.caption_source` says who wrote the caption.

    Raises:
        NoFaceError: no face and no ``text``. InputError: unreadable photo, bad ``face`` index,
        empty/over-long text. FontError: no installed font covers your ``text`` (a generated
        caption with an uncovered glyph is replaced, see :func:`drawable_caption`). ConfigError: bad
        style, scene, lang, placement or caption_source (before any detection).
    """
    lang = _check_options(lang, style, scene, placement, caption_source)
    prepared = prepare_photo(photo, face=face, faces=faces, options=options)
    info = None
    if text is None:
        if prepared.face is None:
            raise no_face_error(prepared.source)
        info = drawable_caption(emotion_of(prepared.face), style=style, scene=scene, lang=lang, seed=seed, font=font,
                                caption_source=caption_source)
        text = info.text
    return render_meme(prepared, text, lang=lang, font=font, placement=placement, caption_info=info)


def meme_styles(photo: Any, n: int = 5, *, scene: Optional[str] = None, lang: str = "zh", face: Optional[int] = None,
                seed: Optional[int] = None, font: Any = None, placement: str = "auto",
                styles: Optional[Sequence[str]] = None, faces: Optional[Sequence["FaceResult"]] = None,
                options: Optional["PipelineOptions"] = None,
                caption_source: str = DEFAULT_CAPTION_SOURCE) -> List[Meme]:
    """``n`` memes of one photo, each captioned in a different style (``styles``, or ``n``
    distinct styles drawn with ``seed``) from ``caption_source`` (as :func:`make_meme`). Faces
    are detected once."""
    from ..captioning import caption_styles
    from ..captioning.taxonomy import STYLES

    lang = _check_options(lang, None, scene, placement, caption_source)
    if styles is None:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(STYLES):
            raise ConfigError(f"must be between 1 and {len(STYLES)} (one meme per style)", f"n={n!r}")
        styles = random.Random(seed).sample(STYLES, n)
    prepared = prepare_photo(photo, face=face, faces=faces, options=options)
    if prepared.face is None:
        raise no_face_error(prepared.source)
    emotion = emotion_of(prepared.face)
    infos = [drawable_caption(emotion, style=info.style, scene=scene, lang=lang, seed=seed, font=font, first=info,
                              caption_source=caption_source)
             for info in caption_styles(emotion, scene=scene, lang=lang, styles=list(styles), seed=seed,
                                        source=caption_source)]
    return [render_meme(prepared, info.text, lang=lang, font=font, placement=placement, caption_info=info)
            for info in infos]


__all__ = ["Meme", "make_meme", "meme_styles", "drawable_caption", "check_caption_source", "DEFAULT_CAPTION_SOURCE",
           "prepare_photo", "render_meme", "choose_face",
           "detect_faces",
           "PreparedPhoto", "STILL_FORMATS", "write_file"]
