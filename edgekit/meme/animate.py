"""Animated memes: GIF or animated WebP, from a still (zoom punch + caption reveal) or a video clip.

From a still: a short slow zoom on the face, then a "punch" (quick zoom in that eases back)
while the caption appears token by token, then a long hold on the finished meme.

From a video: the clip is decoded as a stream (:class:`edgekit.video.VideoReader`, never loaded
whole); frames are sampled at up to ``fps`` for at most ``max_seconds`` / ``max_frames``,
downscaled to ``max_side`` and analysed in video mode (tracked faces, smoothed emotions). The
caption comes from the chosen face's mean emotion over the clip and is placed away from every
position that face takes, so it never covers it.

Frames are capped at :data:`MAX_FRAMES` and :data:`MAX_SIDE` pixels; GIFs loop forever by
default (``loop=0``; ``loop=None`` plays once).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from ..errors import ConfigError, InputError
from ..validate import check, integer, number
from .canvas import Box, as_box, resized, scale_box, union
from .compose import Composition, check_caption, chain_for, compose_around_faces
from .maker import (DEFAULT_CAPTION_SOURCE, USER_SOURCE, Meme, _check_options, choose_face, make_meme, no_face_error,
                    write_file)

if TYPE_CHECKING:
    from ..captioning import Caption
    from ..pipeline import PipelineOptions
    from ..results import FaceResult

#: Longest side of animation frames, in pixels.
MAX_SIDE = 400
#: Colours of the palette shared by all GIF frames (no dithering, so unchanged pixels stay
#: identical from frame to frame and GIF stores only what changed).
GIF_COLORS = 192
#: Most frames in one animation.
MAX_FRAMES = 60
#: Default frame rate of clips, frames per second.
DEFAULT_FPS = 10.0
#: Default length of a clip animation, in seconds.
DEFAULT_SECONDS = 6.0
#: Still animation: frames before the punch, caption reveal steps, zoom of the reveal frames
#: (the punch; later frames keep the last zoom, so GIF frames only store the changed text),
#: frame and hold durations (ms).
INTRO_FRAMES = 2
REVEAL_STEPS = 8
PUNCH_ZOOMS = (1.16, 1.10, 1.07)
FRAME_MS = 80
HOLD_MS = 1800
ANIMATED_FORMATS = {".gif": "GIF", ".webp": "WEBP"}


@dataclass(frozen=True)
class AnimatedMeme:
    """An animated meme: RGB ``frames`` with per-frame ``durations_ms``.

    ``text_box`` is in frame pixels; ``meme`` is the still it was made from (None for clips);
    ``caption_info``: a clip's generated :class:`~edgekit.captioning.Caption` (None for your own
    text; a photo's is ``meme.caption_info``).
    """

    frames: List[Image.Image]
    durations_ms: List[int]
    caption: str
    emotion: Optional[str]
    face_index: Optional[int]
    text_box: Tuple[int, int, int, int]
    loop: Optional[int] = 0
    source: Optional[str] = None
    meme: Optional[Meme] = None
    face_boxes: Optional[List[Optional[Box]]] = None
    caption_info: Optional["Caption"] = None

    @property
    def caption_source(self) -> str:
        """Who wrote the caption: ``"library"``, ``"model"`` or ``"user"`` (see :attr:`Meme.caption_source`)."""
        if self.meme is not None:
            return self.meme.caption_source
        return self.caption_info.source if self.caption_info is not None else USER_SOURCE

    @property
    def total_ms(self) -> int:
        return int(sum(self.durations_ms))

    @property
    def size(self) -> Tuple[int, int]:
        return self.frames[0].size

    def save(self, path: Union[str, "os.PathLike[str]"], *, durable: bool = False) -> Path:
        """Write an animated GIF or WebP (by the suffix of ``path``); returns the path (``durable``:
        as :meth:`Meme.save`)."""
        path = Path(path)
        fmt = ANIMATED_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ConfigError(f"unsupported animation file type {path.suffix!r} (use .gif or .webp)", path)
        if fmt == "WEBP":
            _require_webp()
        frames = self.frames if fmt == "WEBP" else _quantized(self.frames)
        options: Dict[str, Any] = {"save_all": True, "append_images": frames[1:], "duration": self.durations_ms}
        if self.loop is not None:
            options["loop"] = self.loop
        if fmt == "WEBP":
            options.update(quality=80, method=4)
        return write_file(path, lambda f: frames[0].save(f, fmt, **options), self.source, durable)

    def to_dict(self) -> dict:
        """JSON-friendly summary; boxes are in frame pixels (the still's own boxes are left out)."""
        clip = self.caption_info
        info = self.meme.to_dict() if self.meme is not None else {
            "source": self.source, "caption": self.caption, "caption_source": self.caption_source,
            "caption_fallback_reason": clip.fallback_reason if clip is not None else None,
            "emotion": self.emotion, "face_index": self.face_index}
        for key in ("face_box", "font_size"):
            info.pop(key, None)
        return {**info, "text_box": list(self.text_box), "size": list(self.size), "frames": len(self.frames),
                "duration_ms": self.total_ms, "loop": self.loop}


def _quantized(frames: Sequence[Image.Image]) -> List[Image.Image]:
    """Frames on one palette taken from the last frame (the finished meme)."""
    palette = frames[-1].quantize(GIF_COLORS, method=Image.Quantize.FASTOCTREE)
    return [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]


def _require_webp() -> None:
    from PIL import features

    if not features.check("webp"):
        raise ConfigError("this Pillow build cannot write WebP", ".webp",
                          "save as .gif, or install Pillow with WebP support")


# ------------------------------------------------------------------------------ stills


def _zoomed(photo: Image.Image, zoom: float, center: Tuple[float, float]) -> Image.Image:
    """``photo`` magnified by ``zoom`` around ``center`` (same size; the view stays inside)."""
    if zoom <= 1.0001:
        return photo
    w, h = photo.size
    cw, ch = w / zoom, h / zoom
    x0 = min(max(center[0] - cw / 2, 0.0), w - cw)
    y0 = min(max(center[1] - ch / 2, 0.0), h - ch)
    return photo.resize((w, h), Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))


