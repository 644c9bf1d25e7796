"""Stream frames from video files and cameras with OpenCV, and write videos.

:class:`VideoReader` decodes one frame at a time (a video is never loaded whole) and stamps each
frame with its index and a timestamp in milliseconds: for files, ``index * 1000 / fps`` when the
container's frame rate is within :data:`SANE_FPS`, else the container's own timestamps while they
advance by a plausible interval, else :data:`DEFAULT_FPS` (with a :class:`VideoTimingWarning`);
for cameras, the wall-clock time since the first frame. Only regular files are opened (a FIFO or
a device is refused before OpenCV sees it). A file that ends well short of the frame count its
container announces gives an :class:`IncompleteVideoWarning`. Problems with the source raise
:class:`~edgekit.errors.VideoReadError` naming it.

:class:`VideoWriter` writes to a temporary file beside the output and publishes it (rename) only
once it reads back with every frame: a full disk never leaves a broken video behind.
"""
from __future__ import annotations

import math
import os
import time
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple, Type, Union

import cv2
import numpy as np

from .errors import ConfigError, InputError, VideoReadError
from .paths import fsync_path, regular_file, temporary_output, unwritable
from .tracking import DEFAULT_FRAME_INTERVAL_MS
from .validate import Check, check, integer, number, optional

#: File extensions treated as videos (everything else is read as an image).
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv"})
#: FourCC used by :class:`VideoWriter` for each output extension.
WRITER_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
#: Container frame rates trusted for timestamps (FFmpeg reports 0, 90000, NaN for some files, and
#: a header can claim anything); outside it the reader checks the container's own timestamps.
SANE_FPS = (1.0, 240.0)
#: Frame rate assumed when a file's frame rate and timestamps are both implausible (30 fps).
DEFAULT_FPS = 1000.0 / DEFAULT_FRAME_INTERVAL_MS
#: A frame rate a video writer takes (frames per second).
FPS = number(*SANE_FPS, hint=f"pass frames per second, e.g. fps={DEFAULT_FPS:g}")
#: How many frames a reader yields at most.
MAX_FRAMES = optional(integer(1, hint="e.g. max_frames=100, or leave it out to read the whole video"), "all frames")
#: Container timestamps are trusted while each frame comes 1/240 s to 1 s after the previous one
#: (1 % slack for rounding); the first frame must be within 1 s of the start.
_FRAME_MS_RANGE = (1000.0 / SANE_FPS[1] * 0.99, 1000.0 / SANE_FPS[0] * 1.01)
#: Frames a file may end short of its announced count (or 1 %, if more) without a warning: the
#: count is an estimate for some containers.
FRAME_COUNT_TOLERANCE = 2
_READ_HINT = "use a video FFmpeg can decode, e.g. MP4 (H.264/MPEG-4) or AVI (MJPEG)"

VideoSource = Union[str, "os.PathLike[str]", int]


class VideoWarning(UserWarning):
    """Base of the warnings about a video that could be read, but not as announced."""


class VideoTimingWarning(VideoWarning):
    """A file's frame rate and timestamps are implausible: its frames are timed at :data:`DEFAULT_FPS`."""


class IncompleteVideoWarning(VideoWarning):
    """Fewer frames could be decoded than the container announces (a truncated or corrupt file)."""


def is_video_path(path: Union[str, "os.PathLike[str]"]) -> bool:
    """True when ``path`` has a video extension (see :data:`VIDEO_EXTENSIONS`)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: BGR uint8 ``image``, 0-based ``index``, ``timestamp_ms``."""

    index: int
    timestamp_ms: float
    image: np.ndarray


