"""Typed errors raised by edgekit.

Every user mistake (bad path, bad array, bad option, bad model file) raises a subclass of
:class:`EdgekitError` whose message names the offending value and says what to do. The CLI
prints ``str(error)`` on one line and exits non-zero; it never shows a traceback for these.
"""
from __future__ import annotations

from os import PathLike
from typing import Any, Optional, Union


class EdgekitError(Exception):
    """Base class of every error edgekit raises on purpose.

    Attributes:
        subject: the offending path or value (rendered first in the message), or None.
        reason: what is wrong with it.
        hint: what the user can do about it (may be empty).
    """

    def __init__(self, reason: str, subject: Union[str, PathLike, Any, None] = None, hint: str = "") -> None:
        self.subject = subject
        self.reason = reason
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        text = f"{self.subject}: {self.reason}" if self.subject is not None else self.reason
        return f"{text}. {self.hint}" if self.hint else text


class InputError(EdgekitError, ValueError):
    """An input (path, array, argument value) that edgekit cannot use."""


class ImageReadError(InputError):
    """A path or array that is not a usable image (missing, empty, truncated, wrong type...)."""


class VideoReadError(InputError):
    """A video file or camera that cannot be opened or decoded."""


class ConfigError(EdgekitError, ValueError):
    """An option with an invalid value: unknown model name, negative threshold, and so on."""


class ModelError(EdgekitError):
    """A model file that is missing, unreadable or does not have the expected inputs/outputs."""


class ModelIntegrityError(ModelError):
    """A bundled model whose sha256 does not match its manifest entry."""


class NoFaceError(EdgekitError):
    """An operation that needs a face found none (``analyze`` returns an empty list instead)."""


class ConcurrentUseError(EdgekitError, RuntimeError):
    """An object documented as one-per-thread (a model wrapper, a captioner) was entered by a
    second thread while a first was using it: refused instead of returning mixed-up results."""


class FontError(EdgekitError):
    """No usable font for a caption: a font file that cannot be loaded, or characters that no
    installed font has glyphs for (listed in ``missing``)."""

    def __init__(self, reason: str, subject: Union[str, PathLike, Any, None] = None, hint: str = "",
                 missing: tuple = ()) -> None:
        self.missing = tuple(missing)
        super().__init__(reason, subject, hint)


def describe(value: Optional[object]) -> str:
    """Short description of a value for error messages (arrays as shape/dtype, not contents)."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"array(shape={tuple(shape)}, dtype={dtype})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