def _shrunk_overlay(comp: Composition, limit: Optional[int], scale: float) -> Image.Image:
    overlay = comp.overlay(limit)
    if abs(scale - 1.0) < 1e-6:
        return overlay
    return resized(overlay.convert("RGBa"), scale).convert("RGBA")


def _frame(canvas: Image.Image, photo: Image.Image, at: Tuple[int, int], overlay: Optional[Image.Image]) -> Image.Image:
    out = canvas.copy()
    out.paste(photo, at)
    if overlay is None:
        return out
    out = out.convert("RGBA")
    out.alpha_composite(overlay)
    return out.convert("RGB")


def reveal_limits(tokens: int, steps: int = REVEAL_STEPS) -> List[int]:
    """Visible-token counts of the reveal frames (increasing, the last one shows everything)."""
    steps = max(1, min(steps, tokens))
    return [math.ceil(tokens * (i + 1) / steps) for i in range(steps)]


def animate(meme: Meme, *, max_side: int = MAX_SIDE, loop: Optional[int] = 0,
            max_frames: int = MAX_FRAMES) -> AnimatedMeme:
    """Animate a still meme: slow zoom, zoom punch with the caption revealed token by token, hold."""
    comp = meme.composition
    if comp is None:
        raise ConfigError("this Meme has no composition to animate", hint="make it with edgekit.make_meme")
    _check_caps(max_side, max_frames)
    scale = min(1.0, max_side / max(comp.canvas.size))
    canvas = resized(comp.canvas, scale)
    px, py, pw, ph = (round(v * scale) for v in comp.photo_box)
    photo = resized(comp.canvas.crop((comp.photo_box[0], comp.photo_box[1], comp.photo_box[0] + comp.photo_box[2],
                                      comp.photo_box[1] + comp.photo_box[3])), scale).resize((pw, ph))
    center = (pw / 2, ph / 2)
    if meme.face is not None:
        x0, y0, x1, y1 = meme.to_meme_pixels(meme.face)
        center = (((x0 + x1) / 2 - comp.photo_box[0]) * scale, ((y0 + y1) / 2 - comp.photo_box[1]) * scale)
    limits = reveal_limits(comp.layout.visible_tokens)
    intro = max(0, min(INTRO_FRAMES, max_frames - len(limits) - 1))
    limits = limits[:max(1, max_frames - intro - 1)]
    frames, durations = [], []
    for i in range(intro):  # slow push-in, no caption yet
        frames.append(_frame(canvas, _zoomed(photo, 1.0 + 0.03 * i / max(1, intro - 1), center), (px, py), None))
        durations.append(FRAME_MS)
    for i, limit in enumerate(limits):  # punch: jump in and settle while the caption appears
        zoom = PUNCH_ZOOMS[min(i, len(PUNCH_ZOOMS) - 1)]
        frames.append(_frame(canvas, _zoomed(photo, zoom, center), (px, py), _shrunk_overlay(comp, limit, scale)))
        durations.append(FRAME_MS)
    frames.append(_frame(canvas, _zoomed(photo, PUNCH_ZOOMS[-1], center), (px, py), _shrunk_overlay(comp, None, scale)))
    durations.append(HOLD_MS)
    frames, durations = merge_repeats(frames, durations)
    box = tuple(int(round(v * scale)) for v in comp.text_box)
    return AnimatedMeme(frames, durations, meme.caption, meme.emotion, meme.face_index, box, loop, meme.source,
                        meme)  # type: ignore[arg-type]