class VideoReader:
    """Iterate over the frames of a video file or a camera (an ``int`` device index).

    Args:
        source: video path, or camera index.
        max_frames: stop after this many frames (None: until the stream ends; a camera never
            ends on its own, so stop it with ``max_frames``, ``break`` or Ctrl-C).

    Attributes:
        fps: the container's frame rate when within :data:`SANE_FPS`, else None.
        frame_count: frames the container announces (None for cameras or when unknown).
        incomplete: True once the file ended well short of ``frame_count`` (see
            :class:`IncompleteVideoWarning`).
        warnings: the messages of the :class:`VideoWarning` s this reader issued.

    Raises:
        VideoReadError: missing path, directory, FIFO, device, empty file, unsupported or
            undecodable video, camera that cannot be opened.
    """

    def __init__(self, source: VideoSource, *, max_frames: Optional[int] = None) -> None:
        check("max_frames", max_frames, MAX_FRAMES)
        self.is_camera = isinstance(source, int) and not isinstance(source, bool)
        self.name = f"camera:{source}" if self.is_camera else os.fspath(source)
        self.max_frames = max_frames
        self.incomplete = False
        self.warnings: List[str] = []
        self._cap = self._open(source)
        self._index = 0
        self._t0: Optional[float] = None
        self._last: Optional[Tuple[int, float]] = None  # (index, ms) of the last container-timed frame
        self._default_clock = False
        ok, first = self._cap.read()
        if not ok or first is None or first.size == 0:
            self.close()
            raise VideoReadError("contains no decodable frames" if not self.is_camera else "returned no frame",
                                 self.name, _READ_HINT if not self.is_camera else "check the camera")
        self._pending: Optional[np.ndarray] = first
        self.size: Tuple[int, int] = (int(first.shape[1]), int(first.shape[0]))  # (width, height)
        self._container_fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps: Optional[float] = self._container_fps if SANE_FPS[0] <= self._container_fps <= SANE_FPS[1] else None
        count = _frame_count(self._cap)
        self.frame_count: Optional[int] = count if count > 0 and not self.is_camera else None

    def _open(self, source: VideoSource) -> "cv2.VideoCapture":
        if self.is_camera:
            cap = cv2.VideoCapture(int(source))
            if not cap.isOpened():
                raise VideoReadError("cannot be opened", self.name,
                                     "check that the camera is connected and not in use by another program")
            return cap
        # a FIFO would block OpenCV forever and /dev/zero never ends: regular files only
        if regular_file(source, "video file", error=VideoReadError).st_size == 0:
            raise VideoReadError("is an empty (0-byte) file", self.name, _READ_HINT)
        cap = cv2.VideoCapture(self.name, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise VideoReadError("cannot be opened as a video (unsupported format or corrupt file)", self.name,
                                 _READ_HINT)
        return cap

    @property
    def total(self) -> Optional[int]:
        """Frames this reader will yield, when known (for progress bars)."""
        if self.frame_count is None:
            return self.max_frames
        return min(self.frame_count, self.max_frames) if self.max_frames else self.frame_count

    def __iter__(self) -> Iterator[VideoFrame]:
        while self._cap is not None and (self.max_frames is None or self._index < self.max_frames):
            if self._pending is not None:
                image, self._pending = self._pending, None
            else:
                ok, image = self._cap.read()
                if not ok or image is None:
                    self._check_complete()
                    break
            yield VideoFrame(self._index, self._timestamp_ms(), np.ascontiguousarray(image))
            self._index += 1
        self.close()

    def _timestamp_ms(self) -> float:
        if self.is_camera:
            now = time.monotonic()
            self._t0 = now if self._t0 is None else self._t0
            return (now - self._t0) * 1000.0
        if self.fps is not None:
            return self._index * 1000.0 / self.fps
        if not self._default_clock:
            pos = float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) if self._cap is not None else math.nan
            if self._plausible(pos):
                self._last = (self._index, pos)
                return pos
            self._default_clock = True
            self._warn(VideoTimingWarning,
                       f"implausible frame rate ({self._container_fps:g} fps) and timestamps (frame {self._index} "
                       f"at {pos:g} ms); timing the frames at {DEFAULT_FPS:g} fps instead")
        index, ms = self._last or (0, 0.0)
        return ms + (self._index - index) * DEFAULT_FRAME_INTERVAL_MS

    def _plausible(self, pos_ms: float) -> bool:
        """Whether the container's timestamp of the current frame follows the previous one by a
        plausible interval (see :data:`_FRAME_MS_RANGE`); the first frame must start the stream."""
        if not math.isfinite(pos_ms):
            return False
        if self._last is None:
            return 0.0 <= pos_ms <= _FRAME_MS_RANGE[1]
        return _FRAME_MS_RANGE[0] <= pos_ms - self._last[1] <= _FRAME_MS_RANGE[1]

    def _check_complete(self) -> None:
        """Warn when the file ended well short of the frames it announces."""
        expected = self.total if self.frame_count is not None else None
        if expected is not None and expected - self._index > max(FRAME_COUNT_TOLERANCE, expected // 100):
            self.incomplete = True
            self._warn(IncompleteVideoWarning,
                       f"only {self._index} of the {expected} frames it announces could be decoded (truncated or "
                       "corrupt file); the results cover those frames only")

    def _warn(self, category: Type[VideoWarning], message: str) -> None:
        text = f"{self.name}: {message}"
        self.warnings.append(text)
        warnings.warn(text, category, stacklevel=4)

    def close(self) -> None:
        """Release the file or camera (also done when iteration ends)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _frame_size() -> Check:
    """A video writer's ``size``: two integers (bools not) in ``[1, MAX_SIDE]``, the frame's (width, height)."""
    from .imageio import MAX_SIDE  # imported here: reading a video needs no PIL

    side = integer(1, MAX_SIDE)
    return Check(f"two integers (width, height) in [1, {MAX_SIDE}]",
                 lambda v: len(v) == 2 and all(side.accept(x) for x in v),
                 "pass the frame (width, height), e.g. size=(640, 480)")


class VideoWriter:
    """Write BGR uint8 frames to ``path`` (``.mp4``/``.m4v``/``.mov``: MPEG-4 Part 2, ``.avi``: MJPEG).

    Frames of another size than ``size`` are resized to it. They go to a temporary file beside
    ``path``; :meth:`close` (or leaving a ``with`` block normally) checks that it reads back with
    every frame and renames it to ``path``. When that check fails (disk full, quota) it raises
    InputError; leaving the ``with`` block on an exception discards the video (:meth:`discard`).
    Either way the temporary file is removed and ``path`` is left as it was. A ``path`` that is
    (or links to) one of ``inputs``, a folder, a FIFO or a device is refused (InputError).
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], fps: float, size: Tuple[int, int],
                 inputs: Iterable[Union[str, "os.PathLike[str]"]] = ()) -> None:
        self.path = Path(path)
        fourcc = WRITER_FOURCC.get(self.path.suffix.lower())
        if fourcc is None:
            raise ConfigError(f"unsupported video extension {self.path.suffix!r}", self.path,
                              f"use one of {', '.join(sorted(WRITER_FOURCC))}")
        check("fps", fps, FPS)
        check("size", size, _frame_size())
        self.size = (int(size[0]), int(size[1]))
        self.frames_written = 0
        self._writer: Optional[cv2.VideoWriter] = None
        self._tmp = temporary_output(self.path, inputs, "the video")  # refuses inputs, folders, FIFOs, devices
        # a writer dropped without close() leaves no temporary file behind
        self._finalizer = weakref.finalize(self, Path.unlink, self._tmp, missing_ok=True)
        try:
            self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*fourcc), float(fps), self.size)
            opened = self._writer.isOpened()
        except BaseException:
            self.discard()
            raise
        if not opened:
            self.discard()
            raise InputError("cannot be written as a video", self.path, "check the folder is writable")

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            raise ConfigError("is closed", f"VideoWriter({self.path})", "open a new writer")
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the video and publish it at ``path`` once it reads back whole (InputError otherwise)."""
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        try:
            problem = _read_back_problem(self._tmp, self.frames_written)
            if problem is None:
                fsync_path(self._tmp)
                os.replace(self._tmp, self.path)
                return
        except OSError as exc:
            raise unwritable(self.path, exc) from None
        finally:
            self._tmp.unlink(missing_ok=True)
        raise InputError(f"could not be written completely ({problem}); nothing was saved", self.path,
                         "check the free disk space and quota of its folder")

    def discard(self) -> None:
        """Stop writing and remove the unfinished video (``path`` is left as it was)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def _read_back_problem(path: Path, frames: int) -> Optional[str]:
    """Why the video just written to ``path`` is not whole, or None: it must open, hold
    ``frames`` frames and decode its last one (a full disk truncates the file or its index)."""
    if path.stat().st_size == 0:
        return "nothing was written"
    if frames == 0:
        return None
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            return "the written file cannot be read back"
        count = _frame_count(cap)
        if count != frames:
            return f"it holds {count} of the {frames} frames"
        cap.set(cv2.CAP_PROP_POS_FRAMES, frames - 1)
        if not cap.read()[0]:
            return "its last frame cannot be decoded"
    finally:
        cap.release()
    return None


def _frame_count(cap: "cv2.VideoCapture") -> int:
    """The container's announced frame count (0 when unknown, negative, NaN or absurd)."""
    value = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    return int(value) if math.isfinite(value) and 0 < value < 2**31 else 0
