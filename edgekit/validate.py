"""Typed checks of option values: the one place that says what a valid bool, count, fraction,
choice or model reference is.

A :class:`Check` raises :class:`~edgekit.errors.ConfigError` naming the field and the bad value
(``subject="min_confidence=1.5"``), what a valid value is (``"must be a number in [0, 1]"``) and,
when it has one, what to do. Options dataclasses attach checks to their fields
(:func:`edgekit.options.option`); code that takes a lone value calls :func:`check`.
Standard library only.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Callable, Iterable, Optional

from .errors import ConfigError, describe

__all__ = ["Check", "boolean", "callable_", "check", "choice", "integer", "model_ref", "number", "optional", "path",
           "text"]


@dataclass(frozen=True)
class Check:
    """What a valid value is (``expected``, read as "must be <expected>") and how to test it.

    ``parse`` reads the value from a command-line string (``None``: an on/off flag);
    ``none_means`` says what None stands for where None is valid (``"all"``).
    """

    expected: str
    accept: Callable[[Any], bool]
    hint: str = ""
    parse: Optional[Callable[[str], Any]] = str
    none_means: str = ""

    def __call__(self, name: str, value: Any, hint: Optional[str] = None) -> Any:
        """``value`` unchanged when valid, else ConfigError about field ``name``."""
        try:
            ok = bool(self.accept(value))
        except (TypeError, ValueError, OverflowError):  # unhashable, incomparable, too large for a float
            ok = False
        if not ok:
            raise ConfigError(f"must be {self.expected}", f"{name}={describe(value)}",
                              self.hint if hint is None else hint)
        return value


def check(name: str, value: Any, rule: Check, hint: Optional[str] = None) -> Any:
    """``rule(name, value)``: ``value`` if valid, else ConfigError naming ``name``."""
    return rule(name, value, hint)


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _bounds(lo: Optional[float], hi: Optional[float], lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return ""


def _within(value: float, lo: Optional[float], hi: Optional[float], lo_open: bool, hi_open: bool) -> bool:
    above = lo is None or (value > lo if lo_open else value >= lo)
    below = hi is None or (value < hi if hi_open else value <= hi)
    return above and below


def boolean(hint: str = "") -> Check:
    """True or False (not 0/1, not "yes"); on the command line an on/off flag."""
    return Check("True or False", lambda v: isinstance(v, bool), hint, parse=None)


def integer(lo: Optional[int] = None, hi: Optional[int] = None, hint: str = "") -> Check:
    """An integer (numpy integers too, bools not) in ``[lo, hi]``."""
    bounds = _bounds(lo, hi, False, False)
    return Check(f"an integer {bounds}".strip(), lambda v: _is_int(v) and _within(v, lo, hi, False, False), hint, int)


def number(lo: Optional[float] = None, hi: Optional[float] = None, *, lo_open: bool = False, hi_open: bool = False,
           hint: str = "") -> Check:
    """A finite real number (ints and numpy scalars too, bools not) between ``lo`` and ``hi``."""
    bounds = _bounds(lo, hi, lo_open, hi_open)
    expected = f"a number {bounds}" if lo is not None and hi is not None else f"a finite number {bounds}".strip()
    return Check(expected, lambda v: _is_real(v) and math.isfinite(v) and _within(v, lo, hi, lo_open, hi_open), hint,
                 float)


def choice(values: Iterable[str], hint: str = "") -> Check:
    """One of ``values`` (strings)."""
    valid = tuple(values)
    return Check(f"one of {', '.join(valid)}", lambda v: isinstance(v, str) and v in valid, hint or f"use {valid[0]}")


def text(hint: str = "") -> Check:
    """A non-empty string."""
    return Check("a non-empty string", lambda v: isinstance(v, str) and bool(v), hint)


def path(hint: str = "") -> Check:
    """A file path: a non-empty string or an ``os.PathLike``."""
    return Check("a file path", lambda v: isinstance(v, os.PathLike) or (isinstance(v, str) and bool(v)), hint)


def model_ref(hint: str = "") -> Check:
    """A model: a manifest name (see ``edgekit models``) or the path of a ``.tflite`` file."""
    return Check("a manifest name or a .tflite path", lambda v: isinstance(v, (str, os.PathLike)), hint)


def callable_(hint: str = "") -> Check:
    """A function or other callable."""
    return Check("callable", callable, hint, parse=None)


def optional(rule: Check, meaning: str = "") -> Check:
    """None or a value ``rule`` accepts; ``meaning`` says what None does (e.g. ``"all faces"``)."""
    none = f"None ({meaning})" if meaning else "None"
    return Check(f"{none} or {rule.expected}", lambda v: v is None or rule.accept(v), rule.hint, rule.parse, meaning)