def merge_repeats(frames: List[Image.Image], durations: List[int]) -> Tuple[List[Image.Image], List[int]]:
    """Consecutive identical frames as one frame showing for their summed duration (what GIF
    encoders do anyway, so the frame list matches the saved file)."""
    out_frames: List[Image.Image] = []
    out_durations: List[int] = []
    for frame, duration in zip(frames, durations):
        if out_frames and frame.tobytes() == out_frames[-1].tobytes():
            out_durations[-1] += duration
        else:
            out_frames.append(frame)
            out_durations.append(duration)
    return out_frames, out_durations


#: The caps an animation takes: longest frame side in pixels, frames, and for clips frame rate and
#: seconds (each at most 60), and where the clip starts (seconds).
SIDE_CAP = integer(64, 1280, hint=f"the longest side of a frame in pixels, e.g. max_side={MAX_SIDE}")
FRAMES_CAP = integer(2, 300, hint=f"at most this many frames, e.g. max_frames={MAX_FRAMES}")
CLIP_FPS = number(0, 60, lo_open=True, hint=f"frames per second of the animation, e.g. fps={DEFAULT_FPS:g}")
CLIP_SECONDS = number(0, 60, lo_open=True, hint=f"seconds of the clip to animate, e.g. max_seconds={DEFAULT_SECONDS:g}")
CLIP_START = number(0, 1e6, hi_open=True, hint="seconds into the video where the clip starts, e.g. start_s=0")


def _check_caps(max_side: int, max_frames: int) -> None:
    check("max_side", max_side, SIDE_CAP)
    check("max_frames", max_frames, FRAMES_CAP)


# ------------------------------------------------------------------------------ clips


@dataclass
class _ClipFrame:
    image: Image.Image
    faces: List["FaceResult"]
    timestamp_ms: float


