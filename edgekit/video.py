"""Stream frames from video files and cameras with OpenCV, and write videos.

:class:`VideoReader` decodes one frame at a time (a video is never loaded whole) and stamps each
frame with its index and a timestamp in milliseconds: for files, ``index * 1000 / fps``; for
cameras, the wall-clock time since the first frame. Problems with the source raise
:class:`~edgekit.errors.VideoReadError` naming it.
"""
from __future__ import annotations

import math
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Tuple, Union

import cv2
import numpy as np

from .errors import ConfigError, InputError, VideoReadError

#: File extensions treated as videos (everything else is read as an image).
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv"})
#: FourCC used by :class:`VideoWriter` for each output extension.
WRITER_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
#: FFmpeg reports nonsense frame rates (0, 90000, NaN) for some files; outside this range the
#: reader falls back to the container's own timestamps.
_SANE_FPS = (0.5, 1000.0)
_READ_HINT = "use a video FFmpeg can decode, e.g. MP4 (H.264/MPEG-4) or AVI (MJPEG)"

VideoSource = Union[str, "os.PathLike[str]", int]


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

    Raises:
        VideoReadError: missing path, directory, empty file, unsupported or undecodable video,
            camera that cannot be opened.
    """

    def __init__(self, source: VideoSource, *, max_frames: Optional[int] = None) -> None:
        if max_frames is not None and max_frames < 1:
            raise ConfigError("must be >= 1", f"max_frames={max_frames!r}")
        self.is_camera = isinstance(source, int) and not isinstance(source, bool)
        self.name = f"camera:{source}" if self.is_camera else os.fspath(source)
        self.max_frames = max_frames
        self._cap = self._open(source)
        self._index = 0
        self._t0: Optional[float] = None
        ok, first = self._cap.read()
        if not ok or first is None or first.size == 0:
            self.close()
            raise VideoReadError("contains no decodable frames" if not self.is_camera else "returned no frame",
                                 self.name, _READ_HINT if not self.is_camera else "check the camera")
        self._pending: Optional[np.ndarray] = first
        self.size: Tuple[int, int] = (int(first.shape[1]), int(first.shape[0]))  # (width, height)
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps: Optional[float] = fps if _SANE_FPS[0] <= fps <= _SANE_FPS[1] else None
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count: Optional[int] = count if count > 0 and not self.is_camera else None

    def _open(self, source: VideoSource) -> "cv2.VideoCapture":
        if self.is_camera:
            cap = cv2.VideoCapture(int(source))
            if not cap.isOpened():
                raise VideoReadError("cannot be opened", self.name,
                                     "check that the camera is connected and not in use by another program")
            return cap
        path = Path(source)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise VideoReadError("no such file", self.name, "check the path") from None
        except OSError as exc:  # permission denied on a parent, name too long ...
            raise VideoReadError(f"cannot be read ({exc.strerror or exc})", self.name, "check the path and its permissions") from None
        if stat.S_ISDIR(st.st_mode):
            raise VideoReadError("is a directory, not a video file", self.name, "pass a video file")
        if st.st_size == 0 and stat.S_ISREG(st.st_mode):
            raise VideoReadError("is an empty (0-byte) file", self.name, _READ_HINT)
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
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
        pos = float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) if self._cap is not None else math.nan
        return pos if math.isfinite(pos) and pos >= 0 else self._index * 1000.0 / 30.0

    def close(self) -> None:
        """Release the file or camera (also done when iteration ends)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoWriter:
    """Write BGR uint8 frames to ``path`` (``.mp4``/``.m4v``/``.mov``: MPEG-4 Part 2, ``.avi``: MJPEG).

    Frames of another size than ``size`` are resized to it.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], fps: float, size: Tuple[int, int]) -> None:
        self.path = Path(path)
        fourcc = WRITER_FOURCC.get(self.path.suffix.lower())
        if fourcc is None:
            raise ConfigError(f"unsupported video extension {self.path.suffix!r}", self.path,
                              f"use one of {', '.join(sorted(WRITER_FOURCC))}")
        if not fps > 0:
            raise ConfigError("must be > 0", f"fps={fps!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = (int(size[0]), int(size[1]))
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*fourcc), float(fps), self.size)
        if not self._writer.isOpened():
            raise InputError("cannot be written as a video", self.path, "check the folder is writable")
        self.frames_written = 0

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames_written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
