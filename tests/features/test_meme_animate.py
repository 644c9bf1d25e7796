"""Animated memes: GIF/WebP from a still (zoom punch + caption reveal) and from a video clip."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

import edgekit
from edgekit.assets import demo_photo
from edgekit.errors import ConfigError, InputError, NoFaceError, VideoReadError
from edgekit.meme import AnimatedMeme, make_gif, make_meme
from edgekit.meme.animate import HOLD_MS, MAX_SIDE, animate, reveal_limits
from edgekit.meme.canvas import intersects
from edgekit.video import VideoWriter


@pytest.fixture(scope="module")
def meme():
    return make_meme(edgekit.load_image(demo_photo()), text="best day ever, no notes ٩(◕‿◕)۶")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """2 s at 10 fps: the demo photo's face panning slowly to the right."""
    photo = edgekit.load_image(demo_photo())
    path = tmp_path_factory.mktemp("clip") / "pan.avi"
    with VideoWriter(path, 10.0, (400, 300)) as writer:
        for i in range(20):
            writer.write(np.ascontiguousarray(photo[30:330, 10 + 4 * i:410 + 4 * i]))
    return path


def gif_frames(path):
    with Image.open(path) as im:
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
        return im.n_frames, durations, im.info.get("loop"), im.size


def test_still_gif_zoom_punch_and_caption_reveal(meme, tmp_path):
    anim = animate(meme)
    n = len(anim.frames)
    steps = len(reveal_limits(meme.composition.layout.visible_tokens))
    assert 3 + steps >= n >= steps and anim.durations_ms[-1] >= HOLD_MS and max(anim.size) <= MAX_SIDE
    frames, durations, loop, size = gif_frames(anim.save(tmp_path / "m.gif"))
    assert (frames, durations, loop, size) == (n, anim.durations_ms, 0, anim.size)
    x0, y0, x1, y1 = anim.text_box
    first, last = (np.asarray(f.crop((x0, y0, x1, y1)), dtype=np.int16) for f in (anim.frames[0], anim.frames[-1]))
    assert np.abs(first - last).max() > 100  # the caption is not there at the start, it is at the end
    assert not np.array_equal(np.asarray(anim.frames[0]), np.asarray(anim.frames[1]))  # the zoom moves


def test_caption_reveal_grows_token_by_token(meme):
    comp = meme.composition
    limits = reveal_limits(comp.layout.visible_tokens)
    assert limits == sorted(limits) and limits[-1] == comp.layout.visible_tokens and len(limits) <= 8
    ink = [np.asarray(comp.overlay(k))[..., 3].astype(bool).sum() for k in [0, *limits]]
    assert ink[0] == 0 and all(a < b for a, b in zip(ink, ink[1:]))
    assert ink[-1] == np.asarray(comp.overlay())[..., 3].astype(bool).sum()


def test_caps_loop_and_webp(meme, tmp_path):
    small = animate(meme, max_side=160, max_frames=4, loop=None)
    assert len(small.frames) <= 4 and max(small.size) == 160
    _, _, loop, _ = gif_frames(small.save(tmp_path / "once.gif"))
    assert loop is None  # plays once
    webp = animate(meme).save(tmp_path / "m.webp")
    with Image.open(webp) as im:
        assert im.is_animated and im.n_frames == len(animate(meme).frames)
    with pytest.raises(ConfigError):
        animate(meme, max_side=10)
    with pytest.raises(ConfigError, match=".gif or .webp"):
        small.save(tmp_path / "m.png")


def test_make_gif_from_a_photo_path(tmp_path):
    anim = make_gif(demo_photo(), text="zoom!", max_frames=8)
    assert isinstance(anim, AnimatedMeme) and anim.meme is not None and len(anim.frames) <= 8
    assert anim.to_dict()["frames"] == len(anim.frames)


def test_clip_gif_streams_frames_and_keeps_the_caption_off_the_face(clip, tmp_path):
    anim = make_gif(clip, lang="en", seed=1)
    assert len(anim.frames) == 20 and set(anim.durations_ms) == {100} and anim.emotion is not None
    assert anim.caption and anim.face_index == 0
    faces = [b for b in anim.face_boxes if b is not None]
    assert len(faces) >= 15 and not any(intersects(b, anim.text_box) for b in faces)
    frames, durations, loop, _ = gif_frames(anim.save(tmp_path / "clip.gif"))
    assert frames == 20 and sum(durations) == 2000 and loop == 0
    half = make_gif(clip, text="half speed", fps=5, max_seconds=1.0)
    assert len(half.frames) == 5 and set(half.durations_ms) == {200}


def test_clip_bad_input(clip, tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(4096))
    for bad in (garbage, tmp_path / "missing.mp4"):
        with pytest.raises(VideoReadError):
            make_gif(bad, text="x")
    with pytest.raises(InputError, match="no frames after"):
        make_gif(clip, text="x", start_s=30)
    for kwargs in ({"fps": 0}, {"max_seconds": -1}, {"max_frames": 1}):
        with pytest.raises(ConfigError):
            make_gif(clip, text="x", **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"fps": 0}, "fps=0: must be a number in (0, 60]. frames per second of the animation, e.g. fps=10"),
    ({"fps": True}, "fps=True: must be a number in (0, 60]"),
    ({"max_seconds": 61}, "max_seconds=61: must be a number in (0, 60]. seconds of the clip to animate, "
                          "e.g. max_seconds=6"),
    ({"start_s": -1}, "start_s=-1: must be a number in [0, 1e+06). seconds into the video where the clip starts"),
    ({"max_frames": 1}, "max_frames=1: must be an integer in [2, 300]. at most this many frames, e.g. max_frames=60"),
    ({"max_side": 10}, "max_side=10: must be an integer in [64, 1280]. the longest side of a frame in pixels, "
                       "e.g. max_side=400"),
    ({"max_side": 400.0}, "max_side=400.0: must be an integer in [64, 1280]"),
])
def test_bad_animation_caps_name_the_parameter_the_value_and_what_to_pass(kwargs, message):
    """Checked (edgekit.validate) before the video is opened: the path need not exist."""
    with pytest.raises(ConfigError) as err:
        make_gif("no-such-clip.mp4", text="x", **kwargs)
    assert str(err.value).startswith(message)


def test_clip_without_faces(tmp_path):
    path = tmp_path / "gray.avi"
    with VideoWriter(path, 10.0, (160, 120)) as writer:
        for i in range(5):
            writer.write(np.full((120, 160, 3), 100 + 10 * i, np.uint8))
    with pytest.raises(NoFaceError, match="--text"):
        make_gif(path)
    anim = make_gif(path, text="nobody here")
    assert anim.face_index is None and len(anim.frames) == 5
