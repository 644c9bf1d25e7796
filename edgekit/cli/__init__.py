"""``edgekit`` command line: ``edgekit [--version] COMMAND ...``.

Each sub-command is a module of this package listed in :data:`COMMANDS` and exposing
``register(subparsers)``; it sets ``func=run(args) -> int`` on its parser. Command modules import
only the standard library at module level (the heavy imports happen inside ``run``), so building
the parser, ``--help`` and ``--version`` stay fast.

Exit codes: 0 success; 1 an input failed or a runtime error occurred; 2 a usage or option error;
130 interrupted. :class:`~edgekit.errors.EdgekitError` is printed as one ``edgekit: error: ...``
line; any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import List, Optional, Sequence

from .._version import __version__
from ..errors import ConfigError, EdgekitError
from ._common import video_warnings_as_lines

#: Sub-command modules, in ``--help`` order. Add a module name here to add a command.
COMMANDS = ("analyze", "demo", "models", "caption", "suggest", "feedback", "meme", "enroll", "identify", "gallery",
            "transfer", "timeline", "serve", "explain")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgekit",
        description="On-device facial emotion analysis (MediaPipe face detection + INT8 emotion model on LiteRT).",
    )
    parser.add_argument("--version", action="version", version=f"edgekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def error(message: str) -> None:
    """Print one ``edgekit: error: ...`` line to stderr (line breaks in it escaped)."""
    from ._common import one_line

    print(f"edgekit: error: {one_line(message)}", file=sys.stderr, flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``edgekit`` console script and of ``python -m edgekit``."""
    args = build_parser().parse_args(None if argv is None else list(argv))
    # The CLI reports unreadable inputs itself, one line each: keep OpenCV's and FFmpeg's own
    # warnings about them off stderr (read when OpenCV first logs / opens a video; the user's
    # environment wins).
    os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    try:
        with video_warnings_as_lines():
            status = int(args.func(args) or 0)
        sys.stdout.flush()  # a full or broken stdout fails here, reported below, not at exit
        return status
    except ConfigError as exc:
        error(str(exc))
        return 2
    except EdgekitError as exc:
        error(str(exc))
        return 1
    except KeyboardInterrupt as exc:
        error(getattr(exc, "summary", "") or "interrupted")
        return 130
    except BrokenPipeError:  # e.g. `edgekit analyze DIR | head -1`: the reader left; stop quietly
        _silence_stdout()
        return 1
    except OSError as exc:  # a full or unwritable stdout (edgekit's own file writes raise InputError naming the file)
        where = exc.filename if exc.filename is not None else "standard output"
        _silence_stdout()
        error(f"{where}: cannot be written ({exc.strerror or exc}). Check free space and permissions")
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null: Python flushes it again at exit, which must not fail a second time."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


__all__: List[str] = ["COMMANDS", "build_parser", "error", "main"]