def _read_clip(path: Any, options: Optional["PipelineOptions"], fps: float, max_seconds: float, start_s: float,
               max_frames: int, max_side: int, progress: bool) -> Tuple[List[_ClipFrame], float, int]:
    """Sampled, downscaled frames with their faces (in frame pixels); also the scale and frame ms."""
    from tqdm import tqdm

    from ..pipeline import Pipeline, PipelineOptions
    from ..video import DEFAULT_FPS as VIDEO_FPS, VideoReader

    opts = replace(options or PipelineOptions(), running_mode="video", result_callback=None)
    kept: List[_ClipFrame] = []
    with VideoReader(path) as reader, Pipeline(opts) as pipe:
        src_fps = reader.fps or VIDEO_FPS
        step = max(1, round(src_fps / fps))
        first, last = round(start_s * src_fps), round((start_s + max_seconds) * src_fps)
        scale = min(1.0, max_side / max(reader.size))
        wanted = min(max_frames, max(1, math.ceil((last - first) / step)))
        with tqdm(total=wanted, unit="frame", desc=reader.name, disable=not progress, leave=False) as bar:
            for frame in reader:
                if frame.index >= last or len(kept) >= max_frames:
                    break
                if frame.index < first or (frame.index - first) % step:
                    continue
                result = pipe.process(frame.image, frame.timestamp_ms)
                rgb = Image.fromarray(np.ascontiguousarray(frame.image[:, :, ::-1]))
                kept.append(_ClipFrame(resized(rgb, scale), result.faces, frame.timestamp_ms))
                bar.update()
    if not kept:
        raise InputError(f"has no frames after {start_s:g} s", os.fspath(path), "use a smaller start time")
    frame_ms = max(20, int(round(step * 1000.0 / src_fps / 10.0)) * 10)
    return kept, scale, frame_ms


def _track_of(frames: Sequence[_ClipFrame], face: Optional[int]) -> Optional[int]:
    """Track id of the chosen face: ``face`` counts left to right in the first frame with faces;
    by default the track covering the most face area over the clip."""
    if face is not None:
        first = next((f.faces for f in frames if f.faces), [])
        ordered = sorted(first, key=lambda r: r.box.x + r.box.width / 2)
        index = choose_face(ordered, face)
        return ordered[index].track_id if index is not None else None
    area: Dict[int, float] = {}
    for f in frames:
        for r in f.faces:
            area[r.track_id or 0] = area.get(r.track_id or 0, 0.0) + r.box.area
    return max(area, key=area.get) if area else None  # type: ignore[arg-type]


def _mean_emotion(faces: Sequence["FaceResult"]) -> Tuple[Optional[str], Any]:
    probs = [f.emotion.probs for f in faces if f.emotion is not None]
    if not probs:
        return None, "neutral"
    mean = {k: float(np.mean([p[k] for p in probs])) for k in probs[0]}
    return max(mean, key=mean.get), mean  # type: ignore[arg-type]


def clip_to_gif(path: Any, *, text: Optional[str] = None, style: Optional[str] = None, scene: Optional[str] = None,
                lang: str = "zh", face: Optional[int] = None, seed: Optional[int] = None, font: Any = None,
                placement: str = "auto", fps: float = DEFAULT_FPS, max_seconds: float = DEFAULT_SECONDS,
                start_s: float = 0.0, max_frames: int = MAX_FRAMES, max_side: int = MAX_SIDE, loop: Optional[int] = 0,
                options: Optional["PipelineOptions"] = None, progress: bool = False,
                caption_source: str = DEFAULT_CAPTION_SOURCE) -> AnimatedMeme:
    """Animated meme from a video clip (see the module docstring); ``caption_source`` as in
    :func:`~edgekit.make_meme` (checked before the clip is read)."""
    lang = _check_options(lang, style, scene, placement, caption_source)
    _check_caps(max_side, max_frames)
    check("fps", fps, CLIP_FPS)
    check("max_seconds", max_seconds, CLIP_SECONDS)
    check("start_s", start_s, CLIP_START)
    frames, scale, frame_ms = _read_clip(path, options, fps, max_seconds, start_s, max_frames, max_side, progress)
    track = _track_of(frames, face)
    tracked = [next((r for r in f.faces if (r.track_id or 0) == track), None) if track is not None else None
               for f in frames]
    label, emotion = _mean_emotion([r for r in tracked if r is not None])
    info = None
    if text is None:
        if track is None:
            raise no_face_error(os.fspath(path))
        from .maker import drawable_caption

        info = drawable_caption(emotion, style=style, scene=scene, lang=lang, seed=seed, font=font,
                                caption_source=caption_source)
        text = info.text
    text = check_caption(text)
    per_track: Dict[int, List[Box]] = {}
    for f in frames:
        for r in f.faces:
            per_track.setdefault(r.track_id or 0, []).append(scale_box(as_box(r), scale))
    ids = sorted(per_track, key=lambda t: t != track)  # the chosen track first
    avoid = [union(per_track[t]) for t in ids]
    comp = compose_around_faces(frames[0].image, text, chain_for(text, lang, font), avoid,  # type: ignore[arg-type]
                                0 if track is not None else None, placement)
    limits = reveal_limits(comp.layout.visible_tokens, min(REVEAL_STEPS, max(1, len(frames) - 1)))
    at = comp.photo_box[:2]
    images = [_frame(comp.canvas, f.image, at, comp.overlay(limits[i] if i < len(limits) - 1 else None))
              for i, f in enumerate(frames)]
    images, durations = merge_repeats(images, [frame_ms] * len(images))
    boxes = [scale_box(as_box(r), scale, *at) if r is not None else None for r in tracked]
    return AnimatedMeme(images, durations, text, label, _index_in_first_frame(frames, track), comp.text_box, loop,
                        os.fspath(path), None, boxes, info)


