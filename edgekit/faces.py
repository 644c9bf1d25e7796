"""Which face of a photo a command works on: one numbering convention for the whole SDK.

Faces are numbered **left to right from 0** (by the centre of their box); when no number is
given, the **largest** face is used. ``edgekit meme/suggest/transfer/enroll/identify --face N``
and the ``face=`` arguments of the matching functions all follow it.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, TypeVar

from .errors import InputError
from .results import BoundingBox
from .validate import check, integer, optional

T = TypeVar("T")

#: A face number: an integer >= 0 (numpy integers too).
FACE_NUMBER = integer(0, hint="faces are numbered left to right from 0; leave it out to use the largest face")
#: The ``face=`` argument of every command: a face number, or None for the largest face.
FACE = optional(FACE_NUMBER, "the largest face")


def left_to_right(items: Sequence[T], box_of: Callable[[T], BoundingBox]) -> List[T]:
    """``items`` sorted by the horizontal centre of their box (stable for equal centres)."""
    return sorted(items, key=lambda item: box_of(item).x + box_of(item).width / 2)


def pick_face(items: Sequence[T], face: Optional[int], box_of: Callable[[T], BoundingBox],
              subject: object = None) -> Optional[int]:
    """Index into ``items`` (already in left-to-right order) of face number ``face``, or of the
    largest face when ``face`` is None; None when there are no faces and none was asked for.

    Raises:
        ConfigError: ``face`` is not an integer >= 0.
        InputError: the photo has no face number ``face``.
    """
    if face is None:
        return max(range(len(items)), key=lambda i: box_of(items[i]).area) if items else None
    check("face", face, FACE_NUMBER)
    if face >= len(items):
        valid = f"0..{len(items) - 1}" if items else "none"
        where = f"{subject}: " if subject is not None else ""
        raise InputError(f"{where}no face {face}: {len(items)} face(s) found, numbered left to right ({valid})",
                         f"face={face}", "pick another --face N, or leave it out to use the largest face")
    return int(face)


__all__ = ["FACE", "FACE_NUMBER", "left_to_right", "pick_face"]
