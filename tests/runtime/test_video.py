"""Video reading/writing, video mode on a short synthetic clip of real face images, annotation."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import edgekit
from edgekit.annotate import caption, draw_faces, save_image
from edgekit.errors import ConfigError, VideoReadError
from edgekit.video import VideoReader, VideoWriter, is_video_path

FPS = 12.0
N_FRAMES = 10


@pytest.fixture(scope="module")
def clip(astronaut_path, tmp_path_factory) -> Path:
    """10 frames at 12 fps: a 400x300 window sliding over the astronaut photo (the face moves)."""
    photo = edgekit.load_image(astronaut_path)
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    with VideoWriter(path, FPS, (400, 300)) as writer:
        for i in range(N_FRAMES):
            writer.write(np.ascontiguousarray(photo[30 + 3 * i:330 + 3 * i, 10 + 8 * i:410 + 8 * i]))
    assert writer.frames_written == N_FRAMES
    return path


def test_reader_streams_frames_with_timestamps(clip):
    with VideoReader(clip) as reader:
        assert reader.size == (400, 300) and reader.fps == pytest.approx(FPS)
        assert reader.frame_count == N_FRAMES and not reader.is_camera
        frames = iter(reader)
        first = next(frames)
        # one frame decoded ahead at most: the video is streamed, not loaded
        assert reader._cap.get(cv2.CAP_PROP_POS_FRAMES) <= 2
        rest = list(frames)
    assert [f.index for f in [first, *rest]] == list(range(N_FRAMES))
    assert [f.timestamp_ms for f in [first, *rest]] == pytest.approx([i * 1000 / FPS for i in range(N_FRAMES)])
    assert first.image.dtype == np.uint8 and first.image.shape == (300, 400, 3)
    assert reader._cap is None  # released at the end of the stream


def test_max_frames(clip):
    reader = VideoReader(clip, max_frames=3)
    assert reader.total == 3
    assert len(list(reader)) == 3


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "garbage"])
def test_unreadable_videos_raise_a_typed_error_naming_the_path(tmp_path, kind):
    path = {"missing": tmp_path / "nope.mp4", "directory": tmp_path, "empty": tmp_path / "empty.mp4",
            "garbage": tmp_path / "text.mp4"}[kind]
    if kind == "empty":
        path.write_bytes(b"")
    if kind == "garbage":
        path.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoReadError) as info:
        VideoReader(path)
    assert str(path) in str(info.value)


def test_writer_rejects_unknown_extensions(tmp_path):
    with pytest.raises(ConfigError, match=".xyz"):
        VideoWriter(tmp_path / "out.xyz", 10, (64, 64))
    assert is_video_path("a/B.MP4") and not is_video_path("a/b.png")


def test_video_mode_keeps_one_track_id_on_a_moving_face(clip, tiny_emotion_model):
    with edgekit.Pipeline(emotion_model=tiny_emotion_model) as pipe:
        results = list(pipe.process_video(clip))
        again = next(iter(pipe.process_video(str(clip), max_frames=1)))
    assert len(results) == N_FRAMES
    assert [r.frame_index for r in results] == list(range(N_FRAMES))
    assert all(r.source == str(clip) for r in results)
    assert all(len(r.faces) == 1 for r in results)
    assert {r.faces[0].track_id for r in results} == {1}
    xs = [r.faces[0].box.x for r in results]
    assert xs[0] - xs[-1] > 50  # the face really moved (window slid 72 px right)
    assert again.faces[0].track_id == 1  # each video starts with fresh tracks


def test_annotation_draws_boxes_and_captions(astronaut_path, tiny_emotion_model, tmp_path):
    image = edgekit.load_image(astronaut_path)
    faces = edgekit.Pipeline(emotion_model=tiny_emotion_model).process(image).faces
    out = draw_faces(image, faces)
    assert out.shape == image.shape and not np.shares_memory(out, image)
    x0, y0, x1, y1 = (int(v) for v in faces[0].box.as_xyxy())
    assert np.any(out[y0:y1 + 1, x0] != image[y0:y1 + 1, x0])  # box edge drawn
    assert np.array_equal(out[-50:, -50:], image[-50:, -50:])  # far from the face: untouched
    assert caption(faces[0]).startswith(faces[0].emotion.label)
    written = save_image(tmp_path / "sub" / "annotated.jpg", out)
    assert cv2.imread(str(written)).shape == image.shape
    with pytest.raises(ConfigError, match=".gifx"):
        save_image(tmp_path / "a.gifx", out)


@pytest.mark.parametrize("fps, message", [
    (0.5, "fps=0.5: must be a number in [1, 240]. pass frames per second, e.g. fps=30"),
    (True, "fps=True: must be a number in [1, 240]"), (float("nan"), "fps=nan: must be a number in [1, 240]"),
    ("30", "fps='30': must be a number in [1, 240]")])
def test_a_bad_writer_frame_rate_names_the_value_and_what_to_pass(tmp_path, fps, message):
    with pytest.raises(ConfigError) as err:
        VideoWriter(tmp_path / "out.mp4", fps, (64, 48))
    assert str(err.value).startswith(message)
    assert not list(tmp_path.iterdir())  # refused before any file is made


@pytest.mark.parametrize("size", [(64, 0), (64,), (True, 48), (64.0, 48), 64, "64x48", (64, 32767), None])
def test_a_bad_writer_size_names_the_value_and_what_to_pass(tmp_path, size):
    with pytest.raises(ConfigError) as err:
        VideoWriter(tmp_path / "out.mp4", 10, size)
    assert str(err.value) == (f"size={size!r}: must be two integers (width, height) in [1, 32766]. "
                              "pass the frame (width, height), e.g. size=(640, 480)")
    assert not list(tmp_path.iterdir())  # refused before any file is made


def test_a_writer_takes_numpy_integer_sizes(tmp_path):
    with VideoWriter(tmp_path / "out.avi", 10, (np.int64(64), np.int32(48))) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
    assert writer.size == (64, 48) and type(writer.size[0]) is int


@pytest.mark.parametrize("max_frames", [0, 2.5, "3"])
def test_a_bad_frame_cap_names_the_value_and_what_to_pass(clip, max_frames):
    with pytest.raises(ConfigError) as err:
        VideoReader(clip, max_frames=max_frames)
    assert str(err.value) == (f"max_frames={max_frames!r}: must be None (all frames) or an integer >= 1. "
                              "e.g. max_frames=100, or leave it out to read the whole video")