def _index_in_first_frame(frames: Sequence[_ClipFrame], track: Optional[int]) -> Optional[int]:
    """Left-to-right index of ``track`` in the first frame where it appears."""
    for f in frames:
        ordered = sorted(f.faces, key=lambda r: r.box.x + r.box.width / 2)
        ids = [r.track_id or 0 for r in ordered]
        if track in ids:
            return ids.index(track)
    return None


def make_gif(source: Any, *, text: Optional[str] = None, style: Optional[str] = None, scene: Optional[str] = None,
             lang: str = "zh", face: Optional[int] = None, seed: Optional[int] = None, font: Any = None,
             placement: str = "auto", max_side: int = MAX_SIDE, max_frames: int = MAX_FRAMES, loop: Optional[int] = 0,
             fps: float = DEFAULT_FPS, max_seconds: float = DEFAULT_SECONDS, start_s: float = 0.0,
             options: Optional["PipelineOptions"] = None, progress: bool = False,
             caption_source: str = DEFAULT_CAPTION_SOURCE) -> AnimatedMeme:
    """Animated meme (save it as ``.gif`` or ``.webp``) from a :class:`Meme`, a photo or a video.

    A video path (by extension, see :data:`edgekit.video.VIDEO_EXTENSIONS`) gives a clip GIF;
    a photo (path or BGR array) is made into a meme with :func:`make_meme` (same options) and
    animated with a zoom punch and a caption reveal. ``fps``, ``max_seconds`` and ``start_s``
    apply to videos only; ``caption_source`` (``"library"`` or ``"model"``) as in
    :func:`make_meme` (ignored for a :class:`Meme` and with ``text``).
    """
    from ..video import is_video_path

    if isinstance(source, Meme):
        return animate(source, max_side=max_side, loop=loop, max_frames=max_frames)
    if isinstance(source, (str, os.PathLike)) and is_video_path(source):
        return clip_to_gif(source, text=text, style=style, scene=scene, lang=lang, face=face, seed=seed, font=font,
                           placement=placement, fps=fps, max_seconds=max_seconds, start_s=start_s,
                           max_frames=max_frames, max_side=max_side, loop=loop, options=options, progress=progress,
                           caption_source=caption_source)
    _check_caps(max_side, max_frames)
    meme = make_meme(source, text=text, style=style, scene=scene, lang=lang, face=face, seed=seed, font=font,
                     placement=placement, options=options, caption_source=caption_source)
    return animate(meme, max_side=max_side, loop=loop, max_frames=max_frames)


__all__ = ["AnimatedMeme", "animate", "make_gif", "clip_to_gif", "reveal_limits", "MAX_SIDE", "MAX_FRAMES",
           "ANIMATED_FORMATS"]
